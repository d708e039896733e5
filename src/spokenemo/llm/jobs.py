"""The cached LLM job engine: items -> one prompt each -> a backend -> parse -> validate -> one
JSON line per answer, resumable, with retries by sampling.

It knows nothing about what is asked: the caller renders each item's prompt (an
:class:`LLMJob`) and gives the rules that read an answer (:class:`AnswerRules`: ``parse``,
``validate`` and ``record``). AECoTD's teacher (:mod:`spokenemo.systems.aecotd.teacher`) is one
caller; silver labels are the next.

The cache is an append-only JSONL file (:class:`~spokenemo.core.cache.JsonlLog`) keyed by
(item key, ``prompt_sha256`` = hash of the fully rendered messages, model name): change the
prompt or the model and the item is asked again; otherwise it never is. Each line is appended
and fsync'ed as soon as its answer arrives, so a crash or Ctrl-C loses at most the answers in
flight, and a torn last line is ignored on resume. Answers that fail validation are kept with
``valid: false`` and the reasons in ``failure``; a request that failed at the backend (server
down after retries) is recorded too, with ``raw: null``, and asked again by the next run.

Retries (``attempts > 1``): after the normal (greedy) pass, an item with answers but no valid
one is asked again by sampling (``retry_temperature``, a per-attempt seed where the backend can
seed), until it has a valid answer or ``attempts`` answers. Every answer is its own row with its
``attempt`` number (1 = the normal pass), ``temperature`` and ``seed``; attempts are counted
from the cache, so a rerun with a higher ``attempts`` asks only what is still invalid. Backend
failures are not attempts. :func:`best_rows` prefers a valid row.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from spokenemo.core.cache import JsonlLog
from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.llm.base import ChatResult, LLMBackend
from spokenemo.llm.job_cache import AnswerHistory, answer_history, attempt_seed, failure_kind
from spokenemo.llm.prompts import messages_sha256

log = logging.getLogger(__name__)

#: Consecutive backend failures after which a run stops (the server is down, not one item bad).
MAX_CONSECUTIVE_BACKEND_ERRORS = 5
DEFAULT_RETRY_TEMPERATURE = 0.7


@dataclass(frozen=True)
class LLMJob:
    """One item's prompt.

    Attributes
    ----------
    key : the item's key (e.g. an utterance key).
    messages : the rendered chat messages.
    prompt_sha256 : hash of ``messages`` (computed when not given); part of the cache key.
    fields : recorded in every row of this job (the inputs, the gold label, the template...).
    data : the caller's own object for its rules (not recorded).
    """

    key: str
    messages: list[dict[str, str]]
    prompt_sha256: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    data: Any = None

    def __post_init__(self) -> None:
        if not self.prompt_sha256:
            object.__setattr__(self, "prompt_sha256", messages_sha256(self.messages))


@dataclass(frozen=True)
class AnswerRules:
    """How a caller reads an answer.

    Attributes
    ----------
    parse : ``parse(job, result) -> parsed`` (anything the other two understand).
    validate : ``validate(job, parsed, result) -> problems``; an empty list means valid.
    record : ``record(job, parsed) -> fields`` to write into the row (default: ``dict(parsed)``).
    """

    parse: Callable[[LLMJob, ChatResult], Any]
    validate: Callable[[LLMJob, Any, ChatResult], list[str]]
    record: Callable[[LLMJob, Any], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class Sampling:
    """Generation settings: the normal pass (``max_tokens``, ``temperature``: greedy by default)
    and the retries (up to ``attempts`` answers per item, sampled at ``retry_temperature`` with
    seeds from ``retry_seed``)."""

    max_tokens: int = 256
    temperature: float = 0.0
    attempts: int = 1
    retry_temperature: float = DEFAULT_RETRY_TEMPERATURE
    retry_seed: int = 0

    def check(self) -> None:
        """Raise a :class:`~spokenemo.core.errors.ConfigError` for bad retry settings."""
        attempts = self.attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigError(f"attempts must be an integer of at least 1, got {attempts!r}",
                              hint="1 = one answer per item; 3 = up to two sampled retries of invalid ones")
        if attempts > 1 and not self.retry_temperature > 0:
            raise ConfigError(f"retry_temperature must be above 0 for retries, got {self.retry_temperature}",
                              hint="a greedy retry gives the greedy answer again; try 0.7")


@dataclass
class JobStats:
    """What a run did (or, for a dry run, would do).

    Attributes
    ----------
    total : jobs in this run.
    cached : already answered in the cache for this prompt and model.
    todo : jobs to send in the normal pass (never answered yet).
    done : answered in the normal pass of this run; ``valid`` of them passed validation.
    attempts : the most answers per item this run allows (1 = no retries).
    retry_todo : items already answered when the run started, none validly, with fewer than
        ``attempts`` answers: they are asked again (so are normal-pass answers that fail).
    retried : items asked again in this run; ``retries`` answers they got (backend errors
        excluded); ``recovered`` of the items got a valid answer that way.
    valid_total : jobs with a valid answer in the cache after the run (for this prompt and
        model; a dry run counts the cache as it is).
    backend_errors : requests the backend failed (recorded, asked again by the next run; not
        attempts).
    failures : validation failure reasons (first reason of each row) of the normal pass's
        answers, and their counts; ``retry_failures`` the same for the retry answers.
    est_prompt_tokens, est_completion_tokens : dry-run estimates (upper bounds for completions;
        with ``attempts > 1`` every possible retry is counted).
    seconds : wall time of the generation part.
    """

    total: int = 0
    cached: int = 0
    todo: int = 0
    done: int = 0
    valid: int = 0
    attempts: int = 1
    retry_todo: int = 0
    retried: int = 0
    retries: int = 0
    recovered: int = 0
    valid_total: int = 0
    backend_errors: int = 0
    failures: Counter = field(default_factory=Counter)
    retry_failures: Counter = field(default_factory=Counter)
    est_prompt_tokens: int = 0
    est_completion_tokens: int = 0
    seconds: float = 0.0
    output: Path | None = None
    model: str = ""

    @property
    def per_minute(self) -> float:
        """Answers per minute of generation (normal pass and retries)."""
        return 60.0 * (self.done + self.retries) / self.seconds if self.seconds > 0 else 0.0


def estimate_tokens(messages: Sequence[Mapping[str, str]], count: Any = None) -> int:
    """Prompt tokens: ``count(messages)`` when a counter is given, else ~4 characters per token
    plus a few per message for the chat markup."""
    if count is not None:
        return int(count(messages))
    return sum(len(m["content"]) // 4 + 4 for m in messages)


# --- rows ----------------------------------------------------------------------------------------
def raw_text(result: ChatResult) -> str:
    """The full answer as generated, with a separately returned reasoning put back in front."""
    raw = result.raw if result.raw is not None else result.text
    if result.reasoning and result.reasoning not in raw:
        raw = f"<think>{result.reasoning}</think>{raw}"
    return raw


def answer_row(job: LLMJob, result: ChatResult | Exception, rules: AnswerRules, *, model: str, backend: str,
               seconds: float, attempt: int = 1, temperature: float = 0.0, seed: int | None = None) -> dict[str, Any]:
    """The cache row of one answer (or of a backend failure: ``raw`` null, ``failure`` says why)."""
    row: dict[str, Any] = {
        "key": job.key, **job.fields, "raw": None, "model": model, "backend": backend,
        "prompt_sha256": job.prompt_sha256, "valid": False, "failure": None, "usage": None, "finish_reason": None,
        "attempt": attempt, "temperature": temperature, "seed": seed, "seconds": round(seconds, 3),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if isinstance(result, Exception):
        row["failure"] = f"backend: {type(result).__name__}: {result}"
        return row
    parsed = rules.parse(job, result)
    problems = rules.validate(job, parsed, result)
    row.update(raw=raw_text(result), valid=not problems, failure="; ".join(problems) or None,
               usage=result.usage(), finish_reason=result.finish_reason)
    row.update(rules.record(job, parsed) if rules.record is not None else dict(parsed))
    return row


# --- the run -------------------------------------------------------------------------------------
class _Run:
    """One run over ``jobs``: the normal pass, then retry rounds; rows appended as answers come."""

    def __init__(self, jobs: Sequence[LLMJob], backend: LLMBackend, cache: JsonlLog, rules: AnswerRules,
                 sampling: Sampling, model: str, stats: JobStats, history: dict[tuple[str, str], AnswerHistory],
                 on_answer: Callable[[dict[str, Any], bool], None] | None) -> None:
        self.jobs, self.backend, self.cache, self.rules = jobs, backend, cache, rules
        self.sampling, self.model, self.stats, self.history = sampling, model, stats, history
        self.on_answer = on_answer
        self.can_seed = bool(getattr(backend, "supports_seed", False))
        self.bar: Any = None
        self.last = time.perf_counter()
        self.consecutive = 0
        self.errored: set[tuple[str, str]] = set()  # asked again by the next run, not by this one
        self.retried: set[tuple[str, str]] = set()

    def past(self, job: LLMJob) -> AnswerHistory:
        return self.history.setdefault((job.key, job.prompt_sha256), AnswerHistory())

    def ask(self, batch: list[LLMJob], attempt: int, temperature: float, retry: bool) -> None:
        """Send ``batch`` and save each answer as it arrives."""
        seed = attempt_seed(self.sampling.retry_seed, attempt) if self.can_seed and temperature > 0 else None
        extra = {"seed": seed} if seed is not None else {}
        stream = self.backend.iter_chat([j.messages for j in batch], max_tokens=self.sampling.max_tokens,
                                        temperature=temperature, **extra)
        unanswered = {(j.key, j.prompt_sha256) for j in batch}
        for index, result in stream:
            job = batch[index]
            unanswered.discard((job.key, job.prompt_sha256))
            now = time.perf_counter()
            row = answer_row(job, result, self.rules, model=self.model, backend=self.backend.name,
                             seconds=now - self.last, attempt=attempt, temperature=temperature, seed=seed)
            self.last = now
            self.cache.append(row)
            if isinstance(result, Exception):
                self.backend_failed(job, row, result)
            else:
                self.count(job, row, retry)
            self.show_progress()
        self.errored.update(unanswered)  # a stream that ended early: those are not retried in this run

    def backend_failed(self, job: LLMJob, row: dict[str, Any], error: Exception) -> None:
        self.stats.backend_errors += 1
        self.errored.add((job.key, job.prompt_sha256))
        self.consecutive += 1
        log.warning("%s: %s", row["key"], row["failure"])
        if self.consecutive >= MAX_CONSECUTIVE_BACKEND_ERRORS:
            raise SpokenemoError(
                f"the backend failed {self.consecutive} requests in a row; stopping (last: {error})",
                hint=getattr(error, "hint", None) or "check the server and rerun: finished rows are kept")

    def count(self, job: LLMJob, row: dict[str, Any], retry: bool) -> None:
        self.consecutive = 0
        state = self.past(job)
        state.answers += 1
        state.valid = state.valid or bool(row["valid"])
        s = self.stats
        if retry:
            s.retries += 1
            s.recovered += bool(row["valid"])
            if row["failure"]:
                s.retry_failures[failure_kind(row["failure"])] += 1
        else:
            s.done += 1
            s.valid += bool(row["valid"])
            if row["failure"]:
                s.failures[failure_kind(row["failure"])] += 1
        if self.on_answer is not None:
            self.on_answer(row, retry)

    def show_progress(self) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(valid=f"{self.stats.valid}/{self.stats.done}", retried=self.stats.retries,
                                 recovered=self.stats.recovered, refresh=False)

    def retry_rounds(self) -> None:
        """Each round asks every item still invalid and below the limit once, by sampling."""
        while True:
            pending = [j for j in self.jobs if (j.key, j.prompt_sha256) not in self.errored
                       and self.past(j).needs_retry(self.sampling.attempts)]
            if not pending:
                return
            by_attempt: dict[int, list[LLMJob]] = {}
            for j in pending:
                by_attempt.setdefault(self.past(j).answers + 1, []).append(j)
                self.retried.add((j.key, j.prompt_sha256))
            if self.bar is not None:
                self.bar.total += len(pending)
                self.bar.refresh()
            for attempt in sorted(by_attempt):
                self.ask(by_attempt[attempt], attempt, self.sampling.retry_temperature, retry=True)


def _plan(jobs: Sequence[LLMJob], cache: JsonlLog, model: str | None, sampling: Sampling,
          stats: JobStats) -> tuple[dict[tuple[str, str], AnswerHistory], list[LLMJob], list[LLMJob]]:
    """Read the cache: the history of every prompt, the jobs never answered, those to retry."""
    history = answer_history(cache.read(), model)  # no model (dry run): any model counts

    def past(job: LLMJob) -> AnswerHistory:
        return history.setdefault((job.key, job.prompt_sha256), AnswerHistory())

    todo = [j for j in jobs if past(j).answers == 0]
    retry_todo = [j for j in jobs if past(j).needs_retry(sampling.attempts)]
    stats.total, stats.cached, stats.todo = len(jobs), len(jobs) - len(todo), len(todo)
    stats.attempts, stats.retry_todo, stats.output = sampling.attempts, len(retry_todo), cache.path
    stats.model = model or "(any)"
    return history, todo, retry_todo


def estimate_jobs(jobs: Sequence[LLMJob], output: str | Path, *, model: str | None = None,
                  sampling: Sampling = Sampling(), count_tokens: Any = None, stats: JobStats | None = None,
                  what: str = "LLM answer cache") -> JobStats:
    """A dry run: count the requests a run would send (cached ones excluded) and their tokens.

    ``model`` None counts rows of any model as cached; ``count_tokens(messages) -> int`` gives
    exact prompt token counts (else ~4 characters per token).
    """
    sampling.check()
    stats = stats if stats is not None else JobStats()
    history, todo, retry_todo = _plan(jobs, JsonlLog(output, what=what), model, sampling, stats)
    stats.valid_total = sum(history[(j.key, j.prompt_sha256)].valid for j in jobs)
    n = sampling.attempts
    asks = [(j, n) for j in todo] + [(j, n - history[(j.key, j.prompt_sha256)].answers) for j in retry_todo]
    stats.est_prompt_tokens = sum(k * estimate_tokens(j.messages, count_tokens) for j, k in asks)
    stats.est_completion_tokens = sampling.max_tokens * sum(k for _, k in asks)
    return stats


def run_jobs(jobs: Sequence[LLMJob], backend: LLMBackend, output: str | Path, *, rules: AnswerRules,
             sampling: Sampling = Sampling(), model: str | None = None, stats: JobStats | None = None,
             progress: bool = True, desc: str = "llm", unit: str = "item",
             on_answer: Callable[[dict[str, Any], bool], None] | None = None,
             what: str = "LLM answer cache") -> JobStats:
    """Ask ``backend`` every job not yet answered in the cache ``output``, appending one line per
    answer; with ``sampling.attempts > 1``, ask again by sampling where no answer is valid yet.

    Parameters
    ----------
    jobs : the prompts (see :class:`LLMJob`).
    backend : the LLM.
    output : the cache file (JSONL, appended to; created if missing).
    rules : how an answer is parsed, validated and recorded.
    sampling : generation and retry settings.
    model : the model name the cache is keyed on (default ``backend.model_name``).
    stats : an object to fill (a subclass of :class:`JobStats` with the caller's counts).
    progress, desc, unit : a tqdm bar (rate and ETA).
    on_answer : ``on_answer(row, retry)`` after each answer is saved (not for backend failures).
    what : the cache's name in error messages.

    Raises
    ------
    ConfigError : bad sampling settings, a corrupt cache; AuthenticationError : the server
    refused the key; SpokenemoError : the backend failed :data:`MAX_CONSECUTIVE_BACKEND_ERRORS`
    times in a row.
    """
    sampling.check()
    stats = stats if stats is not None else JobStats()
    model = model or backend.model_name
    cache = JsonlLog(output, what=what)
    history, todo, retry_todo = _plan(jobs, cache, model, sampling, stats)
    cache.repair()
    run = _Run(jobs, backend, cache, rules, sampling, model, stats, history, on_answer)
    if progress and (todo or retry_todo):
        run.bar = tqdm(total=len(todo), unit=unit, desc=desc, dynamic_ncols=True)
    t0 = time.perf_counter()
    try:
        if todo:
            run.ask(todo, 1, sampling.temperature, retry=False)
        run.retry_rounds()
    except KeyboardInterrupt:
        log.warning("interrupted: %d answers saved in %s; rerun the same command to resume",
                    stats.done + stats.retries, output)
        raise
    finally:
        stats.seconds = time.perf_counter() - t0
        stats.retried = len(run.retried)
        stats.valid_total = sum(run.past(j).valid for j in jobs)
        if run.bar is not None:
            run.bar.close()
    return stats
