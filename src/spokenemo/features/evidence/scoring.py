"""Faithfulness over many explanations: :class:`FaithfulnessSummary` (what ``spokenemo faithfulness``
and the experiment report print for an explaining system).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spokenemo.features.evidence.faithfulness import (
    AGREE,
    CONTRADICT,
    UNSUPPORTED,
    UNVERIFIABLE,
    Faithfulness,
)

#: Fields an explanation may sit in, in a teacher cache or a predictions file (first found wins).
TEXT_FIELDS = ("reasoning", "explanation", "why", "text")


def explanation_text(row: Mapping[str, Any]) -> str | None:
    """The explanation of a row (teacher cache: ``reasoning``; predictions: ``explanation``...)."""
    for name in TEXT_FIELDS:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


@dataclass
class FaithfulnessSummary:
    """Totals over explanations.

    ``agreement`` is micro-averaged (all agreeing claims / all verifiable claims);
    ``mean_agreement`` averages the per-explanation shares (explanations with a verifiable claim).
    """

    explanations: int = 0
    without_text: int = 0
    without_claims: int = 0
    claims: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {AGREE: 0, CONTRADICT: 0, UNSUPPORTED: 0,
                                                             UNVERIFIABLE: 0})
    shares: list[float] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, result: Faithfulness) -> None:
        self.explanations += 1
        self.claims += result.n_claims
        for verdict in self.counts:
            self.counts[verdict] += result.count(verdict)
        if not result.n_claims:
            self.without_claims += 1
        if result.agreement is not None:
            self.shares.append(result.agreement)

    @property
    def verifiable(self) -> int:
        return self.claims - self.counts[UNVERIFIABLE]

    @property
    def agreement(self) -> float | None:
        return self.counts[AGREE] / self.verifiable if self.verifiable else None

    @property
    def mean_agreement(self) -> float | None:
        return sum(self.shares) / len(self.shares) if self.shares else None

    def to_dict(self) -> dict[str, Any]:
        n = max(self.explanations, 1)
        return {"explanations": self.explanations, "without_text": self.without_text,
                "without_claims": self.without_claims, "claims": self.claims, "verifiable": self.verifiable,
                "agree": self.counts[AGREE], "contradict": self.counts[CONTRADICT],
                "not_supported": self.counts[UNSUPPORTED], "unverifiable": self.counts[UNVERIFIABLE],
                "agreement": self.agreement, "mean_agreement": self.mean_agreement,
                "claims_per_explanation": self.claims / n, "verifiable_per_explanation": self.verifiable / n,
                "failures": dict(self.failures)}

    def line(self) -> str:
        """One line for a report."""
        d = self.to_dict()
        agree = "n/a" if d["agreement"] is None else f"{100 * d['agreement']:.1f} %"
        return (f"faithfulness {agree} of {d['verifiable']} verifiable claims ({d['contradict']} contradict, "
                f"{d['not_supported']} not supported); {d['claims_per_explanation']:.2f} claims and "
                f"{d['verifiable_per_explanation']:.2f} verifiable per explanation; {d['unverifiable']} unverifiable; "
                f"{d['without_claims']} of {d['explanations']} explanations name no cue")


def summarise(results: Iterable[Faithfulness]) -> FaithfulnessSummary:
    summary = FaithfulnessSummary()
    for r in results:
        summary.add(r)
    return summary
