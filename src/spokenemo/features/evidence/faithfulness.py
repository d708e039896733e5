"""Faithfulness of an explanation to the measured cues: :func:`check_faithfulness`.

Each claim of :func:`~spokenemo.features.evidence.claims.parse_claims` is checked against the
segment's :class:`~spokenemo.features.evidence.evidence.Evidence`:

- a **direction** claim ("the pitch is higher") agrees when the measured difference goes that way
  by at least half the cue's just-noticeable difference, *contradicts* when it goes the other way
  by as much, and is *not supported* in between (the measurement says "about the same");
  negated claims ("not fast") agree unless the measurement goes the claimed way;
- a **same** claim ("about the same") agrees when the difference is below the just-noticeable one;
- a **contour** claim ("rising") agrees when the measured shape goes that way (or, for a level
  contour, the change is at least 1 semitone that way); "rises and then falls" needs that shape;
- "no pauses" agrees when no pause was measured;
- a claim about a cue without measurement or baseline is **unverifiable** (with the reason).

Scores: ``agreement`` = agreeing / verifiable claims (None without a verifiable claim), the
number of claims, and the unverifiable ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spokenemo.features.evidence.catalogue import CONTOUR_JND_ST, LOUDNESS_CONTOUR_JND_DB, SPECS
from spokenemo.features.evidence.claims import Claim, parse_claims
from spokenemo.features.evidence.evidence import Evidence

AGREE, CONTRADICT, UNSUPPORTED, UNVERIFIABLE = "agrees", "contradicts", "not supported", "unverifiable"


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    verdict: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.claim.to_dict(), "verdict": self.verdict, "reason": self.reason}


@dataclass(frozen=True)
class Faithfulness:
    """How far an explanation agrees with the measured cues."""

    verdicts: list[Verdict] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(v.verdict == verdict for v in self.verdicts)

    @property
    def n_claims(self) -> int:
        return len(self.verdicts)

    @property
    def n_verifiable(self) -> int:
        return self.n_claims - self.count(UNVERIFIABLE)

    @property
    def agreement(self) -> float | None:
        """Share of verifiable claims that agree (None when there is none)."""
        return self.count(AGREE) / self.n_verifiable if self.n_verifiable else None

    @property
    def reason(self) -> str | None:
        if not self.verdicts:
            return "the text makes no claim about a cue"
        if not self.n_verifiable:
            return "no claim of the text can be checked against the measurement"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"agreement": self.agreement, "claims": self.n_claims, "verifiable": self.n_verifiable,
                "agree": self.count(AGREE), "contradict": self.count(CONTRADICT),
                "not_supported": self.count(UNSUPPORTED), "unverifiable": self.count(UNVERIFIABLE),
                "reason": self.reason, "verdicts": [v.to_dict() for v in self.verdicts]}


def _signed(measured: int, claim: Claim) -> str:
    """Verdict of a direction claim from the measured sign (+1, -1, 0)."""
    if claim.negated:
        return CONTRADICT if measured == claim.sign else AGREE
    if measured == claim.sign:
        return AGREE
    return CONTRADICT if measured == -claim.sign else UNSUPPORTED


def _contour(claim: Claim, ev: Evidence) -> Verdict:
    if ev.contour_shape is None or ev.contour_change is None:
        return Verdict(claim, UNVERIFIABLE, "the pitch contour was not measured")
    change = ev.contour_change
    said = f"measured: {ev.contour_shape}, {change:+.1f} {ev.contour_unit}"
    if claim.kind == "shape":
        if claim.shape == "level":
            ok = ev.contour_direction == 0 and ev.contour_shape == "level"
        else:
            ok = ev.contour_shape == claim.shape
        return Verdict(claim, AGREE if ok else UNSUPPORTED, said)
    measured = ev.contour_direction or 0
    if measured == 0 and ev.contour_unit == "semitones" and abs(change) >= CONTOUR_JND_ST / 2:
        measured = 1 if change > 0 else -1
    return Verdict(claim, _signed(measured, claim), said)


def _loudness_contour(claim: Claim, ev: Evidence) -> Verdict:
    change = ev.loudness_change_db
    if change is None:
        return Verdict(claim, UNVERIFIABLE, "the loudness contour was not measured")
    tol = LOUDNESS_CONTOUR_JND_DB / 2
    measured = 1 if change >= tol else (-1 if change <= -tol else 0)
    return Verdict(claim, _signed(measured, claim), f"measured: {change:+.1f} dB over the segment")


def check_claim(claim: Claim, ev: Evidence) -> Verdict:
    """The verdict on one claim."""
    if claim.cue == "contour":
        return _contour(claim, ev)
    if claim.cue == "loudness_contour":
        return _loudness_contour(claim, ev)
    comp = ev.comparisons.get(claim.cue)
    if comp is None:
        return Verdict(claim, UNVERIFIABLE, f"{claim.cue} is not measured")
    if claim.kind == "zero":
        if comp.value is None:
            return Verdict(claim, UNVERIFIABLE, comp.reason or "not measured")
        return Verdict(claim, AGREE if comp.value == 0 else CONTRADICT, f"measured: {comp.value:.0f} pauses")
    if comp.delta is None:
        return Verdict(claim, UNVERIFIABLE, comp.reason or "not compared")
    words = ev.baseline is not None and ev.baseline.source == "cue-words"
    jnd = 1e-9 if words else SPECS[claim.cue].jnd
    said = f"measured: {comp.delta:+.2f} {SPECS[claim.cue].delta_unit}".rstrip()
    if claim.kind == "same":
        if words:
            return Verdict(claim, UNVERIFIABLE, "cue words only say above or below the median")
        close = abs(comp.delta) < jnd
        return Verdict(claim, (CONTRADICT if close else AGREE) if claim.negated else (AGREE if close else CONTRADICT),
                       said)
    tol = jnd / 2
    measured = 1 if comp.delta >= tol else (-1 if comp.delta <= -tol else 0)
    return Verdict(claim, _signed(measured, claim), said)


def check_faithfulness(text: str, evidence: Evidence) -> Faithfulness:
    """Parse the cue claims of ``text`` and check each against ``evidence``."""
    return Faithfulness([check_claim(c, evidence) for c in parse_claims(text)])
