"""Training a recogniser folder from labelled segments: features, fitting, the model card.

:func:`train_recogniser` computes (or reads from ``feature_cache``) every segment's pooled
encoder layers through the ``encoded`` feature store, so a rerun reuses them and a killed run
resumes; segments whose features fail are left out and counted. It then fits the two heads
(:func:`~spokenemo.systems.ser.recogniser_fit.fit_recogniser`) and writes the folder with a model
card (``README.md``) that states the data, the protocol and the held-out-speaker numbers.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.speakers import speaker_of
from spokenemo.data.manifest import Segment
from spokenemo.features.encoded import EncodedFeatures
from spokenemo.systems.ser.recogniser import Recogniser
from spokenemo.systems.ser.recogniser_fit import Progress, TrainingRows, fit_recogniser


def pooled_rows(segments: Sequence[Segment], recogniser_like: Recogniser, feature_cache: Path,
                workers: int = 1) -> tuple[np.ndarray, list[int]]:
    """Flat rows of the segments that have features, and which segments those are."""
    provider = EncodedFeatures(Path(feature_cache), {"workers": workers})
    provider.request(encoders=[recogniser_like.encoder_name])
    pooled = provider.pooled(list(segments), recogniser_like.encoder_name)
    ok = [i for i in range(len(segments)) if not np.isnan(pooled[i]).any()]
    X = np.stack([recogniser_like.pooled_row(pooled[i]) for i in ok]) if ok else np.zeros((0, 0))
    return X, ok


def train_recogniser(segments: Sequence[Segment], out: str | Path, classes: Sequence[str], *,
                     feature_cache: str | Path, encoder: str = "whisper-base", layers: str | list[int] = "all",
                     pooling: str = "mean+std", grid: Sequence[float] = (0.1, 1.0), n_folds: int = 5,
                     min_segments: int = 10, seed: int = 0, workers: int = 1,
                     progress: Progress | None = None) -> tuple[Recogniser, dict[str, Any]]:
    """Fit a recogniser on labelled ``segments`` (labels already in ``classes``) and write ``out``."""
    labelled = [u for u in segments if u.label in set(classes)]
    if not labelled:
        raise SpokenemoError(f"recogniser training: no segment has a label among {list(classes)}",
                             hint="map the corpus labels with a label set first (e.g. --label-set 4class)")
    shell = Recogniser(list(classes), {}, encoder, layers, pooling, min_segments)
    say = progress or (lambda _msg: None)
    say(f"features of {len(labelled)} segments ({encoder}, cache {feature_cache})")
    X, ok = pooled_rows(labelled, shell, Path(feature_cache), workers)
    kept = [labelled[i] for i in ok]
    if not kept:
        raise SpokenemoError("recogniser training: no segment has encoder features",
                             hint=f"see the errors in {feature_cache}/encoded-*/index.jsonl")
    rows = TrainingRows(X, [str(u.label) for u in kept], [speaker_of(u) for u in kept],
                        [str(u.corpus) for u in kept])
    recogniser, report = fit_recogniser(rows, classes, encoder=encoder, layers=layers, pooling=pooling, grid=grid,
                                        n_folds=n_folds, min_segments=min_segments, seed=seed, progress=say)
    report["data"] = data_summary(kept, len(labelled) - len(kept))
    recogniser.meta = {"trained": datetime.date.today().isoformat(), "report": report,
                       "encoder_fingerprint": shell.encoder().fingerprint()}
    recogniser.save(out, card=model_card(recogniser, report))
    return recogniser, report


def data_summary(segments: Sequence[Segment], n_failed: int) -> dict[str, Any]:
    corpora: dict[str, Any] = {}
    for corpus in sorted({str(u.corpus) for u in segments}):
        mine = [u for u in segments if str(u.corpus) == corpus]
        corpora[corpus] = {"segments": len(mine), "speakers": len({speaker_of(u) for u in mine}),
                           "labels": dict(sorted(Counter(str(u.label) for u in mine).items()))}
    return {"segments": len(segments), "without_features": n_failed, "corpora": corpora}


def model_card(recogniser: Recogniser, report: dict[str, Any]) -> str:
    """The README of a recogniser folder (markdown)."""
    data = report["data"]
    lines = [f"# spokenemo recogniser: {recogniser.encoder_name} + linear heads, {len(recogniser.classes)} classes",
             "", f"Classes: {', '.join(recogniser.classes)}. Encoder: `{recogniser.encoder_name}` (frozen; weights "
             "from its package), layers "
             f"`{recogniser.layers}`, each pooled to `{recogniser.pooling}` over frames. Trained "
             f"{recogniser.meta.get('trained', '')} on {data['segments']} segments:", ""]
    lines += ["| corpus | segments | speakers | labels |", "|---|---|---|---|"]
    for corpus, d in data["corpora"].items():
        labels = ", ".join(f"{k} {v}" for k, v in d["labels"].items())
        lines.append(f"| {corpus} | {d['segments']} | {d['speakers']} | {labels} |")
    lines += ["", "## Held-out speakers and corpora (unweighted accuracy, %)", "",
              f"{report['global']['n_folds']} folds of whole speakers (every corpus's speakers spread over "
              "the folds; no speaker in both parts), and leave-one-corpus-out (trained on the other corpora "
              "only: a new corpus, language and recording chain). C was chosen by "
              f"{report['global'].get('selection', 'held-out-speaker UA')} among the grid below, on these same "
              "predictions, so the numbers are slightly optimistic.", "",
              "| head | C grid -> held-out-speaker UA / leave-one-corpus-out UA | C | held-out UA | per corpus "
              "| leave one corpus out | T | ECE before -> after |", "|---|---|---|---|---|---|---|---|"]
    for how in ("global", "speaker"):
        r = report[how]
        loco_grid = r.get("C_grid_loco_ua", {})
        grid = ", ".join(f"{c}: {u}" + (f" / {loco_grid[c]}" if c in loco_grid else "")
                         for c, u in r["C_grid_ua"].items())
        corpus = ", ".join(f"{c} {u}" for c, u in r["per_corpus_ua"].items())
        loco = ", ".join(f"{c} {u}" for c, u in r.get("leave_one_corpus_out_ua", {}).items()) or "–"
        lines.append(f"| {how} | {grid} | {r['C']} | {r['held_out_ua']} | {corpus} | {loco} | {r['temperature']} | "
                     f"{r['ece_before']} -> {r['ece_after']} |")
    lines += ["", "## Use", "",
              "The `global` head answers a lone clip (z-scored with the training statistics). The `speaker` "
              f"head answers when the caller names speakers and a speaker has at least "
              f"{recogniser.min_speaker_segments} clips in the call (the timeline does this with each "
              "speaker's segments of a recording); every answer says which it used.", "",
              "Limits: trained on acted speech of few speakers (the corpora above); expect lower accuracy on "
              "spontaneous speech, other languages and recording chains, as the leave-one-corpus-out column "
              "shows. Clips without speech are refused before the recogniser runs.", ""]
    return "\n".join(lines)
