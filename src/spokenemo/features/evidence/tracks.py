"""Frame tracks for cue evidence: an F0 track that rarely jumps octaves, level, sounding span.

The AECoTD cue tracks (:mod:`spokenemo.features.cues.tracks`) keep the paper's piptrack pick, whose
"pitch" is often a harmonic (40 % of voiced frames more than 6 semitones off the consensus F0 of
three trackers on 60 real clips). Evidence a person reads needs F0 itself. Chosen by
``bench/pitch_trackers.py`` (numbers in docs/methods/explanations.md): Praat's autocorrelation
pitch (``To Pitch (ac)``, Boersma 1993, through parselmouth, GPL-3.0, the optional ``praat``
extra) -- 0.95 % of frames off the consensus, 0.27 % octave jumps, 15 ms per clip, and it keeps
loud, tense speech voiced (71 % of the sounding frames of angry RAVDESS clips against 56 % for
pYIN). pYIN (``librosa.pyin``, ISC) has even fewer octave errors (0.09 %, no jumps) but leaves
much of angry and surprised speech unvoiced, so the pitch of exactly the aroused stretches would be
missing; it is the fallback when parselmouth is not installed (``tracker="pyin"``).

Frame grid (shared with the cue tracks): 10 ms hop at 16 kHz, frame ``t`` centred on sample
``t * hop``; level = RMS over 1024 samples in dBFS; *sounding* frames are above the 99th-percentile
level minus 25 dB; the *sounding span* runs from the first to the last sounding frame (leading and
trailing silence excluded). A frame is *voiced* when it has an F0 and is sounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from spokenemo.core.errors import ConfigError
from spokenemo.core.lazy import optional_import
from spokenemo.features.cues.tracks import frame_count, frame_rms, stft_magnitude, to_db

TRACKERS = ("praat", "pyin")
#: Praat's octave-jump cost (Praat's default; 0.6 removes more jumps but disagrees more with pYIN,
#: see bench/pitch_trackers.py).
OCTAVE_JUMP_COST = 0.35
SR = 16000
HOP = 160
N_FFT = 1024
FMIN, FMAX = 65.0, 600.0
DB_FLOOR = -100.0
SILENCE_BELOW_PEAK_DB = 25.0
#: pYIN settings of the evidence tracker: pitch bins of 0.2 semitone and 50 thresholds instead of
#: librosa's 0.1 and 100 (3.5x faster; on 12 real clips no voiced frame moved by more than 1 semitone).
PYIN_RESOLUTION = 0.2
PYIN_THRESHOLDS = 50


@dataclass(frozen=True)
class VoiceTracks:
    """Per-frame tracks of one signal (arrays of ``n_frames``).

    Attributes
    ----------
    f0 : np.ndarray
        F0 in Hz on voiced frames, 0 elsewhere.
    level_db : np.ndarray
        Frame RMS level, dBFS.
    sounding : np.ndarray of bool
        Frames above the silence threshold.
    silence_db : float
        The silence threshold, dBFS.
    magnitude : np.ndarray
        STFT magnitudes ``(n_frames, n_fft // 2 + 1)``, float32 (spectral tilt, HNR).
    tracker : str
        ``"praat"`` or ``"pyin"``.
    """

    sr: int
    hop_length: int
    n_fft: int
    n_samples: int
    f0: np.ndarray
    level_db: np.ndarray
    sounding: np.ndarray
    silence_db: float
    magnitude: np.ndarray
    tracker: str

    @property
    def frame_period(self) -> float:
        return self.hop_length / self.sr

    @property
    def voiced(self) -> np.ndarray:
        return self.f0 > 0

    @property
    def span(self) -> tuple[int, int]:
        """``[first, last + 1)`` frames of the sounding span; ``(0, 0)`` when nothing sounds."""
        idx = np.flatnonzero(self.sounding)
        return (int(idx[0]), int(idx[-1]) + 1) if idx.size else (0, 0)

    @property
    def span_seconds(self) -> float:
        a, b = self.span
        return (b - a) * self.frame_period


def praat_f0(y: np.ndarray, sr: int, n_frames: int, hop_length: int, fmin: float, fmax: float, *,
             octave_jump_cost: float = OCTAVE_JUMP_COST) -> np.ndarray:
    """Praat ``To Pitch (ac)`` sampled at the frame centres (Praat's defaults but the octave-jump cost)."""
    parselmouth = optional_import("parselmouth", purpose="the evidence pitch tracker (Praat)")
    snd = parselmouth.Sound(np.asarray(y, dtype=np.float64), sampling_frequency=sr)
    step = hop_length / sr
    pitch = snd.to_pitch_ac(time_step=step, pitch_floor=fmin, pitch_ceiling=fmax,
                            octave_jump_cost=octave_jump_cost)
    values = np.nan_to_num(pitch.selected_array["frequency"])
    times = np.asarray(pitch.xs())
    out = np.zeros(n_frames)
    if values.size == 0:
        return out
    grid = np.arange(n_frames) * step
    idx = np.clip(np.rint((grid - times[0]) / step).astype(np.int64), 0, values.size - 1)
    close = np.abs(times[idx] - grid) <= step / 2 + 1e-9
    out[close] = values[idx[close]]
    return out


def pyin_f0(y: np.ndarray, sr: int, n_frames: int, hop_length: int, fmin: float, fmax: float) -> np.ndarray:
    """``librosa.pyin`` on the same grid (unvoiced = 0)."""
    f0, voiced, _ = librosa.pyin(np.asarray(y, dtype=np.float32), fmin=fmin, fmax=fmax, sr=sr,
                                 frame_length=N_FFT, hop_length=hop_length, center=True,
                                 resolution=PYIN_RESOLUTION, n_thresholds=PYIN_THRESHOLDS)
    out = np.where(voiced & np.isfinite(f0), f0, 0.0)[:n_frames]
    return np.pad(out, (0, n_frames - out.size))


def pitch_track(y: np.ndarray, sr: int, n_frames: int, *, hop_length: int = HOP, fmin: float = FMIN,
                fmax: float = FMAX, tracker: str | None = None) -> np.ndarray:
    """The evidence F0 track (Hz, 0 = unvoiced): ``"pyin"`` (default) or ``"praat"``."""
    name = tracker or default_tracker()
    if name not in TRACKERS:
        raise ConfigError(f"unknown pitch tracker {name!r}", hint=f"use one of {', '.join(TRACKERS)}")
    fn = praat_f0 if name == "praat" else pyin_f0
    return fn(y, sr, n_frames, hop_length, fmin, fmax)


def default_tracker() -> str:
    """``"praat"`` when parselmouth is installed, else ``"pyin"``."""
    try:
        optional_import("parselmouth", purpose="the evidence pitch tracker")
    except ImportError:
        return "pyin"
    return "praat"


def voice_tracks(y: np.ndarray, sr: int = SR, *, tracker: str | None = None) -> VoiceTracks:
    """All tracks of one mono signal at ``sr`` (16 kHz expected; full scale 1.0)."""
    y = np.asarray(y, dtype=np.float32)
    n = frame_count(y.size, HOP, N_FFT)
    rms = frame_rms(y, N_FFT, HOP)
    level = to_db(rms, DB_FLOOR)
    silence_db = float(np.percentile(level, 99)) - SILENCE_BELOW_PEAK_DB
    sounding = (level > silence_db) & (level > DB_FLOOR)
    name = tracker or default_tracker()
    f0 = pitch_track(y, sr, n, tracker=name)
    f0 = np.where(sounding, f0, 0.0)
    return VoiceTracks(sr=sr, hop_length=HOP, n_fft=N_FFT, n_samples=int(y.size), f0=f0, level_db=level,
                       sounding=sounding, silence_db=silence_db, magnitude=stft_magnitude(y, N_FFT, HOP),
                       tracker=name)
