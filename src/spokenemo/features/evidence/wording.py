"""Words for measured cues: every phrase is built from a :class:`Comparison` and states only what it
measured (direction and size), in the words :mod:`spokenemo.features.evidence.claims` reads back.
"""

from __future__ import annotations

from spokenemo.features.evidence.catalogue import CONTOUR_JND_ST, SPECS
from spokenemo.features.evidence.evidence import Comparison, Evidence
from spokenemo.features.evidence.profiles import CONTOUR

_PLURAL = {"pause_count", "pause_length"}


def _size(c: Comparison) -> str:
    spec = SPECS[c.name]
    assert c.delta is not None
    if c.name == "pause_count":
        n = abs(round(c.delta))
        return f"{n} {'pause' if n == 1 else 'pauses'}"
    unit = f" {spec.delta_unit}" if spec.delta_unit not in ("%", "s") else spec.delta_unit
    digits = 2 if c.name == "pause_length" else (0 if spec.delta == "pct" else 1)
    return f"{abs(c.delta):.{digits}f}{unit}"


def _values(c: Comparison) -> str:
    spec = SPECS[c.name]
    assert c.value is not None and c.baseline is not None
    unit = {"Hz": " Hz", "syll/s": " syllables per second", "st": " semitones", "dBFS": " dBFS", "dB": " dB",
            "s": " s", "%": " %", "": ""}[spec.unit]
    return f"{spec.fmt.format(c.value)} against {spec.fmt.format(c.baseline)}{unit}"


def measured_phrase(c: Comparison) -> str:
    """``"the pitch is 3.9 semitones higher (250 Hz against 200 Hz)"`` for a noticeable difference."""
    spec = SPECS[c.name]
    word = spec.up if c.direction == 1 else spec.down
    if c.name == "pause_count":
        n = abs(round(c.delta or 0))
        return f"there {'is' if n == 1 else 'are'} {n} {word} {'pause' if n == 1 else 'pauses'} ({_values(c)})"
    verb = "are" if c.name in _PLURAL else "is"
    noun = "the voice" if c.name == "loudness" else spec.noun
    return f"{noun} {verb} {_size(c)} {word} ({_values(c)})"


def word_phrase(c: Comparison) -> str:
    """``"the pitch is higher"`` (no size: for evidence read from cue words)."""
    spec = SPECS[c.name]
    word = spec.up if c.direction == 1 else spec.down
    if c.name == "pause_count":
        return f"there are {word} pauses"
    noun = "the voice" if c.name == "loudness" else spec.noun
    return f"{noun} {'are' if c.name in _PLURAL else 'is'} {word}"


def adjective_phrase(c: Comparison, sized: bool = True) -> str:
    """``"the higher pitch (+3.9 semitones)"`` / ``"the unchanged pitch"`` (for support lists)."""
    spec = SPECS[c.name]
    if c.direction == 0:
        noun = spec.noun.removeprefix("the ")
        return f"the unchanged {noun}"
    word = spec.up if c.direction == 1 else spec.down
    sign = "+" if (c.delta or 0) > 0 else "-"
    noun = "voice" if c.name == "loudness" else spec.noun.removeprefix("the ")
    size = _size(c) if sized else ""
    if not sized:
        return f"{word} pauses" if c.name in _PLURAL else f"the {word} {noun}"
    if c.name == "pause_count":
        return f"{word} pauses ({sign}{size.split()[0]})"
    if c.name == "pause_length":
        return f"{word} pauses ({sign}{size})"
    return f"the {word} {noun} ({sign}{size})"


def same_phrase(comparisons: list[Comparison]) -> str:
    """``"the pitch range and the speech rate are about the same"``."""
    nouns = [SPECS[c.name].noun for c in comparisons]
    joined = nouns[0] if len(nouns) == 1 else ", ".join(nouns[:-1]) + " and " + nouns[-1]
    plural = len(nouns) > 1 or comparisons[0].name in _PLURAL
    return f"{joined} {'are' if plural else 'is'} about the same"


def contour_sentence(ev: Evidence) -> str | None:
    """The pitch contour on the sounding span, or None when it was not measured."""
    if ev.contour_shape is None or ev.contour_change is None:
        return None
    if not sized(ev):
        if ev.contour_shape == "level":
            return None
        return f"Over the sentence, the pitch {'rises' if ev.contour_direction == 1 else 'falls'}."
    change = abs(ev.contour_change)
    where = ""
    if ev.measures is not None and ev.measures.contour.peak_position is not None:
        where = f", highest about {round(100 * ev.measures.contour.peak_position)} % of the way through"
    what = {
        "rising": f"the pitch rises by {change:.1f} semitones from start to end",
        "falling": f"the pitch falls by {change:.1f} semitones from start to end",
        "rise-fall": "the pitch rises and then falls",
        "fall-rise": "the pitch falls and then rises",
        "level": f"the pitch neither rises nor falls overall (under {CONTOUR_JND_ST:.0f} semitones "
                 "of change)",
    }[ev.contour_shape]
    return f"Over the spoken part, {what}{where}."


def sized(ev: Evidence) -> bool:
    """Whether the evidence has sizes (measured audio) rather than cue words only."""
    return ev.baseline is None or ev.baseline.source != "cue-words"


def contour_adjective(ev: Evidence) -> str:
    """``"the rising pitch (+3.9 semitones)"`` or ``"the falling pitch (-2.4 semitones)"``."""
    change = ev.contour_change or 0.0
    word = "rising" if ev.contour_direction == 1 else "falling"
    if not sized(ev):
        return f"the {word} pitch"
    return f"the {word} pitch ({'+' if change > 0 else '-'}{abs(change):.1f} semitones over the segment)"


def role_phrase(ev: Evidence, cue: str) -> str:
    """The adjective phrase of a cue or of the contour."""
    return contour_adjective(ev) if cue == CONTOUR else adjective_phrase(ev.comparisons[cue], sized(ev))


def join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
