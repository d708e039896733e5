"""Scoring S2S-ZEST conversions (thesis 6.4 metrics, offline stand-ins of thesis.md 6.6).

Per pair (source ``s``, reference ``r``, converted ``c``):

- **Emo-Acc**: the shipped recogniser (:func:`spokenemo.api.recogniser.load_recogniser`, trained
  independently of the converter; 4 classes) labels ``c`` as ``r``'s emotion; the baseline is the same
  for the unconverted ``s``. Only references in the recogniser's classes count (angry, happy, sad).
- **Emo-Sim**: cosine of the recogniser's probability vectors of ``r`` and ``c`` (``s`` as the baseline),
  in emotion2vec's place.
- **Spk-Sim**: cosine of Resemblyzer d-vectors, ``c`` vs ``s`` and ``c`` vs ``r`` (and ``s`` vs ``r``).
- **Rhythm PCC**: Pearson correlation over the pairs of a setting between ``r``'s and ``c``'s syllable
  rates (nuclei of the cue extractor per second), in the place of word-rate PCC after forced alignment.
- **WER** (optional): the packaged Whisper (:mod:`spokenemo.models.asr`) on ``c`` vs the source's text.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from spokenemo.api.convert_settings import Pair
from spokenemo.api.recogniser import load_recogniser
from spokenemo.audio import load_audio
from spokenemo.features.cues import compute_tracks, syllable_nuclei
from spokenemo.models.asr import transcribe
from spokenemo.models.speakers import SpeakerEncoder

SAMPLE_RATE = 16000


def syllable_rate(wave: np.ndarray) -> float:
    """Syllable nuclei per second of a clip."""
    return float(len(syllable_nuclei(compute_tracks(np.asarray(wave, np.float32))))) / max(len(wave) / SAMPLE_RATE,
                                                                                          1e-3)


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) after lower-casing and dropping punctuation."""
    ref = re.sub(r"[^\w\s']", " ", reference.lower()).split()
    hyp = re.sub(r"[^\w\s']", " ", hypothesis.lower()).split()
    d = np.arange(len(hyp) + 1)
    for i, rw in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, hw in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (rw != hw))
    return int(d[-1]), len(ref)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


class Scorer:
    """Recogniser probabilities, d-vectors and syllable rates of waves, cached per clip path."""

    def __init__(self, recogniser: Any = None) -> None:
        self.recogniser = load_recogniser(recogniser)
        self.labels = list(self.recogniser.labels)
        self.speaker = SpeakerEncoder()
        self.waves: dict[str, np.ndarray] = {}
        self.cache: dict[str, dict[str, Any]] = {}

    def wave(self, path: str) -> np.ndarray:
        if path not in self.waves:
            self.waves[path] = load_audio(path, sr=SAMPLE_RATE)
        return self.waves[path]

    def describe(self, waves: Sequence[np.ndarray]) -> list[dict[str, Any]]:
        """Probabilities, d-vector and syllable rate of each wave."""
        probs = self.recogniser.predict_proba(list(waves), SAMPLE_RATE)
        dvecs = self.speaker.embed(list(waves))
        return [{"probs": p, "dvec": d, "rate": syllable_rate(w)} for p, d, w in zip(probs, dvecs, waves, strict=True)]

    def clip(self, path: str) -> dict[str, Any]:
        if path not in self.cache:
            self.cache[path] = self.describe([self.wave(path)])[0]
        return self.cache[path]


def pair_row(pair: Pair, variant: str, conv: dict[str, Any], src: dict[str, Any], ref: dict[str, Any],
             labels: Sequence[str]) -> dict[str, Any]:
    """The metrics of one converted pair (module docstring)."""
    emo = pair.reference.emotion
    scored = emo in labels
    pc, ps = conv["probs"], src["probs"]
    return {"setting": pair.setting, "variant": variant, "source": pair.source.path, "reference": pair.reference.path,
            "ref_emotion": emo, "source_speaker": pair.source.speaker, "ref_speaker": pair.reference.speaker,
            "converted_label": labels[int(np.argmax(pc))], "source_label": labels[int(np.argmax(ps))],
            "emo_acc": float(labels[int(np.argmax(pc))] == emo) if scored else None,
            "emo_acc_source": float(labels[int(np.argmax(ps))] == emo) if scored else None,
            "p_ref": float(pc[labels.index(emo)]) if scored else None,
            "p_ref_source": float(ps[labels.index(emo)]) if scored else None,
            "emo_sim": _cos(ref["probs"], pc), "emo_sim_source": _cos(ref["probs"], ps),
            "spk_sim_source": _cos(conv["dvec"], src["dvec"]), "spk_sim_reference": _cos(conv["dvec"], ref["dvec"]),
            "spk_sim_source_reference": _cos(src["dvec"], ref["dvec"]),
            "rate_ref": ref["rate"], "rate_conv": conv["rate"], "rate_source": src["rate"]}


def score_pairs(pairs: Sequence[Pair], convert: Callable[[Pair], np.ndarray], variant: str, scorer: Scorer, *,
                texts: Mapping[str, str] | None = None, wer: bool = False,
                keep: Callable[[Pair, np.ndarray], None] | None = None) -> list[dict[str, Any]]:
    """Convert every pair with ``convert`` and score it; ``keep(pair, wave)`` sees each converted wave."""
    rows = []
    for pair in pairs:
        wave = convert(pair)
        if keep is not None:
            keep(pair, wave)
        conv = scorer.describe([wave])[0]
        row = pair_row(pair, variant, conv, scorer.clip(pair.source.path), scorer.clip(pair.reference.path),
                       scorer.labels)
        if wer and texts is not None and pair.source.text in texts:
            row["word_errors"], row["words"] = word_errors(texts[pair.source.text], _transcribe(wave))
        rows.append(row)
    return rows


@functools.lru_cache(maxsize=1)
def _asr_backend() -> str:
    return "faster-whisper"


def _transcribe(wave: np.ndarray) -> str:
    return transcribe(wave, backend=_asr_backend())


def _mean(values: list[Any]) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def _pcc(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def summarise(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (setting, variant): means of the pair metrics, rhythm PCC and WER (%)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["setting"], r["variant"])].append(r)
    out = []
    for (setting, variant), rs in groups.items():
        row: dict[str, Any] = {"setting": setting, "variant": variant, "pairs": len(rs)}
        for name in ("emo_acc", "emo_acc_source", "p_ref", "p_ref_source", "emo_sim", "emo_sim_source",
                     "spk_sim_source", "spk_sim_reference", "spk_sim_source_reference"):
            row[name] = _mean([r[name] for r in rs])
        row["rhythm_pcc"] = _pcc([r["rate_ref"] for r in rs], [r["rate_conv"] for r in rs])
        row["rhythm_pcc_source"] = _pcc([r["rate_ref"] for r in rs], [r["rate_source"] for r in rs])
        errs = [r for r in rs if "words" in r]
        row["wer"] = 100.0 * sum(r["word_errors"] for r in errs) / max(sum(r["words"] for r in errs), 1) if errs else None
        out.append(row)
    return out
