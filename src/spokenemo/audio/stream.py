"""Streaming decode of long recordings: fixed blocks of mono float32 at one rate, memory bounded.

:func:`stream_audio` yields :class:`Block` s of ``block_seconds`` each (the last one shorter) from
any file the audio layer reads, without ever holding the whole recording:

1. **soundfile** (WAV, FLAC, Ogg Vorbis/Opus): read ``block_seconds`` of frames at a time;
2. **PyAV** (the ffmpeg libraries in the ``av`` wheel): MP3 and the sound track of video containers
   (MP4, MKV, WebM, MOV, ...), decoded frame by frame;
3. **the ffmpeg program**, when it is installed, for what PyAV cannot open; without it such a file
   is a :class:`~spokenemo.core.errors.NotAudioError` whose hint says to install ffmpeg.

Channels are averaged to mono and a streaming soxr resampler (quality
:data:`~spokenemo.audio.io.RESAMPLE_QUALITY`) converts the rate, so memory is one block plus the
resampler's state whatever the length. NaN/Inf samples become 0 (with a
:class:`~spokenemo.audio.checks.NonFiniteSamplesWarning`).

:class:`AudioReader` adds random access for the later passes of a long-recording pipeline: files
libsndfile reads at the target rate are read in place (a seek per span); anything else is spooled
once, while it streams, to a temporary 16-bit-float WAV that is deleted on :meth:`AudioReader.close`.

>>> with AudioReader("talk.mp4") as audio:                 # doctest: +SKIP
...     for block in audio.blocks():                        # first pass (spools the decode)
...         ...
...     piece = audio.read(61.2, 64.0)                      # later passes: any span, by seek
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from spokenemo.audio.checks import NonFiniteSamplesWarning
from spokenemo.audio.io import (
    _LEAVE_TO_FFMPEG,
    _NOT_AUDIO_HINT,
    RESAMPLE_QUALITY,
    _check_path,
    _mono,
    _open_audio_stream,
)
from spokenemo.core.errors import EmptyAudioError, NotAudioError

__all__ = ["AudioReader", "Block", "stream_audio"]

#: Default block length in seconds (1024 Silero frames of 32 ms: VAD blocks need no re-framing).
BLOCK_SECONDS = 32.768
#: Samples read from a pipe or file per call when decoding (independent of the block length).
_READ_FRAMES = 65536


@dataclass(frozen=True)
class Block:
    """``samples`` (mono float32 at ``sr``) starting ``start`` samples into the recording."""

    start: int
    samples: np.ndarray
    sr: int

    @property
    def start_s(self) -> float:
        return self.start / self.sr

    @property
    def end_s(self) -> float:
        return (self.start + self.samples.size) / self.sr


def _soundfile_chunks(path: Path) -> tuple[int, Iterator[np.ndarray]] | None:
    """(rate, mono chunks) from libsndfile, or ``None`` when it cannot (or should not) read ``path``."""
    try:
        f = sf.SoundFile(str(path))
    except (sf.SoundFileError, RuntimeError):
        return None
    if f.format in _LEAVE_TO_FFMPEG:
        f.close()
        return None

    def chunks() -> Iterator[np.ndarray]:
        with f:
            while True:
                data = f.read(_READ_FRAMES, dtype="float32", always_2d=True)
                if not data.shape[0]:
                    return
                yield _mono(data)

    return f.samplerate, chunks()


def _pyav_chunks(path: Path) -> tuple[int, Iterator[np.ndarray]]:
    """(rate, mono chunks) of the first audio stream, decoded with PyAV (raises NotAudioError)."""
    container, stream = _open_audio_stream(path)
    rate = stream.rate

    def chunks() -> Iterator[np.ndarray]:
        to_float = av.AudioResampler(format="fltp")
        done = 0
        with container:
            try:
                for frame in container.decode(stream):
                    for out in to_float.resample(frame):
                        planes = out.to_ndarray()
                        done += planes.shape[1]
                        yield planes.mean(axis=0, dtype=np.float32)
                for out in to_float.resample(None):
                    yield out.to_ndarray().mean(axis=0, dtype=np.float32)
            except av.FFmpegError as e:
                raise NotAudioError(path, f"corrupt or truncated: decoding failed after {done / rate:.3f} s "
                                    f"({e.strerror or e})", hint=_NOT_AUDIO_HINT) from e

    return rate, chunks()


def _ffmpeg_chunks(path: Path, sr: int, program: str) -> tuple[int, Iterator[np.ndarray]]:
    """(sr, mono chunks) piped from the ffmpeg program (already at ``sr``, mono)."""
    cmd = [program, "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sr), "-f", "f32le", "pipe:1"]

    def chunks() -> Iterator[np.ndarray]:
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            got = 0
            while data := proc.stdout.read(4 * _READ_FRAMES):
                got += len(data)
                yield np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4").astype(np.float32)
            err = proc.stderr.read().decode(errors="replace").strip()
            if proc.wait() != 0 and not got:
                raise NotAudioError(path, f"cannot be decoded, not even by ffmpeg ({err[-300:] or 'no message'})",
                                    hint=_NOT_AUDIO_HINT)

    return sr, chunks()


def _source(path: Path, sr: int) -> tuple[int, Iterator[np.ndarray]]:
    found = _soundfile_chunks(path)
    if found is not None:
        return found
    try:
        return _pyav_chunks(path)
    except NotAudioError as err:
        program = shutil.which("ffmpeg")
        if program is None:
            raise NotAudioError(path, err.message.split(": ", 1)[-1],
                                hint=f"{err.hint}; or install the ffmpeg program (apt-get install ffmpeg), "
                                "which is tried for formats the bundled decoder cannot open") from err
        return _ffmpeg_chunks(path, sr, program)


def _resampled(rate: int, sr: int, chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    if rate == sr:
        yield from chunks
        return
    resampler = soxr.ResampleStream(rate, sr, 1, dtype="float32", quality=RESAMPLE_QUALITY)
    for chunk in chunks:
        out = resampler.resample_chunk(np.ascontiguousarray(chunk, dtype=np.float32))
        if out.size:
            yield out
    tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
    if tail.size:
        yield tail


def stream_audio(path: str | Path, *, sr: int = 16000, block_seconds: float = BLOCK_SECONDS) -> Iterator[Block]:
    """Blocks of ``block_seconds`` (the last may be shorter) of mono float32 at ``sr`` (see the module docstring).

    Raises
    ------
    AudioNotFoundError, NotAudioError
        As :func:`~spokenemo.audio.io.load_audio`; decoding errors surface while iterating.
    EmptyAudioError
        The file decodes to no samples at all.
    """
    if sr <= 0 or block_seconds <= 0:
        raise ValueError(f"sr and block_seconds must be positive, got sr={sr}, block_seconds={block_seconds}")
    p = _check_path(path)
    rate, chunks = _source(p, sr)
    size = max(1, round(block_seconds * sr))
    pending: list[np.ndarray] = []
    held, start, bad = 0, 0, 0
    for piece in _resampled(rate, sr, chunks):
        finite = np.isfinite(piece)
        if not finite.all():
            bad += int(piece.size - finite.sum())
            piece = np.where(finite, piece, 0).astype(np.float32)
        pending.append(piece)
        held += piece.size
        while held >= size:
            joined = np.concatenate(pending)
            yield Block(start, joined[:size], sr)
            start += size
            pending, held = [joined[size:]], joined.size - size
    if held:
        yield Block(start, np.concatenate(pending), sr)
    if not start and not held:
        raise EmptyAudioError(p, "decodes to no samples", hint="re-export the file; it holds no audio")
    if bad:
        warnings.warn(f"{p}: {bad} NaN/Inf samples replaced by 0", NonFiniteSamplesWarning, stacklevel=2)


class AudioReader:
    """One pass of :meth:`blocks` over a recording, then random access by :meth:`read` (see the module docstring).

    Parameters
    ----------
    path : str or Path
        Any file :func:`stream_audio` reads.
    sr : int
        Rate of every block and span.
    workdir : str or Path, optional
        Where the temporary spool file goes (default: the system's temporary folder).
    """

    def __init__(self, path: str | Path, *, sr: int = 16000, workdir: str | Path | None = None) -> None:
        self.path = _check_path(path)
        self.sr = sr
        self._workdir = workdir
        self._spool: Path | None = None
        self._n: int | None = None
        self._direct = self._readable_in_place()

    def _readable_in_place(self) -> bool:
        try:
            info = sf.info(str(self.path))
        except (sf.SoundFileError, RuntimeError):
            return False
        if info.format in _LEAVE_TO_FFMPEG or info.samplerate != self.sr:
            return False
        self._n = info.frames
        return True

    @property
    def n_samples(self) -> int:
        """Samples at ``sr`` (known once :meth:`blocks` has run for spooled input)."""
        if self._n is None:
            raise RuntimeError("the length is known after one pass of blocks()")
        return self._n

    @property
    def duration(self) -> float:
        return self.n_samples / self.sr

    def blocks(self, block_seconds: float = BLOCK_SECONDS) -> Iterator[Block]:
        """Blocks over the whole recording; the first pass over spooled input writes the spool file."""
        if self._direct or self._spool is not None:
            yield from stream_audio(self._spool or self.path, sr=self.sr, block_seconds=block_seconds)
            return
        handle, name = tempfile.mkstemp(suffix=".wav", prefix="spokenemo-spool-", dir=self._workdir)
        spool = Path(name)
        total = 0
        try:
            with open(handle, "wb") as raw, sf.SoundFile(raw, "w", self.sr, 1, subtype="FLOAT", format="WAV") as out:
                for block in stream_audio(self.path, sr=self.sr, block_seconds=block_seconds):
                    out.write(block.samples)
                    total += block.samples.size
                    yield block
        except BaseException:
            spool.unlink(missing_ok=True)
            raise
        self._spool, self._n = spool, total

    def read(self, start: float, end: float) -> np.ndarray:
        """Samples of ``[start, end)`` seconds (cut to the recording), mono float32 at ``sr``."""
        source = self.path if self._direct else self._spool
        if source is None:
            raise RuntimeError("run blocks() once before read() on input that needs decoding")
        a, b = max(0, round(start * self.sr)), min(round(end * self.sr), self.n_samples)
        if b <= a:
            return np.zeros(0, np.float32)
        with sf.SoundFile(str(source)) as f:
            f.seek(a)
            data = _mono(f.read(b - a, dtype="float32", always_2d=True))
        return np.where(np.isfinite(data), data, 0).astype(np.float32)

    def close(self) -> None:
        """Delete the spool file, if any."""
        if self._spool is not None:
            self._spool.unlink(missing_ok=True)
            self._spool = None

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
