"""Labeller backends and the labelling run on the platform's cached LLM job engine.

A labeller is an :class:`~spokenemo.llm.base.LLMBackend`, so every kind goes through
:func:`spokenemo.llm.jobs.run_jobs` the same way (one cached, fsync'ed JSON line per answer,
resumable, backend failures recorded and asked again by the next run):

- ``llm``: any LLM backend of :mod:`spokenemo.llm.factory` (the bundled SmolLM2-135M as
  ``embedded``, a local causal LM as ``transformers``, an OpenAI-compatible server as ``openai``,
  a GGUF as ``llamacpp``) asked with the thesis prompt (:mod:`~spokenemo.systems.silver.parse`);
- ``vader``: VADER's compound score, >= 0.05 positive, <= -0.05 negative, else neutral;
- ``textblob``: TextBlob's pattern polarity with the same thresholds (its lexicon ships inside the
  package: no corpus download).

The rule labellers answer in the same words an LLM would (``"positive (compound +0.6696)"``), so
parsing, validation and the cache are shared. Items the pool marked (empty, non-English) are
written to the cache as ``skipped`` rows with their reason and never sent.
"""

from __future__ import annotations

import importlib.metadata as metadata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spokenemo.core.cache import JsonlLog
from spokenemo.core.errors import BackendError, ConfigError
from spokenemo.core.lazy import optional_import
from spokenemo.llm.base import ChatResult, LLMBackend, Message
from spokenemo.llm.factory import backend_from_settings
from spokenemo.llm.job_cache import best_rows
from spokenemo.llm.jobs import AnswerRules, JobStats, LLMJob, Sampling, run_jobs
from spokenemo.llm.prompts import PromptTemplate
from spokenemo.systems.silver.parse import labeller_template, parse_sentiment
from spokenemo.systems.silver.pool import Pool, PoolItem

LABELLER_KINDS = ("llm", "vader", "textblob")
#: Score thresholds of the rule labellers (thesis.md 2.4).
POSITIVE_AT, NEGATIVE_AT = 0.05, -0.05
EXTRA = "silver"
NO_SENTIMENT = "no sentiment named in the answer"


def threshold(value: float) -> str:
    """``value`` >= 0.05 positive, <= -0.05 negative, else neutral."""
    return "positive" if value >= POSITIVE_AT else "negative" if value <= NEGATIVE_AT else "neutral"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


class RuleBackend(LLMBackend):
    """A rule-based sentiment scorer behind the LLM interface: it reads the last user message."""

    name = "rule"
    batch_size = 512

    def __init__(self, kind: str) -> None:
        if kind == "vader":
            module = optional_import("vaderSentiment.vaderSentiment", extra=EXTRA, purpose="the vader labeller")
            analyzer = module.SentimentIntensityAnalyzer()
            self.score_fn: Callable[[str], float] = lambda t: float(analyzer.polarity_scores(t)["compound"])
            self.score_name, dist = "compound", "vaderSentiment"
        elif kind == "textblob":
            textblob = optional_import("textblob", extra=EXTRA, purpose="the textblob labeller")
            self.score_fn = lambda t: float(textblob.TextBlob(t).sentiment.polarity)
            self.score_name, dist = "polarity", "textblob"
        else:
            raise ConfigError(f"unknown rule labeller {kind!r}", hint="vader or textblob")
        self.kind = kind
        self.model_name = f"{kind}-{_version(dist)}"

    def label(self, text: str) -> tuple[str, float]:
        """``(sentiment, score)`` of ``text``."""
        value = self.score_fn(text)
        return threshold(value), value

    def chat_batch(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 256, temperature: float = 0.0,
                   stop: Sequence[str] | None = None, return_exceptions: bool = False) -> list[ChatResult | Exception]:
        out: list[ChatResult | Exception] = []
        for messages in batch:
            text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
            try:
                label, value = self.label(text)
            except Exception as err:  # noqa: BLE001 - recorded per item like an LLM backend's failure
                failure = BackendError(f"{self.kind} failed on {text[:40]!r}: {err}")
                if not return_exceptions:
                    raise failure from err
                out.append(failure)
                continue
            answer = f"{label} ({self.score_name} {value:+.4f})"
            out.append(ChatResult(text=answer, raw=answer, finish_reason="stop"))
        return out


@dataclass
class Labeller:
    """A backend with how it is asked: the template (LLMs; rule labellers read the bare
    sentence) and the generation settings."""

    kind: str
    backend: LLMBackend
    template: PromptTemplate | None = None
    sampling: Sampling = field(default_factory=lambda: Sampling(max_tokens=16))

    @property
    def model(self) -> str:
        return self.backend.model_name

    def messages(self, text: str) -> list[dict[str, str]]:
        if self.template is None:
            return [{"role": "user", "content": text}]
        return self.template.render(sentence=text)

    def identity(self) -> dict[str, Any]:
        out: dict[str, Any] = {"labeller": self.kind}
        if self.template is not None:
            out.update(self.template.identity())
        return out


def make_labeller(kind: str, *, backend: str = "embedded", backend_options: Mapping[str, Any] | None = None,
                  template: str | Path | None = None, max_tokens: int = 16, attempts: int = 1,
                  llm: LLMBackend | None = None) -> Labeller:
    """A labeller by kind (``llm``, ``vader``, ``textblob``).

    For ``llm``: ``backend`` is a :data:`spokenemo.llm.factory.BACKEND_KINDS` name built with
    ``backend_options`` (or pass a built backend as ``llm``), ``template`` the thesis prompt by
    default, ``max_tokens`` the answer length, ``attempts > 1`` resamples answers naming no sentiment.
    """
    if kind in ("vader", "textblob"):
        return Labeller(kind, RuleBackend(kind), None, Sampling(max_tokens=1))
    if kind != "llm":
        raise ConfigError(f"unknown labeller {kind!r}", hint=f"use one of: {', '.join(LABELLER_KINDS)}")
    built = llm if llm is not None else backend_from_settings(backend, dict(backend_options or {}))
    return Labeller("llm", built, labeller_template(template), Sampling(max_tokens=max_tokens, attempts=attempts))


def _rules() -> AnswerRules:
    def parse(job: LLMJob, result: ChatResult) -> str | None:
        return parse_sentiment(result.text)

    def validate(job: LLMJob, parsed: str | None, result: ChatResult) -> list[str]:
        return [] if parsed else [NO_SENTIMENT]

    return AnswerRules(parse=parse, validate=validate, record=lambda job, parsed: {"sentiment": parsed})


def _write_skipped(items: Sequence[PoolItem], labeller: Labeller, cache: JsonlLog) -> int:
    """One ``skipped`` row per marked item not yet recorded for this model; returns how many."""
    seen = {r.get("key") for r in cache.read() if r.get("skipped") and r.get("model") == labeller.model}
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    new = [i for i in items if i.reason and i.key not in seen]
    for item in new:
        cache.append({"key": item.key, "text": item.text, "source": item.source, **labeller.identity(), "raw": None,
                      "model": labeller.model, "backend": labeller.backend.name, "valid": False, "skipped": True,
                      "failure": f"skipped: {item.reason}", "created_at": now})
    return len(new)


def label_pool(pool: Pool, labeller: Labeller, output: str | Path, *, progress: bool = True) -> JobStats:
    """Label every usable pool item not yet in the cache ``output``; mark the others skipped.

    A rerun asks only what has no answer yet (items whose backend failed are asked again), so a
    run stopped by a failing labeller resumes without relabelling anything.
    """
    cache = JsonlLog(output, what="silver label cache")
    _write_skipped(pool.items, labeller, cache)
    jobs = [LLMJob(key=i.key, messages=labeller.messages(i.text),
                   fields={"text": i.text, "source": i.source, **labeller.identity()}) for i in pool.usable()]
    return run_jobs(jobs, labeller.backend, output, rules=_rules(), sampling=labeller.sampling, model=labeller.model,
                    progress=progress, desc=f"silver {labeller.kind}", unit="text", what="silver label cache")


@dataclass
class SilverSet:
    """The silver labels of one labeller read back from its cache, with the counts of the rest."""

    model: str
    labels: dict[str, str]
    texts: dict[str, str]
    invalid: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    pending: int = 0

    def distribution(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels.values()).items()))

    def summary(self) -> dict[str, Any]:
        return {"model": self.model, "labelled": len(self.labels), "distribution": self.distribution(),
                "invalid": dict(self.invalid), "skipped": dict(self.skipped), "pending_backend_failures": self.pending}


def read_silver(output: str | Path, model: str | None = None) -> SilverSet:
    """The silver set of the cache ``output`` (``model``: which labeller's rows, required when the
    cache holds several).

    Raises
    ------
    ConfigError : a missing or empty cache, or several models and none named.
    """
    rows = JsonlLog(output, what="silver label cache").read()
    models = sorted({str(r.get("model")) for r in rows})
    if not rows:
        raise ConfigError(f"{output}: no silver labels", hint="run `spokenemo silver label` first")
    if model is None and len(models) > 1:
        raise ConfigError(f"{output} holds labels of several labellers: {models}", hint="name one with model=")
    model = model or models[0]
    mine = [r for r in rows if str(r.get("model")) == model]
    best = best_rows(mine, valid_only=False)
    out = SilverSet(model, {}, {})
    for key, row in best.items():
        if row.get("valid") and row.get("sentiment"):
            out.labels[key], out.texts[key] = str(row["sentiment"]), str(row.get("text", ""))
        else:
            out.invalid[str(row.get("failure") or "invalid").split(";")[0]] += 1
    for row in mine:
        if row.get("skipped"):
            out.skipped[str(row["failure"]).removeprefix("skipped: ").split(":")[0]] += 1
    answered = set(best) | {r["key"] for r in mine if r.get("skipped")}
    out.pending = len({r["key"] for r in mine if r.get("raw") is None and not r.get("skipped")} - answered)
    return out
