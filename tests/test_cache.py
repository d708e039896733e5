"""core.cache: the fingerprinted, resumable per-item store (JSONL rows, arrays, tables)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from spokenemo.core.cache import (
    ArrayStore,
    JsonlLog,
    ResultStore,
    claim_fingerprint,
    fingerprint,
    read_rows,
    write_parquet,
)
from spokenemo.core.errors import ConfigError


def test_fingerprint_known_values():
    settings = {"set": "eGeMAPSv02", "level": "functionals", "sr": 16000}
    # the hash the eGeMAPS cache always used: existing cache files keep their names
    legacy = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]
    assert fingerprint(settings) == legacy
    assert fingerprint({"sr": 16000, "set": "eGeMAPSv02"}) == "c509f64a630a"
    assert fingerprint({"b": 1, "a": 2}) == fingerprint({"a": 2, "b": 1})      # key order does not matter
    assert fingerprint(settings, version="1") != fingerprint(settings, version="2") != fingerprint(settings)
    assert len(fingerprint(settings, length=20)) == 20


def test_log_survives_a_kill_mid_line(tmp_path):
    log = JsonlLog(tmp_path / "rows.jsonl")
    log.append({"key": "a", "v": 1})
    log.append({"key": "b", "v": 2})
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write('{"key": "c", "v"')                      # killed while writing the third line
    assert [r["key"] for r in JsonlLog(log.path).read()] == ["a", "b"]
    again = JsonlLog(log.path)
    again.append({"key": "c", "v": 3})                    # the torn line is cut off first
    assert log.path.read_text().splitlines() == ['{"key": "a", "v": 1}', '{"key": "b", "v": 2}',
                                                 '{"key": "c", "v": 3}']
    assert again.repair() is False


def test_corrupt_middle_line_is_a_clear_error(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n')
    with pytest.raises(ConfigError, match=r"a line before the last one is not JSON.*\n.*not a teacher cache"):
        JsonlLog(path, what="teacher cache").read()
    assert JsonlLog(tmp_path / "none.jsonl").read() == []


def test_result_store_resume_later_lines_win_and_errors_retried(tmp_path):
    store = ResultStore.at(tmp_path, "toy", "abc", value_field="features")
    assert store.path == tmp_path / "toy-abc.jsonl"
    store.put("a", {"x": 1.0}, source=("a.wav", None, None))
    store.put_error("b", "EmptyAudioError: no samples", source=("b.wav", None, None))
    with open(store.path, "a", encoding="utf-8") as fh:
        fh.write('{"key": "c", "featu')                   # killed mid-line
    again = ResultStore.at(tmp_path, "toy", "abc", value_field="features")
    assert again.get("a", ("a.wav", None, None)) == {"x": 1.0}    # a tuple source matches its JSON list
    assert again.get("a", ("moved.wav", None, None)) is None       # another source: recompute
    assert not again.has("b") and again.failure("b") == "EmptyAudioError: no samples"
    assert not again.has("c") and again.failure("c") is None and len(again) == 1
    again.put("b", {"x": 2.0}, source=("b.wav", None, None))      # the retry succeeds: its line wins
    third = ResultStore.at(tmp_path, "toy", "abc", value_field="features")
    assert third.get("b") == {"x": 2.0} and third.failure("b") is None
    rows = [json.loads(line) for line in store.path.read_text().splitlines()]
    assert rows[-1] == {"key": "b", "source": ["b.wav", None, None], "features": {"x": 2.0}}
    # changed settings: another fingerprint, another file, nothing reused
    other = ResultStore.at(tmp_path, "toy", fingerprint({"n": 2}), value_field="features")
    assert other.path != store.path and not other.has("a") and len(other) == 0


def test_array_store_round_trip_and_errors(tmp_path):
    store = ArrayStore.at(tmp_path, "pitch", "f00")
    track = np.linspace(0.0, 1.0, 7, dtype=np.float32)
    store.put("ravdess/01/a b", track, source=["a.wav", 0.0, 1.0])
    store.put_error("ravdess/01/c", {"error": "NotAudioError", "message": "c.wav: not audio"})
    again = ArrayStore(tmp_path / "pitch-f00")
    loaded = again.get("ravdess/01/a b", ["a.wav", 0.0, 1.0])
    assert loaded.dtype == np.float32 and np.array_equal(loaded, track)
    assert again.get("ravdess/01/a b", ["a.wav", 0.0, 2.0]) is None
    assert again.failure("ravdess/01/c")["error"] == "NotAudioError" and not again.has("ravdess/01/c")
    name = ArrayStore.file_name("ravdess/01/a b")
    assert name.startswith("ravdess_01_a_b-") and name.endswith(".npy") and "/" not in name
    assert ArrayStore.file_name("a/b") != ArrayStore.file_name("a_b")        # the hash keeps keys apart
    (again.folder / name).unlink()                                           # the file is gone: recompute
    assert not again.has("ravdess/01/a b") and again.get("ravdess/01/a b") is None


def test_claim_fingerprint_refuses_other_settings(tmp_path):
    sidecar = tmp_path / "out.settings.json"
    claim_fingerprint(sidecar, "aaa", {"n": 7}, resume=False, what="cue table")
    assert json.loads(sidecar.read_text()) == {"fingerprint": "aaa", "config": {"n": 7}}
    claim_fingerprint(sidecar, "aaa", {"n": 7}, resume=True)                # same settings: fine
    with pytest.raises(ConfigError, match="the cue table there was computed with other settings"):
        claim_fingerprint(sidecar, "bbb", {"n": 5}, resume=True, what="cue table")
    sidecar.unlink()
    with pytest.raises(ConfigError, match=r"or its out.settings.json is missing"):
        claim_fingerprint(sidecar, "aaa", resume=True)
    claim_fingerprint(sidecar, "bbb", {"n": 5}, resume=False)               # a fresh store: recorded
    assert json.loads(sidecar.read_text())["fingerprint"] == "bbb"


def test_tables(tmp_path):
    rows = [{"key": "a", "x": 1.5, "seg": [0.0, 1.0]}, {"key": "b", "x": None, "seg": [0.5, 0.5]}]
    write_parquet(tmp_path / "t.parquet", rows)
    assert read_rows(tmp_path / "t.parquet") == rows
    write_parquet(tmp_path / "empty.parquet", [], empty_columns=("key", "path"))
    assert read_rows(tmp_path / "empty.parquet") == []
    (tmp_path / "t.jsonl").write_text('{"key": "a"}\n{"key": "b"')
    assert read_rows(tmp_path / "t.jsonl") == [{"key": "a"}]
    with pytest.raises(ConfigError, match="cue table not found"):
        read_rows(tmp_path / "none.parquet", what="cue table")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ConfigError, match="not a readable Parquet file") as info:
        read_rows(tmp_path / "bad.parquet", hint="give another file")
    assert info.value.hint == "give another file"
