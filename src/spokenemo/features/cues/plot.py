"""A picture of one utterance's cues: waveform, pitch and intensity tracks, segments, words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from spokenemo.features.cues.config import CueExtractionConfig
from spokenemo.features.cues.extract import UtteranceCues
from spokenemo.features.cues.fine import fine_details, segment_spans
from spokenemo.features.cues.syllables import syllable_nuclei
from spokenemo.features.cues.thresholds import Thresholds
from spokenemo.features.cues.tracks import FrameTracks
from spokenemo.features.cues.vocabulary import COARSE


def _coarse_line(cues: UtteranceCues, thresholds: Thresholds | None, speaker: str | None) -> str:
    parts = []
    limits = thresholds.for_speaker(speaker) if thresholds is not None else {}
    for c in COARSE:
        value = cues.coarse[c.name]
        if c.name in limits:
            word = c.above if value > limits[c.name] else c.below
            parts.append(f"{c.label}: {word} ({c.raw(value)})")
        else:
            parts.append(f"{c.label}: {c.raw(value)}")
    return "   ".join(parts)


def plot_cues(
    y: np.ndarray,
    tracks: FrameTracks,
    cues: UtteranceCues,
    path: str | Path,
    *,
    n_segments: int | None = None,
    config: CueExtractionConfig | None = None,
    thresholds: Thresholds | None = None,
    speaker: str | None = None,
    title: str | None = None,
    dpi: int = 130,
) -> Path:
    """Draw the cues of one utterance to an image file (PNG, SVG, PDF: by suffix).

    Three panels on one time axis: the waveform with sounding frames shaded and syllable nuclei
    marked; the pitch track (voiced frames) with each segment's mean and its normalised value;
    the intensity track with the noise level, the silence threshold and the segment values.
    The title line gives the coarse cues (words when ``thresholds`` are given).

    Parameters
    ----------
    y : np.ndarray
        The signal the tracks were computed from.
    tracks : FrameTracks
        From :func:`spokenemo.features.cues.analyse`.
    cues : UtteranceCues
        The utterance's cues.
    path : path
        Output file.
    n_segments : int, optional
        Which segment count to draw (default: 7 if computed, else the first computed).
    config : CueExtractionConfig, optional
        The settings the tracks were computed with (for the syllable rule).
    thresholds : Thresholds, optional
        For the coarse words.
    speaker : str, optional
        Speaker for speaker-relative thresholds.
    title : str, optional
        First title line (e.g. the file name).
    dpi : int
        Resolution of raster output.

    Returns
    -------
    Path
        ``path``.
    """
    n = n_segments if n_segments is not None else (7 if 7 in cues.fine else min(cues.fine))
    cfg = config or CueExtractionConfig()
    details = fine_details(tracks, cfg.model_copy(update={"n_segments": (n,)}))[n]
    edges = np.append(segment_spans(tracks.n_samples, n)[0], tracks.n_samples) / tracks.sr
    nuclei = syllable_nuclei(tracks, config) if cues.syllables else np.zeros(0, dtype=int)

    fig = Figure(figsize=(13, 7.2))  # no pyplot: no global state, no GUI backend
    ax_w, ax_p, ax_i = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [1.0, 1.3, 1.3]})
    head = title + "\n" if title else ""
    fig.suptitle(head + _coarse_line(cues, thresholds, speaker), fontsize=10)
    _waveform_panel(ax_w, y, tracks, nuclei, cues.syllables)
    _pitch_panel(ax_p, tracks, cues.coarse["pitch"])
    _intensity_panel(ax_i, tracks)
    panels = ((ax_p, details.cues.pitch, details.pitch_means, details.pitch_bounds, "pitch", "tab:blue"),
              (ax_i, details.cues.intensity, details.intensity_means, details.intensity_bounds, "intensity",
               "tab:red"))
    for ax, values, seg_means, bounds, name, colour in panels:
        _segment_overlay(ax, values, seg_means, bounds, details.silent, edges, tracks.duration, name, colour)
    ax_w.set_xlim(0, tracks.duration)
    for ax in (ax_w, ax_p, ax_i):
        ax.grid(alpha=0.25)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _legend(ax: Any) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, framealpha=0.9)


def _waveform_panel(ax: Any, y: np.ndarray, tracks: FrameTracks, nuclei: np.ndarray, syllables: Any) -> None:
    """Waveform, sounding frames and syllable nuclei."""
    t_sig = np.arange(y.size) / tracks.sr
    t = tracks.times()
    ax.plot(t_sig, y, lw=0.4, color="0.25")
    ax.fill_between(t, -1, 1, where=tracks.sounding, color="tab:green", alpha=0.12, step="mid", lw=0,
                    label="sounding")
    peak = float(np.max(np.abs(y))) or 1.0
    ax.set_ylim(-1.05 * peak, 1.05 * peak)
    if nuclei.size:
        ax.plot(t[nuclei], np.full(nuclei.size, 0.9 * peak), "v", color="tab:red", ms=5,
                label=f"syllable nuclei ({syllables})")
    ax.set_ylabel("waveform")
    _legend(ax)


def _pitch_panel(ax: Any, tracks: FrameTracks, mean_pitch: float) -> None:
    """Voiced frames; those below the silence threshold (counted unless the gating option is on)
    in grey, so pitch "found" in background noise is visible as such."""
    t = tracks.times()
    voiced = tracks.voiced
    loud = voiced & tracks.sounding
    quiet = voiced & ~tracks.sounding
    ax.plot(t[loud], tracks.pitch[loud], ".", ms=2.5, color="tab:blue", label="pitch (voiced frames)")
    if quiet.any():
        ax.plot(t[quiet], tracks.pitch[quiet], ".", ms=2.0, color="0.65", label="pitch in silent frames")
    ax.set_ylabel("pitch (Hz)")
    if voiced.any():
        lo, hi = np.percentile(tracks.pitch[voiced], [1, 99])
        pad = max(10.0, 0.1 * (hi - lo))
        ax.set_ylim(max(0.0, lo - pad), hi + 2.2 * pad)
    else:
        ax.set_ylim(0, 1)
    if mean_pitch > 0:
        ax.axhline(mean_pitch, color="tab:blue", lw=0.8, ls=":", label="mean pitch")


def _intensity_panel(ax: Any, tracks: FrameTracks) -> None:
    """Frame intensity with the silence threshold and the noise level."""
    ax.plot(tracks.times(), tracks.intensity_db, lw=1.0, color="tab:orange", label="intensity (frame RMS)")
    ax.axhline(tracks.silence_db, color="0.4", lw=0.8, ls="--", label=f"silence threshold {tracks.silence_db:.0f} dB")
    ax.axhline(tracks.noise_db, color="0.6", lw=0.8, ls=":", label=f"noise level {tracks.noise_db:.0f} dB")
    finite = tracks.intensity_db[tracks.intensity_db > tracks.db_floor]
    low = float(finite.min()) if finite.size else tracks.db_floor
    ax.set_ylim(max(tracks.db_floor, low - 5), tracks.peak_db + 12)
    ax.set_ylabel("intensity (dBFS)")
    ax.set_xlabel("time (s)")


def _segment_overlay(ax: Any, values: Any, seg_means: np.ndarray, bounds: tuple[float, float],
                     silent: np.ndarray, edges: np.ndarray, duration: float, name: str, colour: str) -> None:
    """Segment boundaries, segment means, window bounds and the normalised values."""
    f_min, f_max = bounds
    top = ax.get_ylim()[1]
    if np.isfinite(f_min):
        for level, which in ((f_min, "min"), (f_max, "max")):
            ax.axhline(level, color=colour, lw=0.6, ls=(0, (4, 3)), alpha=0.6)
            ax.text(duration, level, f"F_{which} ", fontsize=7, color=colour, va="bottom", ha="right")
    n = len(values)
    for k in range(n):
        if k:
            ax.axvline(edges[k], color="0.5", lw=0.7, alpha=0.7)
        if np.isfinite(seg_means[k]) and not silent[k]:
            ax.hlines(seg_means[k], edges[k], edges[k + 1], color="black", lw=1.6, alpha=0.8,
                      label="segment mean" if k == int(np.argmax(~silent)) else None)
        ax.text((edges[k] + edges[k + 1]) / 2, top, f"{values[k]:.2f}", ha="center", va="top",
                fontsize=9, color="black", bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.7"})
    _legend(ax)
    ax.set_title(f"{name} by segment (n = {n}, normalised to [0, 1])", fontsize=8, loc="left")
