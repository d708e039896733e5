"""Fixed-length windows over long recordings (podcasts, dialogues, emotion over time).

A window is ``length`` long and starts every ``hop``; both are given in seconds
(:func:`windows`) or in samples (:func:`sample_windows`). The last, partial window follows a
policy:

- ``"keep"`` (default): it is kept, shorter (it ends where the signal ends);
- ``"drop"``: only whole windows (a signal shorter than one window gives none);
- ``"pad"``: it is kept at full length, running past the end; readers fill it with zeros;
- ``"shift"``: it is moved back to end exactly at the signal's end (full length, overlapping its
  neighbour more); a signal shorter than one window gives one window over all of it.

No window starts at or after the end of the signal, and no partial window is added when the
previous window already reaches the end.

>>> [(w.start, w.stop) for w in sample_windows(10, 4, 3)]
[(0, 4), (3, 7), (6, 10)]
>>> [(w.start, w.stop) for w in sample_windows(10, 4, 4, last="pad")]
[(0, 4), (4, 8), (8, 12)]
>>> [(w.start, w.stop) for w in sample_windows(10, 4, 4, last="shift")]
[(0, 4), (4, 8), (6, 10)]

:func:`iter_windows` cuts a loaded array; :func:`stream_windows` reads a WAV/FLAC/Ogg file one
window at a time (libsndfile seeks, so memory stays at one window) and falls back to
:func:`~spokenemo.audio.io.load_audio` plus :func:`iter_windows` for other formats or rates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from spokenemo.audio.io import _LEAVE_TO_FFMPEG, _check_path, _mono, load_audio

LastWindow = Literal["keep", "drop", "pad", "shift"]
LAST_POLICIES: tuple[str, ...] = ("keep", "drop", "pad", "shift")


@dataclass(frozen=True)
class Window:
    """One window: samples ``start`` (inclusive) to ``stop`` (exclusive) at ``sr`` Hz.

    ``stop`` may pass the end of the signal (policy ``"pad"``); ``n_valid`` counts the samples
    that are real signal.
    """

    index: int
    start: int
    stop: int
    sr: int
    n_valid: int

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def start_s(self) -> float:
        return self.start / self.sr

    @property
    def end_s(self) -> float:
        return self.stop / self.sr

    @property
    def padded(self) -> bool:
        return self.n_valid < self.length


def sample_windows(n_samples: int, length: int, hop: int | None = None, *, last: LastWindow = "keep",
                   sr: int = 1) -> list[Window]:
    """Windows over ``n_samples`` samples, ``length`` long, every ``hop`` (default: ``length``).

    ``sr`` only labels the windows (for their times in seconds).
    """
    hop = length if hop is None else hop
    if length <= 0 or hop <= 0:
        raise ValueError(f"window length and hop must be positive, got length={length}, hop={hop}")
    if last not in LAST_POLICIES:
        raise ValueError(f"unknown last-window policy {last!r}; use one of {', '.join(LAST_POLICIES)}")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    bounds: list[tuple[int, int]] = []
    start = 0
    while start + length <= n_samples:
        bounds.append((start, start + length))
        start += hop
    partial = start < n_samples and (not bounds or bounds[-1][1] < n_samples)
    if partial and last == "keep":
        bounds.append((start, n_samples))
    elif partial and last == "pad":
        bounds.append((start, start + length))
    elif partial and last == "shift":
        bounds.append((max(n_samples - length, 0), n_samples))
    return [Window(i, a, b, sr, min(b, n_samples) - a) for i, (a, b) in enumerate(bounds)]


def windows(duration: float, length: float, hop: float | None = None, *, sr: int = 16000,
            last: LastWindow = "keep") -> list[Window]:
    """Windows over ``duration`` seconds, ``length`` seconds long every ``hop`` seconds, at ``sr``.

    Times are rounded to whole samples (``round(seconds * sr)``).
    """
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    n_hop = None if hop is None else round(hop * sr)
    return sample_windows(round(duration * sr), round(length * sr), n_hop, last=last, sr=sr)


def _cut(signal: np.ndarray, w: Window) -> np.ndarray:
    piece = signal[w.start:min(w.stop, signal.size)]
    if piece.size < w.length:
        piece = np.pad(piece, (0, w.length - piece.size))
    return piece


def iter_windows(signal: np.ndarray, sr: int, length: float, hop: float | None = None, *,
                 last: LastWindow = "keep") -> Iterator[tuple[Window, np.ndarray]]:
    """(window, samples) over a 1-D ``signal`` at ``sr``; ``"pad"`` windows are filled with zeros."""
    x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"iter_windows expects a 1-D signal, got shape {x.shape}")
    n_hop = None if hop is None else round(hop * sr)
    for w in sample_windows(x.size, round(length * sr), n_hop, last=last, sr=sr):
        yield w, _cut(x, w)


def _streamable(path: Path, sr: int) -> bool:
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError):
        return False
    return info.format not in _LEAVE_TO_FFMPEG and info.samplerate == sr


def stream_windows(path: str | Path, length: float, hop: float | None = None, *, sr: int = 16000,
                   last: LastWindow = "keep") -> Iterator[tuple[Window, np.ndarray]]:
    """(window, mono float32 samples at ``sr``) over an audio file, read one window at a time.

    Files libsndfile reads at rate ``sr`` (WAV, FLAC, Ogg) are streamed: each window is a seek and
    a read, so a long recording never sits in memory whole. Any other file (another rate, MP3,
    video containers) is loaded with :func:`~spokenemo.audio.io.load_audio` (decoded, checked and
    resampled to ``sr``) and cut with :func:`iter_windows`; the windows are the same either way.
    Streamed windows skip :func:`~spokenemo.audio.checks.validate_audio` (it needs the whole
    signal); run it on each window if needed.
    """
    p = _check_path(path)
    if not _streamable(p, sr):
        yield from iter_windows(load_audio(p, sr=sr), sr, length, hop, last=last)
        return
    n_hop = None if hop is None else round(hop * sr)
    with sf.SoundFile(str(p)) as f:
        for w in sample_windows(f.frames, round(length * sr), n_hop, last=last, sr=sr):
            f.seek(w.start)
            data = _mono(f.read(w.n_valid, dtype="float32", always_2d=True))
            yield w, data if w.n_valid == w.length else np.pad(data, (0, w.length - w.n_valid))
