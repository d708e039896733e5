"""Reading audio files: :func:`load_audio` (samples) and :func:`audio_info` (header facts).

Two decoders are tried in turn:

1. **soundfile** (libsndfile): WAV, FLAC, Ogg Vorbis/Opus and other plain audio formats. It knows
   the frame count up front and seeks exactly, so a ``start``/``end`` segment reads only the frames
   it needs. It decodes Ogg/Opus at the rate stored in the header (16 kHz for the corpora in
   shared/data), where ffmpeg-based readers return 48 kHz.
2. **PyAV** (the ffmpeg libraries bundled in the ``av`` wheel; no system ffmpeg needed): what
   libsndfile does not read, above all the audio track of MP4/M4A/MKV/WebM/MOV, and MP3 (see
   ``_LEAVE_TO_FFMPEG``). Segments are cut by counting decoded samples from the start of the
   stream: samples before ``start`` are dropped as they pass and decoding stops at ``end``, so
   memory stays proportional to the segment (time, to ``end``).

Channels are averaged to mono, then soxr resamples. A segment is resampled with
:data:`EDGE_MARGIN` seconds of the signal around it as context, so it equals the same span of the
whole file resampled (no ringing at the cut). Quality ``"HQ"`` (20-bit precision, about 120 dB
stop-band rejection) rather than ``"VHQ"`` (28-bit): its error is already far below the
quantisation noise of the 16-bit recordings speech corpora ship, and it is the cheaper of the two.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import av
import numpy as np
import soundfile as sf
import soxr

from spokenemo.audio.checks import TruncatedAudioWarning, validate_audio
from spokenemo.core.errors import AudioError, AudioNotFoundError, EmptyAudioError, NotAudioError

#: soxr quality recipe used for every sample-rate conversion (see the module docstring).
RESAMPLE_QUALITY = "HQ"
#: Formats libsndfile opens but which are decoded with PyAV instead. libsndfile 1.2.2 decodes MP3
#: correctly only in one read call: a second read() or a seek() shifts or garbles the next
#: 0.1-0.2 s (measured against ffmpeg), so segments would come out wrong.
_LEAVE_TO_FFMPEG = frozenset({"MP3"})
#: Seconds of real signal decoded on each side of a ``start``/``end`` segment as resampling context.
EDGE_MARGIN = 0.02

_NOT_AUDIO_HINT = ("give a WAV, FLAC, Ogg (Vorbis/Opus), MP3 file or a video (MP4/MKV/WebM) with a sound track; "
                   "if the file is damaged, re-export it (e.g. as 16 kHz FLAC)")


@dataclass(frozen=True)
class AudioInfo:
    """Facts about an audio file read from its header, without decoding the samples.

    Attributes
    ----------
    sample_rate : int
        The file's own sample rate in Hz (48000 for Opus tracks inside MKV/WebM).
    channels : int
        Number of channels.
    frames : int or None
        Samples per channel; ``None`` when the container does not tell. Exact for WAV/FLAC/Ogg;
        for MP3 as libsndfile reads it from the Xing/LAME header (an estimate without one); for
        MP4/MKV/WebM derived from the stream or container duration (it may count codec-priming
        samples).
    duration : float or None
        Length in seconds (``frames / sample_rate``), ``None`` when unknown.
    """

    sample_rate: int
    channels: int
    frames: int | None
    duration: float | None


# --- path and argument checks --------------------------------------------------------------------
def _check_path(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        raise AudioNotFoundError(p, "is a directory, not an audio file", hint="give the path of one audio file inside it")
    if not p.exists():
        raise AudioNotFoundError(p, "no such audio file",
                                 hint="check the path (relative manifest paths are resolved against the manifest's folder)")
    if not os.access(p, os.R_OK):
        raise AudioError(p, "audio file is not readable (permission denied)", hint="fix the file permissions")
    if p.stat().st_size == 0:
        raise EmptyAudioError(p, "file is empty (0 bytes)", hint="re-copy or re-export the file; it was probably truncated")
    return p


def _check_segment(path: Path, start: float | None, end: float | None) -> None:
    if start is not None and start < 0:
        raise ValueError(f"start must be >= 0 seconds, got {start}")
    if end is not None and end <= (start or 0.0):
        raise EmptyAudioError(path, f"segment start={start or 0.0:g} s, end={end:g} s selects nothing",
                              hint="end must be greater than start; fix the offsets in the manifest")


def _beyond_end(path: Path, start: float, total: int, rate: int) -> EmptyAudioError:
    return EmptyAudioError(path, f"start={start:g} s is beyond the end of the file ({total / rate:.3f} s long)",
                           hint="fix the start offset, or check that the manifest points at the right file")


def _mono(data: np.ndarray) -> np.ndarray:
    """(frames, channels) float32 -> 1-D float32, averaging channels."""
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(mono, dtype=np.float32)


# --- decoders ------------------------------------------------------------------------------------
class _Decoded(NamedTuple):
    """A decoded segment plus ``left``/``right`` extra samples of context on each side."""

    signal: np.ndarray
    rate: int
    left: int
    right: int


def _edge_margin(rate: int, sr: int) -> int:
    """Samples of context read on each side of a segment that will be resampled.

    Resampling a cut-out segment on its own rings at the cut (the filter sees a jump from
    silence); with this much real signal around it the ringing falls outside the segment, which
    then matches the same span of the whole resampled file. The margin is a whole number of
    ``rate / gcd(rate, sr)`` blocks, so that it maps to a whole number of output samples and the
    segment keeps the output sample grid.
    """
    if rate == sr:
        return 0
    block = rate // math.gcd(rate, sr)
    return block * math.ceil(EDGE_MARGIN * rate / block)


def _read_soundfile(path: Path, start: float | None, end: float | None, sr: int) -> _Decoded | None:
    """Decode with libsndfile, reading only the requested frames (plus the edge margin). Returns
    ``None`` for formats left to PyAV; raises ``sf.SoundFileError`` when libsndfile cannot handle
    the file (the caller then tries PyAV)."""
    with sf.SoundFile(path) as f:
        if f.format in _LEAVE_TO_FFMPEG:
            return None
        rate, total = f.samplerate, f.frames
        first = round(start * rate) if start else 0
        stop = total if end is None else min(round(end * rate), total)
        if total > 0 and first >= total:
            raise _beyond_end(path, start or 0.0, total, rate)
        margin = _edge_margin(rate, sr)
        lo, hi = max(first - margin, 0), min(stop + margin, total)
        if lo:
            f.seek(lo)
        data = f.read(max(hi - lo, 0), dtype="float32", always_2d=True)
    left = first - lo
    return _Decoded(_mono(data), rate, left, max(data.shape[0] - left - (stop - first), 0))


def _warn_if_short(path: Path, stream: av.audio.stream.AudioStream, decoded: int) -> None:
    """Warn when a stream decoded to the end holds clearly fewer samples than its header says.
    The 10 % slack covers containers whose duration is only an estimate."""
    if stream.duration is None or stream.time_base is None:
        return
    declared = round(float(stream.duration * stream.time_base) * stream.rate)
    if decoded < 0.9 * declared:
        warnings.warn(f"{path}: the header promises {declared} samples but only {decoded} could be decoded; "
                      "the file is probably truncated", TruncatedAudioWarning, stacklevel=5)


def _open_audio_stream(path: Path) -> tuple[av.container.InputContainer, av.audio.stream.AudioStream]:
    """Open ``path`` with PyAV and pick its first audio stream (typed errors otherwise)."""
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise NotAudioError(path, "cannot be decoded: not an audio/video file, or a corrupt or truncated one "
                            f"(ffmpeg: {e.strerror or e})", hint=_NOT_AUDIO_HINT) from e
    if not container.streams.audio:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        container.close()
        raise NotAudioError(path, f"has no audio stream (found: {', '.join(kinds)})", hint="use a file that has a sound track")
    stream = container.streams.audio[0]
    if not stream.rate:  # ffmpeg probed garbage as an audio stream without a sample rate
        container.close()
        raise NotAudioError(path, "cannot be decoded: the audio stream has no sample rate (not an audio file, "
                            "or a corrupt one)", hint=_NOT_AUDIO_HINT)
    return container, stream


def _read_pyav(path: Path, start: float | None, end: float | None, sr: int) -> _Decoded:
    """Decode the first audio stream with PyAV, keeping [start, end) plus the edge margin."""
    container, stream = _open_audio_stream(path)
    with container:
        rate = stream.rate
        first = round(start * rate) if start else 0
        stop = None if end is None else round(end * rate)
        margin = _edge_margin(rate, sr)
        lo, hi = max(first - margin, 0), None if stop is None else stop + margin
        to_float = av.AudioResampler(format="fltp")  # float planar, same layout and rate
        chunks: list[np.ndarray] = []
        pos = 0  # index of the next decoded sample, counted from the start of the stream

        def keep(frame: av.AudioFrame) -> None:
            nonlocal pos
            planes = frame.to_ndarray()  # (channels, samples)
            a, b = max(lo - pos, 0), planes.shape[1] if hi is None else min(hi - pos, planes.shape[1])
            if b > a:
                chunks.append(planes[:, a:b].mean(axis=0, dtype=np.float32))
            pos += planes.shape[1]

        try:
            for frame in container.decode(stream):
                for out in to_float.resample(frame):
                    keep(out)
                if hi is not None and pos >= hi:
                    break
            else:
                if pos:
                    for out in to_float.resample(None):
                        keep(out)
                _warn_if_short(path, stream, pos)
        except av.FFmpegError as e:
            raise NotAudioError(path, f"corrupt or truncated: decoding failed after {pos / rate:.3f} s ({e.strerror or e})",
                                hint=_NOT_AUDIO_HINT) from e
    if first and pos <= first:
        raise _beyond_end(path, start or 0.0, pos, rate)
    signal = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    left = first - lo
    inner = (pos if stop is None else min(stop, pos)) - first
    return _Decoded(signal, rate, left, max(signal.size - left - inner, 0))


def _decode(path: Path, start: float | None, end: float | None, sr: int) -> _Decoded:
    try:
        decoded = _read_soundfile(path, start, end, sr)
    except sf.SoundFileError:
        decoded = None  # not a format libsndfile reads (MP4, MKV, WebM, ...): let ffmpeg try
    return decoded if decoded is not None else _read_pyav(path, start, end, sr)


def _resample(decoded: _Decoded, segment: np.ndarray, sr: int) -> np.ndarray:
    """Resample ``segment`` (the checked middle of ``decoded``) to ``sr`` with soxr, using the
    decoded margins as context; exactly ``round(len(segment) * sr / rate)`` samples come out."""
    rate, left, right = decoded.rate, decoded.left, decoded.right
    if rate == sr:
        return segment
    context = decoded.signal
    if left or right:  # the margins are context only: no checks, but no NaN may reach the filter
        context = np.concatenate([np.nan_to_num(context[:left]), segment,
                                  np.nan_to_num(context[context.size - right:])])
    out = soxr.resample(context, rate, sr, quality=RESAMPLE_QUALITY)
    skip, n_out = round(left * sr / rate), round(segment.size * sr / rate)
    out = out[skip:skip + n_out]
    if out.size < n_out:  # soxr's length can be one sample short of the rounded length
        out = np.pad(out, (0, n_out - out.size))
    return np.ascontiguousarray(out, dtype=np.float32)


# --- public API ----------------------------------------------------------------------------------
def load_audio(
    path: str | Path,
    *,
    start: float | None = None,
    end: float | None = None,
    sr: int = 16000,
    min_duration: float = 0.0,
) -> np.ndarray:
    """Load an audio file (or the sound track of a video) as mono float32 at ``sr``.

    Parameters
    ----------
    path : str or Path
        WAV, FLAC, Ogg (Vorbis/Opus), MP3, or a container with an audio track (MP4, M4A, MKV,
        WebM, MOV, ...). For containers, the first audio stream is used.
    start : float >= 0 or None
        Segment start in seconds from the beginning of the file (``None``: from the start).
    end : float or None
        Segment end in seconds (``None``: to the end of the file). An ``end`` past the end of the
        file is cut to the file's length.
    sr : int > 0
        Output sample rate in Hz.
    min_duration : float >= 0
        Raise :class:`~spokenemo.core.errors.AudioTooShortError` when the (segment of the) file is
        shorter than this many seconds.

    Returns
    -------
    signal : np.ndarray, float32, 1-D
        Channels averaged to mono, full scale = 1.0, resampled to ``sr`` with soxr
        (:data:`RESAMPLE_QUALITY`). A segment of ``n`` samples at the file's rate ``r`` gives
        ``round(n * sr / r)`` samples, where ``n = round(end * r) - round(start * r)``.

    Raises
    ------
    AudioNotFoundError
        The path does not exist or is a directory.
    NotAudioError
        The file cannot be decoded (not audio, corrupt, truncated) or has no audio stream.
    EmptyAudioError
        The file holds no samples, or ``start``/``end`` select none.
    InvalidSamplesError
        All samples are NaN/Inf.
    AudioTooShortError
        Shorter than ``min_duration``.

    Warns
    -----
    AudioWarning
        :class:`~spokenemo.audio.ClippingWarning`, :class:`~spokenemo.audio.QuietAudioWarning`, or
        :class:`~spokenemo.audio.NonFiniteSamplesWarning` (see :func:`validate_audio`).

    Examples
    --------
    >>> y = load_audio("tests/data/ravdess/Actor_01/03-01-05-01-01-01-01.flac")  # doctest: +SKIP
    >>> y.dtype, y.ndim
    (dtype('float32'), 1)
    """
    if sr <= 0:
        raise ValueError(f"sr must be a positive sample rate in Hz, got {sr}")
    p = _check_path(path)
    _check_segment(p, start, end)
    decoded = _decode(p, start, end, sr)
    segment = decoded.signal[decoded.left:decoded.signal.size - decoded.right]
    segment = validate_audio(segment, decoded.rate, path=p, min_duration=min_duration)
    out = _resample(decoded, segment, sr)
    if out.size == 0:
        raise EmptyAudioError(p, f"only {segment.size} sample(s) at {decoded.rate} Hz: nothing left at {sr} Hz",
                              hint="the file or segment is far too short; drop it")
    return out


def audio_info(path: str | Path) -> AudioInfo:
    """Sample rate, channels, frames and duration of an audio file, from its header.

    Cheap: nothing is decoded (libsndfile reads the header; for containers libsndfile does not
    know, PyAV reads the stream/container duration).

    Parameters
    ----------
    path : str or Path
        Any file :func:`load_audio` accepts.

    Returns
    -------
    info : AudioInfo

    Raises
    ------
    AudioNotFoundError, NotAudioError, EmptyAudioError
        As for :func:`load_audio`.
    """
    p = _check_path(path)
    try:
        i = sf.info(str(p))
        return AudioInfo(sample_rate=i.samplerate, channels=i.channels, frames=i.frames, duration=i.frames / i.samplerate)
    except sf.SoundFileError:
        pass
    container, stream = _open_audio_stream(p)
    with container:
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = None
        frames = None if duration is None else round(duration * stream.rate)
        return AudioInfo(sample_rate=stream.rate, channels=stream.channels, frames=frames, duration=duration)
