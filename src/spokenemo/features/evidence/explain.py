"""Grounded explanation text: :func:`explain` (cue evidence + class probabilities -> :class:`Explanation`).

Every sentence is built from a measured comparison (:mod:`spokenemo.features.evidence.wording`),
so it is true of the measured cues by construction; the faithfulness checker verifies this on
real clips (tests/test_faithfulness.py). The paragraph:

1. what differs noticeably from the named baseline, with sizes, and what stays about the same;
2. the pitch contour on the spoken part;
3. which measured cues *support* the chosen emotion and which *speak against* it, per the emotion
   profiles (:mod:`spokenemo.features.evidence.profiles`); the contour counts only when it rises
   (statements fall by default, so a falling contour is not evidence for or against an emotion);
4. the runner-up emotion and the cues that separate the two;
5. an uncertainty note when the top two probabilities are within :data:`CLOSE_MARGIN`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spokenemo.core.errors import ConfigError
from spokenemo.features.evidence.catalogue import SPECS
from spokenemo.features.evidence.evidence import Evidence
from spokenemo.features.evidence.profiles import CONTOUR, PROFILE_CUES, profile
from spokenemo.features.evidence.wording import (
    contour_sentence,
    join,
    measured_phrase,
    role_phrase,
    same_phrase,
    sized,
    word_phrase,
)

#: Top-two probabilities closer than this get an uncertainty note.
CLOSE_MARGIN = 0.10
#: Most cues named in one list of the text (all are in the JSON).
MAX_LISTED = 4
#: Most noticeable differences written out with their values in the first sentence.
MAX_MEASURED = 5
#: Cues named in the "about the same" sentence when they did not change.
CORE_CUES = ("pitch", "pitch_range", "loudness", "speech_rate", "pause_count")


@dataclass(frozen=True)
class CueRole:
    """A measured cue for or against an emotion (``size`` in ``unit``; ``cue`` may be ``contour``)."""

    cue: str
    direction: int
    size: float | None
    unit: str
    phrase: str

    def to_dict(self) -> dict[str, Any]:
        return {"cue": self.cue, "direction": self.direction, "size": self.size, "unit": self.unit,
                "phrase": self.phrase}


@dataclass(frozen=True)
class Explanation:
    """A grounded explanation: the text and the structured reasons behind it."""

    text: str
    emotion: str
    probability: float | None
    supports: list[CueRole]
    opposes: list[CueRole]
    runner_up: dict[str, Any] | None
    uncertain: bool
    evidence: Evidence
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "emotion": self.emotion, "probability": self.probability,
                "supports": [r.to_dict() for r in self.supports], "opposes": [r.to_dict() for r in self.opposes],
                "runner_up": self.runner_up, "uncertain": self.uncertain, "notes": list(self.notes),
                "evidence": self.evidence.to_dict()}


def _measured_direction(ev: Evidence, cue: str) -> int | None:
    if cue == CONTOUR:
        return ev.contour_direction
    return ev.comparisons[cue].direction if cue in ev.comparisons else None


def contribution(ev: Evidence, emotion: str, cue: str) -> int:
    """+1 if the measured cue fits ``emotion``'s profile, -1 if it goes against it, 0 otherwise."""
    prof = profile(emotion)
    d = _measured_direction(ev, cue)
    if prof is None or d is None:
        return 0
    if prof.emotion == "neutral":
        return 0 if cue == CONTOUR else (1 if d == 0 else -1)
    if cue == CONTOUR and d != 1:
        return 0  # statements fall by default (declination): only a rising contour is marked
    expected = prof.expects(cue)
    return 0 if expected == 0 or d == 0 else (1 if expected == d else -1)


def _role(ev: Evidence, cue: str) -> CueRole:
    if cue == CONTOUR:
        return CueRole(CONTOUR, ev.contour_direction or 0, ev.contour_change, ev.contour_unit, role_phrase(ev, cue))
    c = ev.comparisons[cue]
    return CueRole(cue, c.direction or 0, c.delta, SPECS[cue].delta_unit, role_phrase(ev, cue))


def _weight(ev: Evidence, cue: str) -> float:
    """How far past its just-noticeable difference a cue is (for ordering the lists)."""
    if cue == CONTOUR:
        return abs(ev.contour_change or 0.0) / 2.0
    c = ev.comparisons[cue]
    return abs(c.delta or 0.0) / SPECS[cue].jnd


def roles(ev: Evidence, emotion: str) -> tuple[list[CueRole], list[CueRole]]:
    """``(supports, opposes)`` of ``emotion``, strongest first."""
    scored = [(cue, contribution(ev, emotion, cue)) for cue in PROFILE_CUES]
    sup = sorted((c for c, s in scored if s > 0), key=lambda c: -_weight(ev, c))
    opp = sorted((c for c, s in scored if s < 0), key=lambda c: -_weight(ev, c))
    return [_role(ev, c) for c in sup], [_role(ev, c) for c in opp]


def _measurement_sentences(ev: Evidence) -> list[str]:
    known = ev.known()
    if ev.baseline is None or not known:
        return []
    if not sized(ev):
        return [f"Against {ev.baseline.description}, " + join([word_phrase(c) for c in known if c.direction]) + "."]
    changed = sorted((c for c in known if c.direction), key=lambda c: -abs(c.delta or 0) / SPECS[c.name].jnd)
    same = [c for c in known if c.direction == 0 and c.name in CORE_CUES]
    out = []
    if changed:
        out.append(f"Against {ev.baseline.description}, "
                   + join([measured_phrase(c) for c in changed[:MAX_MEASURED]]) + ".")
    else:
        out.append(f"Against {ev.baseline.description}, no measured cue differs noticeably.")
    if same:
        text = same_phrase(same)
        out.append(text[0].upper() + text[1:] + ".")
    return out


def _role_sentence(emotion: str, supports: list[CueRole], opposes: list[CueRole]) -> str:
    if profile(emotion) is None:
        return f"The cue profiles have no entry for {emotion}, so no measured cue is counted for or against it."
    sup = join([r.phrase for r in supports[:MAX_LISTED]])
    opp = join([r.phrase for r in opposes[:MAX_LISTED]])
    verb_s = "fits" if len(supports[:MAX_LISTED]) == 1 else "fit"
    verb_o = "speaks" if len(opposes[:MAX_LISTED]) == 1 else "speak"
    if sup and opp:
        return f"For {emotion}, {sup} {verb_s}; {opp} {verb_o} against it."
    if sup:
        return f"For {emotion}, {sup} {verb_s}, and no measured cue speaks against it."
    if opp:
        return f"For {emotion}, no measured cue fits its profile; {opp} {verb_o} against it."
    return f"For {emotion}, no measured cue fits or goes against its profile."


def _runner_up(ev: Evidence, emotion: str, probs: Mapping[str, float]) -> tuple[dict[str, Any] | None, str | None]:
    ranked = sorted(probs.items(), key=lambda kv: -kv[1])
    if len(ranked) < 2:
        return None, None
    other, p_other = ranked[1]
    p_top = probs[emotion]
    for_top, for_other = [], []
    for cue in PROFILE_CUES:
        a, b = contribution(ev, emotion, cue), contribution(ev, other, cue)
        if a != b and _measured_direction(ev, cue) is not None:
            (for_top if a > b else for_other).append(cue)
    info = {"emotion": other, "probability": p_other, "separating": [
        {**_role(ev, c).to_dict(), "favours": emotion} for c in for_top] + [
        {**_role(ev, c).to_dict(), "favours": other} for c in for_other]}
    head = f"The runner-up is {other} ({p_other:.2f} against {p_top:.2f} for {emotion})"
    parts = []
    if for_top:
        parts.append(f"{join([role_phrase(ev, c) for c in for_top[:MAX_LISTED]])} "
                     f"{'fits' if len(for_top[:MAX_LISTED]) == 1 else 'fit'} {emotion} better")
    if for_other:
        parts.append(f"{join([role_phrase(ev, c) for c in for_other[:MAX_LISTED]])} "
                     f"{'fits' if len(for_other[:MAX_LISTED]) == 1 else 'fit'} {other} better")
    tail = "; ".join(parts) if parts else "the measured cues do not separate the two"
    return info, f"{head}: {tail}."


def grounded_sentences(evidence: Evidence, emotion: str) -> tuple[list[str], list[CueRole], list[CueRole]]:
    """The measurement, contour and support/oppose sentences for ``emotion`` (no runner-up)."""
    supports, opposes = roles(evidence, emotion)
    sentences = _measurement_sentences(evidence)
    contour = contour_sentence(evidence)
    if contour:
        sentences.append(contour)
    if not sentences:
        sentences.append("No cue could be compared with a baseline or measured on the contour"
                         + (f" ({evidence.notes[0]})." if evidence.notes else "."))
    sentences.append(_role_sentence(emotion, supports, opposes))
    return sentences, supports, opposes


def explain(evidence: Evidence, probabilities: Mapping[str, float], *, emotion: str | None = None) -> Explanation:
    """Explain the chosen emotion from the evidence.

    Parameters
    ----------
    evidence : the segment's cue evidence (:func:`~spokenemo.features.evidence.evidence.compare`).
    probabilities : class -> probability (the argmax is the chosen emotion unless ``emotion``).
    emotion : explain this emotion instead (the AECoTD teacher explains the annotated one).
    """
    probs = {str(k): float(v) for k, v in probabilities.items()}
    if not probs and emotion is None:
        raise ConfigError("no probabilities and no emotion to explain", hint="pass {'angry': 0.7, ...}")
    chosen = emotion or max(probs, key=lambda k: probs[k])
    if probs and chosen not in probs:
        raise ConfigError(f"{chosen!r} is not among the classes {sorted(probs)}")
    sentences, supports, opposes = grounded_sentences(evidence, chosen)
    runner, runner_text = _runner_up(evidence, chosen, probs) if probs else (None, None)
    if runner_text:
        sentences.append(runner_text)
    uncertain = bool(runner) and probs[chosen] - float(runner["probability"]) < CLOSE_MARGIN  # type: ignore[index]
    if uncertain:
        sentences.append(f"The two are close ({probs[chosen]:.2f} against {runner['probability']:.2f}), "  # type: ignore[index]
                         "so the choice between them is uncertain.")
    return Explanation(text=" ".join(sentences), emotion=chosen, probability=probs.get(chosen), supports=supports,
                       opposes=opposes, runner_up=runner, uncertain=uncertain, evidence=evidence,
                       notes=list(evidence.notes))
