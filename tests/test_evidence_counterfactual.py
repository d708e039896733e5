"""Counterfactual pairs on real clips (issue 15, item 7): change one property of a recording and the
measured cues and the explanation's words must move in the stated direction.

- pitch shifted by +-4 semitones (``librosa.effects.pitch_shift``): the pitch moves by about
  +-4 semitones and the text says "higher" / "lower" pitch;
- intensity scaled by 2 (+6.02 dB): the voice reads 6.0 dB louder and the text says "louder";
- time stretched to 0.8x / 1.25x the duration (Praat's overlap-add, which keeps pitch and level;
  librosa's phase vocoder smears the level dips the syllable counter needs): the faster copy reads
  faster than the slower copy; syllable counts on single clips vary by one, so this is asserted
  over the clips (85 % of pairs and the median), not per clip;
- the checker flags an explanation that contradicts the measurement.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from spokenemo.audio import load_audio
from spokenemo.core.lazy import optional_import
from spokenemo.features.evidence import Baseline, check_faithfulness, compare, explain, measure_cues

SR = 16000
PROBS = {"angry": 0.5, "happy": 0.3, "sad": 0.2}


@pytest.fixture(scope="module")
def clips(test_data):
    files = sorted((test_data / "ravdess").rglob("*.flac"))
    return [load_audio(f, sr=SR) for f in files]


def _against(y_original: np.ndarray, y_changed: np.ndarray):
    """Evidence of the changed copy against the original clip as baseline."""
    base = Baseline.from_measures([measure_cues(y_original)], source="reference", description="the original clip")
    return compare(measure_cues(y_changed), base)


@pytest.mark.parametrize("steps", [4, -4])
def test_pitch_shift_moves_the_pitch_and_flips_the_words(clips, steps):
    moved = []
    for y in clips[::4]:
        shifted = librosa.effects.pitch_shift(y, sr=SR, n_steps=steps)
        ev = _against(y, shifted)
        delta = ev.comparisons["pitch"].delta
        moved.append(delta)
        text = explain(ev, PROBS).text
        word = "higher" if steps > 0 else "lower"
        assert f"the pitch is {abs(delta):.1f} semitones {word}" in text, text
        assert check_faithfulness(text, ev).agreement == 1.0
    assert np.median(moved) == pytest.approx(steps, abs=0.6)
    assert all(abs(d - steps) < 1.6 for d in moved), moved


def test_a_louder_copy_reads_louder(clips):
    for y in clips[::3]:
        ev = _against(y, 2.0 * y)
        assert ev.comparisons["loudness"].delta == pytest.approx(6.02, abs=0.05)
        assert ev.comparisons["pitch"].direction == 0
        assert "the voice is 6.0 dB louder" in explain(ev, PROBS).text


def test_the_checker_flags_an_explanation_of_the_opposite_change(clips):
    y = clips[0]
    up = _against(y, librosa.effects.pitch_shift(y, sr=SR, n_steps=4))
    down = _against(y, librosa.effects.pitch_shift(y, sr=SR, n_steps=-4))
    quiet = _against(y, 0.5 * y)
    wrong = check_faithfulness(explain(up, PROBS).text, down)
    assert wrong.count("contradicts") >= 1 and wrong.agreement < 1.0
    assert check_faithfulness("The voice is louder and the pitch is higher.", quiet).count("contradicts") == 1


def _stretch(y: np.ndarray, factor: float) -> np.ndarray:
    parselmouth = optional_import("parselmouth")
    call = optional_import("parselmouth.praat").call
    snd = parselmouth.Sound(y.astype(np.float64), sampling_frequency=SR)
    return call(snd, "Lengthen (overlap-add)", 75, 600, factor).values[0].astype(np.float32)


def test_time_stretch_changes_the_rate_not_the_pitch_or_level(clips):
    faster, slower, pitch_moves = [], [], []
    for y in clips:
        fast, slow = _against(y, _stretch(y, 0.8)), _against(y, _stretch(y, 1.25))
        faster.append(fast.comparisons["speech_rate"].delta)
        slower.append(slow.comparisons["speech_rate"].delta)
        pitch_moves += [fast.comparisons["pitch"].delta, slow.comparisons["pitch"].delta]
        assert abs(fast.comparisons["loudness"].delta) < 0.5
    pairs = np.mean(np.array(faster) > np.array(slower))
    assert pairs >= 0.8, (faster, slower)
    assert np.median(faster) >= 5.0 and np.median(slower) <= -5.0
    assert np.mean(np.abs(pitch_moves) < 1.0) >= 0.9
