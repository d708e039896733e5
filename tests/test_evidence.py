"""Cue evidence (features/evidence, api/evidence): known answers on synthetic signals, real clips,
typed errors, speed."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import soundfile as sf

from spokenemo.api.evidence import evidence_for_spans, measure_evidence, reference_baseline
from spokenemo.audio import load_audio
from spokenemo.core.errors import ConfigError
from spokenemo.features.evidence import Baseline, compare, explain, measure_cues, profile, profile_table

SR = 16000


def tone(f0: float, dur: float, amp: float = 0.1, harmonics: int = 4) -> np.ndarray:
    t = np.arange(int(round(dur * SR))) / SR
    return sum(amp / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, harmonics + 1)).astype(np.float32)


def glide(f_start: float, f_end: float, dur: float, amp: float = 0.1) -> np.ndarray:
    t = np.arange(int(round(dur * SR))) / SR
    phase = 2 * np.pi * (f_start * t + (f_end - f_start) * t ** 2 / (2 * dur))
    return sum(amp / k * np.sin(k * phase) for k in range(1, 5)).astype(np.float32)


def silence(dur: float) -> np.ndarray:
    return np.zeros(int(round(dur * SR)), np.float32)


def test_a_200_to_250_hz_glide_is_rising_by_3_9_semitones():
    m = measure_cues(glide(200.0, 250.0, 2.0))
    assert m.contour.shape == "rising"
    assert m.contour.change_st == pytest.approx(12 * math.log2(250 / 200), abs=0.3)   # 3.86
    text = explain(compare(m, None), {"happy": 0.6, "sad": 0.4}).text
    assert f"rises by {m.contour.change_st:.1f} semitones" in text


def test_falling_and_level_contours():
    assert measure_cues(glide(250.0, 200.0, 2.0)).contour.shape == "falling"
    level = measure_cues(tone(200.0, 2.0))
    assert level.contour.shape == "level" and abs(level.contour.change_st) < 0.2


def test_a_tone_6_db_louder_than_its_baseline_reads_plus_6_db():
    base = Baseline.from_measures([measure_cues(tone(200.0, 1.5, amp=0.05))], source="reference")
    ev = compare(measure_cues(tone(200.0, 1.5, amp=0.1)), base)
    loud = ev.comparisons["loudness"]
    assert loud.delta == pytest.approx(20 * math.log10(2), abs=0.05) and loud.direction == 1
    assert "the voice is 6.0 dB louder" in explain(ev, {"angry": 0.7, "sad": 0.3}).text
    assert ev.comparisons["pitch"].direction == 0                      # same tone, same pitch


def test_pitch_against_baseline_in_semitones():
    base = Baseline.from_measures([measure_cues(tone(200.0, 1.5))])
    ev = compare(measure_cues(tone(220.0, 1.5)), base)
    assert ev.comparisons["pitch"].delta == pytest.approx(12 * math.log2(1.1), abs=0.1)   # +1.65
    assert ev.comparisons["pitch"].direction == 1


def test_pauses_are_counted_inside_the_sounding_span_only():
    y = np.concatenate([silence(0.5), tone(200, 0.5), silence(0.3), tone(200, 0.5), silence(0.4), tone(200, 0.5),
                        silence(0.6)])
    m = measure_cues(y)
    assert m.values["pause_count"] == 2                                 # leading/trailing silence ignored
    assert m.values["pause_length"] == pytest.approx(0.35, abs=0.07)
    assert m.values["speech_rate"] > 0 and m.duration == pytest.approx(3.3)


def test_silence_and_too_short_signals_are_reported_not_raised():
    m = measure_cues(silence(1.0))
    assert all(v is None for v in m.values.values()) and m.missing["pitch"] == "silent"
    ev = compare(m, Baseline.training())
    assert any("silent" in n for n in ev.notes) and not ev.known()
    text = explain(ev, {"angry": 0.5, "sad": 0.5}).text
    assert "No cue could be compared" in text
    assert measure_cues(tone(200, 0.03)).missing["pitch"].startswith("too short")
    unvoiced = measure_cues(np.random.default_rng(0).normal(0, 0.05, SR).astype(np.float32))
    assert unvoiced.values["pitch"] is None and "voiced" in unvoiced.missing["pitch"]
    assert unvoiced.values["loudness"] is not None


def test_typed_errors_for_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="sample rate"):
        measure_evidence(tone(200, 1.0))
    with pytest.raises(ConfigError, match="mono"):
        measure_cues(np.zeros((2, 1000), np.float32))
    with pytest.raises(ConfigError, match="no audio files"):
        reference_baseline(tmp_path)
    with pytest.raises(ConfigError, match="not among"):
        explain(compare(measure_cues(tone(200, 1.0)), None), {"angry": 0.6, "sad": 0.4}, emotion="happy")
    with pytest.raises(ConfigError, match="baseline"):
        measure_evidence(tone(200, 1.0), sr=SR, baseline=42)


def test_evidence_for_spans_compares_each_span_with_the_others():
    y = np.concatenate([tone(200, 1.0), silence(0.5), tone(200, 1.0), silence(0.5), tone(200, 1.0), silence(0.5),
                        tone(252, 1.0, amp=0.2)])
    evs = evidence_for_spans(y, [(0.0, 1.0), (1.5, 2.5), (3.0, 4.0), (4.5, 5.5)], sr=SR)
    last = evs[3].comparisons
    assert last["pitch"].delta == pytest.approx(4.0, abs=0.2) and last["loudness"].delta == pytest.approx(6.0, abs=0.2)
    assert evs[0].comparisons["pitch"].direction == 0
    assert "3 segments" in evs[3].baseline.description


def test_profiles_table_has_sources_and_neutral_is_the_reference():
    rows = {r["emotion"]: r for r in profile_table()}
    assert rows["angry"]["loudness"] == "+" and rows["sad"]["speech_rate"] == "-"
    assert all(v == "." for k, v in rows["neutral"].items() if k not in ("emotion", "sources"))
    assert "JL03" in rows["sad"]["sources"]
    assert profile("anger").emotion == "angry" and profile("frustrated") is None


# --- real clips ----------------------------------------------------------------------------------
def test_real_clip_against_the_speakers_other_clips_is_fast_and_serialisable(test_data):
    folder = test_data / "ravdess" / "Actor_01"
    clip = folder / "03-01-05-01-02-01-01.flac"                          # angry, male
    y = load_audio(clip, sr=SR)
    measure_cues(y)                                                       # warm up
    t0 = time.process_time()
    m = measure_cues(y)
    cpu = time.process_time() - t0
    assert cpu < 0.5, f"{cpu:.2f} CPU s for {y.size / SR:.1f} s of audio"
    ev = measure_evidence(clip, reference=folder)
    assert ev.baseline.n == 4 and ev.baseline.source == "reference"       # the clip itself left out
    assert ev.comparisons["loudness"].direction == 1 and ev.comparisons["pitch"].direction == 1
    assert 100 < m.values["pitch"] < 250                                  # a male voice, raised
    json.dumps(explain(ev, {"angry": 0.6, "happy": 0.3, "sad": 0.1}).to_dict())


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_reference_of_another_speaker_or_of_silence_is_reported(test_data, tmp_path):
    male = test_data / "ravdess" / "Actor_01" / "03-01-01-01-01-01-01.flac"
    ev = measure_evidence(male, reference=test_data / "ravdess" / "Actor_02")
    assert any("another speaker" in n for n in ev.notes)
    sf.write(tmp_path / "quiet.wav", np.zeros(SR, np.float32), SR)
    ev = measure_evidence(male, reference=[tmp_path / "quiet.wav"])
    assert "1 silent clip left out" in ev.baseline.description
    assert any("no measurable cue" in n for n in ev.notes) and not ev.known()


def test_shared_clips_male_voices_are_not_reported_an_octave_up(shared_data):
    files = sorted((shared_data / "ravdess" / "Actor_05").glob("03-01-01-*.flac"))[:4]  # neutral, male
    pitches = [measure_cues(load_audio(f, sr=SR)).values["pitch"] for f in files]
    assert all(80 < p < 180 for p in pitches), pitches
