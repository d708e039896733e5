"""features.executor: one executor over items (inline, process pool), resumable, with per-item
errors and a clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import math
import os
import signal

import pytest

from spokenemo.core.cache import ResultStore
from spokenemo.core.errors import ConfigError
from spokenemo.features.executor import Interrupted, map_items, run_items


def by_index(outcomes):
    return sorted(((o.index, o.value, o.error) for o in outcomes), key=lambda t: t[0])


def test_map_items_inline_records_errors_and_goes_on():
    out = by_index(map_items(math.sqrt, [4.0, -1.0, 9.0], chunk_size=2))
    assert out == [(0, 2.0, None), (1, None, {"error": "ValueError", "message": "math domain error"}),
                   (2, 3.0, None)]
    custom = list(map_items(math.sqrt, [-4.0], on_error=lambda item, err: f"{item}: {type(err).__name__}"))
    assert custom[0].error == "-4.0: ValueError" and not custom[0].ok


@pytest.mark.slow
def test_process_pool_gives_the_same_outcomes():
    items = [4.0, -1.0, 9.0, 16.0, -2.0]
    inline = by_index(map_items(math.sqrt, items))
    pooled = by_index(map_items(math.sqrt, items, workers=2, chunk_size=1))
    assert pooled == inline and [v for _, v, _ in pooled] == [2.0, None, 3.0, 4.0, None]


def test_bad_executor_settings():
    with pytest.raises(ConfigError, match="unknown executor 'slurm'"):
        map_items(math.sqrt, [], executor="slurm")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        map_items(math.sqrt, [], workers=0)
    with pytest.raises(ConfigError, match="needs a scheduler address"):
        list(map_items(math.sqrt, [1.0], executor="dask"))


def test_run_items_resumes_and_retries_errors(tmp_path):
    calls: list[str] = []
    broken = {"b"}

    def length(word: str) -> int:
        calls.append(word)
        if word in broken:
            raise ValueError(f"{word} is broken")
        return len(word)

    words = ["a", "b", "ccc"]
    store = ResultStore(tmp_path / "len.jsonl")
    first = run_items(words, length, store, key=str)
    assert (first.total, first.cached, first.computed, first.done) == (3, 0, 2, 2)
    assert first.errors == [{"error": "ValueError", "message": "b is broken"}]
    broken.clear()
    again = ResultStore(tmp_path / "len.jsonl")
    second = run_items(words + ["dd"], length, again, key=str)
    assert calls == ["a", "b", "ccc", "b", "dd"]                 # only the failure and the new one
    assert (second.cached, second.computed, second.errors) == (2, 2, [])
    assert {w: again.get(w) for w in words + ["dd"]} == {"a": 1, "b": 1, "ccc": 3, "dd": 2}
    # a changed source is recomputed; job() turns an item into what fn gets
    third = run_items(words, length, again, key=str, source=lambda w: w.upper(), job=lambda w: w * 2)
    assert third.computed == 3 and again.get("ccc", "CCC") == 6


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_stops_the_run_with_its_progress(tmp_path, signum):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def slow(word: str) -> str:
        if word == "c":
            os.kill(os.getpid(), signum)                       # Ctrl-C / kill while "c" is computed
        return word.upper()

    store = ResultStore(tmp_path / "up.jsonl")
    with pytest.raises(Interrupted) as info:
        run_items(list("abcde"), slow, store, key=str, chunk_size=1)
    assert isinstance(info.value, KeyboardInterrupt) and info.value.signum == signum
    assert (info.value.done, info.value.total) == (2, 5)
    assert [r["key"] for r in store.log.read()] == ["a", "b"]
    assert {s: signal.getsignal(s) for s in before} == before   # the handlers are put back
    resumed = run_items(list("abcde"), str.upper, ResultStore(tmp_path / "up.jsonl"), key=str)
    assert (resumed.cached, resumed.computed) == (2, 3)


def test_a_signal_while_saving_waits_for_the_row(tmp_path):
    class KilledWhileSaving(ResultStore):
        def put(self, key, value, *, source=None):
            if key == "b":
                os.kill(os.getpid(), signal.SIGINT)              # arrives between write and count
            super().put(key, value, source=source)

    store = KilledWhileSaving(tmp_path / "s.jsonl")
    with pytest.raises(Interrupted) as info:
        run_items(list("abcd"), str.upper, store, key=str)
    assert info.value.done == 2 and [r["key"] for r in store.log.read()] == ["a", "b"]
