"""Fine-grained cues: segments, window bounds, normalisation and every edge case of the spec."""

from __future__ import annotations

import numpy as np
import pytest

from spokenemo.features.cues import CueExtractionConfig, compute_tracks, extract_cues, fine_details
from spokenemo.features.cues.fine import normalise, segment_spans, span_frames, window_spans

SR = 16000


def harmonic_tone(f0: float, dur: float, amp: float = 0.3, harmonics: int = 4) -> np.ndarray:
    t = np.arange(int(round(dur * SR))) / SR
    return sum(amp / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, harmonics + 1)).astype(np.float32)


def glide(f_start: float, f_end: float, dur: float, amp: float = 0.3, harmonics: int = 4) -> np.ndarray:
    """A tone whose pitch rises linearly from f_start to f_end."""
    t = np.arange(int(round(dur * SR))) / SR
    phase = 2 * np.pi * (f_start * t + (f_end - f_start) * t ** 2 / (2 * dur))
    return sum(amp / k * np.sin(k * phase) for k in range(1, harmonics + 1)).astype(np.float32)


def test_rising_tone_gives_increasing_pitch_segments():
    fine = extract_cues(glide(120.0, 240.0, 3.5)).fine[7]
    assert len(fine.pitch) == 7
    assert all(b > a for a, b in zip(fine.pitch, fine.pitch[1:], strict=False))
    # 0.5 s segments coincide with the first and last 0.5 s windows: they are F_min and F_max
    assert fine.pitch[0] == pytest.approx(0.0, abs=0.02)
    assert fine.pitch[-1] == pytest.approx(1.0, abs=0.02)
    assert fine.intensity == pytest.approx((0.5,) * 7)           # steady level: flat


def test_crescendo_gives_increasing_intensity_segments():
    y = harmonic_tone(200.0, 3.5) * np.geomspace(0.1, 1.0, int(3.5 * SR)).astype(np.float32)   # +20 dB
    fine = extract_cues(y).fine[7]
    assert all(b > a for a, b in zip(fine.intensity, fine.intensity[1:], strict=False))


def test_silent_segment_is_zero():
    y = glide(120.0, 240.0, 3.5)
    y[int(1.0 * SR):int(1.5 * SR)] = 0.0                        # exactly segment 3 of 7
    fine = extract_cues(y).fine[7]
    assert fine.pitch[2] == 0.0 and fine.intensity[2] == 0.0
    assert all(v > 0 for i, v in enumerate(fine.intensity) if i != 2)
    assert all(v > 0 for i, v in enumerate(fine.pitch) if i not in (0, 2))


def test_segment_without_voiced_frame_has_pitch_zero_but_an_intensity():
    # the middle 0.5 s is a loud 1500 Hz tone: sounding, no pitch in 65-600 Hz
    y = np.concatenate([harmonic_tone(220.0, 1.5), harmonic_tone(1500.0, 0.5, amp=0.6, harmonics=1),
                        harmonic_tone(220.0, 1.5)])
    fine = extract_cues(y).fine[7]
    assert fine.pitch[3] == 0.0
    assert fine.intensity[3] == pytest.approx(1.0)
    assert all(v > 0.9 for i, v in enumerate(fine.pitch) if i != 3)


def test_flat_contour_gives_one_half():
    fine = extract_cues(harmonic_tone(220.0, 3.0)).fine[7]
    assert fine.pitch == pytest.approx((0.5,) * 7)
    assert fine.intensity == pytest.approx((0.5,) * 7)


def test_flat_contour_keeps_silent_segments_at_zero():
    y = harmonic_tone(220.0, 3.5)
    y[: SR // 2] = 0.0
    # The 3 frames before the onset hold a few samples of the tone; piptrack reads them 2-19 Hz
    # low, and the first window's pitch mean (those 3 voiced frames only) is 207 Hz, not 220 Hz.
    tracks = compute_tracks(y)
    details = fine_details(tracks, CueExtractionConfig(pitch_flat_eps_hz=15.0))[7]
    assert details.pitch_bounds == pytest.approx((207.4, 219.7), abs=0.1)
    assert details.silent.tolist() == [True] + [False] * 6
    assert details.cues.pitch[0] == 0.0
    assert details.cues.pitch[1:] == pytest.approx((0.5,) * 6)   # bounds within 15 Hz: flat
    strict = fine_details(tracks, CueExtractionConfig())[7]       # 1 Hz: not flat
    assert strict.cues.pitch[0] == 0.0 and min(strict.cues.pitch[1:]) > 0.9


def test_utterance_shorter_than_one_window_is_its_only_window():
    y = glide(150.0, 250.0, 0.3)
    tracks = compute_tracks(y)
    details = fine_details(tracks)[7]
    # one window = the whole utterance, so F_min = F_max and every sounding segment is 0.5
    assert details.pitch_bounds[0] == details.pitch_bounds[1]
    assert details.pitch_bounds[0] == pytest.approx(tracks.pitch[tracks.voiced].mean())
    assert details.cues.pitch == pytest.approx((0.5,) * 7)
    assert details.cues.intensity == pytest.approx((0.5,) * 7)


@pytest.mark.parametrize(("dur", "n"), [(0.02, 7), (0.02, 9), (0.05, 9), (0.011, 3)])
def test_fewer_frames_than_segments_still_gives_n_values(dur, n):
    y = harmonic_tone(220.0, dur)
    cues = extract_cues(y, CueExtractionConfig(n_segments=(n,)))
    tracks = compute_tracks(y)
    assert tracks.n_frames < n
    assert len(cues.fine[n].pitch) == n and len(cues.fine[n].intensity) == n
    assert all(0.0 <= v <= 1.0 for v in cues.fine[n].pitch + cues.fine[n].intensity)


def test_every_segment_count_from_one_set_of_tracks():
    cfg = CueExtractionConfig(n_segments=tuple(range(1, 10)))
    cues = extract_cues(glide(120.0, 240.0, 3.0), cfg)
    assert sorted(cues.fine) == list(range(1, 10))
    for n, fine in cues.fine.items():
        assert len(fine.pitch) == n == len(fine.intensity)
    assert cues.fine[1].pitch == pytest.approx((0.5,), abs=0.05)  # one segment: the utterance mean


def test_values_are_clipped_to_unit_interval():
    # 0.1 s segments are narrower than the 0.5 s windows: the segment holding a short loud burst
    # has a higher mean than any window (Eq. 3 gives > 1) and is clipped to 1
    y = harmonic_tone(220.0, 3.5, amp=0.05)
    y[int(1.70 * SR):int(1.80 * SR)] *= 20.0
    cues = extract_cues(y, CueExtractionConfig(n_segments=(35,)))
    values = np.array(cues.fine[35].intensity)
    assert values.max() == 1.0 and values.min() >= 0.0


# --- building blocks, hand-computed ---------------------------------------------------------------
def test_normalise_rules():
    bounds = np.array([100.0, 150.0, 200.0, np.nan])
    values = np.array([100.0, 150.0, 250.0, 90.0, np.nan, 150.0])
    silent = np.array([False, False, False, False, False, True])
    out = normalise(values, bounds, silent, eps=1.0)
    assert out.tolist() == [0.0, 0.5, 1.0, 0.0, 0.0, 0.0]
    flat = normalise(np.array([5.0, np.nan, 5.0]), np.array([5.0, 5.2]), np.array([False, False, True]), eps=0.5)
    assert flat.tolist() == [0.5, 0.0, 0.0]
    no_bounds = normalise(np.array([5.0]), np.array([np.nan]), np.array([False]), eps=0.5)
    assert no_bounds.tolist() == [0.5]


def test_segment_and_window_spans():
    s0, s1 = segment_spans(1000, 3)
    assert s0.tolist() == [0, 333, 667] and s1.tolist() == [333, 667, 1000]
    w0, w1 = window_spans(20000, 8000, 4000)
    assert w0.tolist() == [0, 4000, 8000, 12000] and w1.tolist() == [8000, 12000, 16000, 20000]
    w0, w1 = window_spans(5000, 8000, 4000)
    assert w0.tolist() == [0] and w1.tolist() == [5000]


def test_span_frames_centre_rule_and_empty_spans():
    # frames centred on 0, 160, 320, ...; span [100, 330) holds the centres 160 and 320
    f0, f1 = span_frames(np.array([100]), np.array([330]), 160, 10)
    assert (f0.tolist(), f1.tolist()) == ([1], [3])
    # a span holding no centre takes the frame nearest its middle
    f0, f1 = span_frames(np.array([10, 170]), np.array([150, 200]), 160, 3)
    assert (f0.tolist(), f1.tolist()) == ([0, 1], [1, 2])


def test_segment_means_hand_computed():
    # first half at amplitude a, second at a/10: segment means differ by 20 dB
    y = np.concatenate([harmonic_tone(200.0, 1.0), 0.1 * harmonic_tone(200.0, 1.0)])
    tracks = compute_tracks(y)
    details = fine_details(tracks, CueExtractionConfig(n_segments=(2,)))[2]
    frames = np.arange(tracks.n_frames)
    first = tracks.intensity_db[frames * 160 < SR].mean()
    second = tracks.intensity_db[frames * 160 >= SR].mean()
    assert details.intensity_means.tolist() == pytest.approx([first, second])
    assert first - second == pytest.approx(20.0, abs=1.0)    # frames across the step blur it a little
    energy = fine_details(tracks, CueExtractionConfig(n_segments=(2,), intensity_mean="energy"))[2]
    expected = 10 * np.log10(np.mean(tracks.rms[frames * 160 < SR] ** 2))
    assert energy.intensity_means[0] == pytest.approx(expected)


def test_skipping_silent_windows_widens_the_intensity_scale():
    y = np.concatenate([np.zeros(SR, np.float32), harmonic_tone(200.0, 2.0) * np.linspace(0.3, 1.0, 2 * SR)])
    y = y.astype(np.float32)
    literal = extract_cues(y, CueExtractionConfig(n_segments=(6,))).fine[6].intensity
    skipped = extract_cues(y, CueExtractionConfig(n_segments=(6,), bounds_skip_silent_windows=True)).fine[6].intensity
    assert literal[:2] == (0.0, 0.0) and skipped[:2] == (0.0, 0.0)
    # with the silent windows as F_min everything sounding is close to 1; without them it spreads
    assert min(literal[2:]) > 0.8
    assert min(skipped[2:]) < 0.3 and max(skipped[2:]) == pytest.approx(1.0, abs=0.05)
