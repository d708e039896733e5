"""Whisper's log-mel spectrogram in numpy, and the ``"logmel"`` feature encoder.

:func:`whisper_log_mel` computes what faster-whisper's ``FeatureExtractor`` computes (the features
CTranslate2's Whisper ``encode`` is fed): 160 zero samples appended, a periodic Hann window of
400 samples (25 ms) every 160 samples (10 ms) with centred reflect padding, the power spectrum
through 80 Slaney-style mel filters (0-8 kHz), ``log10`` clipped at 1e-10, floored at the clip's
maximum minus 8, then ``(x + 4) / 4``. The last STFT frame is dropped (as faster-whisper's
``stft[..., :-1]``) and so is the frame that only covers the appended padding (faster-whisper's
``content_frames``), which leaves ``len(wave) // 160`` frames at 100 per second.

The floor depends on the whole clip's maximum, so long inputs are transformed whole and chunked
afterwards (see :mod:`spokenemo.models.encoders.whisper`).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from spokenemo.models.encoders.base import SpeechEncoder

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
#: Shortest clip that gives one frame: one 25 ms window.
MIN_SAMPLES = N_FFT


@functools.lru_cache(maxsize=4)
def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """``(n_mels, n_fft // 2 + 1)`` float32 Slaney mel filter bank (librosa's ``htk=False``,
    ``norm="slaney"``), as Whisper and faster-whisper build it."""
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mels = np.linspace(0.0, 45.245640471924965, n_mels + 2)  # mel(8000 Hz) on the Slaney scale
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    freqs[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    fdiff = np.diff(freqs)
    ramps = freqs.reshape(-1, 1) - fftfreqs.reshape(1, -1)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (freqs[2:n_mels + 2] - freqs[:n_mels]))[:, None]
    return weights.astype(np.float32)


def whisper_log_mel(wave: np.ndarray, n_mels: int = N_MELS) -> np.ndarray:
    """``(n_mels, len(wave) // 160)`` float32 Whisper log-mel features of a 16 kHz waveform.

    Equal (to float32 rounding) to ``faster_whisper.feature_extractor.FeatureExtractor()(wave)[:, :-1]``.
    """
    x = np.pad(np.asarray(wave, dtype=np.float32), (0, HOP))
    x = np.pad(x, (N_FFT // 2, N_FFT // 2), mode="reflect")
    n_frames = 1 + (len(x) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP][:n_frames]
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    spec = np.fft.rfft(frames * window, n=N_FFT, axis=-1).astype(np.complex64)
    power = np.abs(spec[:-1].T) ** 2  # (freq, frames); the last frame is dropped
    mel = mel_filters(SAMPLE_RATE, N_FFT, n_mels) @ power
    log_spec = np.log10(np.clip(mel, 1e-10, None))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    log_spec = (log_spec + 4.0) / 4.0
    return np.ascontiguousarray(log_spec[:, :-1], dtype=np.float32)


class LogMelEncoder(SpeechEncoder):
    """Whisper's 80-bin log-mel as a one-layer "encoder": ``(1, frames, 80)`` at 100 fps."""

    name = "logmel"
    dim = N_MELS
    n_layers = 1
    frame_rate = SAMPLE_RATE / HOP
    max_seconds = None
    min_samples = MIN_SAMPLES

    def __init__(self, n_mels: int = N_MELS) -> None:
        self.n_mels = int(n_mels)
        self.dim = self.n_mels

    def _encode_chunk(self, wave: np.ndarray) -> np.ndarray:
        return whisper_log_mel(wave, self.n_mels).T[None]

    def _identity(self) -> dict[str, Any]:
        return {"n_mels": self.n_mels, "n_fft": N_FFT, "hop": HOP}
