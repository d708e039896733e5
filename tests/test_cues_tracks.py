"""Frame tracks: pitch (piptrack parity with librosa, known tones, real voices) and intensity."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from spokenemo.core.errors import ConfigError
from spokenemo.features.cues import (
    CueExtractionConfig,
    compute_tracks,
    extract_cues,
    frame_rms,
    piptrack_pitch,
    stft_magnitude,
)

SR = 16000
RAVDESS = Path(__file__).parent / "data" / "ravdess"


def harmonic_tone(f0: float, dur: float, amp: float = 0.3, harmonics: int = 4) -> np.ndarray:
    """A voice-like tone: f0 and harmonics with amplitudes amp/k."""
    t = np.arange(int(dur * SR)) / SR
    return sum(amp / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, harmonics + 1)).astype(np.float32)


def clips(actors: tuple[str, ...]) -> list[Path]:
    files = sorted(p for a in actors for p in (RAVDESS / f"Actor_{a}").glob("*.flac"))
    if not files:
        pytest.skip(f"RAVDESS fixtures missing under {RAVDESS}")
    return files


def librosa_strongest(y: np.ndarray, fmin: float, fmax: float, S: np.ndarray | None = None) -> np.ndarray:
    """The reference: librosa.piptrack, then the pitch of the largest-magnitude bin per frame."""
    if S is None:
        S = np.abs(librosa.stft(y, n_fft=1024, hop_length=160))
    p, m = librosa.piptrack(S=S, sr=SR, n_fft=1024, hop_length=160, fmin=fmin, fmax=fmax)
    return p[m.argmax(axis=0), np.arange(p.shape[1])]


# --- pitch on synthetic tones --------------------------------------------------------------------
@pytest.mark.parametrize("harmonics", [1, 4])
def test_220_hz_tone_has_pitch_220_within_2_percent(harmonics):
    cues = extract_cues(harmonic_tone(220.0, 2.0, harmonics=harmonics))
    assert cues.coarse["pitch"] == pytest.approx(220.0, rel=0.02)


@pytest.mark.parametrize("f0", [80.0, 110.0, 300.0, 550.0])
def test_pitch_of_tones_across_the_default_range(f0):
    assert extract_cues(harmonic_tone(f0, 1.5)).coarse["pitch"] == pytest.approx(f0, rel=0.02)


def test_tone_outside_the_range_has_no_pitch():
    # 1500 Hz is above fmax 600: no piptrack candidate, every frame unvoiced, pitch 0
    tracks = compute_tracks(harmonic_tone(1500.0, 1.0, harmonics=1))
    assert not tracks.voiced.any()
    assert extract_cues(harmonic_tone(1500.0, 1.0, harmonics=1)).coarse["pitch"] == 0.0


def test_librosa_range_option_misses_a_low_voice():
    low = harmonic_tone(100.0, 1.5)
    assert extract_cues(low).coarse["pitch"] == pytest.approx(100.0, rel=0.02)
    # 150-4000 Hz (librosa's default): the 100 Hz fundamental is out of range, a harmonic is found
    literal = extract_cues(low, CueExtractionConfig.librosa_range()).coarse["pitch"]
    assert literal >= 150.0


def test_silent_frames_are_unvoiced_with_the_gating_option():
    rng = np.random.default_rng(0)
    y = np.concatenate([1e-4 * rng.standard_normal(SR).astype(np.float32), harmonic_tone(220.0, 1.0)])
    gated = compute_tracks(y, CueExtractionConfig(gate_pitch_by_silence=True))
    assert not gated.voiced[:80].any()                       # the noise second is silent
    assert gated.voiced[110:190].all()
    raw = compute_tracks(y)                                  # the paper's rule: every piptrack pitch
    assert raw.voiced[:80].mean() > 0.5                      # piptrack finds "pitches" in noise
    assert raw.voiced[110:190].all()


# --- piptrack parity with librosa ------------------------------------------------------------------
def test_stft_magnitude_matches_librosa():
    y, _ = sf.read(clips(("01",))[0], dtype="float32")
    ours = stft_magnitude(y, 1024, 160)
    ref = np.abs(librosa.stft(y, n_fft=1024, hop_length=160)).T
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * ref.max())


@pytest.mark.parametrize(("fmin", "fmax"), [(65.0, 600.0), (150.0, 4000.0)])
def test_piptrack_pitch_equals_librosa_on_the_same_spectrogram(fmin, fmax):
    for path in clips(("01", "02"))[::2]:
        y, _ = sf.read(path, dtype="float32")
        S = np.abs(librosa.stft(y, n_fft=1024, hop_length=160))
        ours = piptrack_pitch(np.ascontiguousarray(S.T), sr=SR, n_fft=1024, fmin=fmin, fmax=fmax)
        np.testing.assert_array_equal(ours, librosa_strongest(y, fmin, fmax, S), err_msg=str(path))


def test_pitch_track_matches_librosa_end_to_end():
    # Own STFT (float32 FFT) vs librosa's (float64 FFT rounded to complex64): identical wherever
    # there is signal; only frames of (near) digital silence, at the -100 dB floor, may differ.
    cfg = CueExtractionConfig(gate_pitch_by_silence=False)
    same = total = 0
    for path in clips(("03", "04")):
        y, _ = sf.read(path, dtype="float32")
        tracks = compute_tracks(y, cfg)
        ref = librosa_strongest(y, 65.0, 600.0)
        audible = tracks.intensity_db > tracks.db_floor
        close = np.abs(tracks.pitch - ref) <= 1e-3 * np.maximum(ref, 1.0)
        assert close[tracks.sounding].all(), path
        same += int(close[audible].sum())
        total += int(audible.sum())
    assert same / total >= 0.999


def test_lowest_pick_takes_the_lowest_candidate():
    y, _ = sf.read(clips(("01",))[0], dtype="float32")
    S = np.ascontiguousarray(np.abs(librosa.stft(y, n_fft=1024, hop_length=160)).T)
    strongest = piptrack_pitch(S, sr=SR, n_fft=1024, fmin=65, fmax=600)
    lowest = piptrack_pitch(S, sr=SR, n_fft=1024, fmin=65, fmax=600, pick="lowest")
    both = (strongest > 0) & (lowest > 0)
    assert np.all(lowest[both] <= strongest[both] + 1e-3)
    assert np.array_equal(strongest > 0, lowest > 0)
    assert np.mean(lowest[both] < strongest[both] * 0.8) > 0.2   # often a harmonic was the strongest


# --- real voices -------------------------------------------------------------------------------
def median_voiced_pitch(paths: list[Path], cfg: CueExtractionConfig) -> float:
    values = []
    for path in paths:
        y, _ = sf.read(path, dtype="float32")
        tracks = compute_tracks(y, cfg)
        values.append(tracks.pitch[tracks.voiced])
    return float(np.median(np.concatenate(values)))


def test_lowest_pick_gives_plausible_male_and_female_pitch():
    cfg = CueExtractionConfig(pitch_pick="lowest", gate_pitch_by_silence=True)
    male = median_voiced_pitch(clips(("01", "03")), cfg)
    female = median_voiced_pitch(clips(("02", "04")), cfg)
    assert 85 <= male <= 180, male
    assert 160 <= female <= 300, female


def test_strongest_pick_reports_a_harmonic_of_the_f0():
    """The paper's rule (strongest bin below 600 Hz) mostly lands on a harmonic of F0 (octave errors).

    Per frame, the strongest-bin pitch is compared with the lowest-candidate pitch (close to F0,
    see the test above): in most voiced frames it is k times that, k = 1..5, within a semitone.
    """
    y, _ = sf.read(clips(("01",))[3], dtype="float32")
    S = stft_magnitude(y, 1024, 160)
    tracks = compute_tracks(y, CueExtractionConfig(gate_pitch_by_silence=True))
    strongest = piptrack_pitch(S, sr=SR, n_fft=1024, fmin=65, fmax=600)[tracks.voiced]
    lowest = piptrack_pitch(S, sr=SR, n_fft=1024, fmin=65, fmax=600, pick="lowest")[tracks.voiced]
    ratio = strongest / lowest
    near_harmonic = np.abs(12 * np.log2(ratio / np.clip(np.rint(ratio), 1, 5))) < 1.0
    assert near_harmonic.mean() > 0.8
    assert np.mean(np.rint(ratio) >= 2) > 0.3                # and often not on F0 itself


@pytest.mark.slow
def test_pyin_backend_gives_plausible_pitch_and_agrees_with_lowest_pick():
    male, female = clips(("01",))[0], clips(("02",))[0]
    pyin = CueExtractionConfig(pitch_backend="pyin")
    assert 85 <= median_voiced_pitch([male], pyin) <= 180
    assert 160 <= median_voiced_pitch([female], pyin) <= 300
    y, _ = sf.read(male, dtype="float32")
    f0 = compute_tracks(y, pyin)
    low = compute_tracks(y, CueExtractionConfig(pitch_pick="lowest", gate_pitch_by_silence=True))
    both = f0.voiced & low.voiced
    semitones = 12 * np.log2(low.pitch[both] / f0.pitch[both])
    assert np.mean(np.abs(semitones) < 1) > 0.4


@pytest.mark.slow
def test_praat_backend_on_a_tone():
    assert extract_cues(harmonic_tone(180.0, 1.0), CueExtractionConfig(pitch_backend="praat")).coarse["pitch"] == \
        pytest.approx(180.0, rel=0.02)


# --- intensity -------------------------------------------------------------------------------------
def test_tone_20_db_louder_has_intensity_plus_20_db():
    quiet, loud = harmonic_tone(220.0, 2.0, amp=0.03), harmonic_tone(220.0, 2.0, amp=0.3)
    a, b = extract_cues(quiet), extract_cues(loud)
    assert b.coarse["intensity"] - a.coarse["intensity"] == pytest.approx(20.0, abs=1e-3)
    ta, tb = compute_tracks(quiet), compute_tracks(loud)
    np.testing.assert_allclose(tb.intensity_db - ta.intensity_db, 20.0, atol=1e-3)


def test_intensity_is_rms_in_dbfs():
    # a full-scale sine has RMS 1/sqrt(2): -3.01 dBFS
    t = np.arange(SR) / SR
    assert extract_cues(np.sin(2 * np.pi * 440 * t)).coarse["intensity"] == pytest.approx(-3.0103, abs=1e-3)
    # digital silence is floored at db_floor
    assert extract_cues(np.zeros(SR)).coarse["intensity"] == pytest.approx(-100.0)


@pytest.mark.parametrize("n", [1, 159, 160, 1000, 16001])
def test_frame_rms_equals_librosa_rms(n):
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    ref = librosa.feature.rms(y=y, frame_length=1024, hop_length=160)[0]
    np.testing.assert_allclose(frame_rms(y, 1024, 160), ref, rtol=1e-5)


def test_sounding_frames_and_thresholds():
    y = np.concatenate([np.zeros(SR // 2, np.float32), harmonic_tone(220.0, 1.0), np.zeros(SR // 2, np.float32)])
    tracks = compute_tracks(y)
    assert tracks.n_frames == 1 + y.size // 160
    assert tracks.silence_db == pytest.approx(tracks.peak_db - 25.0)
    assert tracks.noise_db == pytest.approx(-100.0)        # the 5th percentile is digital silence
    sounding_s = tracks.sounding.sum() * tracks.frame_period
    assert 1.0 <= sounding_s <= 1.0 + 1024 / SR + 0.02      # the tone plus at most one frame length


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="fmax"):
        CueExtractionConfig.from_options({"fmin": 600, "fmax": 65})
    with pytest.raises(ConfigError, match="n_segments"):
        CueExtractionConfig.from_options({"n_segments": [0]})
    with pytest.raises(ConfigError, match="pitch_backnd"):
        CueExtractionConfig.from_options({"pitch_backnd": "pyin"})


def test_signal_must_be_mono():
    with pytest.raises(ValueError, match="mono"):
        extract_cues(np.zeros((2, 100), np.float32))
