"""The AECoTD teacher stage (docs/methods/aecotd.md, section 4): an LLM explains each
utterance's emotion from its transcript and cue text; the explanations become the student's
``<think>`` targets.

Flow: manifest + cue texts -> one chat prompt per utterance (:mod:`spokenemo.llm.prompts`) -> the
cached LLM job engine (:mod:`spokenemo.llm.jobs`: a backend, retries by sampling, one JSON line
per answer in an append-only, resumable cache) -> parse ``{label, reasoning}`` and validate
(:mod:`spokenemo.systems.aecotd.teacher_validate`).

The cache (``cot.jsonl``) is keyed by (utterance key, ``prompt_sha256`` = hash of the fully
rendered messages, model name): change the template, the cues or the model and the utterance is
asked again; otherwise it never is. Besides the engine's fields (``raw``, ``valid``,
``failure``, ``attempt``, ...) a row holds the annotated ``label``, the ``predicted`` one, the
``reasoning``, the template's identity, the ``mode``, the ``transcript`` and the ``cues`` shown,
and in blind mode the ``agreement`` with the annotation. :func:`load_teacher_outputs` prefers a
valid row.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spokenemo.core.cache import JsonlLog
from spokenemo.core.errors import ConfigError
from spokenemo.core.speakers import speaker_of_row
from spokenemo.data.manifest import Segment
from spokenemo.features.cues.batch import read_cue_table
from spokenemo.features.cues.text import CueTextConfig, render_cue_text
from spokenemo.features.cues.thresholds import Thresholds
from spokenemo.llm.base import ChatResult, LLMBackend
from spokenemo.llm.job_cache import best_rows
from spokenemo.llm.jobs import (
    DEFAULT_RETRY_TEMPERATURE,
    MAX_CONSECUTIVE_BACKEND_ERRORS,
    AnswerRules,
    JobStats,
    LLMJob,
    Sampling,
    estimate_jobs,
    run_jobs,
)
from spokenemo.llm.prompts import PromptTemplate, load_template, messages_sha256
from spokenemo.protocols.labels import CANONICAL
from spokenemo.systems.aecotd.teacher_validate import (
    ParsedOutput,
    WorkedExample,
    example_answers,
    parse_teacher_output,
    validate_output,
)

__all__ = ["DEFAULT_MAX_TOKENS", "DEFAULT_RETRY_TEMPERATURE", "MAX_CONSECUTIVE_BACKEND_ERRORS", "MODES",
           "NO_TRANSCRIPT", "TeacherRequest", "TeacherSummary", "build_requests", "cue_texts_for", "label_names",
           "load_teacher_outputs", "parse_teacher_output", "read_cache", "run_teacher", "select_utterances",
           "teacher_rules"]

MODES = ("label", "blind")
DEFAULT_TEMPLATES = {"label": "teacher_label", "blind": "teacher_blind"}
DEFAULT_MAX_TOKENS = 160
NO_TRANSCRIPT = "(no transcript)"
CACHE_NAME = "teacher cache"


# --- requests ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TeacherRequest:
    """One prompt for the teacher."""

    key: str
    label: str | None
    transcript: str
    cue_text: str
    messages: list[dict[str, str]]
    prompt_sha256: str


def label_names(utterances: Iterable[Segment]) -> list[str]:
    """The labels present, in the canonical order of :data:`spokenemo.protocols.labels.CANONICAL`."""
    present = {u.label for u in utterances if u.label}
    order = {name: i for i, name in enumerate(CANONICAL)}
    return sorted(present, key=lambda n: (order.get(n, len(order)), n))


def build_requests(utterances: Sequence[Segment], cue_texts: Mapping[str, str], template: PromptTemplate,
                   labels: Sequence[str]) -> tuple[list[TeacherRequest], dict[str, list[str]]]:
    """Render one prompt per utterance.

    Parameters
    ----------
    utterances : the utterances to explain (manifest order is kept).
    cue_texts : rendered cue text by utterance key.
    template : a ``teacher_label`` or ``teacher_blind`` template.
    labels : the candidate emotions (shown to a blind teacher, used to parse answers).

    Returns
    -------
    (requests, skipped) : the prompts, and the keys left out by reason (``"no cues"``,
        ``"no label"`` -- a label-conditioned teacher needs the annotation).
    """
    if template.kind not in ("teacher_label", "teacher_blind"):
        raise ConfigError(f"template {template.name!r} is a {template.kind} template, not a teacher one",
                          hint="use teacher_label or teacher_blind (or a YAML file with kind: teacher_...)")
    requests, skipped = [], {"no cues": [], "no label": []}
    for u in utterances:
        if u.key not in cue_texts:
            skipped["no cues"].append(u.key)
            continue
        if template.kind == "teacher_label" and not u.label:
            skipped["no label"].append(u.key)
            continue
        transcript = (u.text or "").strip() or NO_TRANSCRIPT
        messages = template.render(transcript=transcript, cues=cue_texts[u.key], label=u.label or "",
                                   labels=list(labels))
        requests.append(TeacherRequest(u.key, u.label, transcript, cue_texts[u.key], messages,
                                       messages_sha256(messages)))
    return requests, {k: v for k, v in skipped.items() if v}


def select_utterances(utterances: Sequence[Segment], *, limit: int | None = None,
                      seed: int | None = None, keys: Iterable[str] | None = None) -> list[Segment]:
    """The utterances a run covers: ``keys`` if given, shuffled with ``seed`` if given, then the
    first ``limit``."""
    chosen = list(utterances)
    if keys is not None:
        wanted = set(keys)
        chosen = [u for u in chosen if u.key in wanted]
    if seed is not None:
        random.Random(seed).shuffle(chosen)
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {limit}")
        chosen = chosen[:limit]
    return chosen


@dataclass
class TeacherSummary(JobStats):
    """What a teacher run did (or, for a dry run, would do): the engine's counts
    (:class:`~spokenemo.llm.jobs.JobStats`, per utterance) and the teacher's own.

    Attributes
    ----------
    agreement : blind mode: normal-pass answers whose label matches the annotation.
    skipped : keys left out by reason (no cues, no label).
    mode, template : the teacher mode and the template (``name vVERSION``).
    """

    agreement: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)
    mode: str = ""
    template: str = ""


# --- the cache -------------------------------------------------------------------------------------
def read_cache(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a teacher cache (a torn last line from a crash is ignored)."""
    return JsonlLog(path, what=CACHE_NAME).read()


def load_teacher_outputs(path: str | Path, valid_only: bool = True, *, model: str | None = None,
                         mode: str | None = None,
                         cue_texts: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Teacher outputs by utterance key, for the student.

    Parameters
    ----------
    path : the teacher cache (JSONL).
    valid_only : keep only rows that passed validation.
    model, mode : keep only rows of this model / mode (a cache may hold several).
    cue_texts : keep only rows whose prompt showed exactly this cue text for the key (a cache
        filled once per fold, with each fold's thresholds, holds one row per fold).

    Returns
    -------
    dict : key -> row; when a key was answered more than once (retries, another template or
        model), the last valid row wins, and the last answered row only when none is valid: an
        invalid later answer never hides a valid earlier one (also with ``valid_only=False``).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: teacher cache not found", hint="run `spokenemo teach ... -o COT.jsonl` first")

    def keep(row: Mapping[str, Any]) -> bool:
        if (model and row.get("model") != model) or (mode and row.get("mode") != mode):
            return False
        return cue_texts is None or cue_texts.get(row["key"]) == row.get("cues")

    return best_rows(read_cache(path), valid_only=valid_only, keep=keep)


# --- the run -------------------------------------------------------------------------------------
def teacher_rules(mode: str, labels: Sequence[str], examples: Sequence[WorkedExample] = ()) -> AnswerRules:
    """How the job engine reads a teacher answer: :func:`parse_teacher_output`, then
    :func:`validate_output` against the job's cue text and annotation."""

    def parse(job: LLMJob, result: ChatResult) -> ParsedOutput:
        return parse_teacher_output(result.text, result.reasoning, labels)

    def validate(job: LLMJob, parsed: ParsedOutput, result: ChatResult) -> list[str]:
        req: TeacherRequest = job.data
        return validate_output(parsed, cue_text=req.cue_text, mode=mode, annotated=req.label, labels=labels,
                               finish_reason=result.finish_reason, examples=examples)

    def record(job: LLMJob, parsed: ParsedOutput) -> dict[str, Any]:
        req: TeacherRequest = job.data
        out: dict[str, Any] = {"predicted": parsed.label, "reasoning": parsed.reasoning or None}
        if parsed.explanation and parsed.explanation != parsed.reasoning:
            out["explanation"] = parsed.explanation
        if mode == "blind" and req.label:
            out["agreement"] = parsed.label == req.label
        return out

    return AnswerRules(parse=parse, validate=validate, record=record)


def teacher_job(req: TeacherRequest, template: PromptTemplate, mode: str) -> LLMJob:
    """The engine's job for one request; its fields are recorded in every row."""
    fields = {"label": req.label, "predicted": None, "reasoning": None, **template.identity(), "mode": mode,
              "agreement": None, "transcript": req.transcript, "cues": req.cue_text}
    return LLMJob(req.key, req.messages, req.prompt_sha256, fields=fields, data=req)


def _template_for(mode: str, template: str | Path | PromptTemplate | None) -> PromptTemplate:
    if not isinstance(template, PromptTemplate):
        template = load_template(template or DEFAULT_TEMPLATES[mode])
    expected_kind = f"teacher_{mode}"
    if template.kind != expected_kind:
        raise ConfigError(f"template {template.name!r} is a {template.kind} template but mode is {mode!r}",
                          hint=f"use a {expected_kind} template, or --mode {template.kind.removeprefix('teacher_')}")
    return template


def run_teacher(utterances: Sequence[Segment], cue_texts: Mapping[str, str], output: str | Path, *,
                backend: LLMBackend | None = None, model_name: str | None = None, mode: str = "label",
                template: str | Path | PromptTemplate | None = None, labels: Sequence[str] | None = None,
                limit: int | None = None, seed: int | None = None, max_tokens: int = DEFAULT_MAX_TOKENS,
                temperature: float = 0.0, attempts: int = 1,
                retry_temperature: float = DEFAULT_RETRY_TEMPERATURE, retry_seed: int = 0,
                dry_run: bool = False, count_tokens: Any = None, progress: bool = True) -> TeacherSummary:
    """Ask the teacher about every utterance not yet in the cache ``output`` (JSONL, appended to),
    one line per answer; with ``attempts > 1``, ask again by sampling where no answer is valid yet
    (see :mod:`spokenemo.llm.jobs` for the cache and the retries).

    Parameters
    ----------
    utterances, cue_texts : the manifest's utterances; rendered cue text by key (:func:`cue_texts_for`).
    backend : the LLM (not needed for a dry run).
    model_name : the model name the cache is keyed on (default ``backend.model_name``; a dry run
        without it counts rows of any model as cached).
    mode : ``"label"`` (the teacher is told the annotation, spokenemo's default) or ``"blind"``.
    template : a template name, a YAML path or a loaded template (default per mode).
    labels : candidate emotions (default: the labels present in ``utterances``).
    limit, seed : cover only the first ``limit`` utterances (after shuffling with ``seed``).
    max_tokens, temperature : generation settings of the normal pass (greedy by default).
    attempts, retry_temperature, retry_seed : the most answers per utterance (counted from the
        cache; 1 = no retries), the retries' sampling temperature (> 0) and seed base
        (:func:`~spokenemo.llm.job_cache.attempt_seed`, for backends that can seed).
    dry_run, count_tokens : only count requests (cached ones excluded) and estimate tokens
        (``count_tokens(messages) -> int`` for exact prompt counts).
    progress : show a tqdm bar (rate and ETA).

    Raises
    ------
    ConfigError : bad mode/template/limit/attempts; AuthenticationError : the server refused the
    key; SpokenemoError : the backend failed many requests in a row.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown teacher mode {mode!r}", hint="use label (default) or blind")
    sampling = Sampling(max_tokens=max_tokens, temperature=temperature, attempts=attempts,
                        retry_temperature=retry_temperature, retry_seed=retry_seed)
    sampling.check()
    template = _template_for(mode, template)
    labels = list(labels) if labels else label_names(utterances)
    if not labels:
        raise ConfigError("no emotion labels: the manifest has no labelled utterance and none were given",
                          hint="pass --labels angry,happy,...")
    requests, skipped = build_requests(select_utterances(utterances, limit=limit, seed=seed), cue_texts,
                                       template, labels)
    if backend is None and not dry_run:
        raise ConfigError("run_teacher needs a backend unless dry_run=True")
    model = model_name or (backend.model_name if backend is not None else None)
    summary = TeacherSummary(skipped=skipped, mode=mode, template=f"{template.name} v{template.version}")
    jobs = [teacher_job(r, template, mode) for r in requests]
    if dry_run:
        return estimate_jobs(jobs, output, model=model, sampling=sampling, count_tokens=count_tokens,
                             stats=summary, what=CACHE_NAME)
    assert backend is not None and model is not None

    def on_answer(row: dict[str, Any], retry: bool) -> None:
        if not retry:
            summary.agreement += bool(row["agreement"])

    run_jobs(jobs, backend, output, rules=teacher_rules(mode, labels, example_answers(template, labels)),
             sampling=sampling, model=model, stats=summary, progress=progress, desc=f"teacher {Path(model).name}",
             unit="utt", on_answer=on_answer, what=CACHE_NAME)
    return summary


# --- cue texts -----------------------------------------------------------------------------------
TEXT_COLUMNS = ("cue_text", "cues_text", "text_cues")


def cue_texts_for(cues: str | Path, *, keys: Iterable[str] | None = None, thresholds: str | Path | None = None,
                  variant: str = "paper") -> tuple[dict[str, str], str]:
    """Cue text by utterance key from a cue table written by ``spokenemo cues``.

    A table that already has a rendered-text column (``cue_text``) is used as is. Otherwise the
    text is rendered with :func:`spokenemo.features.cues.text.render_cue_text`, with thresholds loaded from
    ``thresholds`` (a file saved by :meth:`spokenemo.features.cues.thresholds.Thresholds.save`, e.g. fitted
    on a training fold) or, without one, fitted on the table's rows for ``keys`` (all rows when
    ``keys`` is None).

    Returns
    -------
    (texts, source) : the texts, and a line saying where the thresholds came from.
    """
    rows = read_cue_table(cues)
    wanted = set(keys) if keys is not None else None
    text_col = next((c for c in TEXT_COLUMNS if rows and c in rows[0]), None)
    if text_col:
        return {r["key"]: str(r[text_col]) for r in rows if r.get(text_col)}, f"column {text_col!r} of {cues}"
    if thresholds is not None:
        fitted, source = Thresholds.load(thresholds), f"thresholds from {thresholds}"
    else:
        fit_rows = [r for r in rows if wanted is None or r["key"] in wanted]
        fitted = Thresholds.fit(fit_rows, info={"source": str(cues)})
        source = f"thresholds fitted on {len(fit_rows)} rows of {cues} (medians)"
    config = CueTextConfig.variant(variant)
    texts = {r["key"]: render_cue_text(r, fitted, config, speaker=speaker_of_row(r))
             for r in rows if wanted is None or r["key"] in wanted}
    return texts, source
