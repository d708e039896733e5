"""Metrics of emotion over time in long recordings: EDER, frame-level UA, boundary F1, speaker purity/coverage.

A timeline is a list of :class:`Span` (``start``, ``end`` in seconds, ``label``, optional
``speaker``). Reference spans must not overlap; hypothesis spans may (overlaps are resolved as
below).

- **EDER** (emotion diarization error rate), as in SpeechBrain's ZED recipe
  (``speechbrain.utils.EDER``): the reference covers the whole recording, time outside every
  reference span carries the ``fill`` label (ZED: neutral); hypothesis spans of the same label that
  touch or overlap are merged, the overlap of two different labels is shared at its midpoint; then
  ``EDER = 1 - (time where the hypothesis label equals the reference label) / duration``. Time the
  hypothesis leaves uncovered counts as an error (missed emotion) unless ``hypothesis_fill`` gives
  it a label (a ZED model predicts "neutral" on silence; a timeline has no segment there).
  Missed emotion, false alarm and confusion are the three parts of that error.
- **Frame-level UA**: the reference and hypothesis are sampled every ``step`` seconds (frame
  centres) over the reference spans only; a frame without a hypothesis label counts as wrong (an
  invalid prediction in :func:`~spokenemo.protocols.metrics.compute_metrics`), unless
  ``hypothesis_fill="nearest"`` gives it the label of the nearest hypothesis span.
- **Boundary F1**: boundaries are the times where the label changes (a span's start or end that
  is not shared with a span of the same label); hypothesis boundaries within ``tolerance`` seconds
  of a reference boundary are matched one to one, closest first; precision, recall and F1 of the
  matches.
- **Speaker purity and coverage** (as pyannote.metrics defines them, on time): with ``|c ∩ r|``
  the time hypothesis cluster ``c`` and reference speaker ``r`` share, purity =
  ``sum_c max_r |c ∩ r| / sum_c |c|`` and coverage = ``sum_r max_c |c ∩ r| / sum_r |r|``.

>>> ref = [Span(0.39, 1.10, "angry")]
>>> hyp = frames_to_spans(["neutral"] * 3 + ["angry"] * 3, window_length=0.2, stride=0.2)
>>> round(eder(ref, hyp, duration=1.22, fill="neutral"), 6)   # SpeechBrain's docstring example
0.270492
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spokenemo.core.errors import ProtocolError
from spokenemo.protocols.metrics import ClassificationResult, compute_metrics

__all__ = ["NO_LABEL", "Span", "boundary_f1", "eder", "eder_parts", "frame_labels", "frame_ua", "frames_to_spans",
           "resolve_overlaps", "speaker_purity_coverage"]

#: The frame label of time no hypothesis span covers (an invalid prediction for frame UA).
NO_LABEL = "(none)"


@dataclass(frozen=True)
class Span:
    """``label`` (and optionally ``speaker``) from ``start`` to ``end`` seconds."""

    start: float
    end: float
    label: str
    speaker: str | None = None


def _check_reference(spans: Sequence[Span], what: str = "reference") -> list[Span]:
    out = sorted(spans, key=lambda s: (s.start, s.end))
    for s in out:
        if not s.end > s.start >= 0:
            raise ProtocolError(f"{what} span {s} has end <= start or a negative start")
    for a, b in zip(out, out[1:], strict=False):
        if b.start < a.end - 1e-9:
            raise ProtocolError(f"{what} spans overlap: {a} and {b}", hint="a reference gives one label at a time")
    return out


def frames_to_spans(labels: Sequence[str], *, window_length: float, stride: float) -> list[Span]:
    """Frame-wise predictions (frame ``i`` covers ``[i * stride, i * stride + window_length)``) as spans."""
    return resolve_overlaps([Span(i * stride, i * stride + window_length, lab) for i, lab in enumerate(labels)])


def resolve_overlaps(spans: Sequence[Span]) -> list[Span]:
    """Merge touching or overlapping spans of one label; share the overlap of two labels at its midpoint."""
    merged: list[list] = []
    for s in sorted(spans, key=lambda s: (s.start, s.end)):
        if merged and merged[-1][2] == s.label and s.start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], s.end)
        else:
            merged.append([s.start, s.end, s.label, s.speaker])
    for a, b in zip(merged, merged[1:], strict=False):
        if b[0] < a[1]:
            middle = (a[1] + b[0]) / 2
            a[1], b[0] = middle, middle
    return [Span(a, b, lab, spk) for a, b, lab, spk in merged if b > a]


def _label_at(spans: list[Span], times: np.ndarray, fill: str | None) -> list[str | None]:
    starts = np.array([s.start for s in spans])
    ends = np.array([s.end for s in spans])
    idx = np.searchsorted(starts, times, side="right") - 1
    out: list[str | None] = []
    for t, i in zip(times.tolist(), idx.tolist(), strict=True):
        out.append(spans[i].label if i >= 0 and t < ends[i] else fill)
    return out


def _elementary(ref: list[Span], hyp: list[Span], duration: float) -> tuple[np.ndarray, np.ndarray]:
    edges = {0.0, float(duration)}
    for s in (*ref, *hyp):
        edges.update((min(max(s.start, 0.0), duration), min(max(s.end, 0.0), duration)))
    cuts = np.array(sorted(edges))
    return (cuts[:-1] + cuts[1:]) / 2, np.diff(cuts)


def eder_parts(reference: Sequence[Span], hypothesis: Sequence[Span], duration: float, *, fill: str = "neutral",
               hypothesis_fill: str | None = None) -> dict[str, float]:
    """EDER and its parts, as fractions of ``duration``: ``missed`` (no hypothesis label),
    ``false_alarm`` (a non-``fill`` label where the reference has ``fill``), ``confusion`` (another
    emotion where the reference has one), and ``eder`` = their sum (see the module docstring)."""
    if duration <= 0:
        raise ProtocolError(f"duration must be positive, got {duration}")
    ref = _check_reference(reference)
    hyp = resolve_overlaps(hypothesis)
    mids, widths = _elementary(ref, hyp, duration)
    r = _label_at(ref, mids, fill) if ref else [fill] * mids.size
    h = _label_at(hyp, mids, hypothesis_fill) if hyp else [hypothesis_fill] * mids.size
    missed = sum(w for w, a, b in zip(widths, r, h, strict=True) if b is None)
    false_alarm = sum(w for w, a, b in zip(widths, r, h, strict=True) if b is not None and a == fill and b != a)
    confusion = sum(w for w, a, b in zip(widths, r, h, strict=True) if b is not None and a != fill and b != a)
    parts = {"missed": float(missed / duration), "false_alarm": float(false_alarm / duration),
             "confusion": float(confusion / duration)}
    return {**parts, "eder": sum(parts.values())}


def eder(reference: Sequence[Span], hypothesis: Sequence[Span], duration: float, *, fill: str = "neutral",
         hypothesis_fill: str | None = None) -> float:
    """Emotion diarization error rate in [0, 1] (see the module docstring and :func:`eder_parts`)."""
    return eder_parts(reference, hypothesis, duration, fill=fill, hypothesis_fill=hypothesis_fill)["eder"]


def _nearest_fill(hyp: list[Span], times: np.ndarray, labels: list[str | None]) -> list[str]:
    if not hyp:
        return [NO_LABEL if lab is None else lab for lab in labels]
    starts = np.array([s.start for s in hyp])
    ends = np.array([s.end for s in hyp])
    out = []
    for t, lab in zip(times.tolist(), labels, strict=True):
        if lab is None:
            distance = np.maximum(starts - t, 0) + np.maximum(t - ends, 0)
            lab = hyp[int(np.argmin(distance))].label
        out.append(lab)
    return out


def frame_labels(reference: Sequence[Span], hypothesis: Sequence[Span], *, step: float = 0.01,
                 hypothesis_fill: str | None = None) -> tuple[list[str], list[str]]:
    """(reference, hypothesis) label per frame centre inside the reference spans (see the module docstring)."""
    if step <= 0:
        raise ProtocolError(f"step must be positive, got {step}")
    ref = _check_reference(reference)
    hyp = resolve_overlaps(hypothesis)
    end = max((s.end for s in ref), default=0.0)
    times = (np.arange(int(np.ceil(end / step))) + 0.5) * step
    r = _label_at(ref, times, None)
    keep = np.array([lab is not None for lab in r], dtype=bool)
    times = times[keep]
    h = _label_at(hyp, times, None) if hyp else [None] * times.size
    if hypothesis_fill == "nearest":
        hyp_labels = _nearest_fill(hyp, times, h)
    else:
        hyp_labels = [(hypothesis_fill or NO_LABEL) if lab is None else lab for lab in h]
    return [lab for lab in r if lab is not None], hyp_labels


def frame_ua(reference: Sequence[Span], hypothesis: Sequence[Span], labels: Sequence[str], *, step: float = 0.01,
             hypothesis_fill: str | None = None) -> ClassificationResult:
    """Frame-level UA, WA and F1 over the reference spans (:func:`frame_labels`, then ``compute_metrics``)."""
    ref, hyp = frame_labels(reference, hypothesis, step=step, hypothesis_fill=hypothesis_fill)
    if not ref:
        raise ProtocolError("the reference has no labelled time to score")
    return compute_metrics(ref, hyp, list(labels), protocol="frame-level", fold=None)


def _boundaries(spans: list[Span]) -> list[float]:
    """Times where the label changes (gaps count as a change)."""
    out: list[float] = []
    for i, s in enumerate(spans):
        prev = spans[i - 1] if i else None
        if prev is None or prev.end < s.start - 1e-9 or prev.label != s.label:
            if prev is not None and abs(prev.end - s.start) > 1e-9:
                out.append(prev.end)
            out.append(s.start)
    if spans:
        out.append(spans[-1].end)
    return sorted(set(round(t, 6) for t in out))


def boundary_f1(reference: Sequence[Span], hypothesis: Sequence[Span], *, tolerance: float = 0.5) -> dict[str, float]:
    """Precision, recall and F1 of label-change boundaries matched within ``tolerance`` seconds (one to one)."""
    ref = _boundaries(resolve_overlaps(_check_reference(reference)))
    hyp = _boundaries(resolve_overlaps(hypothesis))
    pairs = sorted((abs(r - h), i, j) for i, r in enumerate(ref) for j, h in enumerate(hyp) if abs(r - h) <= tolerance)
    used_r: set[int] = set()
    used_h: set[int] = set()
    for _, i, j in pairs:
        if i not in used_r and j not in used_h:
            used_r.add(i)
            used_h.add(j)
    hits = len(used_r)
    precision = hits / len(hyp) if hyp else float("nan")
    recall = hits / len(ref) if ref else float("nan")
    f1 = 2 * hits / (len(ref) + len(hyp)) if ref or hyp else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1, "matched": float(hits),
            "reference": float(len(ref)), "hypothesis": float(len(hyp))}


def _overlap_matrix(reference: Sequence[Span], hypothesis: Sequence[Span]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ref_names = sorted({s.speaker or s.label for s in reference})
    hyp_names = sorted({s.speaker or s.label for s in hypothesis})
    m = np.zeros((len(hyp_names), len(ref_names)))
    for h in hypothesis:
        for r in reference:
            m[hyp_names.index(h.speaker or h.label), ref_names.index(r.speaker or r.label)] += max(
                0.0, min(h.end, r.end) - max(h.start, r.start))
    hyp_total = np.zeros(len(hyp_names))
    for h in hypothesis:
        hyp_total[hyp_names.index(h.speaker or h.label)] += h.end - h.start
    ref_total = np.zeros(len(ref_names))
    for r in reference:
        ref_total[ref_names.index(r.speaker or r.label)] += r.end - r.start
    return m, hyp_total, ref_total


def speaker_purity_coverage(reference: Sequence[Span], hypothesis: Sequence[Span]) -> dict[str, float]:
    """Cluster purity and coverage on time (see the module docstring); spans are grouped by ``speaker``
    (by ``label`` where ``speaker`` is ``None``)."""
    if not reference or not hypothesis:
        raise ProtocolError("speaker purity and coverage need reference and hypothesis spans")
    m, hyp_total, ref_total = _overlap_matrix(reference, hypothesis)
    return {"purity": float(m.max(axis=1).sum() / hyp_total.sum()),
            "coverage": float(m.max(axis=0).sum() / ref_total.sum())}
