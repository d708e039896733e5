"""A timeline's summary and its files: JSON, CSV, WebVTT and SRT (emotion captions for a video player).

- **summary**: per speaker (and ``"all"``), the share of speech time per emotion (the segment's
  top class), the speech seconds, and the ``top`` strongest moments: the segments whose highest
  probability of a class other than ``neutral`` is largest, with their times.
- **JSON**: :meth:`Timeline.to_dict` (settings, timings, summary, every segment with its
  probabilities, cues and explanation).
- **CSV**: one row per segment: start, end, speaker, emotion, ``p_<class>`` per class, and the
  explanation text.
- **WebVTT / SRT**: one cue per segment, ``S1: angry (0.82)``; players show it while the segment plays.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.fileio import atomic_write

if TYPE_CHECKING:
    from spokenemo.api.timeline import Timeline, TimelineSegment

__all__ = ["FORMATS", "caption_time", "summarise", "to_captions", "write_timeline"]

FORMATS = ("json", "csv", "vtt", "srt")
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


def _text_of(seg: TimelineSegment) -> str | None:
    if not seg.explanation:
        return None
    text = seg.explanation.get("text")
    if isinstance(text, dict):
        text = text.get("text") or text.get("explanation")
    return None if text is None else str(text)


def summarise(tl: Timeline, top: int = 5) -> dict[str, Any]:
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
                "emotion": _strength(s)[0], "probability": round(_strength(s)[1], 3), "explanation": _text_of(s)}
               for s in ranked]
    return {"share": share, "speech_seconds": seconds, "strongest": moments,
            "segments": len(tl.segments), "duration": round(tl.duration, 2)}


def caption_time(seconds: float, sep: str = ".") -> str:
    """``HH:MM:SS.mmm`` (``sep=","`` for SRT).

    >>> caption_time(3725.5), caption_time(0.0415, ",")
    ('01:02:05.500', '00:00:00,042')
    """
    ms = round(max(seconds, 0.0) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_captions(tl: Timeline, kind: str = "vtt") -> str:
    """WebVTT (``kind="vtt"``) or SRT (``"srt"``) text, one cue per segment."""
    sep = "," if kind == "srt" else "."
    lines = ["WEBVTT", ""] if kind == "vtt" else []
    for i, s in enumerate(tl.segments, start=1):
        lines += [str(i), f"{caption_time(s.start, sep)} --> {caption_time(s.end, sep)}",
                  f"{s.speaker}: {s.emotion} ({s.probabilities.get(s.emotion, 0.0):.2f})", ""]
    return "\n".join(lines)


def _write_csv(tl: Timeline, f: Any) -> None:
    w = csv.writer(f)
    w.writerow(["start", "end", "speaker", "emotion", *[f"p_{lab}" for lab in tl.labels], "explanation"])
    for s in tl.segments:
        w.writerow([f"{s.start:.3f}", f"{s.end:.3f}", s.speaker, s.emotion,
                    *[f"{s.probabilities.get(lab, 0.0):.4f}" for lab in tl.labels], _text_of(s) or ""])


def write_timeline(tl: Timeline, path: str | Path, format: str | None = None) -> Path:
    """Write ``tl`` as ``format`` (default: the suffix of ``path``) atomically; returns the path."""
    p = Path(path)
    kind = (format or p.suffix.lstrip(".")).lower()
    if kind not in FORMATS:
        raise SpokenemoError(f"{p}: unknown timeline format {kind or '(no suffix)'!r}",
                             hint=f"use one of {', '.join(FORMATS)} (as --format or the file suffix)")
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(p) as f:
        if kind == "json":
            json.dump(tl.to_dict(), f, indent=1, default=str)
            f.write("\n")
        elif kind == "csv":
            _write_csv(tl, f)
        else:
            f.write(to_captions(tl, kind))
    return p
