"""Teacher retries (``attempts > 1``): invalid answers are asked again by sampling, attempts are
counted from the cache (resumable), and a valid answer is always preferred (fast; no model)."""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from spokenemo.apps.cli import cli
from spokenemo.core.errors import BackendError, ConfigError
from spokenemo.data.manifest import Segment, write_manifest
from spokenemo.llm.base import ChatResult, LLMBackend
from spokenemo.llm.job_cache import attempt_seed
from spokenemo.systems.aecotd.teacher import load_teacher_outputs, run_teacher

from fault_server import FaultServer

SLOW = ("Pitch: low. Intensity: weak. Speech rate: slow. Articulation rate: slow.\n"
        "Pitch by segment: [0.00, 0.80, 0.60, 0.40, 0.30, 0.10, 0.00]. "
        "Intensity by segment: [0.00, 1.00, 0.70, 0.60, 0.40, 0.20, 0.00].")
VALID = ("The pitch is low, the intensity is weak, and the speech rate is slow. These cues fit sadness.\n"
         "Emotion: sad")
# What SmolLM2 gets wrong most often: the opposite speech rate.
INVALID = ("The pitch is low, the intensity is weak, and the speech rate is fast. These cues fit sadness.\n"
           "Emotion: sad")


def utterances(n: int) -> list[Segment]:
    return [Segment(key=f"u{i}", label="sad", text=f"utterance number {i}") for i in range(n)]


def cues(utts: Sequence[Segment]) -> dict[str, str]:
    return {u.key: SLOW for u in utts}


def key_of(messages: Sequence[dict[str, str]]) -> str:
    return "u" + re.search(r"utterance number (\d+)", messages[-1]["content"]).group(1)


class SamplingBackend(LLMBackend):
    """Deterministic stand-in for a small teacher: greedy answers are wrong for the keys in
    ``greedy_invalid``; the n-th sampled answer for a key is right once n reaches
    ``valid_from[key]`` (never for keys not in it). ``fail`` lists (key, n-th sampled call) pairs
    that fail at the backend instead; ``interrupt_at`` raises KeyboardInterrupt on that sampled
    call (counting all keys)."""

    name = "sampling"

    def __init__(self, greedy_invalid: set[str], valid_from: dict[str, int], *,
                 fail: set[tuple[str, int]] = frozenset(), interrupt_at: int | None = None) -> None:
        self.model_name = "sampling-model"
        self.greedy_invalid, self.valid_from, self.fail = greedy_invalid, valid_from, set(fail)
        self.interrupt_at = interrupt_at
        self.sampled: Counter[str] = Counter()
        self.calls: list[tuple[str, float]] = []  # (key, temperature) per request

    def chat_batch(self, batch, *, max_tokens=256, temperature=0.0, stop=None, return_exceptions=False):
        out: list[ChatResult | Exception] = []
        for messages in batch:
            key = key_of(messages)
            if temperature > 0 and self.interrupt_at == sum(self.sampled.values()) + 1:
                raise KeyboardInterrupt  # Ctrl-C while this request is being generated
            self.calls.append((key, temperature))
            if temperature == 0:
                text = INVALID if key in self.greedy_invalid else VALID
            else:
                self.sampled[key] += 1
                if (key, self.sampled[key]) in self.fail:
                    out.append(BackendError(f"{key}: server gave up"))
                    continue
                text = VALID if self.sampled[key] >= self.valid_from.get(key, 10**9) else INVALID
            out.append(ChatResult(text=text, raw=text, finish_reason="stop"))
        return out

    def asked(self, temperature_above_zero: bool = True) -> list[str]:
        return [k for k, t in self.calls if (t > 0) == temperature_above_zero]


class SeededBackend(SamplingBackend):
    """The same, but it takes a sampling seed (like the transformers and llama.cpp backends)."""

    supports_seed = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seeds: list[int | None] = []

    def chat_batch(self, batch, *, max_tokens=256, temperature=0.0, stop=None, return_exceptions=False, seed=None):
        self.seeds.append(seed)
        return super().chat_batch(batch, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                  return_exceptions=return_exceptions)


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_retry_by_sampling_makes_invalid_answers_valid(tmp_path):
    utts, out = utterances(4), tmp_path / "cot.jsonl"
    backend = SamplingBackend(greedy_invalid={"u1", "u2", "u3"}, valid_from={"u1": 1, "u2": 1, "u3": 1})
    s = run_teacher(utts, cues(utts), out, backend=backend, attempts=3, retry_temperature=0.6, progress=False)
    assert (s.done, s.valid, s.retry_todo) == (4, 1, 0)
    assert (s.retried, s.retries, s.recovered, s.valid_total) == (3, 3, 3, 4)
    assert s.failures == {"contradicts the cues: says fast speech rate, cue is slow": 3}
    assert not s.retry_failures
    assert backend.calls == [(f"u{i}", 0.0) for i in range(4)] + [(k, 0.6) for k in ("u1", "u2", "u3")]
    written = rows(out)
    assert [(r["key"], r["attempt"], r["temperature"], r["valid"]) for r in written] == [
        ("u0", 1, 0.0, True), ("u1", 1, 0.0, False), ("u2", 1, 0.0, False), ("u3", 1, 0.0, False),
        ("u1", 2, 0.6, True), ("u2", 2, 0.6, True), ("u3", 2, 0.6, True)]
    assert all(r["seed"] is None for r in written)  # this backend cannot seed: it just samples
    assert len({r["prompt_sha256"] for r in written if r["key"] == "u1"}) == 1  # the same prompt, asked again
    loaded = load_teacher_outputs(out)
    assert sorted(loaded) == ["u0", "u1", "u2", "u3"]
    assert [loaded[k]["attempt"] for k in ("u0", "u1")] == [1, 2]
    # done: a rerun with the same or more attempts asks nothing
    again = run_teacher(utts, cues(utts), out, backend=backend, attempts=5, progress=False)
    assert (again.cached, again.todo, again.retry_todo, again.retries, again.valid_total) == (4, 0, 0, 0, 4)
    assert len(backend.calls) == 7


def test_attempts_limit_is_respected(tmp_path):
    utts, out = utterances(3), tmp_path / "cot.jsonl"
    backend = SamplingBackend(greedy_invalid={"u0", "u1", "u2"}, valid_from={"u2": 2})
    s = run_teacher(utts, cues(utts), out, backend=backend, attempts=3, progress=False)
    # u0, u1 never valid: 1 greedy + 2 sampled answers each; u2 valid at its second sample (attempt 3)
    assert Counter(k for k, _ in backend.calls) == {"u0": 3, "u1": 3, "u2": 3}
    assert (s.retried, s.retries, s.recovered, s.valid_total) == (3, 6, 1, 1)
    assert s.retry_failures == {"contradicts the cues: says fast speech rate, cue is slow": 5}
    assert sorted((r["key"], r["attempt"]) for r in rows(out)) == [(k, a) for k in ("u0", "u1", "u2")
                                                                   for a in (1, 2, 3)]
    assert set(load_teacher_outputs(out)) == {"u2"}
    last_invalid = load_teacher_outputs(out, valid_only=False)
    assert {k: r["attempt"] for k, r in last_invalid.items()} == {"u0": 3, "u1": 3, "u2": 3}
    # attempts=1 (the default) never retries
    single = SamplingBackend(greedy_invalid={"u0"}, valid_from={"u0": 1})
    s1 = run_teacher(utts[:1], cues(utts), tmp_path / "one.jsonl", backend=single, progress=False)
    assert (s1.done, s1.valid, s1.retries) == (1, 0, 0) and single.asked() == []


def test_rerun_with_more_attempts_asks_only_what_is_still_invalid(tmp_path):
    utts, out = utterances(4), tmp_path / "cot.jsonl"
    # u0 valid greedily; u1 valid at its 1st sample, u2 at its 2nd, u3 never
    backend = SamplingBackend(greedy_invalid={"u1", "u2", "u3"}, valid_from={"u1": 1, "u2": 2})
    s = run_teacher(utts, cues(utts), out, backend=backend, progress=False)
    assert (s.done, s.valid, s.retries) == (4, 1, 0)
    dry = run_teacher(utts, cues(utts), out, model_name="sampling-model", dry_run=True, attempts=3, max_tokens=50)
    assert (dry.todo, dry.retry_todo, dry.valid_total) == (0, 3, 1)
    assert dry.est_completion_tokens == 50 * 3 * 2  # every possible retry counted
    s2 = run_teacher(utts, cues(utts), out, backend=backend, attempts=2, progress=False)
    assert (s2.cached, s2.todo, s2.retry_todo, s2.done) == (4, 0, 3, 0)
    assert backend.asked() == ["u1", "u2", "u3"] and (s2.recovered, s2.valid_total) == (1, 2)
    s3 = run_teacher(utts, cues(utts), out, backend=backend, attempts=3, progress=False)
    assert backend.asked()[3:] == ["u2", "u3"] and (s3.retry_todo, s3.recovered, s3.valid_total) == (2, 1, 3)
    assert {(r["key"], r["attempt"]) for r in rows(out) if r["key"] == "u2"} == {("u2", 1), ("u2", 2), ("u2", 3)}
    s4 = run_teacher(utts, cues(utts), out, backend=backend, attempts=3, progress=False)
    assert (s4.retry_todo, s4.retries) == (0, 0) and len(backend.asked()) == 5  # u3 is at the limit


def test_interrupted_retries_resume_with_the_rest(tmp_path):
    utts, out = utterances(4), tmp_path / "cot.jsonl"
    everyone = {f"u{i}" for i in range(4)}
    first = SamplingBackend(greedy_invalid=everyone, valid_from=dict.fromkeys(everyone, 1), interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        run_teacher(utts, cues(utts), out, backend=first, attempts=2, progress=False)
    assert first.asked() == ["u0", "u1"] and len(rows(out)) == 6  # 4 greedy + 2 retries saved
    second = SamplingBackend(greedy_invalid=everyone, valid_from=dict.fromkeys(everyone, 1))
    s = run_teacher(utts, cues(utts), out, backend=second, attempts=2, progress=False)
    assert second.calls == [("u2", 0.7), ("u3", 0.7)]  # the default retry temperature
    assert (s.cached, s.todo, s.retry_todo, s.recovered, s.valid_total) == (4, 0, 2, 2, 4)
    assert Counter(r["key"] for r in rows(out)) == dict.fromkeys(everyone, 2)


def test_backend_errors_are_not_attempts(tmp_path):
    utts, out = utterances(2), tmp_path / "cot.jsonl"
    backend = SamplingBackend(greedy_invalid={"u0", "u1"}, valid_from={"u0": 1, "u1": 2}, fail={("u1", 1)})
    s = run_teacher(utts, cues(utts), out, backend=backend, attempts=2, progress=False)
    assert (s.retries, s.recovered, s.backend_errors) == (1, 1, 1)
    assert backend.asked() == ["u0", "u1"]  # the failed retry is not repeated in the same run
    failed = [r for r in rows(out) if r["raw"] is None]
    assert [(r["key"], r["attempt"]) for r in failed] == [("u1", 2)]
    s2 = run_teacher(utts, cues(utts), out, backend=backend, attempts=2, progress=False)
    assert (s2.retry_todo, s2.retries, s2.recovered) == (1, 1, 1) and backend.asked()[2:] == ["u1"]
    answered = [(r["attempt"], r["valid"]) for r in rows(out) if r["key"] == "u1" and r["raw"] is not None]
    assert answered == [(1, False), (2, True)]  # still attempt 2: the failure did not count


def test_seeded_backends_get_a_seed_per_attempt(tmp_path):
    utts, out = utterances(2), tmp_path / "cot.jsonl"
    backend = SeededBackend(greedy_invalid={"u0", "u1"}, valid_from={"u1": 2})
    run_teacher(utts, cues(utts), out, backend=backend, attempts=3, retry_seed=7, progress=False)
    two, three = attempt_seed(7, 2), attempt_seed(7, 3)
    # one request per chat_batch call (chunk size 1): iter_chat adds each request's offset
    assert backend.seeds == [None, None, two, two + 1, three, three + 1]  # none for the greedy pass
    assert [(r["attempt"], r["seed"]) for r in rows(out) if r["key"] == "u1"] == \
        [(1, None), (2, two), (3, three)]
    assert len({attempt_seed(s, a) for s in range(3) for a in range(1, 6)}) == 15


def test_a_valid_row_is_preferred_over_a_later_invalid_one(tmp_path):
    out = tmp_path / "cot.jsonl"
    base = {"model": "m", "mode": "label", "prompt_sha256": "p"}
    written = [{**base, "key": "a", "raw": "x", "valid": True, "attempt": 1, "reasoning": "good"},
               {**base, "key": "a", "raw": "y", "valid": False, "attempt": 2, "reasoning": "bad"},
               {**base, "key": "b", "raw": "x", "valid": False, "attempt": 1, "reasoning": "bad"},
               {**base, "key": "b", "raw": "y", "valid": True, "attempt": 2, "reasoning": "good"},
               {**base, "key": "b", "raw": "z", "valid": False, "attempt": 3, "reasoning": "worse"},
               {**base, "key": "c", "raw": "x", "valid": False, "attempt": 1, "reasoning": "bad"},
               {**base, "key": "c", "raw": "y", "valid": False, "attempt": 2, "reasoning": "latest"},
               {**base, "key": "c", "raw": None, "valid": False, "attempt": 3}]
    out.write_text("".join(json.dumps(r) + "\n" for r in written))
    for valid_only in (True, False):
        loaded = load_teacher_outputs(out, valid_only=valid_only)
        assert loaded["a"]["reasoning"] == loaded["b"]["reasoning"] == "good"
    assert "c" not in load_teacher_outputs(out)
    assert load_teacher_outputs(out, valid_only=False)["c"]["reasoning"] == "latest"  # no valid one: the last answer


def test_bad_retry_arguments(tmp_path):
    utts = utterances(1)
    backend = SamplingBackend(set(), {})
    for attempts in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="attempts must be an integer"):
            run_teacher(utts, cues(utts), tmp_path / "o.jsonl", backend=backend, attempts=attempts)
    with pytest.raises(ConfigError, match="retry_temperature must be above 0"):
        run_teacher(utts, cues(utts), tmp_path / "o.jsonl", backend=backend, attempts=2, retry_temperature=0.0)
    assert not (tmp_path / "o.jsonl").exists() and backend.calls == []


def test_cli_teach_with_attempts(tmp_path):
    utts = utterances(3)
    manifest, cue_file, out = tmp_path / "m.jsonl", tmp_path / "cues.jsonl", tmp_path / "cot.jsonl"
    write_manifest(manifest, utts)
    cue_file.write_text("".join(json.dumps({"key": u.key, "cue_text": SLOW}) + "\n" for u in utts))

    def responder(payload: dict) -> str:  # greedy answers are wrong, sampled ones right
        return INVALID if payload["temperature"] == 0 else VALID

    with FaultServer(responder=responder) as server:
        args = ["teach", "--manifest", str(manifest), "--cues", str(cue_file), "--backend", "openai",
                "--base-url", server.base_url, "--no-progress", "-o", str(out)]
        result = CliRunner().invoke(cli, args + ["--attempts", "2", "--retry-temperature", "0.5"])
        assert result.exit_code == 0, result.output
        temperatures = [r["json"]["temperature"] for r in server.chat_requests()]
        assert "seed" not in server.chat_requests()[-1]["json"]  # the HTTP backend just samples
    assert temperatures == [0.0] * 3 + [0.5] * 3
    assert "3 utterances -> 3 valid (3 answers)" in result.output and "0/3 (0 %)" in result.output
    assert "3/3 (up to 2 answers each)" in result.output
    assert len(load_teacher_outputs(out)) == 3
    out.write_text("".join(line + "\n" for line in out.read_text().splitlines()[:5]))  # u2's retry lost
    dry = CliRunner().invoke(cli, args + ["--model", "fault-model", "--dry-run", "--attempts", "3"])
    assert dry.exit_code == 0, dry.output
    assert "0 requests to send (3 of 3 cached" in dry.output
    assert "retries: 1 cached utterances without a valid answer" in " ".join(dry.output.split())
    bad = CliRunner().invoke(cli, args + ["--attempts", "0"])
    assert bad.exit_code == 2 and "--attempts" in bad.output
    bad = CliRunner().invoke(cli, args + ["--retry-temperature", "0"])
    assert bad.exit_code == 2 and "--retry-temperature" in bad.output


def test_experiment_teacher_options_accept_attempts():
    """``teacher.options`` pass through to run_teacher: ``attempts`` needs no runner change."""
    from spokenemo.experiment import config_from_dict

    cfg = config_from_dict({
        "name": "t", "corpus": {"name": "ravdess", "root": "x"}, "label_set": "4class",
        "protocol": {"name": "speaker-kfold", "k": 2}, "systems": ["aecotd"],
        "teacher": {"run_missing": True, "options": {"backend": "embedded", "attempts": 3,
                                                     "retry_temperature": 0.8, "retry_seed": 1}}})
    opts = dict(cfg.teacher.options)
    opts.pop("backend"), opts.pop("backend_options", None)
    assert opts == {"attempts": 3, "retry_temperature": 0.8, "retry_seed": 1}
    # the runner calls run_teacher(chosen, texts, cache, backend=..., labels=..., progress=False, **opts)
    inspect.signature(run_teacher).bind([], {}, "cache.jsonl", backend=None, labels=[], progress=False, **opts)
