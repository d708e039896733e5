"""The S2S-ZEST evaluation run: settings -> conversions (per variant) -> metrics -> files.

Variants of one converter: ``zest`` (the thesis transfer, envelope step off whatever the config says), ``no-duration`` (source durations, thesis Table 5.4),
``relative-f0`` (**ours**: the predictor's speaker bias removed), ``envelope`` (**ours**: the learnt
emotion-dependent band gains on the source envelope, strength 1), ``world-copy`` (the source through
WORLD analysis and synthesis with nothing changed: what the renderer alone does to the recogniser and
the speaker embedding). Output folder: ``pairs.jsonl`` (one row per pair and variant),
``summary.json``, ``summary.md`` and ``examples/`` (a few wavs and ``index.html`` with players).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.api.convert import load_converter, save_wave
from spokenemo.api.convert_eval import Scorer, score_pairs, summarise
from spokenemo.api.convert_settings import Pair, Side, foreign_pairs, ravdess_pairs
from spokenemo.core.errors import ConfigError
from spokenemo.core.fileio import atomic_write, write_jsonl
from spokenemo.data import prepare
from spokenemo.models.zest.pitch import world_analyse
from spokenemo.models.zest.world import render
from spokenemo.systems.zest.corpus import ravdess_clips

_THESIS = {"envelope_strength": 0.0}
VARIANTS: dict[str, dict[str, Any]] = {"zest": _THESIS, "no-duration": {**_THESIS, "use_duration": False},
                                       "relative-f0": {**_THESIS, "f0_mode": "relative"}, "world-copy": {},
                                       "envelope": {"envelope_strength": 1.0}}
UNSEEN_ACTORS = ("17", "18", "19", "20")
RAVDESS_TEXTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}


def foreign_sources(corpora: Mapping[str, str], per_corpus: int = 8) -> list[Side]:
    """Neutral clips of other corpora (nEMO, Korean), ``per_corpus`` each, spread over speakers."""
    out: list[Side] = []
    for corpus, root in corpora.items():
        segs = sorted((s for s in prepare(corpus, root) if s.label == "neutral"), key=lambda s: s.key)
        by_spk: dict[str, list[Any]] = {}
        for s in segs:
            by_spk.setdefault(str(s.speaker), []).append(s)
        picked = [lst[i] for i in range(per_corpus) for lst in by_spk.values() if i < len(lst)][:per_corpus]
        out.extend(Side(s.path, f"{corpus}/{s.speaker}", "neutral", s.text or "") for s in picked)
    return out


def build_pairs(settings: Sequence[str], ravdess_root: str, *, source_actors: Sequence[str] = UNSEEN_ACTORS,
                reference_actors: Sequence[str] = UNSEEN_ACTORS, foreign: Mapping[str, str] | None = None,
                per_corpus: int = 8, source_repetitions: Sequence[str] = ("01", "02"),
                emotions: Sequence[str] | None = None, seed: int = 0) -> list[Pair]:
    """Pairs of the named settings (see :mod:`spokenemo.api.convert_settings`)."""
    clips = ravdess_clips(ravdess_root)
    pairs: list[Pair] = []
    for setting in settings:
        if setting in ("USS", "USUE"):
            if not foreign:
                raise ConfigError(f"{setting} needs foreign source corpora", hint="pass foreign={'nemo': ROOT}")
            pairs += foreign_pairs(foreign_sources(foreign, per_corpus), clips, setting,
                                   reference_actors=reference_actors, seed=seed)
        else:
            pairs += ravdess_pairs(clips, setting, source_actors=source_actors, reference_actors=reference_actors,
                                   source_repetitions=source_repetitions, emotions=emotions, seed=seed)
    return pairs


class _Converting:
    """Converts pairs with one converter and variant, analysing each clip once."""

    def __init__(self, converter: Any, scorer: Scorer) -> None:
        self.conv = converter
        self.scorer = scorer
        self.analyses: dict[str, Any] = {}

    def analysis(self, path: str) -> Any:
        if path not in self.analyses:
            self.analyses[path] = self.conv.analyser.analyse(self.scorer.wave(path), path)
        return self.analyses[path]

    def __call__(self, variant: str) -> Callable[[Pair], np.ndarray]:
        opts = VARIANTS[variant]

        def run(pair: Pair) -> np.ndarray:
            wave = self.scorer.wave(pair.source.path)
            if variant == "world-copy":
                d = np.array([len(self.analysis(pair.source.path).f0)])
                return render(world_analyse(wave, 16000, self.conv.world_method), d, d, None)
            return self.conv.convert_analysed(wave, self.analysis(pair.source.path),
                                              self.analysis(pair.reference.path), **opts).wave
        return run


def _examples(out: Path, limit: int) -> tuple[Callable[[Pair, np.ndarray], None], list[dict[str, str]]]:
    kept: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def keep(pair: Pair, wave: np.ndarray) -> None:
        tag = (pair.setting, pair.reference.emotion)
        if len(kept) >= limit or tag in seen:
            return
        seen.add(tag)
        name = f"{len(kept):02d}-{pair.setting}-{pair.reference.emotion}.wav"
        save_wave(out / name, wave)
        kept.append({"setting": pair.setting, "emotion": pair.reference.emotion, "converted": name,
                     "source": pair.source.path, "reference": pair.reference.path})
    return keep, kept


def write_examples_page(folder: Path, kept: Sequence[Mapping[str, str]]) -> Path:
    """``index.html`` with players for each example (source, reference, converted)."""
    rows = []
    for k in kept:
        cells = "".join(f"<td><audio controls src='{html.escape(str(Path(k[c]).resolve().as_uri()) if c != 'converted' else k[c])}'>"
                        f"</audio></td>" for c in ("source", "reference", "converted"))
        rows.append(f"<tr><td>{html.escape(k['setting'])}</td><td>{html.escape(k['emotion'])}</td>{cells}</tr>")
    page = ("<!doctype html><meta charset='utf-8'><title>S2S-ZEST examples</title><h1>S2S-ZEST examples</h1>"
            "<table border=1><tr><th>setting</th><th>reference emotion</th><th>source</th><th>reference</th>"
            f"<th>converted</th></tr>{''.join(rows)}</table>")
    path = folder / "index.html"
    with atomic_write(path) as fh:
        fh.write(page)
    return path


def run_evaluation(pairs: Sequence[Pair], out_dir: str | Path, *, converter: Any = None,
                   variants: Sequence[str] = ("zest", "no-duration", "world-copy"), name: str = "",
                   wer: bool = False, examples: int = 8, recogniser: Any = None) -> list[dict[str, Any]]:
    """Convert and score ``pairs`` for each variant; write the files of the module docstring."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown variant(s) {unknown}", hint=f"choose from {sorted(VARIANTS)}")
    out = Path(out_dir)
    conv = load_converter(converter)
    scorer = Scorer(recogniser)
    converting = _Converting(conv, scorer)
    keep, kept = _examples(out / "examples", examples)
    rows: list[dict[str, Any]] = []
    for variant in variants:
        label = f"{name}{variant}"
        rows += score_pairs(pairs, converting(variant), label, scorer, texts=RAVDESS_TEXTS, wer=wer,
                            keep=keep if variant == "zest" else None)
    write_jsonl(out / "pairs.jsonl", rows)
    summary = summarise(rows)
    with atomic_write(out / "summary.json") as fh:
        fh.write(json.dumps(summary, indent=1))
    if kept:
        write_examples_page(out / "examples", kept)
    return summary
