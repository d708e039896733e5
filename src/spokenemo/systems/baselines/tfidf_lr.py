"""``tfidf-lr``: TF-IDF of the transcript (word 1-2 grams) + logistic regression.

Balanced class weights unless ``balanced: false``; a segment without a transcript is an empty
document (counted in ``n_without_text``). Skipped with a note on corpora without transcripts.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from spokenemo.data.manifest import Segment
from spokenemo.systems.base import Predictions, SystemConfig, preset
from spokenemo.systems.baselines.numeric import SklearnBaseline
from spokenemo.systems.context import FoldContext
from spokenemo.systems.registry import register_system


class TfidfLRConfig(SystemConfig):
    """Options of ``tfidf-lr``: ``C``, ``ngram_max`` (word n-grams 1..n), ``min_df``, ``balanced``."""

    C: float = 1.0
    ngram_max: int = Field(2, ge=1)
    min_df: int = Field(1, ge=1)
    balanced: bool = True


def _texts(segments: Sequence[Segment]) -> list[str]:
    return [u.text or "" for u in segments]


def _without_text(segments: Sequence[Segment]) -> int:
    return sum(not (u.text or "").strip() for u in segments)


@register_system("tfidf-lr", TfidfLRConfig)
class TfidfLR(SklearnBaseline):
    """Transcript TF-IDF + logistic regression."""

    needs_text = True
    presets = {
        "tfidf-lr": preset("transcript TF-IDF + logistic regression"),
        "tfidf-lr-unbalanced": preset("transcript TF-IDF + logistic regression (unweighted classes)",
                                      balanced=False),
    }

    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.context = context
        self.info["n_without_text"] = _without_text(train)
        self._fit_estimator(_texts(train), [str(u.label) for u in train], context.seed)

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        self.info["n_without_text"] = self.info.get("n_without_text", 0) + _without_text(segments)
        return self._predictions(_texts(segments))
