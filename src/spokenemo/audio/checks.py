"""Sanity checks on decoded audio: typed errors for unusable signals, warnings for doubtful ones.

Errors (from :mod:`spokenemo.core.errors`) stop processing of one file; warnings
(:class:`AudioWarning` and its subclasses, issued with :func:`warnings.warn`) flag files that
can still be used but may give poor cues: clipped recordings and near-silent ones.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from spokenemo.core.errors import AudioTooShortError, EmptyAudioError, InvalidSamplesError

#: A sample at or above this magnitude (full scale = 1.0) counts as clipped.
CLIP_LEVEL = 0.999
#: Warn about clipping when more than this fraction of the samples are clipped. 0.1 % means a run
#: of 16 clipped samples per second at 16 kHz; none of the 1,840 RAVDESS/nEMO/Korean clips in
#: shared/data comes near it (their maximum is 0.01 %).
CLIP_FRACTION = 1e-3
#: Warn about near-silence when even the loudest 50 ms window is below this level (dBFS, RMS
#: relative to a full-scale square wave, so a full-scale sine reads -3 dBFS). The whole-file RMS
#: is not used on purpose: quiet but valid RAVDESS takes go down to -64 dBFS over the whole file
#: (long pauses), while their loudest 50 ms never falls below -55 dBFS.
SILENCE_DBFS = -60.0
#: Length of the windows scanned for the loudest part of the signal, in seconds.
LOUDNESS_WINDOW = 0.05
# Warnings point at the caller of validate_audio (helper -> validate_audio -> caller).
_STACKLEVEL = 3


class AudioWarning(UserWarning):
    """A file decoded, but something about it may spoil the analysis."""


class ClippingWarning(AudioWarning):
    """Many samples sit at full scale: the recording is probably clipped (distorted)."""


class QuietAudioWarning(AudioWarning):
    """The signal is silent or nearly so (e.g. a muted channel or a wrong gain)."""


class TruncatedAudioWarning(AudioWarning):
    """The file ends before its header says it should (an interrupted copy or download)."""


class NonFiniteSamplesWarning(AudioWarning):
    """Some (not all) samples were NaN or Inf and have been replaced by 0."""


def loudest_dbfs(signal: np.ndarray, sr: int, window: float = LOUDNESS_WINDOW) -> float:
    """RMS level of the loudest window of ``signal``, in dB relative to full scale.

    Parameters
    ----------
    signal : np.ndarray, 1-D
        Samples, full scale = 1.0.
    sr : int > 0
        Sample rate of ``signal`` in Hz.
    window : float > 0
        Window length in seconds (non-overlapping windows; the last, shorter one counts too).

    Returns
    -------
    level : float
        ``20 * log10(rms)``; ``-inf`` for digital silence.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.size == 0:
        return float("-inf")
    w = max(1, round(window * sr))
    n_full = x.size // w
    power = []
    if n_full:
        power.append((x[: n_full * w] ** 2).reshape(n_full, w).mean(axis=1).max())
    if x.size % w:
        power.append(np.mean(x[n_full * w :] ** 2))
    peak_power = max(power)
    return float(10 * np.log10(peak_power)) if peak_power > 0 else float("-inf")


def validate_audio(
    signal: np.ndarray,
    sr: int,
    *,
    path: str | Path = "<array>",
    min_duration: float = 0.0,
    clip_level: float = CLIP_LEVEL,
    clip_fraction: float = CLIP_FRACTION,
    silence_dbfs: float = SILENCE_DBFS,
) -> np.ndarray:
    """Check a decoded mono signal; raise on unusable input, warn on doubtful input.

    :func:`spokenemo.audio.load_audio` runs this on every file (at the file's own sample rate,
    before resampling, so resampling ripple cannot hide or fake clipping); call it yourself on
    arrays that did not come from a file.

    Parameters
    ----------
    signal : np.ndarray, 1-D
        Mono samples, full scale = 1.0.
    sr : int > 0
        Sample rate of ``signal`` in Hz.
    path : str or Path
        Name used in messages (the file the signal came from).
    min_duration : float >= 0
        Raise :class:`~spokenemo.core.errors.AudioTooShortError` when the signal is shorter than
        this many seconds.
    clip_level : float
        Magnitude at or above which a sample counts as clipped.
    clip_fraction : float
        Warn (:class:`ClippingWarning`) when more than this fraction of samples is clipped.
    silence_dbfs : float
        Warn (:class:`QuietAudioWarning`) when the loudest 50 ms window is below this level.

    Returns
    -------
    signal : np.ndarray, 1-D
        ``signal`` itself, or a copy with NaN/Inf samples replaced by 0
        (with a :class:`NonFiniteSamplesWarning`).

    Raises
    ------
    EmptyAudioError
        The signal has no samples.
    InvalidSamplesError
        Every sample is NaN or Inf.
    AudioTooShortError
        The signal is shorter than ``min_duration``.
    ValueError
        ``signal`` is not 1-D or ``sr`` is not positive (programming errors).
    """
    x = _checked_array(signal, sr, path)
    x = _without_nonfinite(x, path)
    duration = x.size / sr
    if duration < min_duration:
        raise AudioTooShortError(path, f"{duration:.3f} s long, shorter than the minimum of {min_duration:g} s",
                                 hint="drop the file, or lower min_duration")
    _warn_if_clipped(x, path, clip_level, clip_fraction)
    _warn_if_quiet(x, sr, path, silence_dbfs)
    return x


def _checked_array(signal: np.ndarray, sr: int, path: str | Path) -> np.ndarray:
    """``signal`` as an array: 1-D, non-empty, with a positive rate (else raise)."""
    x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"validate_audio expects a 1-D mono signal, got shape {x.shape}")
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    if x.size == 0:
        raise EmptyAudioError(path, "no audio samples", hint="the file (or the start/end segment) is empty; check it or drop it from the manifest")
    return x


def _without_nonfinite(x: np.ndarray, path: str | Path) -> np.ndarray:
    """``x`` with NaN/Inf samples set to 0 (and a warning); raise when no sample is finite."""
    finite = np.isfinite(x)
    n_bad = int(x.size - np.count_nonzero(finite))
    if n_bad == x.size:
        raise InvalidSamplesError(path, f"all {x.size} samples are NaN or Inf",
                                  hint="the file is corrupt (or was written from a broken array); re-export or drop it")
    if n_bad:
        warnings.warn(f"{path}: {n_bad} of {x.size} samples were NaN/Inf and were set to 0",
                      NonFiniteSamplesWarning, stacklevel=_STACKLEVEL)
        x = np.where(finite, x, 0).astype(x.dtype, copy=False)
    return x


def _warn_if_clipped(x: np.ndarray, path: str | Path, clip_level: float, clip_fraction: float) -> None:
    n_clipped = int(np.count_nonzero(np.abs(x) >= clip_level))
    if n_clipped > clip_fraction * x.size:
        warnings.warn(f"{path}: {n_clipped} of {x.size} samples ({100 * n_clipped / x.size:.2f} %) are at full scale; "
                      "the recording is probably clipped, so loudness and voice-quality cues will be distorted",
                      ClippingWarning, stacklevel=_STACKLEVEL)


def _warn_if_quiet(x: np.ndarray, sr: int, path: str | Path, silence_dbfs: float) -> None:
    level = loudest_dbfs(x, sr)
    if level < silence_dbfs:
        what = "digital silence" if level == float("-inf") else f"loudest 50 ms at {level:.1f} dBFS"
        warnings.warn(f"{path}: near-silent ({what}, threshold {silence_dbfs:g} dBFS); "
                      "check the channel, the gain or the start/end offsets", QuietAudioWarning, stacklevel=_STACKLEVEL)
