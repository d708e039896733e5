"""The per-utterance feature cache: resume, failures recorded and retried, cue vectors."""

from __future__ import annotations

import pytest

from spokenemo.core.errors import EmptyAudioError, SpokenemoError
from spokenemo.data.manifest import Segment
from spokenemo.features.cue_vectors import cue_vector, segment_counts
from spokenemo.features.egemaps import FeatureStore


def _utts(n: int) -> list[Segment]:
    return [Segment(key=f"c/s/{i}", path=f"/audio/{i}.wav", label="sad", speaker="s", corpus="c")
            for i in range(n)]


def test_store_computes_once_and_resumes(tmp_path):
    calls: list[str] = []

    def fn(u):
        calls.append(u.key)
        return {"x": float(len(calls))}

    utts = _utts(3)
    first = FeatureStore(tmp_path, "toy", "abc").compute(utts[:2], fn)
    assert first == {"c/s/0": {"x": 1.0}, "c/s/1": {"x": 2.0}}
    # a new store (another run) reads the file and computes only the new utterance
    second = FeatureStore(tmp_path, "toy", "abc").compute(utts, fn)
    assert calls == ["c/s/0", "c/s/1", "c/s/2"] and second["c/s/2"] == {"x": 3.0}
    # another fingerprint is another file: nothing is reused
    FeatureStore(tmp_path, "toy", "other").compute(utts[:1], fn)
    assert calls[-1] == "c/s/0"
    # a changed audio path invalidates that utterance only
    moved = [utts[0].model_copy(update={"path": "/elsewhere/0.wav"}), utts[1]]
    FeatureStore(tmp_path, "toy", "abc").compute(moved, fn)
    assert calls[-1] == "c/s/0" and len(calls) == 5


def test_store_records_failures_and_retries_them(tmp_path):
    fail = {"c/s/1"}

    def fn(u):
        if u.key in fail:
            raise EmptyAudioError(u.path, "no samples")
        return {"x": 1.0}

    store = FeatureStore(tmp_path, "toy", "abc")
    out = store.compute(_utts(2), fn)
    assert out["c/s/1"] is None and "EmptyAudioError" in store.failure("c/s/1")
    fail.clear()
    again = FeatureStore(tmp_path, "toy", "abc")
    assert again.failure("c/s/1") is not None
    assert again.compute(_utts(2), fn)["c/s/1"] == {"x": 1.0}
    assert FeatureStore(tmp_path, "toy", "abc").failure("c/s/1") is None  # the later line wins


def test_store_survives_a_torn_last_line(tmp_path):
    store = FeatureStore(tmp_path, "toy", "abc")
    store.compute(_utts(1), lambda u: {"x": 2.0})
    with open(store.path, "a", encoding="utf-8") as fh:
        fh.write('{"key": "c/s/1", "sou')  # killed mid-write
    calls = []
    out = FeatureStore(tmp_path, "toy", "abc").compute(_utts(2), lambda u: calls.append(u.key) or {"x": 3.0})
    assert out["c/s/0"] == {"x": 2.0} and calls == ["c/s/1"]


def test_cue_vector_order_and_missing_segments():
    row = {"pitch": 180.0, "intensity": -25.0, "speech_rate": 3.0, "articulation_rate": 4.5,
           "pitch_seg_3": [0.0, 0.5, 1.0], "intensity_seg_3": [0.2, 0.4, 0.6]}
    assert cue_vector(row, coarse=True, fine=False) == [180.0, -25.0, 3.0, 4.5]
    assert cue_vector(row, coarse=False, fine=True, n=3) == [0.0, 0.5, 1.0, 0.2, 0.4, 0.6]
    with pytest.raises(SpokenemoError, match="no fine cues for n=7"):
        cue_vector(row, coarse=True, fine=True, n=7)


def test_segment_counts_cover_the_sweep():
    assert segment_counts(7) == (1, 3, 5, 7, 9)
    assert segment_counts(4, extra=[11]) == (1, 3, 4, 5, 7, 9, 11)
