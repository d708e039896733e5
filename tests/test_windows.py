"""Windows over long recordings: bounds in samples and seconds, last-window policies, array and
streamed readers that agree."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from spokenemo.audio import load_audio
from spokenemo.audio.windows import Window, iter_windows, sample_windows, stream_windows, windows
from spokenemo.core.errors import AudioNotFoundError

from fake_corpora import write_audio


def bounds(ws: list[Window]) -> list[tuple[int, int]]:
    return [(w.start, w.stop) for w in ws]


@pytest.mark.parametrize(("last", "expected"), [
    ("keep", [(0, 4), (3, 7), (6, 10)]),     # the last whole window already reaches the end
    ("drop", [(0, 4), (3, 7), (6, 10)]),
])
def test_overlapping_windows_that_fit(last, expected):
    assert bounds(sample_windows(10, 4, 3, last=last)) == expected


@pytest.mark.parametrize(("last", "expected"), [
    ("keep", [(0, 4), (4, 8), (8, 10)]),
    ("drop", [(0, 4), (4, 8)]),
    ("pad", [(0, 4), (4, 8), (8, 12)]),
    ("shift", [(0, 4), (4, 8), (6, 10)]),
])
def test_last_partial_window_policies(last, expected):
    ws = sample_windows(10, 4, last=last)
    assert bounds(ws) == expected
    assert [w.index for w in ws] == list(range(len(ws)))
    assert ws[-1].n_valid == min(ws[-1].stop, 10) - ws[-1].start


def test_short_signals_gaps_and_errors():
    assert bounds(sample_windows(3, 4, last="keep")) == [(0, 3)]
    assert bounds(sample_windows(3, 4, last="drop")) == []
    assert bounds(sample_windows(3, 4, last="shift")) == [(0, 3)]
    assert bounds(sample_windows(3, 4, last="pad")) == [(0, 4)] and sample_windows(3, 4, last="pad")[0].padded
    assert sample_windows(0, 4) == []
    assert bounds(sample_windows(9, 2, 4)) == [(0, 2), (4, 6), (8, 9)]  # hop > length leaves gaps
    with pytest.raises(ValueError, match="length and hop must be positive"):
        sample_windows(10, 0)
    with pytest.raises(ValueError, match="unknown last-window policy 'wrap'"):
        sample_windows(10, 4, last="wrap")  # type: ignore[arg-type]


def test_windows_in_seconds():
    ws = windows(2.5, 1.0, 0.5, sr=16000)
    assert bounds(ws) == [(0, 16000), (8000, 24000), (16000, 32000), (24000, 40000)]
    assert [(w.start_s, w.end_s) for w in ws][-1] == (1.5, 2.5) and ws[-1].length == 16000
    assert [round(w.end_s, 3) for w in windows(1.05, 0.5, sr=100, last="keep")] == [0.5, 1.0, 1.05]


def test_iter_windows_pads_with_zeros():
    x = np.arange(1, 11, dtype=np.float32)
    got = list(iter_windows(x, 1, 4, last="pad"))
    assert [w.n_valid for w, _ in got] == [4, 4, 2]
    np.testing.assert_array_equal(got[-1][1], [9, 10, 0, 0])
    np.testing.assert_array_equal(got[1][1], [5, 6, 7, 8])
    with pytest.raises(ValueError, match="1-D"):
        list(iter_windows(np.zeros((2, 3)), 1, 2))


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_streamed_windows_equal_windows_of_the_loaded_file(tmp_path, suffix):
    path = write_audio(tmp_path / f"long{suffix}", seconds=2.3)
    whole = load_audio(path)
    streamed = list(stream_windows(path, 1.0, 0.4, last="pad"))
    cut = list(iter_windows(whole, 16000, 1.0, 0.4, last="pad"))
    assert [w for w, _ in streamed] == [w for w, _ in cut] and len(streamed) == 5
    for (_, a), (_, b) in zip(streamed, cut, strict=True):
        np.testing.assert_array_equal(a, b)
    assert streamed[0][1].dtype == np.float32


def test_stereo_and_other_rates_fall_back_to_the_same_windows(tmp_path):
    rng = np.random.default_rng(0)
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, (rng.standard_normal((16000, 2)) * 0.1).astype(np.float32), 16000)
    w_stream = [x for _, x in stream_windows(stereo, 0.3)]
    w_array = [x for _, x in iter_windows(load_audio(stereo), 16000, 0.3)]
    assert len(w_stream) == 4 and all(np.array_equal(a, b) for a, b in zip(w_stream, w_array, strict=True))
    hi = write_audio(tmp_path / "48k.wav", seconds=1.0, sr=48000)  # resampled: read whole, then cut
    got = list(stream_windows(hi, 0.25, sr=16000))
    assert [w.length for w, _ in got] == [4000] * 4 and all(x.size == 4000 for _, x in got)
    with pytest.raises(AudioNotFoundError):
        list(stream_windows(tmp_path / "nope.wav", 1.0))
