"""Public functions for cue evidence, grounded explanations and faithfulness (docs/methods/explanations.md).

>>> from spokenemo.api.evidence import measure_evidence, explain_evidence, check_faithfulness
>>> ev = measure_evidence("clip.wav", reference="other_clips_of_this_speaker/")   # doctest: +SKIP
>>> ex = explain_evidence(ev, {"angry": 0.6, "happy": 0.3, "sad": 0.1})           # doctest: +SKIP
>>> ex.text, ex.supports, ex.opposes, ex.runner_up                                 # doctest: +SKIP
>>> check_faithfulness("The voice is louder and the pitch rises.", ev).agreement  # doctest: +SKIP

The baseline is always stated: ``baseline=`` the speaker's other segments (signals, files or
measures), ``reference=`` clips of the speaker (a folder or files), or, without either, the
training medians shipped with spokenemo (``baseline="training"``; ``baseline=None`` with no
reference gives values only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.audio import load_audio
from spokenemo.core.errors import ConfigError
from spokenemo.features.evidence import (
    Baseline,
    CueMeasures,
    Evidence,
    Explanation,
    Faithfulness,
    compare,
    explain,
    measure_cues,
)
from spokenemo.features.evidence import check_faithfulness as _check
from spokenemo.features.evidence.tracks import SR

__all__ = ["AUDIO_SUFFIXES", "Baseline", "Evidence", "Explanation", "Faithfulness", "check_faithfulness",
           "evidence_for_spans", "explain_evidence", "measure", "measure_evidence", "reference_baseline"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".mp4", ".webm")
Source = str | PathLike | np.ndarray | CueMeasures | Evidence


def measure(item: Source, *, sr: int | None = None, start: float | None = None, end: float | None = None,
            tracker: str | None = None) -> CueMeasures:
    """The cue measures of a file (or a ``start``/``end`` span of it), a signal, or pass-through."""
    if isinstance(item, CueMeasures):
        return item
    if isinstance(item, Evidence):
        if item.measures is None:
            raise ConfigError("this Evidence has no measures (it was read from a cue text)")
        return item.measures
    if isinstance(item, np.ndarray):
        if sr is None:
            raise ConfigError("a signal needs its sample rate", hint="pass sr=16000 (or the signal's rate)")
        return measure_cues(item, sr, tracker=tracker)
    return measure_cues(load_audio(item, start=start, end=end, sr=SR), SR, tracker=tracker)


def _audio_files(reference: str | PathLike | Sequence[str | PathLike]) -> list[Path]:
    items = [reference] if isinstance(reference, (str, PathLike)) else list(reference)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
        else:
            files.append(path)
    if not files:
        raise ConfigError(f"no audio files in the reference {reference!s}",
                          hint=f"give a folder or files ({', '.join(AUDIO_SUFFIXES)}) of the same speaker")
    return files


def reference_baseline(reference: str | PathLike | Sequence[str | PathLike], *, exclude: str | PathLike | None = None,
                       tracker: str | None = None) -> Baseline:
    """Medians of reference clips of the speaker (a folder or files; ``exclude`` the explained file)."""
    files = [f for f in _audio_files(reference) if exclude is None or f.resolve() != Path(exclude).resolve()]
    measures = [measure(f, tracker=tracker) for f in files]
    usable = [m for m in measures if m.values.get("loudness") is not None]
    silent = len(measures) - len(usable)
    description = f"{len(usable)} reference clips of the speaker"
    if silent:
        description += f" ({silent} silent clip{'s' if silent > 1 else ''} left out)"
    return Baseline.from_measures(usable, source="reference", description=description)


def _baseline(baseline: Any, reference: Any, exclude: Any, sr: int | None, tracker: str | None) -> Baseline | None:
    if reference is not None:
        if baseline is not None and not (isinstance(baseline, str) and baseline == "training"):
            raise ConfigError("give either baseline= or reference=, not both")
        return reference_baseline(reference, exclude=exclude, tracker=tracker)
    if baseline is None:
        return None
    if isinstance(baseline, Baseline):
        return baseline
    if isinstance(baseline, str) and baseline == "training":
        return Baseline.training()
    if isinstance(baseline, (str, PathLike)) and Path(baseline).suffix == ".json":
        return Baseline.training(baseline)
    if isinstance(baseline, Sequence) and not isinstance(baseline, (str, bytes)):
        return Baseline.from_measures([measure(b, sr=sr, tracker=tracker) for b in baseline], source="speaker")
    raise ConfigError(f"cannot use {baseline!r} as a baseline",
                      hint="pass 'training', a medians JSON, a Baseline, or a list of the speaker's other segments")


def measure_evidence(file_or_signal: Source, *, sr: int | None = None, baseline: Any = "training",
                     reference: Any = None, start: float | None = None, end: float | None = None,
                     tracker: str | None = None) -> Evidence:
    """Cue evidence of one segment against a stated baseline.

    Parameters
    ----------
    file_or_signal : an audio file, a mono signal (with ``sr``), or :class:`CueMeasures`.
    sr : sample rate of a signal (and of signals in ``baseline``).
    baseline : ``"training"`` (default: the shipped training medians), a medians JSON file, a
        :class:`Baseline`, a list of the speaker's other segments (files, signals or measures),
        or None (values only).
    reference : a folder or files of the same speaker (wins over the training medians).
    start, end : a span of the file, in seconds.
    tracker : ``"praat"`` (default when parselmouth is installed) or ``"pyin"``.
    """
    exclude = file_or_signal if isinstance(file_or_signal, (str, PathLike)) else None
    base = _baseline(baseline, reference, exclude, sr, tracker)
    return compare(measure(file_or_signal, sr=sr, start=start, end=end, tracker=tracker), base)


def evidence_for_spans(file_or_signal: str | PathLike | np.ndarray, spans: Sequence[tuple[float, float]], *,
                       sr: int | None = None, tracker: str | None = None) -> list[Evidence]:
    """Evidence of each ``(start, end)`` span (seconds) against the speaker's other spans (leave one out)."""
    if isinstance(file_or_signal, np.ndarray):
        if sr is None:
            raise ConfigError("a signal needs its sample rate", hint="pass sr=16000")
        y, rate = np.asarray(file_or_signal, dtype=np.float32), sr
    else:
        y, rate = load_audio(file_or_signal, sr=SR), SR
    measures = [measure_cues(y[int(a * rate):int(b * rate)], rate, tracker=tracker) for a, b in spans]
    out = []
    for i, m in enumerate(measures):
        others = [o for j, o in enumerate(measures) if j != i]
        base = Baseline.from_measures(others, source="speaker") if others else None
        out.append(compare(m, base))
    return out


def explain_evidence(evidence: Evidence, probabilities: Mapping[str, float], *,
                     emotion: str | None = None) -> Explanation:
    """Grounded explanation of the chosen (or given) emotion; see :func:`spokenemo.features.evidence.explain`."""
    return explain(evidence, probabilities, emotion=emotion)


def check_faithfulness(text: str, evidence: Evidence) -> Faithfulness:
    """Check every cue claim of ``text`` against ``evidence`` (share agreeing, claims, unverifiable)."""
    return _check(text, evidence)
