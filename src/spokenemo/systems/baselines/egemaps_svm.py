"""``egemaps-svm``: eGeMAPSv02 functionals (88, openSMILE) + linear SVM.

Imputed with the training median, standardised on the training part, linear SVM with balanced
class weights (``C`` = 0.01). Optional per-speaker z-scoring (``speaker_z``). Skipped with a
note when openSMILE is not installed (its binary has a research-only licence).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spokenemo.data.manifest import Segment
from spokenemo.systems.base import SystemConfig, preset
from spokenemo.systems.baselines.numeric import NumericBaseline
from spokenemo.systems.context import TaskContext
from spokenemo.systems.registry import register_system


class EgemapsSVMConfig(SystemConfig):
    """Options of ``egemaps-svm``: ``speaker_z`` (per-speaker z-scoring first), ``C``."""

    speaker_z: bool = False
    C: float = 0.01


@register_system("egemaps-svm", EgemapsSVMConfig)
class EgemapsSVM(NumericBaseline):
    """eGeMAPS functionals + linear SVM (hard decisions: one-hot probabilities)."""

    features = ("egemaps",)
    presets = {
        "egemaps-svm": preset("eGeMAPS functionals + linear SVM"),
        "egemaps-svm-speaker-z": preset("eGeMAPS functionals (per-speaker z) + linear SVM", speaker_z=True),
    }

    def feature_matrix(self, segments: Sequence[Segment], context: TaskContext) -> np.ndarray:
        return context.features.matrix("egemaps", segments)
