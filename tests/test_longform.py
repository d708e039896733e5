"""The labelled long-recording builder (data/longform.py) on the RAVDESS fixture clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spokenemo.audio import load_audio
from spokenemo.audio.speech import detect_speech
from spokenemo.data import read_manifest
from spokenemo.data.longform import (
    LongformError,
    LongformSpec,
    build_longform,
    read_rttm,
    trim_clip,
    trim_silence,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def clips():
    return read_manifest(DATA / "fixtures.jsonl")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0


def test_trim_silence_cuts_quiet_edges_only():
    x = np.concatenate([np.full(1600, 1e-4), np.full(3200, 0.5), np.full(800, 1e-4)]).astype(np.float32)
    y = trim_silence(x, 40.0)
    assert y.size == 3200 and np.all(y == 0.5)
    assert trim_silence(x, None) is x


def test_vad_trimming_keeps_the_speech_of_a_clip(clips):
    x = load_audio(DATA / clips[0].path)
    padded = np.concatenate([np.zeros(16000, np.float32), x, np.zeros(8000, np.float32)])
    found = detect_speech(padded, 16000)
    y = trim_clip(padded, LongformSpec(trim="vad"))
    assert y.size == round((found.segments[-1][1] + 0.05) * 16000) - round((found.segments[0][0] - 0.05) * 16000)
    assert y.size < x.size and _rms(y) > _rms(padded)
    assert trim_clip(padded, LongformSpec(trim=None)) is padded
    silent = np.zeros(16000, np.float32)
    assert trim_clip(silent, LongformSpec(trim="vad")).size == silent.size  # nothing found: energy fallback


def test_recordings_alternate_speakers_with_labelled_clips(clips, tmp_path):
    spec = LongformSpec(speakers=2, duration=30.0, turn_clips=(1, 2))
    built = build_longform(clips, tmp_path, n_recordings=2, spec=spec, seed=3, root=DATA)
    for rec in built:
        assert rec.duration >= 30.0
        assert len({t.speaker for t in rec.turns}) == 2
        assert all(b.start >= a.end for a, b in zip(rec.turns, rec.turns[1:], strict=False))
        # no more than turn_clips clips of one speaker in a row
        runs, run = [], 1
        for a, b in zip(rec.turns, rec.turns[1:], strict=False):
            run = run + 1 if a.speaker == b.speaker else 1
            runs.append(run)
        assert max(runs) <= 2
        x, sr = sf.read(rec.path, dtype="float32")
        assert sr == 16000 and x.size / sr == pytest.approx(rec.duration, abs=1e-3)
        for t in rec.turns:
            assert _rms(x[round(t.start * sr):round(t.end * sr)]) > 0.003  # speech where the labels say
        gaps = [x[round(a.end * sr) + 10:round(b.start * sr) - 10] for a, b in zip(rec.turns, rec.turns[1:], strict=False)]
        assert max(_rms(g) for g in gaps) == 0.0  # no noise asked: pauses are digital silence
        assert read_rttm(rec.rttm)[rec.name] == [t.__class__(t.start, t.end, t.speaker, t.label) for t in rec.turns]
    rows = read_manifest(tmp_path / "manifest.jsonl")
    assert len(rows) == sum(len(r.turns) for r in built)
    assert {r.extra["source"] for r in rows} <= {c.key for c in clips}
    first = built[0].turns[0]
    assert (rows[0].start, rows[0].end, rows[0].label, rows[0].path) == (first.start, first.end, first.label,
                                                                       "longform-000.flac")


def test_same_seed_same_bytes_other_seed_other_recording(clips, tmp_path):
    spec = LongformSpec(duration=15.0)
    a = build_longform(clips, tmp_path / "a", spec=spec, seed=7, root=DATA)[0]
    b = build_longform(clips, tmp_path / "b", spec=spec, seed=7, root=DATA)[0]
    c = build_longform(clips, tmp_path / "c", spec=spec, seed=8, root=DATA)[0]
    assert a.path.read_bytes() == b.path.read_bytes() and a.rttm.read_text() == b.rttm.read_text()
    assert a.rttm.read_text() != c.rttm.read_text()


def test_noise_is_laid_at_the_asked_snr(clips, tmp_path):
    rec = build_longform(clips, tmp_path, spec=LongformSpec(duration=20.0, noise_snr=15.0), seed=1, root=DATA)[0]
    x, sr = sf.read(rec.path, dtype="float32")
    gaps = np.concatenate([x[round(a.end * sr) + 10:round(b.start * sr) - 10]
                           for a, b in zip(rec.turns, rec.turns[1:], strict=False)])
    speech = np.concatenate([x[round(t.start * sr):round(t.end * sr)] for t in rec.turns])
    snr = 10 * np.log10((_rms(speech) ** 2 - _rms(gaps) ** 2) / _rms(gaps) ** 2)
    assert snr == pytest.approx(15.0, abs=3.0)


def test_bad_requests_are_refused(clips, tmp_path):
    one_speaker = [c for c in clips if c.speaker == "01"]
    with pytest.raises(LongformError, match="1 speaker"):
        build_longform(one_speaker, tmp_path, root=DATA)
    with pytest.raises(LongformError, match="unusable"):
        build_longform(clips, tmp_path, spec=LongformSpec(speakers=1), root=DATA)
    with pytest.raises(LongformError, match="unusable"):
        build_longform(clips, tmp_path, spec=LongformSpec(pause=(2.0, 1.0)), root=DATA)
    bad = tmp_path / "bad.rttm"
    bad.write_text("SPEAKER rec 1 0.0\n")
    with pytest.raises(LongformError, match="bad.rttm:1"):
        read_rttm(bad)
    with pytest.raises(LongformError, match="no such"):
        read_rttm(tmp_path / "none.rttm")
