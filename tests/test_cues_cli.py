"""``spokenemo cues`` and ``spokenemo thresholds``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from spokenemo.apps.cli import cli
from spokenemo.data.manifest import read_manifest, write_manifest
from spokenemo.features.cues import CueTablePaths, Thresholds, extract_manifest, read_cue_table

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
MALE = DATA / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.flac"
FEMALE = DATA / "ravdess" / "Actor_02" / "03-01-05-01-01-01-02.flac"


@pytest.fixture(autouse=True)
def _need_fixtures():
    if not MALE.is_file() or not FEMALE.is_file():
        pytest.skip("RAVDESS fixtures missing under tests/data/ravdess")


@pytest.fixture
def manifest(tmp_path) -> Path:
    utts = read_manifest(DATA / "fixtures.jsonl")
    for u in utts:
        u.path = str(u.audio_path(DATA))
    path = tmp_path / "m.jsonl"
    write_manifest(path, utts)
    return path


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cue_text_without_thresholds_shows_raw_values_and_a_note():
    result = run("cues", MALE)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Pitch: ") and " Hz. Intensity: " in lines[0] and "dBFS" in lines[0]
    assert lines[1].startswith("Pitch by segment: [") and len(lines) == 2
    assert "need thresholds" in result.stderr


def test_cue_text_with_thresholds_uses_words(tmp_path):
    th = Thresholds(medians={"pitch": 1000.0, "intensity": -90.0, "speech_rate": 0.1, "articulation_rate": 99.0})
    th.save(tmp_path / "t.json")
    result = run("cues", MALE, "--thresholds", tmp_path / "t.json")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Pitch: low. Intensity: strong. Speech rate: fast. Articulation rate: slow."
    assert "need thresholds" not in result.stderr


def test_several_files_json_and_segments():
    result = run("cues", MALE, FEMALE, "--json", "-n", "5", "--extended")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(MALE), str(FEMALE)]
    assert len(rows[0]["pitch_seg_5"]) == 5 and "hnr" in rows[0]


def test_plot_writes_a_png(tmp_path):
    result = run("cues", MALE, "--plot", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    png = (tmp_path / "p.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    run("cues", MALE, FEMALE, "--plot", tmp_path / "many.png")
    assert (tmp_path / f"many_{MALE.stem}.png").is_file() and (tmp_path / f"many_{FEMALE.stem}.png").is_file()


def test_batch_fit_and_apply(manifest, tmp_path):
    out = tmp_path / "cues.parquet"
    result = run("cues", "--manifest", manifest, "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "20/20 utterances" in result.stdout
    rows = read_cue_table(out)

    fold = {"name": "fold1", "protocol": "speaker-kfold", "train": [r["key"] for r in rows if r["speaker"] != "04"],
            "test": [r["key"] for r in rows if r["speaker"] == "04"]}
    (tmp_path / "fold1.json").write_text(json.dumps(fold))
    result = run("thresholds", "fit", out, "--fold", tmp_path / "fold1.json", "-o", tmp_path / "t.json")
    assert result.exit_code == 0, result.output
    th = Thresholds.load(tmp_path / "t.json")
    assert th.n_rows == 15 and th.info["fold"] == "fold1"
    train = [r for r in rows if r["speaker"] != "04"]
    assert th.medians == Thresholds.fit(train).medians

    keys = tmp_path / "keys.txt"
    keys.write_text("\n".join(fold["train"][:4] + ["no/such/key"]) + "\n")
    result = run("thresholds", "fit", out, "--train-keys", keys, "--speaker-relative", "-o", tmp_path / "t2.json")
    assert result.exit_code == 0, result.output
    assert "1 training key(s) have no row" in result.stderr
    assert Thresholds.load(tmp_path / "t2.json").speaker_relative

    shown = run("thresholds", "show", tmp_path / "t.json")
    assert "articulation_rate" in shown.stdout and "fast / slow" in shown.stdout
    applied = run("cues", MALE, "--thresholds", tmp_path / "t.json")
    assert applied.stdout.splitlines()[0].startswith("Pitch: ")
    assert "Hz" not in applied.stdout.splitlines()[0]


def test_errors_are_reported_without_traceback(tmp_path):
    result = CliRunner().invoke(cli, ["cues", str(tmp_path / "nope.wav")])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["cues", str(MALE), "--thresholds", str(tmp_path / "t.json")])
    assert result.exit_code == 2 and "thresholds file not found" in result.output
    result = CliRunner().invoke(cli, ["cues"])
    assert result.exit_code == 2 and "no input" in result.output
    result = CliRunner().invoke(cli, ["cues", "--manifest", str(tmp_path / "m.jsonl")])
    assert result.exit_code == 2 and "-o/--output" in result.output
    result = CliRunner().invoke(cli, ["cues", str(MALE), "--fmin", "700"])
    assert result.exit_code == 2 and "fmax" in result.output


def test_config_file(tmp_path):
    (tmp_path / "c.yaml").write_text("cues:\n  options:\n    n_segments: [3]\n    pitch_pick: lowest\n")
    result = run("cues", MALE, "--config", tmp_path / "c.yaml", "--json")
    row = json.loads(result.stdout)
    assert len(row["pitch_seg_3"]) == 3
    assert row["pitch"] < 200                          # the lowest candidate: a male F0


def _lines(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_batch_stops_cleanly_and_resumes(manifest, tmp_path, how):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM while two
    workers extract: one line on stderr, no worker tracebacks, and a rerun finishes the table."""
    out = tmp_path / "cues.parquet"
    paths = CueTablePaths.for_output(out)
    args = [sys.executable, "-m", "spokenemo", "cues", "--manifest", str(manifest), "-o", str(out),
            "--workers", "2", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    deadline = time.time() + 120
    while _lines(paths.part) < 1:                        # the first rows are saved
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no cue row in 120 s"
        time.sleep(0.02)
    signum = signal.SIGINT if how == "ctrl-c" else signal.SIGTERM
    if how == "ctrl-c":
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, (stdout, stderr)
    for bad in ("Traceback", "BrokenPipe", "leaked semaphore", "Aborted"):
        assert bad not in stderr, stderr
    saved = _lines(paths.part)
    assert re.fullmatch(r"interrupted: (\d+) of 20 done, rerun the same command to resume\n", stderr), stderr
    assert int(re.search(r"(\d+) of", stderr).group(1)) == saved and 1 <= saved < 20
    assert not paths.parquet.exists()                     # nothing half-written

    rerun = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"20/20 utterances ({20 - saved} computed now, {saved} reused)" in rerun.stdout
    reference = extract_manifest(manifest, tmp_path / "ref.parquet", progress=False)
    assert read_cue_table(out) == read_cue_table(reference.paths.parquet)
    assert paths.jsonl.read_text() == reference.paths.jsonl.read_text()
