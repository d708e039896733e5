"""llm.jobs: the generic cached LLM job engine (here asked for silver labels, not AECoTD), and
building backends from settings (llm.factory)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from spokenemo.core.errors import BackendError, ConfigError, SpokenemoError
from spokenemo.llm.base import ChatResult, LLMBackend
from spokenemo.llm.factory import backend_from_options, backend_from_settings, expected_model_name
from spokenemo.llm.job_cache import answer_history, attempt_seed, best_rows, failure_kind
from spokenemo.llm.jobs import (
    MAX_CONSECUTIVE_BACKEND_ERRORS,
    AnswerRules,
    JobStats,
    LLMJob,
    Sampling,
    estimate_jobs,
    run_jobs,
)
from spokenemo.llm.openai_backend import OpenAIBackend
from spokenemo.llm.prompts import messages_sha256

LABELS = ("angry", "happy", "sad", "neutral")


def job(key: str, text: str) -> LLMJob:
    messages = [{"role": "user", "content": f"Which emotion is in: {text}? Answer with one word."}]
    return LLMJob(key, messages, fields={"text": text}, data=text)


def rules() -> AnswerRules:
    """Silver labels: the answer is one label word."""

    def parse(j: LLMJob, result: ChatResult) -> dict[str, Any]:
        word = result.text.strip().lower().rstrip(".")
        return {"label": word if word in LABELS else None, "said": word}

    def validate(j: LLMJob, parsed: dict[str, Any], result: ChatResult) -> list[str]:
        return [] if parsed["label"] else [f"not a label ('{parsed['said']}')"]

    return AnswerRules(parse=parse, validate=validate)


class Script(LLMBackend):
    """Greedy answers from ``greedy``; sampled answers from ``sampled`` (a list per key, in turn);
    ``fail`` keys raise a per-item BackendError."""

    name = "script"

    def __init__(self, greedy: dict[str, str], sampled: dict[str, list[str]] | None = None,
                 fail: set[str] = frozenset()) -> None:
        self.model_name = "script-1"
        self.greedy, self.sampled, self.fail = greedy, {k: list(v) for k, v in (sampled or {}).items()}, set(fail)
        self.calls: list[tuple[str, float]] = []

    def chat_batch(self, batch, *, max_tokens=256, temperature=0.0, stop=None, return_exceptions=False):
        out: list[ChatResult | Exception] = []
        for messages in batch:
            key = messages[-1]["content"].split(": ", 1)[1].split("?")[0]
            self.calls.append((key, temperature))
            if key in self.fail:
                out.append(BackendError(f"{key}: server gave up"))
                continue
            text = self.greedy[key] if temperature == 0 else self.sampled[key].pop(0)
            out.append(ChatResult(text=text, raw=text, finish_reason="stop"))
        return out


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_cached_row_per_answer_with_the_callers_fields(tmp_path):
    jobs = [job("k1", "great news"), job("k2", "go away")]
    assert jobs[0].prompt_sha256 == messages_sha256(jobs[0].messages)
    out, backend = tmp_path / "silver.jsonl", Script({"great news": "Happy.", "go away": "furious"})
    seen: list[tuple[str, bool]] = []
    stats = run_jobs(jobs, backend, out, rules=rules(), progress=False,
                     on_answer=lambda row, retry: seen.append((row["key"], retry)))
    assert (stats.total, stats.todo, stats.done, stats.valid, stats.model) == (2, 2, 2, 1, "script-1")
    assert stats.failures == {"not a label": 1} and seen == [("k1", False), ("k2", False)]
    first, second = rows(out)
    assert first["key"] == "k1" and first["text"] == "great news" and first["label"] == "happy"
    assert first["said"] == "happy" and first["valid"] is True and first["failure"] is None
    assert (first["raw"], first["model"], first["backend"], first["attempt"]) == ("Happy.", "script-1", "script", 1)
    assert first["prompt_sha256"] == jobs[0].prompt_sha256 and first["seed"] is None
    assert second["valid"] is False and second["failure"] == "not a label ('furious')"
    # a rerun asks nothing: both are answered (an invalid answer is kept, not asked again)
    again = run_jobs(jobs, backend, out, rules=rules(), progress=False)
    assert (again.cached, again.todo, again.done, again.valid_total) == (2, 0, 0, 1) and len(backend.calls) == 2
    assert {k: r["label"] for k, r in best_rows(rows(out)).items()} == {"k1": "happy"}


def test_retries_by_sampling_and_backend_failures(tmp_path):
    jobs = [job("k1", "a"), job("k2", "b"), job("k3", "c")]
    backend = Script({"a": "meh", "b": "sad", "c": "x"}, sampled={"a": ["hmm", "angry"]}, fail={"c"})
    out = tmp_path / "silver.jsonl"
    stats = run_jobs(jobs, backend, out, rules=rules(), sampling=Sampling(attempts=3, retry_temperature=0.5),
                     progress=False)
    assert backend.calls == [("a", 0.0), ("b", 0.0), ("c", 0.0), ("a", 0.5), ("a", 0.5)]
    assert (stats.done, stats.valid, stats.retried, stats.retries, stats.recovered) == (2, 1, 1, 2, 1)
    assert (stats.backend_errors, stats.valid_total) == (1, 2)
    assert stats.retry_failures == {"not a label": 1}
    written = rows(out)
    assert [(r["key"], r["attempt"], r["temperature"], r["valid"]) for r in written] == [
        ("k1", 1, 0.0, False), ("k2", 1, 0.0, True), ("k3", 1, 0.0, False), ("k1", 2, 0.5, False),
        ("k1", 3, 0.5, True)]
    failed = written[2]
    assert failed["raw"] is None and failed["failure"] == "backend: BackendError: c: server gave up"
    history = answer_history(written, "script-1")
    assert history[("k1", jobs[0].prompt_sha256)].answers == 3 and history[("k1", jobs[0].prompt_sha256)].valid
    assert ("k3", jobs[2].prompt_sha256) not in history                    # no answer yet
    # the backend failure is asked again by the next run (it was not an attempt)
    backend.fail.clear()
    backend.greedy["c"] = "neutral"
    again = run_jobs(jobs, backend, out, rules=rules(), sampling=Sampling(attempts=3), progress=False)
    assert (again.todo, again.done, again.valid_total) == (1, 1, 3) and backend.calls[-1] == ("c", 0.0)


def test_dry_run_counts_tokens_and_the_retries_still_possible(tmp_path):
    jobs = [job("k1", "a"), job("k2", "b")]
    out = tmp_path / "silver.jsonl"
    run_jobs(jobs[:1], Script({"a": "meh"}), out, rules=rules(), progress=False)
    stats = estimate_jobs(jobs, out, model="script-1", sampling=Sampling(max_tokens=10, attempts=3),
                          count_tokens=lambda messages: 7)
    assert (stats.total, stats.cached, stats.todo, stats.retry_todo, stats.valid_total) == (2, 1, 1, 1, 0)
    assert stats.est_prompt_tokens == 7 * (3 + 2) and stats.est_completion_tokens == 10 * 5
    assert estimate_jobs(jobs, out, model="other").todo == 2          # another model: nothing cached
    assert [r["key"] for r in rows(out)] == ["k1"]                    # a dry run writes nothing


def test_stops_when_the_backend_keeps_failing(tmp_path):
    jobs = [job(f"k{i}", f"t{i}") for i in range(8)]
    backend = Script({}, fail={f"t{i}" for i in range(8)})
    with pytest.raises(SpokenemoError, match=f"failed {MAX_CONSECUTIVE_BACKEND_ERRORS} requests in a row"):
        run_jobs(jobs, backend, tmp_path / "o.jsonl", rules=rules(), progress=False)
    assert len(rows(tmp_path / "o.jsonl")) == MAX_CONSECUTIVE_BACKEND_ERRORS


def test_bad_sampling_settings_and_helpers(tmp_path):
    for attempts in (0, 1.5, True):
        with pytest.raises(ConfigError, match="attempts must be an integer"):
            run_jobs([], Script({}), tmp_path / "o.jsonl", rules=rules(), sampling=Sampling(attempts=attempts))
    with pytest.raises(ConfigError, match="retry_temperature must be above 0"):
        Sampling(attempts=2, retry_temperature=0).check()
    assert not (tmp_path / "o.jsonl").exists()
    assert failure_kind("label 'x' is not one of a, b; too short (3 words)") == "label is not one of a, b"
    assert attempt_seed(7, 2) == (7 * 1_000_003 + 2 * 100_003) % 2**31
    assert isinstance(JobStats().failures, Counter) and JobStats(done=3, retries=1, seconds=2).per_minute == 120


def test_backend_from_settings_and_options():
    flags = {"model": "m", "base_url": "http://127.0.0.1:9/v1", "concurrency": 3, "timeout": 5.0,
             "device": "cpu", "batch_size": 4, "n_threads": None}
    backend = backend_from_settings("openai", flags, shared=flags)      # device/batch_size: not openai's
    assert isinstance(backend, OpenAIBackend) and backend.model_name == "m" and backend.concurrency == 3
    with pytest.raises(ConfigError, match="the openai backend takes no 'device' setting"):
        backend_from_settings("openai", {"model": "m", "device": "cpu"})
    with pytest.raises(ConfigError, match="unknown LLM backend 'gpt'"):
        backend_from_settings("gpt", {})
    options = {"backend": "openai", "backend_options": {"model": "m", "base_url": "http://127.0.0.1:9/v1"},
               "attempts": 3, "mode": "blind"}
    backend, rest = backend_from_options(options)
    assert backend.name == "openai" and backend.base_url == "http://127.0.0.1:9/v1"
    assert rest == {"attempts": 3, "mode": "blind"} and "backend" in options      # the input is left alone
    with pytest.raises(ConfigError, match="the llamacpp backend takes no 'concurrency' setting"):
        backend_from_options({"backend": "llamacpp", "backend_options": {"concurrency": 2}})
    assert expected_model_name("llamacpp", "/m/q.gguf") == "q" and expected_model_name("openai", None) is None
