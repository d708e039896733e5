"""Score a timeline against labelled long audio: EDER, frame-level UA, boundary F1, speaker purity/coverage.

>>> from spokenemo.api.timeline_score import score_timeline
>>> scores = score_timeline("longform-000.rttm", "longform-000.json")       # doctest: +SKIP
>>> scores["eder"], scores["frame_ua"], scores["speaker"]["purity"]      # doctest: +SKIP

The reference is an RTTM file as :mod:`spokenemo.data.longform` writes it (emotion in the
orthography field); the hypothesis a :class:`~spokenemo.api.timeline.Timeline` or its JSON file.
The definitions are in :mod:`spokenemo.protocols.timeline_metrics`. Two readings of EDER are
reported: ``eder`` as SpeechBrain's ZED recipe scores it (unlabelled reference time is
``neutral``; time the timeline leaves without a segment, i.e. pauses, is neutral too, as a ZED
model would predict there) and ``eder_speech`` over the reference's labelled time only. Reference
spans whose label is not one of the timeline's classes are left out of the emotion metrics (build
the recordings with the recogniser's label set); the speaker metrics use every span.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spokenemo.core.errors import SpokenemoError
from spokenemo.data.longform import Turn, read_rttm
from spokenemo.protocols.timeline_metrics import (
    Span,
    boundary_f1,
    eder_parts,
    frame_labels,
    frame_ua,
    speaker_purity_coverage,
)

__all__ = ["reference_spans", "score_spans", "score_timeline"]

#: Label of reference time no clip covers, and of hypothesis pauses, for the ZED reading of EDER.
FILL = "neutral"


def reference_spans(rttm: str | Path, recording: str | None = None) -> list[Span]:
    """Spans of one recording of an RTTM file (the only one, or ``recording``)."""
    turns: dict[str, list[Turn]] = read_rttm(rttm)
    if recording is None:
        if len(turns) != 1:
            raise SpokenemoError(f"{rttm} holds {len(turns)} recordings: {', '.join(sorted(turns))}",
                                 hint="name the one to score (--recording NAME)")
        recording = next(iter(turns))
    if recording not in turns:
        raise SpokenemoError(f"{rttm}: no recording named {recording!r}", hint=f"one of {', '.join(sorted(turns))}")
    return [Span(t.start, t.end, t.label, t.speaker) for t in turns[recording]]


def _hypothesis(timeline: Any) -> tuple[list[Span], float, list[str]]:
    if isinstance(timeline, (str, Path)):
        p = Path(timeline)
        if not p.is_file():
            raise SpokenemoError(f"{p}: no such timeline file", hint="write one with `spokenemo timeline FILE -o OUT.json`")
        data = json.loads(p.read_text())
        spans = [Span(s["start"], s["end"], s["emotion"], s["speaker"]) for s in data["segments"]]
        return spans, float(data["duration"]), list(data["labels"])
    return timeline.spans(), float(timeline.duration), list(timeline.labels)


def score_spans(reference: list[Span], hypothesis: list[Span], duration: float, labels: list[str], *,
                tolerance: float = 0.5, step: float = 0.01) -> dict[str, Any]:
    """Every metric of a hypothesis against a reference (see the module docstring)."""
    known = [s for s in reference if s.label in labels]
    if not known:
        raise SpokenemoError(f"no reference span has one of the classes {labels}",
                             hint="build the recordings with the recogniser's label set")
    zed = eder_parts(known, hypothesis, duration, fill=FILL, hypothesis_fill=FILL)
    speech_time = sum(s.end - s.start for s in known)
    ref_frames, hyp_frames = frame_labels(known, hypothesis, step=step)
    speech_err = sum(a != b for a, b in zip(ref_frames, hyp_frames, strict=True)) / max(len(ref_frames), 1)
    strict = frame_ua(known, hypothesis, labels, step=step)
    nearest = frame_ua(known, hypothesis, labels, step=step, hypothesis_fill="nearest")
    return {"eder": zed["eder"], "eder_parts": zed, "eder_speech": speech_err,
            "frame_ua": nearest.ua, "frame_wa": nearest.wa, "frame_ua_strict": strict.ua,
            "frame_uncovered": strict.n_invalid / max(strict.n, 1),
            "boundary": boundary_f1(known, hypothesis, tolerance=tolerance),
            "speaker": speaker_purity_coverage(reference, hypothesis),
            "reference_speech_s": round(speech_time, 3), "duration_s": round(duration, 3),
            "settings": {"fill": FILL, "tolerance_s": tolerance, "frame_step_s": step,
                         "frame_ua": "pauses inside reference spans take the nearest segment's label",
                         "frame_ua_strict": "time inside reference spans without a segment counts as wrong"}}


def score_timeline(rttm: str | Path, timeline: Any, *, recording: str | None = None, tolerance: float = 0.5,
                   step: float = 0.01) -> dict[str, Any]:
    """:func:`score_spans` of a timeline (object or JSON file) against an RTTM reference."""
    hypothesis, duration, labels = _hypothesis(timeline)
    if recording is None and isinstance(timeline, (str, Path)):
        names = read_rttm(rttm)
        stem = Path(json.loads(Path(timeline).read_text())["source"]).stem
        recording = stem if stem in names else None
    return score_spans(reference_spans(rttm, recording), hypothesis, duration, labels, tolerance=tolerance, step=step)
