"""Kill `spokenemo teach` mid-run (SIGKILL, SIGINT), rerun it, and check that every utterance is
answered exactly once: no duplicates, no lost lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spokenemo.data.manifest import Segment, write_manifest
from spokenemo.systems.aecotd.teacher import load_teacher_outputs

from fault_server import FaultServer

pytestmark = pytest.mark.slow  # three `spokenemo teach` processes per case
N = 12
REPO = Path(__file__).resolve().parents[1]
CUES = "Pitch: high. Intensity: strong. Speech rate: fast. Articulation rate: fast."


def answer(request: dict) -> str:
    label = request["messages"][-1]["content"].rsplit("Emotion heard: ", 1)[1].strip()
    return f"The pitch is high, the intensity is strong and the speech rate is fast, as in {label}.\nEmotion: {label}"


@pytest.fixture
def inputs(tmp_path):
    labels = ["angry", "happy", "fearful", "surprised"]
    utts = [Segment(key=f"u{i:02d}", label=labels[i % 4], text=f"Sentence number {i}") for i in range(N)]
    write_manifest(tmp_path / "m.jsonl", utts)
    (tmp_path / "cues.jsonl").write_text("".join(json.dumps({"key": u.key, "cue_text": CUES}) + "\n" for u in utts))
    return tmp_path


def teach_args(folder: Path, base_url: str) -> list[str]:
    return [sys.executable, "-m", "spokenemo", "teach", "--manifest", str(folder / "m.jsonl"),
            "--cues", str(folder / "cues.jsonl"), "--backend", "openai", "--base-url", base_url,
            "--concurrency", "1", "--no-progress", "-o", str(folder / "cot.jsonl")]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def interrupt_after(args: list[str], out: Path, n_lines: int, sig: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while len(lines(out)) < n_lines:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "teach wrote too few lines in 60 s"
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


def check_complete(out: Path, server: FaultServer) -> None:
    rows = [json.loads(line) for line in lines(out)]  # every line is whole JSON
    keys = [r["key"] for r in rows]
    assert sorted(keys) == [f"u{i:02d}" for i in range(N)]  # each key exactly once
    assert all(r["valid"] for r in rows), [r["failure"] for r in rows]
    assert len(load_teacher_outputs(out)) == N
    # at most the one request in flight at the kill was asked twice
    assert N <= len(server.chat_requests()) <= N + 1


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "sigint"])
def test_teach_resumes_after_being_killed(inputs, sig):
    out = inputs / "cot.jsonl"
    with FaultServer(responder=answer, delay=0.15) as server:
        args = teach_args(inputs, server.base_url)
        killed = interrupt_after(args, out, 4, sig)
        assert killed.returncode != 0
        if sig == signal.SIGINT:
            assert "Traceback" not in killed.stderr
        before = len(lines(out))
        assert 4 <= before < N
        done = subprocess.run(args, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        assert done.returncode == 0, done.stderr
        assert f"{before}" in done.stdout  # "already cached" row of the summary
        check_complete(out, server)
        again = subprocess.run(args, capture_output=True, text=True, timeout=120,
                               env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        assert again.returncode == 0 and len(lines(out)) == N  # a third run adds nothing
