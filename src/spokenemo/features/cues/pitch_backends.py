"""Optional pitch backends on the cue frame grid: pYIN (librosa) and Praat (parselmouth).

Both are much slower than piptrack and are meant for checks and for users who prefer an F0
tracker with fewer octave errors. Their result is one value per frame of the cue grid (frame
``t`` centred on sample ``t * hop_length``), 0 where the frame is unvoiced.
"""

from __future__ import annotations

import librosa
import numpy as np

from spokenemo.core.errors import ConfigError
from spokenemo.core.lazy import optional_import
from spokenemo.features.cues.config import CueExtractionConfig


def pyin_pitch(y: np.ndarray, config: CueExtractionConfig, n_frames: int) -> np.ndarray:
    """``librosa.pyin`` with ``frame_length = n_fft`` on the same centred grid; unvoiced = 0."""
    f0, voiced, _ = librosa.pyin(y, fmin=config.fmin, fmax=config.fmax, sr=config.sr,
                                 frame_length=config.n_fft, hop_length=config.hop_length, center=True)
    out = np.where(voiced & np.isfinite(f0), f0, 0.0)
    return _fit_length(out, n_frames)


def praat_pitch(y: np.ndarray, config: CueExtractionConfig, n_frames: int) -> np.ndarray:
    """Praat's autocorrelation pitch (``To Pitch (ac)``) sampled at the cue frame times.

    Praat places its own frames (it needs ~3 periods of the pitch floor per frame); each cue frame
    takes the value of the nearest Praat frame when that is within one hop, else 0.
    """
    parselmouth = optional_import("parselmouth", purpose="pitch_backend 'praat' (or use 'piptrack' or 'pyin')")
    snd = parselmouth.Sound(np.asarray(y, dtype=np.float64), sampling_frequency=config.sr)
    step = config.hop_length / config.sr
    pitch = snd.to_pitch_ac(time_step=step, pitch_floor=config.fmin, pitch_ceiling=config.fmax)
    values = pitch.selected_array["frequency"]
    times = np.asarray(pitch.xs())
    out = np.zeros(n_frames)
    if values.size == 0:
        return out
    grid = np.arange(n_frames) * step
    right = np.clip(np.searchsorted(times, grid), 0, times.size - 1)
    left = np.maximum(right - 1, 0)
    nearest = np.where(np.abs(grid - times[left]) <= np.abs(times[right] - grid), left, right)
    close = np.abs(times[nearest] - grid) <= step
    out[close] = values[nearest[close]]
    return out


def backend_pitch(y: np.ndarray, config: CueExtractionConfig, n_frames: int) -> np.ndarray:
    """Pitch track of ``config.pitch_backend`` (``pyin`` or ``praat``) on the cue frame grid."""
    if config.pitch_backend == "pyin":
        return pyin_pitch(y, config, n_frames)
    if config.pitch_backend == "praat":
        return praat_pitch(y, config, n_frames)
    raise ConfigError(f"unknown pitch backend {config.pitch_backend!r}", hint="use piptrack, pyin or praat")


def _fit_length(track: np.ndarray, n_frames: int) -> np.ndarray:
    track = np.asarray(track, dtype=np.float64)
    if track.size >= n_frames:
        return track[:n_frames]
    return np.pad(track, (0, n_frames - track.size))
