"""spokenemo.audio: decoding, resampling, offsets, typed errors and warnings.

Every media file except the RAVDESS fixtures is generated here into ``tmp_path``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from spokenemo.audio import (
    AudioInfo,
    AudioWarning,
    ClippingWarning,
    NonFiniteSamplesWarning,
    QuietAudioWarning,
    TruncatedAudioWarning,
    audio_info,
    load_audio,
    loudest_dbfs,
    validate_audio,
)
from spokenemo.audio.io import _read_pyav, _read_soundfile
from spokenemo.core.errors import (
    AudioNotFoundError,
    AudioTooShortError,
    EmptyAudioError,
    InvalidSamplesError,
    NotAudioError,
)
from spokenemo.data.manifest import read_manifest

RAVDESS_CLIP = Path(__file__).parent / "data" / "ravdess" / "Actor_02" / "03-01-05-01-01-01-02.flac"


# --- signal and file helpers ---------------------------------------------------------------------
def tone(freq: float, sr: int, dur: float, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(round(dur * sr)) / sr)).astype(np.float32)


def chirp(sr: int, dur: float = 2.0, f0: float = 200.0, f1: float = 3000.0) -> np.ndarray:
    """Linear sweep: unlike a steady tone it only lines up with itself at lag 0."""
    t = np.arange(round(dur * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * dur)))).astype(np.float32)


def peak_hz(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)])


def best_lag(ref: np.ndarray, y: np.ndarray, max_lag: int) -> tuple[int, float]:
    """(lag, Pearson correlation) maximising the correlation of ``y[lag:]`` with ``ref``."""
    best = (0, -1.0)
    for lag in range(-max_lag, max_lag + 1):
        a, b = (ref, y[lag:]) if lag >= 0 else (ref[-lag:], y)
        n = min(len(a), len(b)) - 200  # leave out the codec/resampler edges
        r = float(np.corrcoef(a[200:n], b[200:n])[0, 1])
        if r > best[1]:
            best = (lag, r)
    return best


def encode_pyav(path: Path, x: np.ndarray, sr: int, codec: str, *, video: str | None = None,
                fmt: str | None = None) -> Path:
    """Write mono float ``x`` with an ffmpeg encoder, optionally muxed with a black video track."""
    with av.open(str(path), "w", format=fmt) as out:
        if video:
            vs = out.add_stream(video, rate=10)
            vs.width = vs.height = 32
            vs.pix_fmt = "yuv420p"
        stream = out.add_stream(codec, rate=sr, layout="mono")
        to_codec = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=sr)
        frame = av.AudioFrame.from_ndarray(x[None, :], format="flt", layout="mono")
        frame.sample_rate = sr
        frame.pts = 0
        for f in to_codec.resample(frame) + to_codec.resample(None):
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if video:
            for i in range(round(len(x) / sr * 10)):
                vf = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
                vf.pts = i
                for packet in vs.encode(vf):
                    out.mux(packet)
            for packet in vs.encode(None):
                out.mux(packet)
    return path


def video_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=10)
        vs.width = vs.height = 32
        vs.pix_fmt = "yuv420p"
        for i in range(10):
            vf = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            vf.pts = i
            for packet in vs.encode(vf):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
    return path


def load_quietly(path, **kw) -> np.ndarray:
    """load_audio that fails the test on any AudioWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioWarning)
        return load_audio(path, **kw)


# --- decoding and resampling ---------------------------------------------------------------------
def test_stereo_44k_wav_becomes_mono_16k_with_pitch_kept(tmp_path):
    left, right = tone(440, 44100, 2.0, amp=0.5), tone(440, 44100, 2.0, amp=0.3)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype="PCM_16")

    y = load_quietly(path)

    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 32000) <= 1
    assert peak_hz(y, 16000) == pytest.approx(440, abs=1.0)
    # channels are averaged: amplitude (0.5 + 0.3) / 2 = 0.4, i.e. RMS 0.4 / sqrt(2)
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) == pytest.approx(0.4 / np.sqrt(2), rel=0.01)
    expected = tone(440, 16000, 2.0, amp=0.4)
    assert np.max(np.abs(y[500:-500] - expected[500:-500])) < 2e-3


def test_opposite_channels_average_to_silence(tmp_path):
    x = tone(300, 16000, 1.0)
    path = tmp_path / "antiphase.wav"
    sf.write(path, np.stack([x, -x], axis=1), 16000, subtype="FLOAT")
    with pytest.warns(QuietAudioWarning, match="digital silence"):
        y = load_audio(path)
    assert np.all(y == 0)


def test_other_target_rate(tmp_path):
    path = tmp_path / "t.flac"
    sf.write(path, tone(1000, 48000, 1.5), 48000)
    y = load_quietly(path, sr=8000)
    assert len(y) == 12000
    assert peak_hz(y, 8000) == pytest.approx(1000, abs=1.0)


def _write_sf(fmt, subtype, sr):
    def write(path: Path, x: np.ndarray) -> Path:
        sf.write(path, x, sr, format=fmt, subtype=subtype)
        return path
    return write


def _write_av(codec, sr, video=None, fmt=None):
    def write(path: Path, x: np.ndarray) -> Path:
        return encode_pyav(path, x, sr, codec, video=video, fmt=fmt)
    return write


# (file name, writer, source sample rate, lossless?); flac/ogg/opus go through libsndfile, the rest through PyAV
FORMATS = [
    ("a.flac", _write_sf("FLAC", "PCM_16", 44100), 44100, True),
    ("a.ogg", _write_sf("OGG", "VORBIS", 44100), 44100, False),
    ("a.opus", _write_sf("OGG", "OPUS", 48000), 48000, False),
    ("a.mp3", _write_sf("MP3", "MPEG_LAYER_III", 44100), 44100, False),
    ("lame.mp3", _write_av("libmp3lame", 44100), 44100, False),
    ("a.m4a", _write_av("aac", 44100, fmt="mp4"), 44100, False),
    ("a.mp4", _write_av("aac", 44100, video="mpeg4"), 44100, False),
    ("a.mkv", _write_av("flac", 44100, video="mpeg4"), 44100, True),
    ("a.webm", _write_av("libopus", 48000, video="libvpx"), 48000, False),
]


@pytest.mark.parametrize(("name", "write", "src_sr", "lossless"), FORMATS, ids=[f[0] for f in FORMATS])
def test_formats_decode_to_the_same_signal(tmp_path, name, write, src_sr, lossless):
    path = write(tmp_path / name, chirp(src_sr))
    ref = chirp(16000)

    y = load_quietly(path)

    assert y.dtype == np.float32 and y.ndim == 1
    lag, r = best_lag(ref, y, max_lag=800)
    if lossless:
        assert abs(len(y) - len(ref)) <= 1
        assert lag == 0
        assert np.max(np.abs(y[200:-200] - ref[200:-200])) < 2e-3
    else:
        # AAC written by PyAV keeps its 1024 priming samples (no edit list): 23 ms at 44.1 kHz
        assert abs(lag) <= 0.03 * 16000
        assert r > 0.9
        assert abs(len(y) - len(ref)) <= 0.1 * 16000
    info = audio_info(path)
    assert info.channels == 1
    assert info.sample_rate == src_sr
    assert info.duration == pytest.approx(len(chirp(src_sr)) / src_sr, abs=0.1)


def test_audio_info_reads_the_header(tmp_path):
    path = tmp_path / "s.wav"
    sf.write(path, np.zeros((88200, 2), np.float32), 44100)
    assert audio_info(path) == AudioInfo(sample_rate=44100, channels=2, frames=88200, duration=2.0)


# --- offsets -------------------------------------------------------------------------------------
@pytest.fixture
def two_tones(tmp_path) -> tuple[Path, Path]:
    """1 s of 440 Hz then 1 s of 880 Hz, at 16 kHz (WAV) and 44.1 kHz (FLAC)."""
    wav, flac = tmp_path / "two16k.wav", tmp_path / "two44k.flac"
    sf.write(wav, np.concatenate([tone(440, 16000, 1.0), tone(880, 16000, 1.0)]), 16000)
    sf.write(flac, np.concatenate([tone(440, 44100, 1.0), tone(880, 44100, 1.0)]), 44100)
    return wav, flac


def test_offsets_select_the_right_part(two_tones):
    wav, flac = two_tones
    full = load_quietly(wav)
    first = load_quietly(wav, start=0.25, end=0.75)
    second = load_quietly(wav, start=1.25, end=1.75)
    assert len(first) == len(second) == 8000
    assert np.array_equal(first, full[4000:12000])
    assert peak_hz(first, 16000) == pytest.approx(440, abs=2)
    assert peak_hz(second, 16000) == pytest.approx(880, abs=2)
    assert len(load_quietly(wav, start=1.0)) == 16000
    assert len(load_quietly(wav, end=0.5)) == 8000
    assert len(load_quietly(wav, start=1.5, end=10.0)) == 8000  # end past the file is cut

    # resampled: round((round(1.5 * 44100) - round(0.5 * 44100)) * 16000 / 44100) = 16000
    mid = load_quietly(flac, start=0.5, end=1.5)
    assert len(mid) == 16000
    assert peak_hz(mid[:7000], 16000) == pytest.approx(440, abs=3)
    assert peak_hz(mid[9000:], 16000) == pytest.approx(880, abs=3)
    assert len(load_quietly(flac, start=0.1, end=0.2)) == 1600


def test_pyav_segments_match_soundfile_exactly(two_tones):
    """The frame-by-frame slicing of the PyAV path agrees sample for sample with libsndfile's seek."""
    wav, _ = two_tones
    segments = [(None, None), (0.0, 0.01), (0.3, 1.7), (1.0, None), (0.99, 1.01), (1.9, 5.0), (0.005, 1.999)]
    for target_sr in (16000, 8000):  # 8000: with resampling context around the segment
        for start, end in segments:
            a = _read_soundfile(wav, start, end, target_sr)
            b = _read_pyav(wav, start, end, target_sr)
            assert (a.rate, a.left, a.right) == (b.rate, b.left, b.right)
            np.testing.assert_array_equal(a.signal, b.signal)
            n = round(min(end or 2.0, 2.0) * 16000) - round((start or 0) * 16000)
            assert a.signal.size - a.left - a.right == n


def test_resampled_segment_matches_the_whole_file(two_tones):
    """Context read around a segment keeps soxr's edge ringing out of it."""
    _, flac = two_tones
    full = load_quietly(flac)
    np.testing.assert_allclose(load_quietly(flac, start=0.75, end=1.25), full[12000:20000], atol=1e-5)
    np.testing.assert_allclose(load_quietly(flac, end=0.5), full[:8000], atol=1e-5)
    np.testing.assert_allclose(load_quietly(flac, start=1.5), full[24000:], atol=1e-5)


@pytest.mark.parametrize("name", ["c.mp3", "c.ogg", "c.opus"])
def test_lossy_segments_match_the_whole_file(tmp_path, name):
    """Seeking in lossy streams (MP3 bit reservoir, Vorbis/Opus pre-roll) gives the same samples."""
    fmt, subtype, rate = {"c.mp3": ("MP3", "MPEG_LAYER_III", 44100), "c.ogg": ("OGG", "VORBIS", 44100),
                          "c.opus": ("OGG", "OPUS", 48000)}[name]
    path = tmp_path / name
    sf.write(path, chirp(rate), rate, format=fmt, subtype=subtype)
    full = load_quietly(path)
    for start, end in [(0.5, 1.0), (1.2, 1.9)]:
        seg = load_quietly(path, start=start, end=end)
        a = round(start * 16000)
        assert len(seg) == round((end - start) * 16000)
        np.testing.assert_allclose(seg, full[a:a + len(seg)], atol=1e-3)


def test_offsets_in_a_video_container(tmp_path):
    x = np.concatenate([tone(440, 44100, 1.0), tone(880, 44100, 1.0)])
    path = encode_pyav(tmp_path / "two.mkv", x, 44100, "flac", video="mpeg4")
    seg = load_quietly(path, start=1.25, end=1.75)
    assert len(seg) == 8000
    assert peak_hz(seg, 16000) == pytest.approx(880, abs=2)
    np.testing.assert_allclose(seg, load_quietly(path)[20000:28000], atol=1e-5)


# --- errors --------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(AudioNotFoundError, match="no such audio file") as err:
        load_audio(path)
    assert str(path) in str(err.value) and err.value.hint
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(AudioNotFoundError, match="nope.wav"):
        audio_info(path)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(AudioNotFoundError, match="is a directory") as err:
        load_audio(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_text_file_renamed_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my notes, not a recording\n" * 20)
    with pytest.raises(NotAudioError) as err:
        load_audio(path)
    assert str(path) in str(err.value) and "fix:" in str(err.value)
    with pytest.raises(NotAudioError, match="notes.wav"):
        audio_info(path)


def test_video_without_audio(tmp_path):
    path = video_only(tmp_path / "silent_film.mp4")
    with pytest.raises(NotAudioError, match="no audio stream") as err:
        load_audio(path)
    assert str(path) in str(err.value) and "video" in str(err.value)
    with pytest.raises(NotAudioError, match="no audio stream"):
        audio_info(path)


@pytest.mark.parametrize("keep", [30, 0.5], ids=["header-only", "half"])
def test_truncated_flac(tmp_path, keep):
    good = tmp_path / "good.flac"
    sf.write(good, chirp(16000), 16000)
    data = good.read_bytes()
    bad = tmp_path / "cut.flac"
    bad.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    with pytest.raises(NotAudioError, match="cut.flac"):
        load_audio(bad)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(NotAudioError, match="noise.mp3"):
        load_audio(path)


def test_truncated_mp3_warns(tmp_path):
    good = encode_pyav(tmp_path / "good.mp3", chirp(44100), 44100, "libmp3lame")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.warns(TruncatedAudioWarning, match="cut.mp3"):
        y = load_audio(cut)
    assert 0.5 * 16000 < len(y) < 1.5 * 16000


def test_empty_inputs(tmp_path):
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="0 bytes") as err:
        load_audio(zero_bytes)
    assert str(zero_bytes) in str(err.value)

    no_frames = tmp_path / "noframes.wav"
    sf.write(no_frames, np.zeros(0, np.float32), 16000)
    with pytest.raises(EmptyAudioError, match="noframes.wav: no audio samples"):
        load_audio(no_frames)


def test_offsets_that_select_nothing(two_tones, tmp_path):
    wav, _ = two_tones
    with pytest.raises(EmptyAudioError, match="selects nothing"):
        load_audio(wav, start=1.0, end=1.0)
    with pytest.raises(EmptyAudioError, match="selects nothing"):
        load_audio(wav, start=1.5, end=0.5)
    with pytest.raises(EmptyAudioError, match=r"two16k.wav: start=3 s is beyond the end of the file \(2.000 s long\)"):
        load_audio(wav, start=3.0)
    mkv = encode_pyav(tmp_path / "v.mkv", tone(440, 16000, 1.0), 16000, "flac", video="mpeg4")
    with pytest.raises(EmptyAudioError, match="v.mkv: start=2 s is beyond the end"):
        load_audio(mkv, start=2.0, end=3.0)
    with pytest.raises(ValueError, match="start must be >= 0"):
        load_audio(wav, start=-1.0)
    with pytest.raises(ValueError, match="positive sample rate"):
        load_audio(wav, sr=0)


def test_nan_samples(tmp_path):
    all_nan = tmp_path / "nan.wav"
    sf.write(all_nan, np.full(1600, np.nan, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(InvalidSamplesError, match="all 1600 samples are NaN or Inf") as err:
        load_audio(all_nan)
    assert str(all_nan) in str(err.value)

    x = tone(440, 16000, 1.0)
    x[100], x[200] = np.nan, np.inf
    some_nan = tmp_path / "some.wav"
    sf.write(some_nan, x, 16000, subtype="FLOAT")
    with pytest.warns(NonFiniteSamplesWarning, match="2 of 16000 samples"):
        y = load_audio(some_nan)
    assert np.all(np.isfinite(y)) and y[100] == 0 and y[200] == 0
    assert y[300] == x[300]


def test_too_short(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, tone(440, 16000, 0.5), 16000)
    with pytest.raises(AudioTooShortError, match=r"short.wav: 0.500 s long, shorter than the minimum of 1 s"):
        load_audio(path, min_duration=1.0)
    assert len(load_quietly(path, min_duration=0.5)) == 8000


# --- warnings ------------------------------------------------------------------------------------
def test_clipping_warning(tmp_path):
    path = tmp_path / "loud.wav"
    sf.write(path, np.clip(tone(440, 16000, 1.0, amp=1.5), -1, 1), 16000, subtype="FLOAT")
    with pytest.warns(ClippingWarning, match="loud.wav: .* clipped"):
        load_audio(path)
    # a few clipped samples stay below the default 0.1 % threshold, unless it is lowered
    x = tone(440, 16000, 1.0)
    x[:10] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioWarning)
        validate_audio(x, 16000)
    with pytest.warns(ClippingWarning, match="10 of 16000"):
        validate_audio(x, 16000, clip_fraction=1e-4)


def test_silence_warning():
    assert issubclass(QuietAudioWarning, AudioWarning) and issubclass(AudioWarning, UserWarning)
    with pytest.warns(QuietAudioWarning, match="digital silence"):
        validate_audio(np.zeros(16000, np.float32), 16000, path="zeros.wav")
    quiet = tone(440, 16000, 1.0, amp=10 ** (-70 / 20) * np.sqrt(2))  # -70 dBFS RMS
    assert loudest_dbfs(quiet, 16000) == pytest.approx(-70, abs=0.1)
    with pytest.warns(QuietAudioWarning, match="-70.0 dBFS"):
        validate_audio(quiet, 16000)
    soft = tone(440, 16000, 1.0, amp=10 ** (-50 / 20) * np.sqrt(2))  # -50 dBFS: soft but fine
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioWarning)
        validate_audio(soft, 16000)


def test_validate_audio_rejects_bad_arrays():
    with pytest.raises(EmptyAudioError, match="<array>: no audio samples"):
        validate_audio(np.zeros(0, np.float32), 16000)
    with pytest.raises(ValueError, match="1-D"):
        validate_audio(np.zeros((2, 100), np.float32), 16000)
    with pytest.raises(AudioTooShortError, match="x.wav"):
        validate_audio(np.ones(100, np.float32) * 0.1, 16000, path="x.wav", min_duration=0.1)



def test_validate_audio_warnings_point_at_its_caller():
    # the checks live in helpers; every warning is still attributed to the code that called validate_audio
    x = tone(440, 16000, 1.0, amp=1.5).clip(-1, 1)
    x[5] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        validate_audio(x, 16000, path="c.wav")
        validate_audio(np.zeros(1600, np.float32), 16000, path="z.wav")
    assert [type(w.message) for w in caught] == [NonFiniteSamplesWarning, ClippingWarning, QuietAudioWarning]
    assert {Path(w.filename).name for w in caught} == {Path(__file__).name}

# --- real clips ----------------------------------------------------------------------------------
def test_ravdess_fixture_clip():
    info = audio_info(RAVDESS_CLIP)
    assert (info.sample_rate, info.channels) == (16000, 1)
    y = load_quietly(RAVDESS_CLIP)
    assert len(y) == info.frames
    assert 2.5 < len(y) / 16000 < 5.0
    assert -40 < loudest_dbfs(y, 16000) < 0  # angry speech: loud, not silent, not clipped
    y8 = load_quietly(RAVDESS_CLIP, sr=8000)
    assert abs(len(y8) - len(y) / 2) <= 1


def test_fixture_manifest_matches_the_files(test_data):
    utts = read_manifest(test_data / "fixtures.jsonl")
    assert len(utts) == 20
    assert {u.label for u in utts} == {"neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"}
    for u in utts:
        path = u.audio_path(test_data)
        assert path.is_file()
        assert u.duration == pytest.approx(audio_info(path).duration, abs=1e-5)
        assert u.gender == ("M" if int(u.speaker) % 2 else "F")


@pytest.mark.shared
def test_shared_corpus_opus_and_flac(shared_data):
    """The Ogg/Opus corpora decode at their 16 kHz header rate, to exactly the header's length."""
    for path in [next((shared_data / "nemo" / "samples").glob("*.opus")),
                 shared_data / "ravdess" / "Actor_20" / "03-01-06-01-01-02-20.flac"]:
        info = audio_info(path)
        assert (info.sample_rate, info.channels) == (16000, 1)
        y = load_quietly(path)
        assert len(y) == info.frames
        assert loudest_dbfs(y, 16000) > -55


@pytest.mark.parametrize("suffix", [".flac", ".mp3", ".ogg"])
def test_text_file_with_an_audio_extension_is_not_audio(tmp_path, suffix):
    bad = tmp_path / f"notes{suffix}"
    bad.write_text("hello")
    with pytest.raises(NotAudioError, match="notes"):
        load_audio(bad)
