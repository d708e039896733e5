"""The AECoTD teacher stage (spec section 3): an LLM explains each utterance's emotion from its
transcript and cue text; the explanations become the student's ``<think>`` targets.

Flow: manifest + cue texts -> one chat prompt per utterance (:mod:`spokenemo.llm.prompts`) -> an LLM
backend (:mod:`spokenemo.llm`) -> parse ``{label, reasoning}`` -> validate -> one JSON line per
utterance in an append-only cache.

The cache (``cot.jsonl``) is keyed by (utterance key, ``prompt_sha256`` = hash of the fully
rendered messages, model name): change the template, the cues or the model and the item is asked
again; otherwise it never is. Each line is appended and fsync'ed as soon as its answer arrives, so
a crash or Ctrl-C loses at most the answers in flight, and a torn last line is ignored on resume.
Answers that fail validation are kept with ``valid: false`` and the reason in ``failure``; a
request that failed at the backend (server down after retries) is recorded too, with
``raw: null``, and asked again by the next run.

Retries (``attempts > 1``): after the normal (greedy) pass, an utterance with answers but no
valid one is asked again by sampling (``retry_temperature``, a per-attempt seed where the backend
can seed), until it has a valid answer or ``attempts`` answers. Every answer is its own cache row
with its ``attempt`` number (1 = the normal pass), ``temperature`` and ``seed``; attempts are
counted from the cache, so a rerun with a higher ``attempts`` asks only what is still invalid.
Backend failures are not attempts. :func:`load_teacher_outputs` prefers a valid row.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError, LabelError, SpokenemoError
from spokenemo.core.fileio import append_jsonl, read_jsonl_tolerant
from spokenemo.data.manifest import Utterance
from spokenemo.llm.base import ChatResult, LLMBackend, split_reasoning
from spokenemo.llm.prompts import PromptTemplate, load_template, messages_sha256
from spokenemo.protocols.labels import CANONICAL, normalize_label

log = logging.getLogger(__name__)

MODES = ("label", "blind")
DEFAULT_TEMPLATES = {"label": "teacher_label", "blind": "teacher_blind"}
DEFAULT_MAX_TOKENS = 160
NO_TRANSCRIPT = "(no transcript)"
#: Consecutive backend failures after which a run stops (the server is down, not one item bad).
MAX_CONSECUTIVE_BACKEND_ERRORS = 5
DEFAULT_RETRY_TEMPERATURE = 0.7


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


def label_names(utterances: Iterable[Utterance]) -> list[str]:
    """The labels present, in the canonical order of :data:`spokenemo.protocols.labels.CANONICAL`."""
    present = {u.label for u in utterances if u.label}
    order = {name: i for i, name in enumerate(CANONICAL)}
    return sorted(present, key=lambda n: (order.get(n, len(order)), n))


def build_requests(utterances: Sequence[Utterance], cue_texts: Mapping[str, str], template: PromptTemplate,
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


# --- parsing -----------------------------------------------------------------------------------
_LABEL_LINE = re.compile(
    r"^[\s>*_#-]*(?:final\s+)?(?:emotion|label|answer|prediction)(?:\s+(?:heard|label))?[*_\s]*[:=][*_\s]*(.+)$",
    re.IGNORECASE | re.MULTILINE)
_LEAD = re.compile(r"^\s*(?:reasoning|explanation|because)\s*[:\-]\s*", re.IGNORECASE)


@dataclass
class ParsedOutput:
    """What a teacher answer says.

    Attributes
    ----------
    label : the emotion it names, normalised to a canonical label (``None`` when none was found).
    label_text : the words it used for the label (for failure messages).
    reasoning : the chain of thought: the separate reasoning block (``<think>``/``reasoning_content``)
        when there is one, else the answer without its label line.
    explanation : the answer text without its label line (same as ``reasoning`` for most models).
    """

    label: str | None
    label_text: str | None
    reasoning: str
    explanation: str


def _normalise_label(text: str, labels: Sequence[str]) -> str | None:
    words = re.findall(r"[A-Za-z]+", text)
    for candidate in ([" ".join(words)] if words else []) + words[:1]:
        try:
            name = normalize_label(candidate)
        except LabelError:
            continue
        if name in labels or not labels:
            return name
    return None


def parse_teacher_output(text: str, reasoning: str | None = None, labels: Sequence[str] = ()) -> ParsedOutput:
    """Split a teacher answer into label and reasoning.

    Understands, in this order: an ``Emotion: X`` / ``Label: X`` line (the last one wins, markdown
    bold allowed); an answer that is only a label (``angry``, or ``angry<think>...</think>`` as the
    student writes it). Label words are normalised (``anger`` -> ``angry``) and must be in
    ``labels`` when given.

    Parameters
    ----------
    text : the answer (``ChatResult.text``: ``<think>`` blocks already removed, or not).
    reasoning : separately returned reasoning (``ChatResult.reasoning``).
    labels : the candidate emotions.
    """
    body, inline = split_reasoning(text or "", reasoning)
    matches = list(_LABEL_LINE.finditer(body))
    label_text = None
    if matches:
        last = matches[-1]
        label_text = last.group(1).strip().strip("*_.\"' ")
        explanation = (body[:last.start()] + body[last.end():]).strip()
    else:
        explanation = body.strip()
        if explanation and len(explanation.split()) <= 3:  # a bare label answer
            label_text, explanation = explanation.strip("*_.\"' "), ""
    explanation = _LEAD.sub("", explanation).strip()
    label = _normalise_label(label_text, labels) if label_text else None
    return ParsedOutput(label=label, label_text=label_text, reasoning=(inline or explanation).strip(),
                        explanation=explanation)


# --- validation ----------------------------------------------------------------------------------
_CUE_WORDS = re.compile(
    r"\b(pitch|intensity|loud\w*|quiet\w*|volume|energy|speech rate|articulation|tempo|fast\w*|slow\w*|"
    r"segments?|contours?|ris(?:e|es|ing)|fall(?:s|ing)?|monoton\w*)\b", re.IGNORECASE)
_COARSE_IN_CUES = re.compile(r"\b(Pitch|Intensity|Speech rate|Articulation rate):\s*([A-Za-z]+)\.")
_OPPOSITE = {"high": "low", "low": "high", "strong": "weak", "weak": "strong", "fast": "slow", "slow": "fast"}
# Words a model may use for a coarse cue's value, mapped to the cue text's word.
_SYNONYMS = {
    "pitch": {"high": "high", "low": "low"},
    "intensity": {"strong": "strong", "high": "strong", "loud": "strong", "weak": "weak", "low": "weak",
                  "quiet": "weak", "soft": "weak"},
    "speech rate": {"fast": "fast", "quick": "fast", "slow": "slow"},
    "articulation rate": {"fast": "fast", "quick": "fast", "slow": "slow"},
}
_COPULA = r"(?:is|was|are|were|remains|stays|sounds|seems)\s+(?:very\s+|quite\s+|rather\s+|relatively\s+)?"


def _claim_patterns(cue: str) -> list[str]:
    words = "|".join(_SYNONYMS[cue])
    noun = {"pitch": r"pitch", "intensity": r"intensity", "speech rate": r"speech(?:\s+rate)?",
            "articulation rate": r"articulation(?:\s+rate)?"}[cue]
    subject = {"speech rate": r"speech\s+rate"}.get(cue, noun)
    return [rf"\b({words})(?:er)?\s+{noun}\b", rf"\b{subject}\s+{_COPULA}({words})\b"]


# Phrases that state a coarse cue's value, per cue; group 1 is the word.
_CLAIMS = {cue: _claim_patterns(cue) for cue in _SYNONYMS}
# "a low, quiet and slow voice": adjectives before voice/tone/delivery.
_DESCRIBED = re.compile(r"\b((?:(?:high|low|loud|quiet|soft|strong|weak|fast|slow|quick)(?:\s*,\s*|\s+and\s+|\s+))+)"
                        r"(?:voice|tone|delivery)\b", re.IGNORECASE)
_DESCRIPTOR_CUE = {"high": ("pitch", "high"), "low": ("pitch", "low"), "loud": ("intensity", "strong"),
                   "strong": ("intensity", "strong"), "quiet": ("intensity", "weak"), "soft": ("intensity", "weak"),
                   "weak": ("intensity", "weak"), "fast": ("speech rate", "fast"), "quick": ("speech rate", "fast"),
                   "slow": ("speech rate", "slow")}
# "pitch falls from 0.60 to 0.10", "and intensity from 0.90 to 0.30"
_SPAN = re.compile(r"\b(pitch|intensity)\b([^.;\n]{0,30}?)\bfrom\s+(\d\.\d+)\s+to\s+(\d\.\d+)", re.IGNORECASE)
_FALLING = re.compile(r"\b(falls?|falling|drops?|decreases?|declines?|goes\s+down)\b", re.IGNORECASE)
_RISING = re.compile(r"\b(rises?|rising|increases?|climbs?|goes\s+up)\b", re.IGNORECASE)
_SEGMENTS = re.compile(r"\b(Pitch|Intensity) by segment:\s*\[([^\]]*)\]")
_NUMBER = re.compile(r"(?<![\d.])\d\.\d\d(?![\d])")
MIN_REASONING_WORDS = 8
COPY_RATIO = 0.9
# Emotion words as they appear in prose, by canonical label (for "names another emotion").
EMOTION_WORDS = {
    "angry": ("anger", "angry", "annoyed", "annoyance", "rage"), "happy": ("happy", "happiness", "joy", "joyful"),
    "sad": ("sad", "sadness", "sorrow"), "fearful": ("fear", "fearful", "afraid", "scared", "fright"),
    "disgust": ("disgust", "disgusted"), "surprised": ("surprise", "surprised"),
    "calm": ("calm", "calmness"), "neutral": ("neutral",), "excited": ("excited", "excitement"),
    "frustrated": ("frustrated", "frustration"), "contempt": ("contempt",),
}
NEGATIVE = frozenset({"angry", "sad", "fearful", "disgust", "frustrated", "contempt"})
POSITIVE = frozenset({"happy", "calm", "excited"})
_NEGATED = re.compile(r"\b(?:not|no|nor|never|rather than|instead of|without)\s+(?:\w+\s+){0,2}$", re.IGNORECASE)


def coarse_words(cue_text: str) -> dict[str, str]:
    """``{"pitch": "high", "intensity": "weak", ...}`` from a cue text (empty when the cues are
    rendered as raw values)."""
    out = {}
    for name, word in _COARSE_IN_CUES.findall(cue_text):
        if word.lower() in _OPPOSITE:
            out[name.lower()] = word.lower()
    return out


def cue_errors(reasoning: str, cue_text: str) -> list[str]:
    """Statements in the reasoning that the cue text proves wrong.

    - a coarse cue stated with the opposite word (``low pitch`` when the cue says high; loud/quiet
      count for intensity; ``a low, quiet voice`` is read as pitch and intensity);
    - a contour direction that its own numbers deny (``pitch falls from 0.35 to 0.58``);
    - a contour "from A to B" whose values are not in that cue's segment list, or in the wrong order;
    - any other segment value (``0.35``) that appears nowhere in the cue text.
    """
    problems: list[str] = []
    actual = coarse_words(cue_text)
    claimed: dict[str, set[str]] = {cue: set() for cue in _SYNONYMS}
    for cue, patterns in _CLAIMS.items():
        for pattern in patterns:
            for m in re.finditer(pattern, reasoning, re.IGNORECASE):
                claimed[cue].add(_SYNONYMS[cue][m.group(1).lower()])
    for m in _DESCRIBED.finditer(reasoning):
        for adjective in re.findall(r"[a-z]+", m.group(1).lower()):
            if adjective in _DESCRIPTOR_CUE:
                cue, word = _DESCRIPTOR_CUE[adjective]
                # "a fast voice" is only wrong when both rates are the other way.
                if cue == "speech rate" and actual.get("articulation rate", word) == word:
                    continue
                claimed[cue].add(word)
    for cue, word in actual.items():
        if _OPPOSITE[word] in claimed.get(cue, set()):
            problems.append(f"says {_OPPOSITE[word]} {cue}, cue is {word}")
    segments = {name.lower(): [v.strip() for v in values.split(",")] for name, values in _SEGMENTS.findall(cue_text)}
    for m in _SPAN.finditer(reasoning):
        what, between, a, b = m.group(1).lower(), m.group(2), m.group(3), m.group(4)
        verb = _FALLING.search(between) or _RISING.search(between)
        if verb and (bool(_FALLING.search(between)) == (float(a) < float(b))) and a != b:
            problems.append(f"says {what} {verb.group(1).lower()} from {a} to {b}")
        values = segments.get(what)
        if values and a in values and b in values and values.index(a) > len(values) - 1 - values[::-1].index(b):
            problems.append(f"says {what} goes from {a} to {b}, but {a} comes after {b}")
        elif values and (a not in values or b not in values):
            missing = ", ".join(v for v in dict.fromkeys((a, b)) if v not in values)
            problems.append(f"{what} values {missing} are not in the {what} segments")
    cue_numbers = set(_NUMBER.findall(cue_text))
    span_numbers = {n for m in _SPAN.finditer(reasoning) for n in (m.group(3), m.group(4))}
    invented = [n for n in dict.fromkeys(_NUMBER.findall(reasoning)) if n not in cue_numbers | span_numbers]
    if cue_numbers and invented:
        problems.append(f"cites values not in the cues: {', '.join(invented[:4])}")
    return problems


def label_conflicts(reasoning: str, label: str) -> list[str]:
    """In label mode: the reasoning names another emotion as present, or gives the emotion the wrong
    valence ("a positive emotion" for disgust). Mentions after a negation ("not sadness") are fine,
    and "neutral" is allowed when it describes the words ("the words are neutral")."""
    problems = []
    for other, words in EMOTION_WORDS.items():
        if other == label:
            continue
        for m in re.finditer(rf"\b({'|'.join(words)})\b", reasoning, re.IGNORECASE):
            before = reasoning[max(0, m.start() - 40):m.start()]
            if _NEGATED.search(before) or (other == "neutral" and re.search(r"words?\b[^.]*$", before, re.I)):
                continue
            problems.append(f"names another emotion ({m.group(1).lower()})")
            break
    if label in NEGATIVE and re.search(r"\bpositive\b", reasoning, re.IGNORECASE):
        problems.append(f"calls {label} a positive emotion")
    if label in POSITIVE and re.search(r"\bnegative\b", reasoning, re.IGNORECASE):
        problems.append(f"calls {label} a negative emotion")
    return problems[:2]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9.]+", text.lower())


def is_repetitive(text: str) -> bool:
    """True when a sentence of 4+ words recurs, or under half the word 3-grams of a long text are
    distinct (a greedy-decoding loop)."""
    sentences = [" ".join(_words(s)) for s in re.split(r"(?<=[.!?])\s+|\n+", text)]
    counts = Counter(s for s in sentences if len(s.split()) >= 4)
    if counts and counts.most_common(1)[0][1] > 1:
        return True
    words = _words(text)
    grams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    return len(words) >= 30 and len(set(grams)) < 0.5 * len(grams)


@dataclass(frozen=True)
class WorkedExample:
    """A template's worked example: its answer's reasoning and the cue text it answered."""

    reasoning: str
    cue_text: str
    label: str | None = None


def copies_example(reasoning: str, examples: Sequence[WorkedExample], cue_text: str) -> bool:
    """True when the reasoning is (nearly) word for word a worked example whose coarse cues differ
    from this utterance's: the model repeated the example instead of reading its own cues. (With
    the same cue words and label, a near-copy is simply right.)"""
    mine, own = _words(reasoning), coarse_words(cue_text)
    return any(difflib.SequenceMatcher(None, mine, _words(ex.reasoning), autojunk=False).ratio() >= COPY_RATIO
               for ex in examples if ex.reasoning.strip() and coarse_words(ex.cue_text) != own)


def example_answers(template: PromptTemplate, labels: Sequence[str] = ()) -> list[WorkedExample]:
    """The worked examples (user turn + assistant answer) in a template's messages."""
    out, last_user = [], ""
    for m in template.messages:
        if m["role"] == "user":
            last_user = m["content"]
        elif m["role"] == "assistant":
            parsed = parse_teacher_output(m["content"], None, labels)
            out.append(WorkedExample(parsed.reasoning, last_user, parsed.label))
    return out


def validate_output(parsed: ParsedOutput, *, cue_text: str, mode: str, annotated: str | None,
                    labels: Sequence[str], finish_reason: str | None = None,
                    examples: Sequence[WorkedExample] = ()) -> list[str]:
    """Every reason the answer is not a usable chain of thought (empty list = valid).

    Checks: an answer at all; not cut off at ``max_tokens``; a label from ``labels``; in label mode
    the annotated label; reasoning of at least :data:`MIN_REASONING_WORDS` words that mentions an
    acoustic cue, states nothing the cue text proves wrong (:func:`cue_errors`), in label mode does
    not argue for another emotion (:func:`label_conflicts`), does not loop and is not a copy of
    a worked example written for other cues; in blind mode, the emotion is not just the worked
    example's emotion given for other cues (small models do that instead of choosing).
    """
    problems = []
    if not parsed.reasoning and not parsed.label_text:
        return ["empty answer"]
    if finish_reason == "length":
        problems.append("cut off at max_tokens (raise --max-tokens)")
    if parsed.label_text is None:
        problems.append('no label ("Emotion: X" line) in the answer')
    elif parsed.label is None:
        problems.append(f"label {parsed.label_text[:40]!r} is not one of {', '.join(labels)}")
    elif mode == "label" and annotated and parsed.label != annotated:
        problems.append(f"label {parsed.label!r} disagrees with the annotated {annotated!r}")
    reasoning = parsed.reasoning
    if len(_words(reasoning)) < MIN_REASONING_WORDS:
        problems.append(f"reasoning too short ({len(_words(reasoning))} words)")
    else:
        if not _CUE_WORDS.search(reasoning):
            problems.append("reasoning does not refer to any acoustic cue")
        problems.extend(f"contradicts the cues: {p}" for p in cue_errors(reasoning, cue_text))
        if mode == "label" and annotated:
            problems.extend(label_conflicts(reasoning, annotated))
        if is_repetitive(reasoning):
            problems.append("repetitive (the model looped)")
        if copies_example(reasoning, examples, cue_text):
            problems.append("copies the worked example (written for other cues)")
    if mode == "blind" and parsed.label and any(
            ex.label == parsed.label and coarse_words(ex.cue_text) != coarse_words(cue_text) for ex in examples):
        problems.append(f"repeats the worked example's emotion ({parsed.label}) for other cues")
    return problems


# --- cache ---------------------------------------------------------------------------------------
def cache_key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(row.get("key")), str(row.get("prompt_sha256")), str(row.get("model")))


def answered(row: Mapping[str, Any]) -> bool:
    """Whether a cache row holds a model answer (rows of backend failures do not)."""
    return row.get("raw") is not None


def read_cache(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a teacher cache (a torn last line from a crash is ignored)."""
    path = Path(path)
    try:
        return read_jsonl_tolerant(path)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: a line before the last one is not JSON ({err.msg})",
                          hint="the file was edited or is not a teacher cache; move it away and rerun") from err


def drop_torn_tail(path: str | Path) -> bool:
    """Cut a torn last line (no newline: the write was interrupted) off ``path`` so the next append
    starts on a fresh line. Returns whether something was cut."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return False
        fh.seek(0)
        content = fh.read()
        keep = content.rfind(b"\n") + 1
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    log.warning("%s: dropped a torn last line (%d bytes) left by an interrupted run", path, len(content) - keep)
    return True


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
    out: dict[str, dict[str, Any]] = {}
    for row in read_cache(path):
        if not answered(row) or (valid_only and not row.get("valid")):
            continue
        if (model and row.get("model") != model) or (mode and row.get("mode") != mode):
            continue
        if cue_texts is not None and cue_texts.get(row["key"]) != row.get("cues"):
            continue
        kept = out.get(row["key"])
        if kept is not None and kept.get("valid") and not row.get("valid"):
            continue
        out[row["key"]] = row
    return out


def failure_kind(failure: str) -> str:
    """The first reason of a failure, without its specifics (for counting)."""
    first = failure.split("; ")[0]
    return re.sub(r"\s*\(.*?\)|'[^']*'", "", first).replace("  ", " ").strip()


# --- the run -------------------------------------------------------------------------------------
@dataclass
class TeacherSummary:
    """What a teacher run did (or, for a dry run, would do).

    Attributes
    ----------
    total : requests for this run (utterances with cues, after ``limit``).
    cached : already answered in the cache for this prompt and model.
    todo : requests to send in the normal pass (never answered yet).
    done : answered in the normal pass of this run; ``valid`` of them passed validation.
    attempts : the most answers per utterance this run allows (1 = no retries).
    retry_todo : utterances already answered when the run started, none validly, with fewer than
        ``attempts`` answers: they are asked again (so are normal-pass answers that fail).
    retried : utterances asked again in this run; ``retries`` answers they got (backend errors
        excluded); ``recovered`` of the utterances got a valid answer that way.
    valid_total : requests with a valid answer in the cache after the run (for this prompt and
        model; a dry run counts the cache as it is).
    backend_errors : requests the backend failed (recorded, asked again by the next run; not
        attempts).
    failures : validation failure reasons (first reason of each row) of the normal pass's answers,
        and their counts; ``retry_failures`` the same for the retry answers.
    agreement : blind mode: normal-pass answers whose label matches the annotation.
    skipped : keys left out by reason (no cues, no label).
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
    agreement: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)
    est_prompt_tokens: int = 0
    est_completion_tokens: int = 0
    seconds: float = 0.0
    output: Path | None = None
    model: str = ""
    mode: str = ""
    template: str = ""

    @property
    def per_minute(self) -> float:
        """Answers per minute of generation (normal pass and retries)."""
        return 60.0 * (self.done + self.retries) / self.seconds if self.seconds > 0 else 0.0


def select_utterances(utterances: Sequence[Utterance], *, limit: int | None = None,
                      seed: int | None = None, keys: Iterable[str] | None = None) -> list[Utterance]:
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


def estimate_tokens(messages: Sequence[Mapping[str, str]], count: Any = None) -> int:
    """Prompt tokens: ``count(messages)`` when a counter is given, else ~4 characters per token
    plus a few per message for the chat markup."""
    if count is not None:
        return int(count(messages))
    return sum(len(m["content"]) // 4 + 4 for m in messages)


@dataclass
class AnswerHistory:
    """What the cache holds for one prompt: how many answers (backend failures excluded) and
    whether one of them is valid."""

    answers: int = 0
    valid: bool = False

    def needs_retry(self, attempts: int) -> bool:
        """Answered, never validly, and fewer than ``attempts`` answers so far."""
        return 0 < self.answers < attempts and not self.valid


def answer_history(rows: Iterable[Mapping[str, Any]], model: str | None) -> dict[tuple[str, str], AnswerHistory]:
    """``(key, prompt_sha256) -> AnswerHistory`` over the cache rows of ``model`` (any model when
    ``None``): the attempt count of every prompt, read back from the cache."""
    out: dict[tuple[str, str], AnswerHistory] = {}
    for row in rows:
        if not answered(row) or (model is not None and str(row.get("model")) != model):
            continue
        history = out.setdefault((str(row.get("key")), str(row.get("prompt_sha256"))), AnswerHistory())
        history.answers += 1
        history.valid = history.valid or bool(row.get("valid"))
    return out


def attempt_seed(retry_seed: int, attempt: int) -> int:
    """The sampling seed of attempt ``attempt`` (the backend adds each conversation's offset in
    its batch); attempts are 100,003 apart so their seeds do not collide for realistic batches."""
    return (int(retry_seed) * 1_000_003 + int(attempt) * 100_003) % 2**31


def _row(req: TeacherRequest, result: ChatResult | Exception, *, backend: LLMBackend, model: str,
         template: PromptTemplate, mode: str, labels: Sequence[str], examples: Sequence[WorkedExample],
         seconds: float, attempt: int = 1, temperature: float = 0.0, seed: int | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "key": req.key, "label": req.label, "predicted": None, "reasoning": None, "raw": None,
        "model": model, "backend": backend.name, **template.identity(), "prompt_sha256": req.prompt_sha256,
        "mode": mode, "valid": False, "failure": None, "agreement": None, "usage": None,
        "finish_reason": None, "attempt": attempt, "temperature": temperature, "seed": seed,
        "transcript": req.transcript, "cues": req.cue_text,
        "seconds": round(seconds, 3), "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if isinstance(result, Exception):
        row["failure"] = f"backend: {type(result).__name__}: {result}"
        return row
    parsed = parse_teacher_output(result.text, result.reasoning, labels)
    problems = validate_output(parsed, cue_text=req.cue_text, mode=mode, annotated=req.label, labels=labels,
                               finish_reason=result.finish_reason, examples=examples)
    raw = result.raw if result.raw is not None else result.text
    if result.reasoning and result.reasoning not in raw:
        raw = f"<think>{result.reasoning}</think>{raw}"
    row.update(predicted=parsed.label, reasoning=parsed.reasoning or None, raw=raw, valid=not problems,
               failure="; ".join(problems) or None, usage=result.usage(), finish_reason=result.finish_reason)
    if parsed.explanation and parsed.explanation != parsed.reasoning:
        row["explanation"] = parsed.explanation
    if mode == "blind" and req.label:
        row["agreement"] = parsed.label == req.label
    return row


def run_teacher(utterances: Sequence[Utterance], cue_texts: Mapping[str, str], output: str | Path, *,
                backend: LLMBackend | None = None, model_name: str | None = None, mode: str = "label",
                template: str | Path | PromptTemplate | None = None, labels: Sequence[str] | None = None,
                limit: int | None = None, seed: int | None = None, max_tokens: int = DEFAULT_MAX_TOKENS,
                temperature: float = 0.0, attempts: int = 1,
                retry_temperature: float = DEFAULT_RETRY_TEMPERATURE, retry_seed: int = 0,
                dry_run: bool = False, count_tokens: Any = None, progress: bool = True) -> TeacherSummary:
    """Ask the teacher about every utterance not yet in the cache, appending one line per answer;
    with ``attempts > 1``, ask again by sampling where no answer is valid yet.

    Parameters
    ----------
    utterances : the manifest's utterances.
    cue_texts : rendered cue text by key (see :func:`cue_texts_for`).
    output : the cache file (JSONL, appended to; created if missing).
    backend : the LLM (not needed for a dry run).
    model_name : the model name the cache is keyed on (default ``backend.model_name``; a dry run
        without it counts rows of any model as cached).
    mode : ``"label"`` (the teacher is told the annotation, spokenemo's default) or ``"blind"``.
    template : a template name, a YAML path or a loaded template (default per mode).
    labels : candidate emotions (default: the labels present in ``utterances``).
    limit, seed : cover only the first ``limit`` utterances (after shuffling with ``seed``).
    max_tokens, temperature : generation settings of the normal pass (greedy by default).
    attempts : the most answers per utterance (prompt and model), counted from the cache: after
        the normal pass, utterances with answers but none valid are asked again until one is
        valid or they have ``attempts`` answers (1 = no retries). Backend failures do not count.
    retry_temperature : sampling temperature of the retries (> 0: a greedy retry would repeat the
        greedy answer).
    retry_seed : base of the per-attempt sampling seeds (:func:`attempt_seed`), used by backends
        that can seed (:attr:`~spokenemo.llm.base.LLMBackend.supports_seed`); others just sample.
    dry_run : only count requests (excluding cached ones) and estimate tokens.
    count_tokens : ``callable(messages) -> int`` for exact prompt token counts in a dry run.
    progress : show a tqdm bar (rate and ETA).

    Raises
    ------
    ConfigError : bad mode/template/limit/attempts; AuthenticationError : the server refused the
    key; BackendError : the backend failed :data:`MAX_CONSECUTIVE_BACKEND_ERRORS` times in a row.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown teacher mode {mode!r}", hint="use label (default) or blind")
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ConfigError(f"attempts must be an integer of at least 1, got {attempts!r}",
                          hint="1 = one answer per utterance; 3 = up to two sampled retries of invalid ones")
    if attempts > 1 and not retry_temperature > 0:
        raise ConfigError(f"retry_temperature must be above 0 for retries, got {retry_temperature}",
                          hint="a greedy retry gives the greedy answer again; try 0.7")
    if not isinstance(template, PromptTemplate):
        template = load_template(template or DEFAULT_TEMPLATES[mode])
    expected_kind = f"teacher_{mode}"
    if template.kind != expected_kind:
        raise ConfigError(f"template {template.name!r} is a {template.kind} template but mode is {mode!r}",
                          hint=f"use a {expected_kind} template, or --mode {template.kind.removeprefix('teacher_')}")
    labels = list(labels) if labels else label_names(utterances)
    if not labels:
        raise ConfigError("no emotion labels: the manifest has no labelled utterance and none were given",
                          hint="pass --labels angry,happy,...")
    chosen = select_utterances(utterances, limit=limit, seed=seed)
    requests, skipped = build_requests(chosen, cue_texts, template, labels)
    output = Path(output)
    if backend is None and not dry_run:
        raise ConfigError("run_teacher needs a backend unless dry_run=True")
    model = model_name or (backend.model_name if backend is not None else None)
    history = answer_history(read_cache(output), model)  # no model (dry run): any model counts

    def past(req: TeacherRequest) -> AnswerHistory:
        return history.setdefault((req.key, req.prompt_sha256), AnswerHistory())

    todo = [r for r in requests if past(r).answers == 0]
    retry_todo = [r for r in requests if past(r).needs_retry(attempts)]
    summary = TeacherSummary(total=len(requests), cached=len(requests) - len(todo), todo=len(todo),
                             attempts=attempts, retry_todo=len(retry_todo), skipped=skipped, output=output,
                             model=model or "(any)", mode=mode, template=f"{template.name} v{template.version}")
    if dry_run:
        summary.valid_total = sum(past(r).valid for r in requests)
        asks = [(r, attempts) for r in todo] + [(r, attempts - past(r).answers) for r in retry_todo]
        summary.est_prompt_tokens = sum(n * estimate_tokens(r.messages, count_tokens) for r, n in asks)
        summary.est_completion_tokens = max_tokens * sum(n for _, n in asks)
        return summary
    assert backend is not None and model is not None
    llm: LLMBackend = backend
    model_key: str = model
    drop_torn_tail(output)
    examples = example_answers(template, labels)
    can_seed = bool(getattr(llm, "supports_seed", False))
    bar = None
    if progress and (todo or retry_todo):
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="utt", desc=f"teacher {Path(model).name}", dynamic_ncols=True)
    t0 = time.perf_counter()
    clock = {"last": t0, "consecutive": 0}
    errored: set[tuple[str, str]] = set()  # asked again by the next run, not by this one
    retried: set[tuple[str, str]] = set()

    def ask(batch: list[TeacherRequest], attempt: int, temp: float, retry: bool) -> None:
        sample_seed = attempt_seed(retry_seed, attempt) if can_seed and temp > 0 else None
        extra = {"seed": sample_seed} if sample_seed is not None else {}
        stream = llm.iter_chat([r.messages for r in batch], max_tokens=max_tokens, temperature=temp, **extra)
        unanswered = {(r.key, r.prompt_sha256) for r in batch}
        for index, result in stream:
            req = batch[index]
            unanswered.discard((req.key, req.prompt_sha256))
            now = time.perf_counter()
            row = _row(req, result, backend=llm, model=model_key, template=template, mode=mode, labels=labels,
                       examples=examples, seconds=now - clock["last"], attempt=attempt, temperature=temp,
                       seed=sample_seed)
            clock["last"] = now
            append_jsonl(output, row)
            if isinstance(result, Exception):
                summary.backend_errors += 1
                errored.add((req.key, req.prompt_sha256))
                clock["consecutive"] += 1
                log.warning("%s: %s", row["key"], row["failure"])
                if clock["consecutive"] >= MAX_CONSECUTIVE_BACKEND_ERRORS:
                    raise SpokenemoError(
                        f"the backend failed {clock['consecutive']} requests in a row; stopping (last: {result})",
                        hint=getattr(result, "hint", None) or "check the server and rerun: finished rows are kept")
            else:
                clock["consecutive"] = 0
                state = past(req)
                state.answers += 1
                state.valid = state.valid or bool(row["valid"])
                if retry:
                    summary.retries += 1
                    summary.recovered += bool(row["valid"])
                    if row["failure"]:
                        summary.retry_failures[failure_kind(row["failure"])] += 1
                else:
                    summary.done += 1
                    summary.valid += bool(row["valid"])
                    summary.agreement += bool(row["agreement"])
                    if row["failure"]:
                        summary.failures[failure_kind(row["failure"])] += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(valid=f"{summary.valid}/{summary.done}", retried=summary.retries,
                                recovered=summary.recovered, refresh=False)
        errored.update(unanswered)  # a stream that ended early: those are not retried in this run

    try:
        if todo:
            ask(todo, 1, temperature, retry=False)
        while True:  # retry rounds: each one asks every utterance still invalid and below the limit once
            pending = [r for r in requests
                       if (r.key, r.prompt_sha256) not in errored and past(r).needs_retry(attempts)]
            if not pending:
                break
            by_attempt: dict[int, list[TeacherRequest]] = {}
            for r in pending:
                by_attempt.setdefault(past(r).answers + 1, []).append(r)
                retried.add((r.key, r.prompt_sha256))
            if bar is not None:
                bar.total += len(pending)
                bar.refresh()
            for attempt in sorted(by_attempt):
                ask(by_attempt[attempt], attempt, retry_temperature, retry=True)
    except KeyboardInterrupt:
        log.warning("interrupted: %d answers saved in %s; rerun the same command to resume",
                    summary.done + summary.retries, output)
        raise
    finally:
        summary.seconds = time.perf_counter() - t0
        summary.retried = len(retried)
        summary.valid_total = sum(past(r).valid for r in requests)
        if bar is not None:
            bar.close()
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
    from spokenemo.features.cues.batch import read_cue_table

    rows = read_cue_table(cues)
    wanted = set(keys) if keys is not None else None
    text_col = next((c for c in TEXT_COLUMNS if rows and c in rows[0]), None)
    if text_col:
        return {r["key"]: str(r[text_col]) for r in rows if r.get(text_col)}, f"column {text_col!r} of {cues}"
    from spokenemo.features.cues.text import CueTextConfig, render_cue_text
    from spokenemo.features.cues.thresholds import Thresholds

    if thresholds is not None:
        fitted, source = Thresholds.load(thresholds), f"thresholds from {thresholds}"
    else:
        fit_rows = [r for r in rows if wanted is None or r["key"] in wanted]
        fitted = Thresholds.fit(fit_rows, info={"source": str(cues)})
        source = f"thresholds fitted on {len(fit_rows)} rows of {cues} (medians)"
    config = CueTextConfig.variant(variant)
    from spokenemo.features.cues.thresholds import speaker_of

    texts = {r["key"]: render_cue_text(r, fitted, config, speaker=speaker_of(r))
             for r in rows if wanted is None or r["key"] in wanted}
    return texts, source
