"""Explanations of a timeline's segments, each against the same speaker's other segments.

An explainer is any callable ``explainer(signal, others, probabilities) -> dict``: ``signal`` is
the segment (mono float32, 16 kHz), ``others`` the same speaker's other segments of the recording
(a lazy sequence: each is read from the file when indexed), ``probabilities`` the segment's
``{class: p}``. A returned ``"cues"`` entry of ``{name: number}`` feeds the figure's cue tracks.

The default, :class:`SpeakerBaselineExplainer`, measures every segment's cues once
(:func:`spokenemo.features.evidence.measure.measure_cues`), then compares each segment with the
medians of its speaker's *other* segments (leave-one-out medians, exact, computed from one sort
per cue and speaker, so an hour of speech costs no more than measuring it). The text comes from
``spokenemo.api.evidence.explain_evidence`` when that module is importable at call time (with
its supporting and opposing cues), and otherwise lists the noticeable differences ("the pitch higher (+2.3 semitones), the voice louder
(+3.1 dB) than the speaker's other 41 segments").
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from spokenemo.api.timeline_result import TimelineSegment
from spokenemo.audio.stream import AudioReader
from spokenemo.features.evidence.catalogue import CUE_NAMES, SPECS
from spokenemo.features.evidence.evidence import Baseline, Evidence, compare
from spokenemo.features.evidence.measure import CueMeasures, measure_cues

__all__ = ["Explainer", "SpeakerBaselineExplainer", "default_explainer", "explain_segments", "loo_medians"]

RATE = 16000
#: Cues drawn as tracks under the timeline figure.
TRACK_CUES = ("pitch", "loudness", "speech_rate")


class Explainer(Protocol):
    def __call__(self, signal: np.ndarray, others: Sequence[np.ndarray],
                 probabilities: dict[str, float]) -> dict[str, Any]: ...


class _OtherSegments(Sequence[np.ndarray]):
    """The same speaker's other segments, read from the recording when indexed."""

    def __init__(self, reader: AudioReader, spans: list[tuple[float, float]]) -> None:
        self._reader, self._spans = reader, spans

    def __len__(self) -> int:
        return len(self._spans)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        s, e = self._spans[i]
        return self._reader.read(s, e)


def loo_medians(values: Sequence[float | None]) -> list[float | None]:
    """For each item, the median of the *other* items' values (``None`` values are skipped).

    >>> loo_medians([1.0, 2.0, 3.0, None, 10.0])
    [3.0, 3.0, 2.0, 2.5, 2.0]
    """
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    v = np.array(sorted(x for x, _ in known), dtype=np.float64)
    rank = {i: r for r, (_, i) in enumerate(sorted(known))}
    n = v.size
    out: list[float | None] = []
    for i in range(len(values)):
        m = n - (1 if i in rank else 0)  # items left
        if m <= 0:
            out.append(None)
            continue
        if i not in rank:
            out.append(float(np.median(v)))
            continue
        r = rank[i]

        def at(k: int, r: int = r) -> float:  # k-th of the sorted values without rank r
            return float(v[k] if k < r else v[k + 1])

        out.append(at(m // 2) if m % 2 else (at(m // 2 - 1) + at(m // 2)) / 2)
    return out


def _fallback_text(evidence: Evidence) -> str:
    parts = []
    for c in evidence.known():
        if c.direction:
            spec = SPECS[c.name]
            word = spec.up if c.direction > 0 else spec.down
            parts.append(f"{spec.noun} {word} ({c.delta:+.1f} {spec.delta_unit})".replace(" )", ")"))
    if evidence.baseline is None or evidence.baseline.n == 0:
        return "no other segment of this speaker to compare with"
    if not parts:
        return f"no cue differs noticeably from {evidence.baseline.description}"
    return f"{', '.join(parts)} than {evidence.baseline.description}"


def _grounded(evidence: Evidence, probabilities: dict[str, float]) -> dict[str, Any]:
    """``{"text": ...}`` plus the reasons, from ``spokenemo.api.evidence.explain_evidence`` when it is
    importable (its full evidence is left out: the segment carries its cues already), else the fallback text."""
    if importlib.util.find_spec("spokenemo.api.evidence") is not None:
        explain = getattr(importlib.import_module("spokenemo.api.evidence"), "explain_evidence", None)
        if explain is not None:
            got = explain(evidence, probabilities)
            data = got.to_dict() if hasattr(got, "to_dict") else {"text": str(got)}
            data.pop("evidence", None)
            return data
    return {"text": _fallback_text(evidence)}


class SpeakerBaselineExplainer:
    """Cue evidence of each segment against the same speaker's other segments (see the module docstring)."""

    def __init__(self, tracker: str | None = None) -> None:
        self.tracker = tracker

    def __call__(self, signal: np.ndarray, others: Sequence[np.ndarray],
                 probabilities: dict[str, float]) -> dict[str, Any]:
        """One segment on its own (measures the others each time; :meth:`explain_all` is the fast path)."""
        measured = measure_cues(signal, RATE, tracker=self.tracker)
        baseline = Baseline.from_measures([measure_cues(o, RATE, tracker=self.tracker) for o in others])
        return self._explanation(compare(measured, baseline), probabilities)

    def _explanation(self, evidence: Evidence, probabilities: dict[str, float]) -> dict[str, Any]:
        cues = [{"cue": c.name, "value": c.value, "baseline": c.baseline, "delta": c.delta, "direction": c.direction}
                for c in evidence.comparisons.values() if c.value is not None]
        values = evidence.measures.values if evidence.measures else {}
        return {**_grounded(evidence, probabilities),
                "baseline": evidence.baseline.description if evidence.baseline else None,
                "evidence": cues, "notes": list(evidence.notes),
                "cues": {name: values.get(name) for name in TRACK_CUES}}

    def measure_all(self, reader: AudioReader, spans: Sequence[tuple[float, float]],
                    progress: Callable[[str, float, float], None] | None = None) -> list[CueMeasures]:
        """Every segment's cues, measured once (the slow part; it needs no speakers or probabilities)."""
        measures: list[CueMeasures] = []
        for i, (start, end) in enumerate(spans):
            measures.append(measure_cues(reader.read(start, end), RATE, tracker=self.tracker))
            if progress and (i % 8 == 7 or i == len(spans) - 1):
                progress("explain", i + 1, len(spans))
        return measures

    def finish(self, segments: list[TimelineSegment], measures: Sequence[CueMeasures]) -> None:
        """Fill ``explanation`` and ``cues`` of every segment from its measures and its speaker's others."""
        by_speaker: dict[str, list[int]] = {}
        for i, seg in enumerate(segments):
            by_speaker.setdefault(seg.speaker, []).append(i)
        for rows in by_speaker.values():
            medians = {c: loo_medians([measures[i].values.get(c) for i in rows]) for c in CUE_NAMES}
            n = len(rows) - 1
            for pos, i in enumerate(rows):
                values = {c: m[pos] for c, m in medians.items() if m[pos] is not None}
                baseline = Baseline("speaker", f"the speaker's other {n} segment{'s' * (n != 1)}", n, values)
                seg = segments[i]
                seg.explanation = self._explanation(compare(measures[i], baseline), seg.probabilities)
                seg.cues = seg.explanation.pop("cues")

    def explain_all(self, reader: AudioReader, segments: list[TimelineSegment],
                    progress: Callable[[str, float, float], None] | None = None) -> None:
        """:meth:`measure_all` then :meth:`finish`."""
        self.finish(segments, self.measure_all(reader, [(s.start, s.end) for s in segments], progress))


def default_explainer() -> SpeakerBaselineExplainer:
    return SpeakerBaselineExplainer()


def explain_segments(reader: AudioReader, segments: list[TimelineSegment], explainer: Any,
                     progress: Callable[[str, float, float], None] | None = None) -> None:
    """Fill every segment's ``explanation`` (and ``cues``) with ``explainer`` (see the module docstring)."""
    if hasattr(explainer, "explain_all"):
        explainer.explain_all(reader, segments, progress)
        return
    for i, seg in enumerate(segments):
        others = [(o.start, o.end) for o in segments if o.speaker == seg.speaker and o is not seg]
        got = explainer(reader.read(seg.start, seg.end), _OtherSegments(reader, others), dict(seg.probabilities))
        got = dict(got) if got is not None else {}
        cues = got.pop("cues", None)
        if isinstance(cues, dict):
            seg.cues = {k: (None if v is None else float(v)) for k, v in cues.items()}
        seg.explanation = got
        if progress:
            progress("explain", i + 1, len(segments))
