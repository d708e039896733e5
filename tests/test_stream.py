"""Streaming decode of long recordings (audio/stream.py): blocks, formats, memory, random access, errors."""

from __future__ import annotations

import os
import stat
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import spokenemo.audio.stream as stream_mod
from spokenemo.audio import load_audio
from spokenemo.audio.stream import AudioReader, stream_audio
from spokenemo.core.errors import AudioNotFoundError, EmptyAudioError, NotAudioError
from test_audio import encode_pyav

FIXTURE = Path(__file__).parent / "data" / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.flac"


def _sine(seconds: float, sr: int, f: float = 220.0) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def _mp4(path: Path, x: np.ndarray, sr: int) -> Path:
    """AAC audio muxed with a tiny black video track (a video file)."""
    return encode_pyav(path, x, sr, "aac", video="mpeg4")


def test_blocks_of_a_16k_flac_join_to_the_whole_file():
    whole = load_audio(FIXTURE)
    blocks = list(stream_audio(FIXTURE, block_seconds=1.0))
    assert [b.samples.size for b in blocks[:-1]] == [16000] * (len(blocks) - 1)
    assert 0 < blocks[-1].samples.size <= 16000
    assert [b.start for b in blocks] == [16000 * i for i in range(len(blocks))]
    np.testing.assert_array_equal(np.concatenate([b.samples for b in blocks]), whole)
    assert blocks[1].start_s == 1.0 and blocks[0].end_s == 1.0


def test_other_rates_are_resampled_on_the_fly_like_the_whole_file(tmp_path):
    path = tmp_path / "tone44k.wav"
    sf.write(path, _sine(7.3, 44100), 44100, subtype="FLOAT")
    streamed = np.concatenate([b.samples for b in stream_audio(path, block_seconds=2.0)])
    whole = load_audio(path)
    assert abs(streamed.size - whole.size) <= 2
    n = min(streamed.size, whole.size) - 200
    assert np.max(np.abs(streamed[200:n] - whole[200:n])) < 1e-3


def test_a_video_file_streams_its_sound_track(tmp_path):
    x = _sine(6.0, 44100, 440.0)
    path = _mp4(tmp_path / "clip.mp4", x, 44100)
    y = np.concatenate([b.samples for b in stream_audio(path, block_seconds=2.5)])
    assert abs(y.size / 16000 - 6.0) < 0.1  # AAC adds priming samples
    spectrum = np.abs(np.fft.rfft(y[8000:40000]))
    assert abs(np.argmax(spectrum) * 16000 / 32000 - 440.0) < 2.0


def test_memory_stays_at_a_few_blocks_whatever_the_length(tmp_path):
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", 22050, 1, subtype="PCM_16") as f:
        for _ in range(10):  # 10 minutes at 22.05 kHz, written a minute at a time
            f.write(_sine(60.0, 22050))
    tracemalloc.start()
    total = sum(b.samples.size for b in stream_audio(path, block_seconds=8.0))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert abs(total - 600 * 16000) <= 2
    assert peak < 4 * 8 * 16000 * 4 + 2_000_000, f"peak {peak / 1e6:.1f} MB for 38 MB of samples"


def test_reader_spools_a_video_once_then_reads_any_span(tmp_path):
    x = _sine(5.0, 48000, 300.0)
    path = _mp4(tmp_path / "talk.mp4", x, 48000)
    with AudioReader(path, workdir=tmp_path) as reader:
        with pytest.raises(RuntimeError, match="blocks"):
            reader.read(0.0, 1.0)
        joined = np.concatenate([b.samples for b in reader.blocks(1.0)])
        spools = list(tmp_path.glob("spokenemo-spool-*.wav"))
        assert len(spools) == 1
        assert reader.n_samples == joined.size
        np.testing.assert_allclose(reader.read(1.25, 2.5), joined[20000:40000], atol=1e-7)
        assert reader.read(4.9, 99.0).size == joined.size - round(4.9 * 16000)
        assert reader.read(3.0, 3.0).size == 0
    assert not spools[0].exists()  # deleted on close


def test_reader_reads_a_16k_file_in_place(tmp_path):
    with AudioReader(FIXTURE, workdir=tmp_path) as reader:
        assert reader.duration == pytest.approx(sf.info(str(FIXTURE)).duration)
        np.testing.assert_array_equal(reader.read(0.5, 1.0), load_audio(FIXTURE, start=0.5, end=1.0))
    assert not list(tmp_path.iterdir())


def test_bad_input_gets_typed_errors(tmp_path, monkeypatch):
    with pytest.raises(AudioNotFoundError):
        list(stream_audio(tmp_path / "missing.wav"))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="0 bytes"):
        list(stream_audio(empty))
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(os.urandom(4000))
    monkeypatch.setattr(stream_mod.shutil, "which", lambda name: None)
    with pytest.raises(NotAudioError, match="cannot be decoded") as err:
        list(stream_audio(junk))
    assert "install the ffmpeg program" in str(err.value)
    no_samples = tmp_path / "none.wav"
    sf.write(no_samples, np.zeros(0, np.float32), 16000)
    with pytest.raises((EmptyAudioError, NotAudioError)):
        list(stream_audio(no_samples))


def test_ffmpeg_program_is_tried_for_what_pyav_cannot_open(tmp_path, monkeypatch):
    """A stand-in ``ffmpeg`` that writes 1.5 s of f32le samples: the pipe path decodes it."""
    fake = tmp_path / "ffmpeg"
    fake.write_text(f"#!{sys.executable}\nimport sys, numpy as np\n"
                    "sys.stdout.buffer.write((np.ones(24000, '<f4') * 0.25).tobytes())\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    junk = tmp_path / "odd.xyz"
    junk.write_bytes(os.urandom(4000))
    monkeypatch.setattr(stream_mod.shutil, "which", lambda name: str(fake))
    y = np.concatenate([b.samples for b in stream_audio(junk, block_seconds=1.0)])
    assert y.size == 24000 and np.allclose(y, 0.25)
