"""Syllable nuclei, speech rate, articulation rate and phonation time."""

from __future__ import annotations

import numpy as np
import pytest

from spokenemo.features.cues import CueExtractionConfig, analyse, extract_cues
from spokenemo.features.cues.syllables import intensity_peaks, select_nuclei

SR = 16000


def harmonic_tone(f0: float, dur: float, amp: float = 0.3, harmonics: int = 4) -> np.ndarray:
    t = np.arange(int(round(dur * SR))) / SR
    return sum(amp / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, harmonics + 1)).astype(np.float32)


def tone_bursts(rate: float, dur: float, burst: float = 0.1, f0: float = 200.0, harmonics: int = 4) -> np.ndarray:
    """Hann-shaped tone bursts every 1/rate seconds."""
    y = np.zeros(int(dur * SR), np.float32)
    b = harmonic_tone(f0, burst, harmonics=harmonics) * np.hanning(int(round(burst * SR))).astype(np.float32)
    for start in range(0, y.size - b.size, int(SR / rate)):
        y[start:start + b.size] += b
    return y


def clicks(rate: float, dur: float) -> np.ndarray:
    y = np.zeros(int(dur * SR), np.float32)
    y[::int(SR / rate)] = 0.9
    return y


@pytest.mark.parametrize("rate", [2.0, 4.0, 6.0])
def test_tone_bursts_give_their_rate(rate):
    cues = extract_cues(tone_bursts(rate, 5.0))
    assert cues.coarse["speech_rate"] == pytest.approx(rate, rel=0.10)
    assert cues.syllables == pytest.approx(rate * 5.0, rel=0.10)


@pytest.mark.parametrize("rate", [3.0, 4.0, 5.0])
def test_clicks_give_their_rate(rate):
    assert extract_cues(clicks(rate, 5.0)).coarse["speech_rate"] == pytest.approx(rate, rel=0.10)


def test_articulation_rate_excludes_pauses():
    # 8 bursts in 2 s, then 3 s of silence: the speech rate counts the pause, the articulation
    # rate does not
    y = np.concatenate([tone_bursts(4.0, 2.0), np.zeros(3 * SR, np.float32)])
    tracks, cues = analyse(y)
    assert cues.syllables == 8
    assert cues.coarse["speech_rate"] == pytest.approx(8 / 5.0)
    assert cues.coarse["articulation_rate"] == pytest.approx(8 / cues.phonation_time)
    # each 0.1 s burst sounds for about its length plus one frame (64 ms): 8 x ~0.16 s
    assert 8 * 0.1 <= cues.phonation_time <= 8 * (0.1 + 1024 / SR) + 0.02
    assert cues.phonation_time == pytest.approx(tracks.sounding.sum() * 0.01)


def test_steady_tone_has_no_syllables_and_full_phonation():
    cues = extract_cues(harmonic_tone(220.0, 2.0))
    assert cues.syllables == 0                     # no peak 20 dB above its own (steady) level
    assert cues.phonation_time == pytest.approx(2.0)
    assert cues.coarse["speech_rate"] == 0.0 and cues.coarse["articulation_rate"] == 0.0


def test_silence_has_zero_rates():
    cues = extract_cues(np.zeros(SR, np.float32))
    assert cues.syllables == 0 and cues.phonation_time == 0.0
    assert cues.coarse["articulation_rate"] == 0.0


def test_voiced_only_option_drops_unvoiced_nuclei():
    unvoiced = tone_bursts(4.0, 3.0, f0=1500.0, harmonics=1)    # no pitch below 600 Hz
    assert extract_cues(unvoiced).syllables == pytest.approx(12, abs=1)
    assert extract_cues(unvoiced, CueExtractionConfig(nuclei_voiced_only=True)).syllables == 0
    voiced = tone_bursts(4.0, 3.0)
    assert extract_cues(voiced, CueExtractionConfig(nuclei_voiced_only=True)).syllables == pytest.approx(12, abs=1)


def test_peaks_rule():
    level = np.array([0.0, 5.0, 5.0, 3.0, 4.0, 4.0, 6.0])
    # x[t] > x[t-1] and x[t] >= x[t+1]: the first frame of a plateau (also a shoulder, 4 at
    # index 4, which the dip rule then merges); a level still rising at the end is a peak
    peaks = intensity_peaks(level)
    assert peaks.tolist() == [1, 4, 6]
    assert select_nuclei(level, peaks, 2.0).tolist() == [1, 6]
    assert intensity_peaks(np.array([3.0, 1.0])).tolist() == [0]


def test_dip_rule_hand_computed():
    level = np.array([0.0, 10.0, 9.0, 10.0, 0.0, 10.0, 7.5, 9.0, 0.0])
    peaks = intensity_peaks(level)
    assert peaks.tolist() == [1, 3, 5, 7]
    # 10 -> 9 -> 10: a 1 dB dip, one nucleus (the first, equally loud, stays);
    # 10 -> 0 -> 10: kept; 10 -> 7.5 -> 9: dip 1.5 dB below the lower peak (9), merged
    assert select_nuclei(level, peaks, 2.0).tolist() == [1, 5]
    # with a 1 dB minimum dip every dip of >= 1 dB below the lower peak separates
    assert select_nuclei(level, peaks, 1.0).tolist() == [1, 3, 5, 7]


def test_dip_rule_keeps_the_louder_of_merged_peaks():
    level = np.array([0.0, 8.0, 7.5, 10.0, 0.0])
    assert select_nuclei(level, intensity_peaks(level), 2.0).tolist() == [3]


def test_nuclei_need_20_db_above_the_noise_level():
    rng = np.random.default_rng(1)
    noise = (0.01 * rng.standard_normal(5 * SR)).astype(np.float32)   # -40 dBFS noise
    weak = tone_bursts(4.0, 5.0) * 0.05 + noise    # bursts peak only ~10 dB above the noise
    strong = tone_bursts(4.0, 5.0) + noise          # ~35 dB above it
    assert extract_cues(weak).syllables == 0
    assert extract_cues(strong).coarse["speech_rate"] == pytest.approx(4.0, rel=0.10)
