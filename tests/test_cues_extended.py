"""Extended cues (ours): known answers on synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest

from spokenemo.features.cues import EXTENDED_CUES, CueExtractionConfig, extract_cues

SR = 16000
EXT = CueExtractionConfig(extended=True)
PRAAT = CueExtractionConfig(extended=True, voice_quality="praat")


def harmonic_tone(f0: float, dur: float, amp: float = 0.3, harmonics: int = 4) -> np.ndarray:
    t = np.arange(int(round(dur * SR))) / SR
    return sum(amp / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, harmonics + 1)).astype(np.float32)


def glide(f_start: float, f_end: float, dur: float) -> np.ndarray:
    t = np.arange(int(round(dur * SR))) / SR
    phase = 2 * np.pi * (f_start * t + (f_end - f_start) * t ** 2 / (2 * dur))
    return sum(0.3 / k * np.sin(k * phase) for k in range(1, 5)).astype(np.float32)


def cycle_train(periods: np.ndarray, amps: np.ndarray) -> np.ndarray:
    """Glottal-like cycles: one two-harmonic cycle per (period, amplitude)."""
    parts = [a * (np.sin(2 * np.pi * np.arange(p) / p) + 0.5 * np.sin(4 * np.pi * np.arange(p) / p))
             for p, a in zip(periods, amps, strict=True)]
    return np.concatenate(parts).astype(np.float32)


def silence(dur: float) -> np.ndarray:
    return np.zeros(int(round(dur * SR)), np.float32)


def test_extended_cues_are_off_by_default_and_complete_when_on():
    assert extract_cues(harmonic_tone(200.0, 1.0)).extended == {}
    ext = extract_cues(harmonic_tone(200.0, 1.0), EXT).extended
    assert tuple(ext) == EXTENDED_CUES


def test_pitch_range_and_variability():
    # a linear glide 120 -> 240 Hz: 5th/95th percentiles 126 and 234 Hz, 10.7 semitones apart
    ext = extract_cues(glide(120.0, 240.0, 3.0), EXT).extended
    assert ext["pitch_range"] == pytest.approx(12 * np.log2(234 / 126), abs=0.3)
    assert ext["pitch_variability"] > 2.5
    steady = extract_cues(harmonic_tone(200.0, 2.0), EXT).extended
    assert steady["pitch_range"] < 0.1 and steady["pitch_variability"] < 0.1


def test_intensity_variability_of_two_levels_20_db_apart():
    # half the frames at L, half at L - 20 dB: standard deviation 10 dB
    y = np.concatenate([harmonic_tone(200.0, 1.0), 0.1 * harmonic_tone(200.0, 1.0)])
    assert extract_cues(y, EXT).extended["intensity_variability"] == pytest.approx(10.0, abs=0.5)


def test_pauses_count_and_length():
    y = np.concatenate([harmonic_tone(200.0, 1.0), silence(0.5), harmonic_tone(200.0, 1.0), silence(0.1),
                        harmonic_tone(200.0, 0.5)])
    ext = extract_cues(y, EXT).extended
    assert ext["pause_count"] == 1                     # the 0.1 s gap is shorter than min_pause_s
    # frames (64 ms) that overlap the tone still sound: the pause looks 64 ms shorter
    assert ext["pause_length"] == pytest.approx(0.5 - 1024 / SR, abs=0.02)
    more = extract_cues(y, CueExtractionConfig(extended=True, min_pause_s=0.01)).extended
    assert more["pause_count"] == 2


@pytest.mark.parametrize("snr_db", [20.0, 10.0, 5.0])
def test_hnr_of_a_tone_in_white_noise_is_its_snr(snr_db):
    rng = np.random.default_rng(int(snr_db))
    tone = harmonic_tone(200.0, 2.0, harmonics=6)
    noise = rng.standard_normal(tone.size) * np.sqrt(np.mean(tone ** 2) / 10 ** (snr_db / 10))
    y = (tone + noise).astype(np.float32)
    assert extract_cues(y, EXT).extended["hnr"] == pytest.approx(snr_db, abs=1.0)
    assert extract_cues(y, PRAAT).extended["hnr"] == pytest.approx(snr_db, abs=1.5)


def test_shimmer_of_cycles_with_random_amplitudes():
    rng = np.random.default_rng(0)
    periods = np.full(250, 128)
    amps = 0.3 * (1 + 0.1 * rng.uniform(-1, 1, periods.size))
    expected = 100 * np.mean(np.abs(np.diff(amps))) / np.mean(amps)       # Praat's shimmer (local)
    assert extract_cues(cycle_train(periods, amps), EXT).extended["shimmer"] == pytest.approx(expected, rel=0.1)
    assert extract_cues(cycle_train(periods, amps), PRAAT).extended["shimmer"] == pytest.approx(expected, rel=0.15)
    steady = extract_cues(cycle_train(periods, np.full(periods.size, 0.3)), EXT).extended
    assert steady["shimmer"] < 0.1


def test_jitter_grows_with_period_perturbation():
    rng = np.random.default_rng(1)
    steady = cycle_train(np.full(250, 128), np.full(250, 0.3))
    periods = np.rint(128 * (1 + 0.03 * rng.uniform(-1, 1, 250))).astype(int)
    shaky = cycle_train(periods, np.full(250, 0.3))
    j_steady = extract_cues(steady, EXT).extended["jitter"]
    j_shaky = extract_cues(shaky, EXT).extended["jitter"]
    assert j_steady < 0.02 and j_shaky > 10 * j_steady
    # Praat's jitter (local) is close to the true cycle-to-cycle value
    expected = 100 * np.mean(np.abs(np.diff(periods))) / np.mean(periods)
    assert extract_cues(shaky, PRAAT).extended["jitter"] == pytest.approx(expected, rel=0.3)


def test_spectral_tilt():
    # white noise: energy per Hz is flat, so E[1-5 kHz] / E[50 Hz-1 kHz] = 4000 / 950
    rng = np.random.default_rng(2)
    white = (0.1 * rng.standard_normal(2 * SR)).astype(np.float32)
    assert extract_cues(white, EXT).extended["spectral_tilt"] == pytest.approx(10 * np.log10(4000 / 950), abs=0.3)
    # a 200 Hz tone with harmonics up to 800 Hz has (almost) nothing above 1 kHz: very steep
    assert extract_cues(harmonic_tone(200.0, 1.0), EXT).extended["spectral_tilt"] < -40


def test_extended_values_go_into_rows():
    row = extract_cues(harmonic_tone(200.0, 1.0), EXT).to_row()
    assert all(isinstance(row[c], float) for c in EXTENDED_CUES)
