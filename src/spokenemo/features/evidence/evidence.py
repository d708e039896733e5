"""Cue evidence of one segment against a stated baseline: :class:`Baseline`, :func:`compare`.

The baseline is always named: the speaker's other segments (same recording), reference clips of
the speaker, or training medians. Each cue gets a :class:`Comparison`: the value, the baseline's
median, the difference in units a person can hear (semitones, dB, %, pauses, seconds) and a
direction (+1 / -1 when the difference reaches the cue's just-noticeable difference, 0 below).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import ConfigError
from spokenemo.features.evidence.catalogue import CONTOUR_SHAPES, CUE_NAMES, SPECS, difference, direction
from spokenemo.features.evidence.measure import CueMeasures

BASELINE_SOURCES = ("speaker", "reference", "training", "cue-words")
TRAINING_MEDIANS = Path(__file__).with_name("training_medians.json")
#: A pitch this many semitones away from the baseline suggests a baseline of another speaker.
OTHER_SPEAKER_ST = 8.0


@dataclass(frozen=True)
class Baseline:
    """Median cue values the segment is compared with.

    Attributes
    ----------
    source : ``speaker`` (the speaker's other segments), ``reference`` (reference clips),
        ``training`` (training medians) or ``cue-words`` (words of an AECoTD cue text).
    description : how the text names it ("the speaker's other 5 segments").
    n : segments behind the medians.
    values : median per cue (cues no segment had are absent).
    """

    source: str
    description: str
    n: int
    values: dict[str, float]

    @classmethod
    def from_measures(cls, measures: Iterable[CueMeasures], *, source: str = "speaker",
                      description: str | None = None) -> Baseline:
        """Medians of the measured cues of several segments (unmeasured values are skipped)."""
        if source not in BASELINE_SOURCES:
            raise ConfigError(f"unknown baseline source {source!r}", hint=f"use one of {BASELINE_SOURCES}")
        items = list(measures)
        values: dict[str, float] = {}
        for name in CUE_NAMES:
            got = [m.values[name] for m in items if m.values.get(name) is not None]
            if got:
                values[name] = float(np.median(got))
        default = {"speaker": f"the speaker's other {len(items)} segments",
                   "reference": f"{len(items)} reference clips of the speaker",
                   "training": f"training medians over {len(items)} clips"}.get(source, source)
        return cls(source=source, description=description or default, n=len(items), values=values)

    @classmethod
    def training(cls, path: str | Path | None = None) -> Baseline:
        """The training medians shipped with spokenemo (or saved by :meth:`save`)."""
        file = Path(path) if path else TRAINING_MEDIANS
        if not file.is_file():
            raise ConfigError(f"{file}: no training medians", hint="pass a baseline or reference clips instead")
        return cls.from_dict(json.loads(file.read_text()))

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "description": self.description, "n": self.n, "values": dict(self.values)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        return cls(source=str(data["source"]), description=str(data["description"]), n=int(data["n"]),
                   values={k: float(v) for k, v in dict(data["values"]).items()})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")


@dataclass(frozen=True)
class Comparison:
    """One cue of the segment against the baseline.

    Attributes
    ----------
    value, baseline : the segment's value and the baseline median (None if not measured).
    delta : difference in the cue's ``delta_unit`` (None if either is missing).
    direction : +1 / -1 (noticeable), 0 (about the same), None (unknown).
    reason : why the comparison is missing.
    """

    name: str
    value: float | None
    baseline: float | None
    delta: float | None
    direction: int | None
    reason: str | None = None

    @property
    def known(self) -> bool:
        return self.direction is not None

    def to_dict(self) -> dict[str, Any]:
        spec = SPECS[self.name]
        return {"cue": self.name, "value": self.value, "baseline": self.baseline, "unit": spec.unit,
                "delta": self.delta, "delta_unit": spec.delta_unit, "direction": self.direction,
                "reason": self.reason}


@dataclass(frozen=True)
class Evidence:
    """The measured cues of a segment, the baseline, and every comparison.

    ``contour_direction`` is +1 (rising), -1 (falling) or 0 (level or rise-fall), None unmeasured;
    it needs no baseline. ``notes`` say what could not be measured or trusted, and why.
    """

    measures: CueMeasures | None
    baseline: Baseline | None
    comparisons: dict[str, Comparison]
    contour_shape: str | None = None
    contour_change: float | None = None
    contour_unit: str = "semitones"
    loudness_change_db: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def contour_direction(self) -> int | None:
        return None if self.contour_shape is None else CONTOUR_SHAPES[self.contour_shape]

    def known(self) -> list[Comparison]:
        """Comparisons with a direction, in catalogue order."""
        return [c for c in self.comparisons.values() if c.known]

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "cues": [c.to_dict() for c in self.comparisons.values()],
            "contour": {"shape": self.contour_shape, "change": self.contour_change, "unit": self.contour_unit,
                        "loudness_change_db": self.loudness_change_db,
                        **({"peak_position": self.measures.contour.peak_position,
                            "segments_st": list(self.measures.contour.segments_st)} if self.measures else {})},
            "measures": self.measures.to_dict() if self.measures else None,
            "notes": list(self.notes),
        }


def _comparison(name: str, measures: CueMeasures, baseline: Baseline | None) -> Comparison:
    value = measures.values.get(name)
    if value is None:
        return Comparison(name, None, None, None, None, measures.missing.get(name, "not measured"))
    if baseline is None:
        return Comparison(name, value, None, None, None, "no baseline")
    base = baseline.values.get(name)
    if base is None:
        return Comparison(name, value, None, None, None, f"not measured in {baseline.description}")
    delta = difference(name, value, base)
    reason = None if delta is not None else "a zero value cannot be compared in percent"
    return Comparison(name, value, base, delta, direction(name, delta), reason)


def compare(measures: CueMeasures, baseline: Baseline | None = None) -> Evidence:
    """Compare every cue of ``measures`` with ``baseline`` (None: values only, no direction)."""
    comparisons = {name: _comparison(name, measures, baseline) for name in CUE_NAMES}
    notes: list[str] = []
    if baseline is None:
        notes.append("no baseline: values are shown, but no cue is called higher or lower")
    elif baseline.n == 0 or not baseline.values:
        notes.append(f"the baseline ({baseline.description}) has no measurable cue (silent or empty clips)")
    pitch = comparisons["pitch"]
    if pitch.delta is not None and abs(pitch.delta) >= OTHER_SPEAKER_ST and baseline is not None:
        notes.append(f"the pitch is {abs(pitch.delta):.1f} semitones away from {baseline.description}: "
                     "the baseline may be another speaker")
    reasons = sorted({measures.missing[c] for c in measures.missing if c != "pause_length"})
    notes += [f"not measured: {r}" for r in reasons]
    contour = measures.contour
    if contour.reason:
        notes.append(f"pitch contour not measured: {contour.reason}")
    return Evidence(measures=measures, baseline=baseline, comparisons=comparisons, contour_shape=contour.shape,
                    contour_change=contour.change_st, loudness_change_db=contour.loudness_change_db, notes=notes)
