"""Extended cues (ours, beyond the paper; off unless ``CueExtractionConfig.extended``).

Each is one number per utterance, turned into a word against a median like the coarse cues.

======================  =====  ===========================================================
cue                     unit   how it is computed (from the frame tracks)
======================  =====  ===========================================================
pitch_range             st     ``12*log2(p95 / p5)`` of the voiced frames' pitch (0 with
                               fewer than 2 voiced frames)
pitch_variability       st     standard deviation of ``12*log2(f / median f)`` over voiced
                               frames
intensity_variability   dB     standard deviation of the frame level over sounding frames
pause_count             --     silent stretches of at least ``min_pause_s`` between the first
                               and the last sounding frame
pause_length            s      mean duration of those pauses (0 when there is none)
jitter                  %      *tracks*: frame-level pitch perturbation, the mean of
                               ``|2 f[t] - f[t-1] - f[t+1]| / (2 f[t])`` over runs of three
                               consecutive voiced frames (a three-point, trend-free measure
                               like Praat's RAP but on 10 ms frames, not glottal periods;
                               triples with a step above 25 % are tracker jumps and skipped).
                               *praat*: Praat's jitter (local) of the periodic point process
shimmer                 %      *tracks*: the same perturbation on the frame RMS amplitude of
                               voiced frames. *praat*: Praat's shimmer (local)
hnr                     dB     *tracks*: Boersma's (1993) autocorrelation HNR per voiced
                               frame, from the STFT power spectrum (inverse FFT -> frame
                               autocorrelation, divided by the Hann window's own
                               autocorrelation, highest peak at lags of ``fmin``-``fmax``,
                               ``10*log10(r / (1 - r))``), averaged over voiced frames.
                               *praat*: mean of Praat's cross-correlation harmonicity
spectral_tilt           dB     alpha ratio: ``10*log10(E[1-5 kHz] / E[50 Hz-1 kHz])`` per
                               sounding frame from the STFT power, averaged; higher = flatter
                               spectrum (more high-frequency energy)
======================  =====  ===========================================================

The *tracks* voice-quality numbers are cheap proxies: they follow the Praat measures across
voices and emotions but are not numerically equal to them (frames of 64 ms smooth out
cycle-to-cycle variation). ``voice_quality="praat"`` computes the Praat measures (parselmouth).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

from ..errors import ConfigError
from .config import CueExtractionConfig
from .tracks import FrameTracks, hann_window
from .vocabulary import EXTENDED_CUES

#: Relative step between neighbouring pitch frames above which a triple is a tracker jump.
MAX_PITCH_STEP = 0.25


def pitch_range_st(tracks: FrameTracks) -> float:
    f = tracks.pitch[tracks.voiced]
    if f.size < 2:
        return 0.0
    lo, hi = np.percentile(f, [5, 95])
    return float(12.0 * np.log2(hi / lo))


def pitch_variability_st(tracks: FrameTracks) -> float:
    f = tracks.pitch[tracks.voiced]
    if f.size < 2:
        return 0.0
    return float(np.std(12.0 * np.log2(f / np.median(f))))


def intensity_variability_db(tracks: FrameTracks) -> float:
    level = tracks.intensity_db[tracks.sounding]
    return float(np.std(level)) if level.size >= 2 else 0.0


def pauses(tracks: FrameTracks, min_pause_s: float) -> tuple[int, float]:
    """``(count, mean length in s)`` of silent stretches between sounding stretches."""
    idx = np.flatnonzero(tracks.sounding)
    if idx.size < 2:
        return 0, 0.0
    gaps = np.diff(idx) - 1                         # silent frames between consecutive sounding frames
    lengths = gaps[gaps > 0] * tracks.frame_period
    lengths = lengths[lengths >= min_pause_s - 1e-9]
    return int(lengths.size), float(lengths.mean()) if lengths.size else 0.0


def _three_point_perturbation(values: np.ndarray, voiced: np.ndarray) -> float:
    """Mean ``|2 v[t] - v[t-1] - v[t+1]| / (2 v[t])`` in % over voiced triples without jumps."""
    if values.size < 3:
        return 0.0
    prev, cur, nxt = values[:-2], values[1:-1], values[2:]
    ok = voiced[:-2] & voiced[1:-1] & voiced[2:] & (cur > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.maximum(np.abs(cur / prev - 1.0), np.abs(nxt / cur - 1.0))
        ok &= steps <= MAX_PITCH_STEP
        if not ok.any():
            return 0.0
        dev = np.abs(2 * cur[ok] - prev[ok] - nxt[ok]) / (2 * cur[ok])
    return float(100.0 * dev.mean())


def jitter_tracks(tracks: FrameTracks) -> float:
    return _three_point_perturbation(tracks.pitch, tracks.voiced)


def shimmer_tracks(tracks: FrameTracks) -> float:
    # triples are chosen where the *pitch* is steady, so amplitude perturbation is measured
    # on stretches of one voiced sound
    if tracks.n_frames < 3:
        return 0.0
    f, a, v = tracks.pitch, tracks.rms, tracks.voiced
    prev, cur, nxt = f[:-2], f[1:-1], f[2:]
    ok = v[:-2] & v[1:-1] & v[2:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ok &= np.maximum(np.abs(cur / prev - 1.0), np.abs(nxt / cur - 1.0)) <= MAX_PITCH_STEP
    if not ok.any():
        return 0.0
    ap, ac, an = a[:-2][ok], a[1:-1][ok], a[2:][ok]
    return float(100.0 * np.mean(np.abs(2 * ac - ap - an) / (2 * ac)))


@lru_cache(maxsize=8)
def _window_autocorrelation(n_fft: int) -> np.ndarray:
    w = hann_window(n_fft).astype(np.float64)
    r = scipy.fft.irfft(np.abs(scipy.fft.rfft(w)) ** 2, n=n_fft)
    return r / r[0]


def hnr_tracks(tracks: FrameTracks, fmin: float, fmax: float) -> float:
    """Mean autocorrelation HNR (dB) over voiced frames, from the kept STFT magnitudes."""
    if tracks.magnitude is None:
        raise ValueError("hnr_tracks needs FrameTracks with magnitude (compute_tracks(keep_magnitude=True))")
    mag = tracks.magnitude[tracks.voiced]
    if mag.shape[0] == 0:
        return 0.0
    n_fft = tracks.n_fft
    r = scipy.fft.irfft(np.square(mag, dtype=np.float32), n=n_fft, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = r / r[:, :1]
    lag_lo = max(1, int(np.floor(tracks.sr / fmax)))
    lag_hi = min(n_fft // 2, int(np.ceil(tracks.sr / fmin)))
    rw = _window_autocorrelation(n_fft)[lag_lo:lag_hi + 1]
    best = np.nanmax(r[:, lag_lo:lag_hi + 1] / rw, axis=1)
    best = np.clip(np.nan_to_num(best, nan=0.0), 1e-6, 1.0 - 1e-6)
    return float(np.mean(10.0 * np.log10(best / (1.0 - best))))


def spectral_tilt_db(tracks: FrameTracks) -> float:
    """Mean alpha ratio (dB) over sounding frames."""
    if tracks.magnitude is None:
        raise ValueError("spectral_tilt_db needs FrameTracks with magnitude")
    mag = tracks.magnitude[tracks.sounding]
    if mag.shape[0] == 0:
        return 0.0
    bin_hz = tracks.sr / tracks.n_fft
    nyq = tracks.sr / 2

    def band(f_lo: float, f_hi: float) -> np.ndarray:
        k0, k1 = int(np.ceil(f_lo / bin_hz)), int(np.floor(min(f_hi, nyq) / bin_hz))
        return np.sum(np.square(mag[:, k0:k1 + 1], dtype=np.float64), axis=1)

    low, high = band(50.0, 1000.0), band(1000.0, 5000.0)
    floor = 1e-20
    return float(np.mean(10.0 * np.log10(np.maximum(high, floor) / np.maximum(low, floor))))


def praat_voice_quality(y: np.ndarray, config: CueExtractionConfig) -> tuple[float, float, float]:
    """``(jitter %, shimmer %, HNR dB)`` from Praat (parselmouth), Praat's default parameters."""
    try:
        import parselmouth
        from parselmouth.praat import call
    except ImportError as err:  # pragma: no cover - parselmouth is a declared extra
        raise ConfigError("voice_quality 'praat' needs parselmouth",
                          hint="pip install praat-parselmouth, or use voice_quality 'tracks'") from err
    snd = parselmouth.Sound(np.asarray(y, dtype=np.float64), sampling_frequency=config.sr)
    points = call(snd, "To PointProcess (periodic, cc)", config.fmin, config.fmax)
    jitter = call(points, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)
    shimmer = call([snd, points], "Get shimmer (local)", 0, 0, 0.0001, 0.02, 1.3, 1.6)
    harmonicity = snd.to_harmonicity_cc(time_step=config.hop_length / config.sr, minimum_pitch=config.fmin)
    hnr = call(harmonicity, "Get mean", 0, 0)

    def finite(v: float, scale: float = 1.0) -> float:
        return float(v) * scale if np.isfinite(v) else 0.0

    return finite(jitter, 100.0), finite(shimmer, 100.0), finite(hnr)


def extended_cues(tracks: FrameTracks, config: CueExtractionConfig | None = None,
                  y: np.ndarray | None = None) -> dict[str, float]:
    """All extended cues of one utterance (see the module table).

    Parameters
    ----------
    tracks : FrameTracks
        Tracks computed with the STFT magnitudes kept (``config.extended`` or ``keep_magnitude``).
    config : CueExtractionConfig, optional
        ``min_pause_s``, ``fmin``/``fmax`` and ``voice_quality``.
    y : np.ndarray, optional
        The signal; needed only for ``voice_quality="praat"``.
    """
    cfg = config or CueExtractionConfig()
    count, length = pauses(tracks, cfg.min_pause_s)
    if cfg.voice_quality == "praat":
        if y is None:
            raise ValueError("voice_quality 'praat' needs the signal y")
        jitter, shimmer, hnr = praat_voice_quality(y, cfg)
    else:
        jitter, shimmer, hnr = jitter_tracks(tracks), shimmer_tracks(tracks), hnr_tracks(tracks, cfg.fmin, cfg.fmax)
    values = {
        "pitch_range": pitch_range_st(tracks),
        "pitch_variability": pitch_variability_st(tracks),
        "intensity_variability": intensity_variability_db(tracks),
        "pause_count": float(count),
        "pause_length": length,
        "jitter": jitter,
        "shimmer": shimmer,
        "hnr": hnr,
        "spectral_tilt": spectral_tilt_db(tracks),
    }
    return {name: values[name] for name in EXTENDED_CUES}
