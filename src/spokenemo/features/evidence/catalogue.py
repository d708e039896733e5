"""The cues of the evidence: names, units, how a difference is measured, and the words for it.

One table, :data:`CUES`, shared by the measurement, the explanation text and the faithfulness
checker, so the words the text uses for a cue are the words the checker reads back.

A difference against the baseline is ``value - baseline`` (``kind="diff"``) or, for ratios,
``12*log2(value / baseline)`` semitones (pitch) or ``100*(value / baseline - 1)`` % (rates,
jitter, shimmer). It counts as noticeable when its size reaches ``jnd`` (a just-noticeable
difference for speech, rounded up; ours): below that the cue is "about the same".
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CueSpec:
    """How one cue is measured and worded.

    Attributes
    ----------
    name : key in measures and comparisons.
    noun : the cue in plain words ("the pitch", "the speech rate").
    unit : unit of the value ("Hz", "dB", "syll/s").
    delta : ``"st"`` (semitones between two Hz values), ``"pct"`` (percent change) or ``"diff"``.
    delta_unit : unit of the difference as written ("semitones", "dB", "%").
    jnd : smallest difference that counts as noticeable, in ``delta_unit``.
    up, down : comparative words for a positive / negative difference ("higher", "lower").
    fmt : format of a value.
    """

    name: str
    noun: str
    unit: str
    delta: str
    delta_unit: str
    jnd: float
    up: str
    down: str
    fmt: str = "{:.1f}"


CUES: tuple[CueSpec, ...] = (
    CueSpec("pitch", "the pitch", "Hz", "st", "semitones", 1.0, "higher", "lower", "{:.0f}"),
    CueSpec("pitch_range", "the pitch range", "st", "diff", "semitones", 1.5, "wider", "narrower"),
    CueSpec("pitch_variability", "the pitch variability", "st", "diff", "semitones", 0.5, "higher", "lower"),
    CueSpec("loudness", "the loudness", "dBFS", "diff", "dB", 1.5, "louder", "softer"),
    CueSpec("loudness_variability", "the loudness variability", "dB", "diff", "dB", 1.0, "higher", "lower"),
    CueSpec("speech_rate", "the speech rate", "syll/s", "pct", "%", 10.0, "faster", "slower", "{:.1f}"),
    CueSpec("articulation_rate", "the articulation rate", "syll/s", "pct", "%", 10.0, "faster", "slower",
            "{:.1f}"),
    CueSpec("pause_count", "pauses", "", "diff", "", 1.0, "more", "fewer", "{:.0f}"),
    CueSpec("pause_length", "the pauses", "s", "diff", "s", 0.1, "longer", "shorter", "{:.2f}"),
    CueSpec("jitter", "the jitter", "%", "pct", "%", 20.0, "higher", "lower", "{:.2f}"),
    CueSpec("shimmer", "the shimmer", "%", "pct", "%", 20.0, "higher", "lower", "{:.1f}"),
    CueSpec("hnr", "the harmonics-to-noise ratio", "dB", "diff", "dB", 2.0, "higher", "lower"),
    CueSpec("spectral_tilt", "the spectral tilt", "dB", "diff", "dB", 2.0, "flatter", "steeper"),
)

SPECS: dict[str, CueSpec] = {c.name: c for c in CUES}
CUE_NAMES: tuple[str, ...] = tuple(SPECS)

#: Contour shapes and their direction (+1 rising, -1 falling, 0 otherwise).
CONTOUR_SHAPES = {"rising": 1, "falling": -1, "level": 0, "rise-fall": 0, "fall-rise": 0}
#: Pitch change from start to end of the sounding span (semitones) that makes a contour rising/falling.
CONTOUR_JND_ST = 2.0
#: Loudness change from start to end (dB) that makes the loudness rise or fall.
LOUDNESS_CONTOUR_JND_DB = 3.0


def difference(name: str, value: float, baseline: float) -> float | None:
    """The difference of ``value`` against ``baseline`` in the cue's ``delta_unit`` (None if undefined)."""
    kind = SPECS[name].delta
    if kind == "diff":
        return value - baseline
    if value <= 0 or baseline <= 0:
        return None
    if kind == "st":
        return 12.0 * math.log2(value / baseline)
    return 100.0 * (value / baseline - 1.0)


def direction(name: str, delta: float | None) -> int | None:
    """+1 / -1 when ``delta`` reaches the cue's ``jnd``, 0 below it, None when unknown."""
    if delta is None:
        return None
    jnd = SPECS[name].jnd
    if delta >= jnd - 1e-9:
        return 1
    if delta <= -jnd + 1e-9:
        return -1
    return 0
