"""Reading AECoTD teacher answers: parse ``{label, reasoning}``, and every reason an answer is
not a usable chain of thought (:func:`validate_output`): no or wrong label, too short, no
acoustic cue, a statement the cue text proves wrong, another emotion argued for, a loop, a copy
of the template's worked example. See docs/methods/aecotd.md (section 4, the teacher's chain of
thought).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from spokenemo.core.errors import LabelError
from spokenemo.llm.base import split_reasoning
from spokenemo.llm.prompts import PromptTemplate
from spokenemo.protocols.labels import normalize_label

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
