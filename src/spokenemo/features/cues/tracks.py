"""Frame tracks computed once per utterance: pitch, intensity, voicing, sounding frames.

Every cue (coarse, fine, extended) is a function of these tracks; segments and sliding windows
are slices of them, so one utterance costs one STFT.

Frame grid: frame ``t`` is centred on sample ``t * hop_length`` (``center=True`` with zero
padding, as ``librosa.stft``/``librosa.feature.rms``), ``n_frames = 1 + n_samples // hop_length``
(for an even ``n_fft``).

- **Spectrogram**: Hann window of ``n_fft`` samples (periodic, librosa's ``"hann"``), float32
  ``scipy.fft.rfft`` of a strided frame view. Magnitudes are kept only when the extended cues
  need the spectrum.
- **Pitch**: :func:`spokenemo.features.cues.piptrack.piptrack_pitch` on that spectrogram (or pYIN / Praat,
  see :mod:`spokenemo.features.cues.pitch_backends`).
- **Intensity**: RMS of each frame's ``n_fft`` samples (no window), in dBFS
  (``20*log10(rms)``, full scale = 0 dB), floored at ``db_floor``. Computed from a cumulative
  sum of squares, not from the spectrum.
- **Silence threshold** = the ``peak_percentile`` (99th) frame level minus
  ``silence_below_peak_db`` (25 dB). **Sounding** frames are above it (and above the floor).
- **Noise level** = the ``noise_percentile`` (5th) frame level (for syllable nuclei).
- **Voicing**: a frame is voiced when it has a pitch (and, with the ``gate_pitch_by_silence``
  option, is sounding); the pitch track is 0 on every other frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from spokenemo.features.cues.config import CueExtractionConfig
from spokenemo.features.cues.piptrack import piptrack_pitch
from spokenemo.features.cues.pitch_backends import backend_pitch


@dataclass(frozen=True)
class FrameTracks:
    """Per-frame tracks of one utterance (all arrays have ``n_frames`` entries).

    Attributes
    ----------
    sr, n_fft, hop_length : int
        The frame grid.
    n_samples : int
        Length of the signal.
    pitch : np.ndarray, float64
        Hz, 0 on unvoiced frames.
    voiced, sounding : np.ndarray, bool
        Voiced frames (pitch > 0); frames above the silence threshold.
    intensity_db : np.ndarray, float64
        Frame RMS level in dBFS (floored at ``db_floor``).
    rms : np.ndarray, float64
        Frame RMS (linear, full scale 1.0, floored like ``intensity_db``).
    signal_rms : float
        RMS of the whole signal (linear).
    noise_db, peak_db, silence_db : float
        Noise level (5th percentile), peak level (99th percentile) and silence threshold, dBFS.
    db_floor : float
        The floor of the level tracks, dBFS.
    magnitude : np.ndarray [shape=(n_frames, n_fft // 2 + 1)] or None
        float32 STFT magnitudes, kept only when asked (extended cues, plots).
    """

    sr: int
    n_fft: int
    hop_length: int
    n_samples: int
    pitch: np.ndarray
    voiced: np.ndarray
    sounding: np.ndarray
    intensity_db: np.ndarray
    rms: np.ndarray
    signal_rms: float
    noise_db: float
    peak_db: float
    silence_db: float
    db_floor: float
    magnitude: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return int(self.pitch.size)

    @property
    def duration(self) -> float:
        """Signal length in seconds."""
        return self.n_samples / self.sr

    @property
    def frame_period(self) -> float:
        """Seconds between frames."""
        return self.hop_length / self.sr

    def times(self) -> np.ndarray:
        """Centre time of every frame in seconds."""
        return np.arange(self.n_frames) * self.frame_period


@lru_cache(maxsize=8)
def hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window (``scipy.signal.get_window("hann", n_fft)``) as float32."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def frame_count(n_samples: int, hop_length: int, n_fft: int) -> int:
    """Frames of a centred STFT: ``1 + n_samples // hop_length`` for an even ``n_fft``."""
    return 1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length


def stft_magnitude(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """Magnitude of the centred, zero-padded Hann STFT, time-major ``(n_frames, n_fft//2+1)``, float32.

    Equals ``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)).T`` up to float32
    rounding (librosa transforms in float64 and rounds the result to complex64).
    """
    y = np.asarray(y, dtype=np.float32)
    padded = np.pad(y, n_fft // 2)
    frames = sliding_window_view(padded, n_fft)[::hop_length]     # a view: nothing copied yet
    spec = scipy.fft.rfft(frames * hann_window(n_fft), axis=-1)  # float32 in, complex64 out
    return np.abs(spec)


def frame_rms(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """RMS of each centred frame of ``n_fft`` samples (zero padding at the edges), float64.

    Equals ``librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop_length)[0]``, computed
    from one cumulative sum of squares instead of a frame matrix.
    """
    n = y.size
    half = n_fft // 2
    # Every frame edge (t*hop -/+ half) is a multiple of g, so sums of g-sample blocks suffice:
    # the cumulative sum runs over n/g blocks instead of n samples.
    g = math.gcd(hop_length, half) if n_fft % 2 == 0 else 1
    n_blocks = -(-n // g)
    squares = np.zeros(n_blocks * g)
    np.square(y, out=squares[:n], dtype=np.float64)
    csum = np.concatenate(([0.0], np.cumsum(squares.reshape(n_blocks, g).sum(axis=1))))
    left = np.arange(frame_count(n, hop_length, n_fft)) * hop_length - half
    if g > 1:
        lo, hi = np.clip(left // g, 0, n_blocks), np.clip((left + n_fft) // g, 0, n_blocks)
    else:
        lo, hi = np.clip(left, 0, n), np.clip(left + n_fft, 0, n)
    energy = csum[hi] - csum[lo]
    return np.sqrt(np.maximum(energy, 0.0) / n_fft)


def to_db(rms: np.ndarray | float, floor_db: float) -> np.ndarray:
    """``20*log10(rms)`` floored at ``floor_db``."""
    amin = 10.0 ** (floor_db / 20.0)
    return 20.0 * np.log10(np.maximum(rms, amin))


def compute_tracks(y: np.ndarray, config: CueExtractionConfig | None = None, *,
                   keep_magnitude: bool = False) -> FrameTracks:
    """Compute all frame tracks of one signal.

    Parameters
    ----------
    y : np.ndarray, 1-D
        Mono signal at ``config.sr`` (full scale 1.0), e.g. from :func:`spokenemo.audio.load_audio`.
    config : CueExtractionConfig, optional
        Settings (reference defaults when omitted).
    keep_magnitude : bool
        Keep the STFT magnitudes in the result (also kept when ``config.extended``).

    Returns
    -------
    FrameTracks
    """
    cfg = config or CueExtractionConfig()
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected a mono 1-D signal, got shape {y.shape}")
    n_frames = frame_count(y.size, cfg.hop_length, cfg.n_fft)

    rms = frame_rms(y, cfg.n_fft, cfg.hop_length)
    amin = 10.0 ** (cfg.db_floor / 20.0)
    rms = np.maximum(rms, amin)
    level = to_db(rms, cfg.db_floor)
    noise_db = float(np.percentile(level, cfg.noise_percentile))
    peak_db = float(np.percentile(level, cfg.peak_percentile))
    silence_db = peak_db - cfg.silence_below_peak_db
    sounding = (level > silence_db) & (level > cfg.db_floor)

    need_spectrum = cfg.pitch_backend == "piptrack" or keep_magnitude or cfg.extended
    magnitude = stft_magnitude(y, cfg.n_fft, cfg.hop_length) if need_spectrum else None
    if cfg.pitch_backend == "piptrack":
        assert magnitude is not None
        pitch = piptrack_pitch(magnitude, sr=cfg.sr, n_fft=cfg.n_fft, fmin=cfg.fmin, fmax=cfg.fmax,
                               threshold=cfg.piptrack_threshold, pick=cfg.pitch_pick).astype(np.float64)
    else:
        pitch = backend_pitch(y, cfg, n_frames)
    voiced = pitch > 0
    if cfg.gate_pitch_by_silence:
        voiced &= sounding
    pitch = np.where(voiced, pitch, 0.0)

    signal_rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    return FrameTracks(
        sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_samples=int(y.size),
        pitch=pitch, voiced=voiced, sounding=sounding, intensity_db=level, rms=rms,
        signal_rms=signal_rms, noise_db=noise_db, peak_db=peak_db, silence_db=silence_db,
        db_floor=cfg.db_floor,
        magnitude=magnitude if (keep_magnitude or cfg.extended) else None,
    )
