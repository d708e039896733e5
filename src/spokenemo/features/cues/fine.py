"""Fine-grained cues: normalised mean pitch and intensity in n equal segments (docs/methods/aecotd.md, section 2).

All means are slices of the frame tracks, computed for every segment and window at once from
cumulative sums (no loop over frames, no second STFT).

- **Frames of a span** (segment or window) ``[a, b)`` in samples: the frames whose centre
  ``t * hop`` lies in it. A segment that holds no frame centre (an utterance with fewer frames
  than segments) takes the one frame nearest to its middle, so there are always exactly n values.
  The last segment (and a window that ends with the signal) also takes the final frame, centred
  on the end of the signal.
- **Segment mean pitch**: mean of the voiced frames' pitch (Hz); no voiced frame -> no value.
- **Segment mean intensity**: mean of the frame levels in dB (or the level of the mean energy,
  ``intensity_mean="energy"``).
- **Bounds** (Eq. 2): 0.5 s windows every 0.25 s, ``[k*step, k*step + window)`` for every
  window that fits in the signal; a signal shorter than one window is its only window.
  ``F_max``/``F_min`` = largest/smallest window mean. Windows without a voiced frame have no
  pitch mean and are left out of the pitch bounds.
- **Value** (Eq. 3), in this order: a *silent* segment (its mean intensity at or below the
  silence threshold) -> 0 for pitch and intensity; a segment without voiced frame -> pitch 0;
  no bounds or ``F_max - F_min < eps`` (flat) -> 0.5;
  else ``(F_mean - F_min) / (F_max - F_min)`` clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spokenemo.features.cues.config import CueExtractionConfig
from spokenemo.features.cues.tracks import FrameTracks, to_db


@dataclass(frozen=True)
class FineCues:
    """Normalised segment values of one utterance for one segment count.

    Attributes
    ----------
    pitch, intensity : tuple of float
        ``n`` values in [0, 1], unrounded (rendering rounds to two decimals).
    """

    pitch: tuple[float, ...]
    intensity: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.pitch)


def span_frames(starts: np.ndarray, ends: np.ndarray, hop: int, n_frames: int,
                last_gets_final: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Frame index ranges ``[f0, f1)`` of sample spans ``[starts, ends)`` (centre rule, see module doc)."""
    f0 = -(-starts // hop)                          # ceil: first centre at or after the start
    f1 = -(-ends // hop)
    f0, f1 = np.minimum(f0, n_frames), np.minimum(f1, n_frames)
    if last_gets_final and f1.size:
        f1[-1] = n_frames
    empty = f1 <= f0
    if empty.any():
        mid = np.rint((starts[empty] + ends[empty]) / (2 * hop)).astype(np.int64)
        near = np.clip(mid, 0, n_frames - 1)
        f0[empty], f1[empty] = near, near + 1
    return f0, f1


def segment_spans(n_samples: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample bounds of ``n`` equal, non-overlapping segments (rounded to whole samples)."""
    edges = np.rint(np.linspace(0, n_samples, n + 1)).astype(np.int64)
    return edges[:-1], edges[1:]


def window_spans(n_samples: int, window: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample bounds of sliding windows; the whole signal when it is shorter than one window."""
    if n_samples <= window:
        return np.array([0]), np.array([n_samples])
    starts = np.arange(0, n_samples - window + 1, step, dtype=np.int64)
    return starts, starts + window


class _SpanMeans:
    """Cumulative sums of one utterance's tracks, giving span means in O(1) per span."""

    def __init__(self, tracks: FrameTracks, intensity_mean: str) -> None:
        self.tracks = tracks
        self.intensity_mean = intensity_mean
        zero = np.zeros(1)
        self.voiced_sum = np.concatenate((zero, np.cumsum(tracks.pitch)))
        self.voiced_count = np.concatenate((zero, np.cumsum(tracks.voiced)))
        series = tracks.intensity_db if intensity_mean == "db" else np.square(tracks.rms)
        self.level_sum = np.concatenate((zero, np.cumsum(series)))

    def pitch(self, f0: np.ndarray, f1: np.ndarray) -> np.ndarray:
        """Mean voiced pitch per span; NaN where the span has no voiced frame."""
        count = self.voiced_count[f1] - self.voiced_count[f0]
        total = self.voiced_sum[f1] - self.voiced_sum[f0]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def intensity(self, f0: np.ndarray, f1: np.ndarray) -> np.ndarray:
        """Mean intensity per span in dB (mean of dB, or dB of mean energy)."""
        mean = (self.level_sum[f1] - self.level_sum[f0]) / (f1 - f0)
        if self.intensity_mean == "db":
            return mean
        return to_db(np.sqrt(np.maximum(mean, 0.0)), self.tracks.db_floor)


def normalise(values: np.ndarray, bounds: np.ndarray, silent: np.ndarray, eps: float) -> np.ndarray:
    """Eq. 3 with the rules of the module docstring.

    Parameters
    ----------
    values : np.ndarray
        Segment means; NaN = no value (no voiced frame) -> 0.
    bounds : np.ndarray
        Window means (NaN entries are ignored).
    silent : np.ndarray of bool
        Silent segments -> 0.
    eps : float
        Flat-contour threshold on ``F_max - F_min``.
    """
    finite = bounds[np.isfinite(bounds)]
    out = np.full(values.shape, 0.5)
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if hi - lo >= eps and hi > lo:
            out = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    out = np.where(np.isfinite(values), out, 0.0)
    return np.where(silent, 0.0, out)


@dataclass(frozen=True)
class FineDetails:
    """The numbers behind the fine cues of one segment count (for plots and checks).

    Attributes
    ----------
    pitch_means, intensity_means : np.ndarray
        Raw segment means (Hz, NaN without voiced frame; dB).
    silent : np.ndarray of bool
        Silent segments.
    pitch_bounds, intensity_bounds : tuple of float
        ``(F_min, F_max)`` from the windows (NaN when no window has a value).
    cues : FineCues
        The normalised values.
    """

    pitch_means: np.ndarray
    intensity_means: np.ndarray
    silent: np.ndarray
    pitch_bounds: tuple[float, float]
    intensity_bounds: tuple[float, float]
    cues: FineCues


def _bounds(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (float("nan"), float("nan"))


def fine_details(tracks: FrameTracks, config: CueExtractionConfig | None = None) -> dict[int, FineDetails]:
    """Fine cues with their raw means and bounds, for every count in ``config.n_segments``."""
    cfg = config or CueExtractionConfig()
    means = _SpanMeans(tracks, cfg.intensity_mean)
    hop, n_frames, n_samples = tracks.hop_length, tracks.n_frames, tracks.n_samples

    w0, w1 = window_spans(n_samples, round(cfg.window_s * tracks.sr), round(cfg.step_s * tracks.sr))
    wf0, wf1 = span_frames(w0, w1, hop, n_frames, last_gets_final=bool(w1[-1] >= n_samples))
    win_pitch, win_level = means.pitch(wf0, wf1), means.intensity(wf0, wf1)
    if cfg.bounds_skip_silent_windows:
        quiet = win_level <= tracks.silence_db
        if not quiet.all():
            win_pitch, win_level = np.where(quiet, np.nan, win_pitch), np.where(quiet, np.nan, win_level)

    out: dict[int, FineDetails] = {}
    for n in cfg.n_segments:
        s0, s1 = segment_spans(n_samples, n)
        f0, f1 = span_frames(s0, s1, hop, n_frames, last_gets_final=True)
        seg_pitch, seg_level = means.pitch(f0, f1), means.intensity(f0, f1)
        silent = seg_level <= tracks.silence_db
        pitch = normalise(seg_pitch, win_pitch, silent, cfg.pitch_flat_eps_hz)
        level = normalise(seg_level, win_level, silent, cfg.intensity_flat_eps_db)
        cues = FineCues(pitch=tuple(float(v) for v in pitch), intensity=tuple(float(v) for v in level))
        out[n] = FineDetails(pitch_means=seg_pitch, intensity_means=seg_level, silent=silent,
                             pitch_bounds=_bounds(win_pitch), intensity_bounds=_bounds(win_level), cues=cues)
    return out


def fine_cues(tracks: FrameTracks, config: CueExtractionConfig | None = None) -> dict[int, FineCues]:
    """Fine cues for every segment count in ``config.n_segments``.

    Returns
    -------
    dict
        ``{n: FineCues}``.
    """
    return {n: d.cues for n, d in fine_details(tracks, config).items()}
