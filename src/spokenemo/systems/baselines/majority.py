"""``majority``: always the most frequent class of the training part (ties: the first in sorted order)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spokenemo.data.manifest import Segment
from spokenemo.systems.base import Predictions, SystemConfig, preset
from spokenemo.systems.baselines.numeric import SklearnBaseline
from spokenemo.systems.context import FoldContext
from spokenemo.systems.registry import register_system


class MajorityConfig(SystemConfig):
    """``majority`` has no options."""


@register_system("majority", MajorityConfig)
class Majority(SklearnBaseline):
    """The chance-level floor of every table."""

    presets = {"majority": preset("majority class")}

    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.context = context
        self._fit_estimator(np.zeros((len(train), 1)), [str(u.label) for u in train], context.seed)

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        return self._predictions(np.zeros((len(segments), 1)))
