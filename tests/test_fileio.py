"""Atomic writes and the append-only JSONL log."""

from __future__ import annotations

import os
import stat

import pytest

from spokenemo.core.fileio import append_jsonl, atomic_write, read_jsonl_tolerant


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half of the new")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary left behind


def test_atomic_write_gives_the_usual_file_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "out.txt") as fh:
            fh.write("x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o644


def test_torn_last_line_is_ignored_but_a_torn_middle_line_is_an_error(tmp_path):
    log = tmp_path / "log.jsonl"
    append_jsonl(log, {"k": 1})
    append_jsonl(log, {"k": 2})
    with open(log, "a") as fh:
        fh.write('{"k": 3')  # crash mid-append
    assert read_jsonl_tolerant(log) == [{"k": 1}, {"k": 2}]
    log.write_text('{"k": 1}\n{"k": \n{"k": 3}\n')
    with pytest.raises(ValueError):
        read_jsonl_tolerant(log)
