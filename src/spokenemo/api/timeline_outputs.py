"""A timeline's files: JSON, CSV, WebVTT and SRT (emotion captions for a video player).

- **summary** (:func:`spokenemo.api.timeline_result.summarise`): shares of time and strongest moments.
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
from typing import Any

from spokenemo.api.timeline_result import TimelineData as Timeline
from spokenemo.api.timeline_result import text_of
from spokenemo.core.errors import SpokenemoError
from spokenemo.core.fileio import atomic_write

__all__ = ["FORMATS", "caption_time", "to_captions", "write_timeline"]

FORMATS = ("json", "csv", "vtt", "srt")
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
                    *[f"{s.probabilities.get(lab, 0.0):.4f}" for lab in tl.labels], text_of(s) or ""])


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
