"""The timeline figure (matplotlib, Agg canvas: no pyplot state, safe in worker threads): emotion probabilities over time per speaker, speech regions, cue tracks beneath.

Rows, top to bottom, sharing the time axis:

1. one panel per speaker: each class's probability as a step line over that speaker's segments
   (gaps where the speaker is silent), the segment's top class shaded behind;
2. speech regions: the VAD's speech probability and the segments coloured by speaker;
3. one panel per cue track (pitch in Hz, loudness in dBFS, speech rate in syllables/s), one step
   per segment, as measured for the explanations (absent when explanations were skipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spokenemo.api.timeline_explain import TRACK_CUES
from spokenemo.api.timeline_result import TimelineData as Timeline

__all__ = ["plot_timeline"]

_CUE_UNITS = {"pitch": "pitch (Hz)", "loudness": "loudness (dBFS)", "speech_rate": "rate (syll/s)"}
_COLOURS = {"angry": "#d62728", "happy": "#ffbf00", "neutral": "#7f7f7f", "sad": "#1f77b4", "calm": "#2ca02c",
            "fearful": "#9467bd", "disgust": "#8c564b", "surprised": "#e377c2"}


def _colour(label: str, i: int) -> str:
    return _COLOURS.get(label, f"C{i % 10}")


def _steps(segments: list[Any], value: Any) -> tuple[list[float], list[float]]:
    """x, y of a step line over segments, broken (NaN) between segments that do not touch."""
    xs: list[float] = []
    ys: list[float] = []
    for s in segments:
        v = value(s)
        v = np.nan if v is None else float(v)
        if xs and s.start > xs[-1] + 1e-6:
            xs.append(xs[-1])
            ys.append(np.nan)
        xs += [s.start, s.end]
        ys += [v, v]
    return xs, ys


def _speaker_panel(ax: Any, tl: Timeline, who: str) -> None:
    segs = [s for s in tl.segments if s.speaker == who]
    for s in segs:
        ax.axvspan(s.start, s.end, color=_colour(s.emotion, tl.labels.index(s.emotion)), alpha=0.12, lw=0)
    for i, lab in enumerate(tl.labels):
        xs, ys = _steps(segs, lambda s, lab=lab: s.probabilities.get(lab))
        ax.plot(xs, ys, color=_colour(lab, i), lw=1.2, label=lab)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"{who}\np(emotion)")


def _speech_panel(ax: Any, tl: Timeline, speakers: list[str]) -> None:
    track = np.asarray(tl.speech_track, dtype=float)
    if track.size:
        t = np.arange(track.size) * tl.frame_seconds
        step = max(1, track.size // 4000)  # at most ~4000 points drawn
        ax.fill_between(t[::step], 0, track[::step], color="#bbbbbb", lw=0, label="speech probability")
    for s in tl.segments:
        ax.axvspan(s.start, s.end, ymin=0.0, ymax=0.25, color=f"C{speakers.index(s.speaker) % 10}", lw=0)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("speech\n& speaker", fontsize=8)


def plot_timeline(tl: Timeline, path: str | Path | None = None) -> Any:
    """Draw ``tl`` (see the module docstring); save it to ``path`` (PNG, SVG, PDF) when given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    speakers = sorted({s.speaker for s in tl.segments})
    cues = [c for c in TRACK_CUES if any(s.cues.get(c) is not None for s in tl.segments)]
    rows = len(speakers) + 1 + len(cues)
    heights = [2.0] * len(speakers) + [0.8] + [0.9] * len(cues)
    fig = Figure(figsize=(12, sum(heights) + 0.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
    for ax, who in zip(axes, speakers, strict=False):
        _speaker_panel(ax, tl, who)
    if speakers:
        axes[0].legend(loc="upper right", ncol=len(tl.labels), fontsize=7, frameon=False)
        axes[0].set_title(f"{Path(tl.source).name}: emotion over time ({len(tl.segments)} segments, "
                          f"{len(speakers)} speaker{'s' * (len(speakers) != 1)})", fontsize=10)
    _speech_panel(axes[len(speakers)], tl, speakers)
    for ax, cue in zip(axes[len(speakers) + 1:], cues, strict=True):
        for who in speakers:
            xs, ys = _steps([s for s in tl.segments if s.speaker == who], lambda s, cue=cue: s.cues.get(cue))
            ax.plot(xs, ys, lw=1.0, color=f"C{speakers.index(who) % 10}", label=who)
        ax.set_ylabel(_CUE_UNITS.get(cue, cue), fontsize=8)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, max(tl.duration, 1e-3))
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig
