"""What a timeline holds: its segments and the data around them, and its summary.

The summary: per speaker (and ``"all"``), the share of speech time per emotion (the segment's top
class), the speech seconds, and the ``top`` strongest moments: the segments whose highest
probability of a class other than ``neutral`` is largest, with their times. Writers and the
figure (:mod:`.timeline_outputs`, :mod:`.timeline_plot`) read :class:`TimelineData`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spokenemo.audio.vad import FRAME_SECONDS
from spokenemo.protocols.timeline_metrics import Span

__all__ = ["TimelineData", "TimelineSegment", "summarise", "text_of"]


@dataclass
class TimelineSegment:
    """One stretch of speech: who, when, which emotion, how sure, and why."""

    start: float
    end: float
    speaker: str
    emotion: str
    probabilities: dict[str, float]
    explanation: dict[str, Any] | None = None
    cues: dict[str, float | None] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "speaker": self.speaker,
                "emotion": self.emotion, "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
                "cues": self.cues, "explanation": self.explanation}



@dataclass
class TimelineData:
    """What :func:`spokenemo.api.timeline.timeline` found (its result, :class:`~spokenemo.api.timeline.Timeline`,
    adds writing and plotting)."""

    source: str
    duration: float
    labels: list[str]
    segments: list[TimelineSegment]
    speech_track: np.ndarray
    vad_backend: str
    speakers: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def frame_seconds(self) -> float:
        return FRAME_SECONDS

    def summary(self, top: int = 5) -> dict[str, Any]:
        """Share of speech time per emotion per speaker, and the ``top`` strongest moments."""
        return summarise(self, top=top)

    def spans(self) -> list[Span]:
        """Segments as metric spans (label = emotion, speaker = speaker)."""
        return [Span(s.start, s.end, s.emotion, s.speaker) for s in self.segments]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "duration": round(self.duration, 3), "labels": self.labels,
                "vad_backend": self.vad_backend, "speakers": self.speakers, "settings": self.settings,
                "timings": self.timings, "summary": self.summary(),
                "segments": [s.to_dict() for s in self.segments]}


#: The class left out when ranking the strongest moments.
CALM_CLASS = "neutral"


def _share(segments: list[TimelineSegment], labels: list[str]) -> tuple[dict[str, float], float]:
    total = sum(s.duration for s in segments)
    time = {lab: 0.0 for lab in labels}
    for s in segments:
        time[s.emotion] = time.get(s.emotion, 0.0) + s.duration
    return {lab: round(t / total, 4) if total else 0.0 for lab, t in time.items()}, total


def _strength(seg: TimelineSegment) -> tuple[str, float]:
    pool = {k: v for k, v in seg.probabilities.items() if k != CALM_CLASS} or seg.probabilities
    label = max(pool, key=lambda k: pool[k])
    return label, pool[label]


def text_of(seg: TimelineSegment) -> str | None:
    if not seg.explanation:
        return None
    text = seg.explanation.get("text")
    if isinstance(text, dict):
        text = text.get("text") or text.get("explanation")
    return None if text is None else str(text)


def summarise(tl: TimelineData, top: int = 5) -> dict[str, Any]:
    """Share of time per emotion per speaker and the strongest moments (see the module docstring)."""
    speakers = sorted({s.speaker for s in tl.segments})
    share: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    for who in [*speakers, "all"]:
        segs = [s for s in tl.segments if who == "all" or s.speaker == who]
        share[who], total = _share(segs, tl.labels)
        seconds[who] = round(total, 2)
    ranked = sorted(tl.segments, key=lambda s: -_strength(s)[1])[:max(top, 0)]
    moments = [{"start": round(s.start, 2), "end": round(s.end, 2), "speaker": s.speaker,
                "emotion": _strength(s)[0], "probability": round(_strength(s)[1], 3), "explanation": text_of(s)}
               for s in ranked]
    return {"share": share, "speech_seconds": seconds, "strongest": moments,
            "segments": len(tl.segments), "duration": round(tl.duration, 2)}
