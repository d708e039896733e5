"""Cue tables from manifests: rows, errors, resume after an interruption, process pool, Dask."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from spokenemo.core.errors import ConfigError
from spokenemo.data.manifest import Segment, read_manifest, write_manifest
from spokenemo.features.cues import (
    CueExtractionConfig,
    CueTablePaths,
    extract_cues,
    extract_manifest,
    load_for_cues,
    read_cue_table,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture
def manifest(tmp_path) -> Path:
    """Six real clips (absolute paths), a missing file and a text file posing as audio."""
    fixtures = DATA / "fixtures.jsonl"
    if not fixtures.is_file():
        pytest.skip(f"{fixtures} missing")
    utts = read_manifest(fixtures)[:6]
    for u in utts:
        u.path = str(u.audio_path(DATA))
    bogus = tmp_path / "not_audio.wav"
    bogus.write_text("this is not audio")
    utts.insert(2, Segment(key="broken/missing", path=str(tmp_path / "missing.flac"), label="sad", speaker="x"))
    utts.append(Segment(key="broken/text", path=str(bogus), label="sad", speaker="x"))
    path = tmp_path / "m.jsonl"
    write_manifest(path, utts)
    return path


def table_bytes(paths: CueTablePaths) -> tuple[list[dict], str]:
    return pq.read_table(paths.parquet).to_pylist(), paths.jsonl.read_text()


def test_table_rows_values_and_order(manifest, tmp_path):
    summary = extract_manifest(manifest, tmp_path / "out" / "cues.parquet", progress=False)
    utts = read_manifest(manifest)
    rows = read_cue_table(summary.paths.parquet)
    good = [u for u in utts if not u.key.startswith("broken/")]
    assert [r["key"] for r in rows] == [u.key for u in good]          # manifest order, failures left out
    assert summary.total == 8 and summary.done == 6 and summary.computed == 6
    first = rows[0]
    for column in ("key", "path", "label", "speaker", "gender", "corpus", "pitch", "intensity", "speech_rate",
                   "articulation_rate", "syllables", "phonation_time", "duration", "pitch_seg_7",
                   "intensity_seg_7", "warnings"):
        assert column in first
    assert first["label"] == good[0].label and first["speaker"] == good[0].speaker
    # the row holds exactly what extract_cues computes for the file
    expected = extract_cues(load_for_cues(good[0].path)).to_row()
    for name, value in expected.items():
        assert first[name] == pytest.approx(value), name
    assert read_cue_table(summary.paths.jsonl) == rows                 # JSONL and Parquet agree


def test_errors_are_recorded_with_their_typed_reason(manifest, tmp_path):
    summary = extract_manifest(manifest, tmp_path / "t.parquet", progress=False)
    errors = [json.loads(line) for line in summary.paths.errors.read_text().splitlines()]
    by_key = {e["key"]: e for e in errors}
    assert set(by_key) == {"broken/missing", "broken/text"}
    assert by_key["broken/missing"]["error"] == "AudioNotFoundError"
    assert "missing.flac" in by_key["broken/missing"]["message"]
    assert by_key["broken/text"]["error"] == "NotAudioError"
    assert "not_audio.wav" in by_key["broken/text"]["message"]
    assert summary.errors == errors


class Interrupt(KeyboardInterrupt):
    pass


def test_interrupted_run_resumes_to_identical_output(manifest, tmp_path):
    reference = extract_manifest(manifest, tmp_path / "ref.parquet", progress=False)
    out = tmp_path / "resumed.parquet"
    seen = []

    def stop_after_three(result):
        seen.append(result["key"])
        if len(seen) == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        extract_manifest(manifest, out, progress=False, chunk_size=1, on_result=stop_after_three)
    paths = CueTablePaths.for_output(out)
    assert not paths.parquet.exists() and not paths.jsonl.exists()   # nothing half-written
    journal = [json.loads(line) for line in paths.part.read_text().splitlines()]
    assert [r["key"] for r in journal] == [k for k in seen if not k.startswith("broken/")]
    # a crash mid-append leaves a torn last line: it is ignored
    with open(paths.part, "a") as fh:
        fh.write('{"key": "torn')

    again = extract_manifest(manifest, out, progress=False)
    assert again.computed == 6 - len(journal)
    assert again.done == 6
    assert not paths.part.exists()
    assert table_bytes(paths) == table_bytes(reference.paths)
    assert paths.parquet.read_bytes() == reference.paths.parquet.read_bytes()
    keys = [r["key"] for r in read_cue_table(paths.jsonl)]
    assert len(keys) == len(set(keys))                                 # no duplicates

    third = extract_manifest(manifest, out, progress=False)          # finished: nothing to do
    assert third.computed == 0 and table_bytes(paths) == table_bytes(reference.paths)


def test_new_manifest_rows_are_added_and_changed_sources_recomputed(manifest, tmp_path):
    out = tmp_path / "grow.parquet"
    utts = read_manifest(manifest)
    extract_manifest(utts[:3], out, progress=False)
    utts[0].start, utts[0].end = 0.5, 2.5                              # a different segment of the file
    summary = extract_manifest(utts, out, progress=False)
    assert summary.computed == 5              # utts[:3] held 2 good clips: 4 new ones + the changed one
    row = read_cue_table(out)[0]
    assert row["start"] == 0.5 and row["duration"] == pytest.approx(2.0)


def test_other_settings_refuse_to_resume_unless_restarted(manifest, tmp_path):
    out = tmp_path / "s.parquet"
    extract_manifest(manifest, out, progress=False)
    other = CueExtractionConfig(n_segments=(5,))
    with pytest.raises(ConfigError, match="other settings"):
        extract_manifest(manifest, out, config=other, progress=False)
    summary = extract_manifest(manifest, out, config=other, progress=False, restart=True)
    assert summary.computed == 6
    assert "pitch_seg_5" in read_cue_table(out)[0] and "pitch_seg_7" not in read_cue_table(out)[0]


def test_bad_inputs(tmp_path):
    with pytest.raises(ConfigError, match="no audio path"):
        extract_manifest([Segment(key="t", text="hi")], tmp_path / "x.parquet", progress=False)
    with pytest.raises(ConfigError, match="unknown executor"):
        extract_manifest([], tmp_path / "x.parquet", executor="slurm", progress=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="scheduler"):
        extract_manifest([Segment(key="t", path="a.wav")], tmp_path / "y.parquet", executor="dask",
                         progress=False)
    with pytest.raises(ConfigError, match="cue table not found"):
        read_cue_table(tmp_path / "none.parquet")


def test_folder_output(manifest, tmp_path):
    summary = extract_manifest(manifest, tmp_path / "folder", progress=False)
    assert summary.paths.parquet == tmp_path / "folder" / "cues.parquet"
    assert len(read_cue_table(tmp_path / "folder")) == 6


@pytest.mark.slow
def test_process_pool_gives_the_same_table(manifest, tmp_path):
    one = extract_manifest(manifest, tmp_path / "one.parquet", progress=False)
    two = extract_manifest(manifest, tmp_path / "two.parquet", workers=2, chunk_size=2, progress=False)
    assert two.computed == 6 and len(two.errors) == 2
    assert table_bytes(one.paths) == table_bytes(two.paths)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_table(manifest, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    one = extract_manifest(manifest, tmp_path / "one.parquet", progress=False)
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        by_client = extract_manifest(manifest, tmp_path / "dask.parquet", executor="dask", scheduler=client,
                                     chunk_size=2, progress=False)
        by_address = extract_manifest(manifest, tmp_path / "addr.parquet", executor="dask",
                                      scheduler=cluster.scheduler_address, progress=False)
    assert by_client.computed == 6 and len(by_client.errors) == 2
    assert table_bytes(one.paths) == table_bytes(by_client.paths) == table_bytes(by_address.paths)


def test_cue_values_are_plain_json_numbers(manifest, tmp_path):
    summary = extract_manifest(manifest, tmp_path / "j.parquet", progress=False)
    line = json.loads(summary.paths.jsonl.read_text().splitlines()[0])
    assert isinstance(line["pitch"], float) and isinstance(line["syllables"], int)
    assert all(isinstance(v, float) for v in line["pitch_seg_7"])
    assert np.isfinite(line["intensity"])
