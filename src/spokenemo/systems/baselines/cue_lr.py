"""``cue-lr``: logistic regression on the cue numbers the AECoTD student reads.

4 coarse cues (mean pitch Hz, intensity dBFS, speech rate, articulation rate) and 2 x n fine
segment values, imputed with the training median, standardised on the training part, logistic
regression with balanced class weights (``C``). Does the LLM add anything over a classifier
reading the same numbers?
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field, model_validator

from spokenemo.data.manifest import Segment
from spokenemo.systems.base import Requirements, SystemConfig, preset
from spokenemo.systems.baselines.numeric import NumericBaseline
from spokenemo.systems.context import FoldContext, TaskContext
from spokenemo.systems.registry import register_system


class CueLRConfig(SystemConfig):
    """Options of ``cue-lr``.

    Parameters
    ----------
    speaker_z : bool
        Standardise each speaker with its own statistics first.
    coarse, fine : bool
        Which cue blocks to use (at least one).
    n_segments : int, optional
        Fine-cue segments (default: the experiment's ``cues.n_segments``).
    C : float
        Inverse regularisation strength.
    """

    speaker_z: bool = False
    coarse: bool = True
    fine: bool = True
    n_segments: int | None = Field(None, ge=1)
    C: float = 1.0

    @model_validator(mode="after")
    def _some_cues(self) -> CueLRConfig:
        if not (self.coarse or self.fine):
            raise ValueError("cue-lr needs coarse or fine cues")
        return self


@register_system("cue-lr", CueLRConfig)
class CueLR(NumericBaseline):
    """Cue numbers + logistic regression (see the module docstring)."""

    config: CueLRConfig
    presets = {
        "cue-lr": preset("cue numbers + logistic regression"),
        "cue-lr-speaker-z": preset("cue numbers (per-speaker z) + logistic regression", speaker_z=True),
        "cue-lr-coarse": preset("4 coarse cue numbers + logistic regression", fine=False),
    }

    @classmethod
    def requirements(cls, config: CueLRConfig) -> Requirements:  # type: ignore[override]
        return Requirements(audio=True, features={"cues": {"n_segments": config.n_segments}})

    def n_segments(self, context: TaskContext) -> int:
        return int(self.config.n_segments or context.features.get("cues").n_segments)

    def feature_matrix(self, segments: Sequence[Segment], context: TaskContext) -> np.ndarray:
        return context.features.matrix("cues", segments, n_segments=self.n_segments(context),
                                       coarse=self.config.coarse, fine=self.config.fine)

    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.info["n_segments"] = self.n_segments(context)
        super().fit(train, valid, context)
