"""``care``: emotion recognition from a CARE encoder's levels with the SUPERB head (thesis 1.4).

The system names a CARE model (``model``: ``care:DIR`` for a pre-trained folder, ``care-init:PRESET``
for the graph at its initialisation) and a ``branch``; it registers that encoder name
(:mod:`.encoders`) and hands everything else to the registered ``ser`` system (found through the
system registry, never imported): cached per-layer features, standardisation, the SUPERB head,
seeds, and the epoch chosen on validation speakers. So CARE rows and the ``ser`` rows (plain
Whisper-base, eGeMAPS LLDs) share one head and one protocol. ``layers`` selects levels (e.g. the
acoustic+common branch of the offline graph = levels 0-6 of ``both``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from spokenemo.data.manifest import Segment
from spokenemo.systems.base import Predictions, Requirements, System, preset
from spokenemo.systems.context import FoldContext, TaskContext
from spokenemo.systems.head_options import SpeechHeadConfig
from spokenemo.systems.registry import get_system, register_system
from spokenemo.systems.speech_encoders import register_care_encoder

SUPERB = "SUPERB head (layer weights + mean pooling + FFN 256)"


class CareSystemConfig(SpeechHeadConfig):
    """Options: the CARE model and branch, and the ``ser`` head options passed through
    (``head``, ``layers``, ``pooling``, ``lr``, ``dropout``, ``epochs``, ...; see ``SerConfig``)."""

    model: str = "care-init:care-whisper-base"
    branch: Literal["both", "acoustic", "semantic"] = "both"
    dropout: float = Field(0.2, ge=0, lt=1)

    @property
    def encoder_name(self) -> str:
        base = self.model.partition("#")[0]
        return f"{base}#{self.branch}"

    def ser_options(self) -> dict[str, Any]:
        options = self.model_dump(exclude={"model", "branch"})
        return {**options, "encoder": self.encoder_name}


def _ser() -> type[System]:
    return get_system("ser")


def _ser_config(config: CareSystemConfig) -> Any:
    register_care_encoder(config.encoder_name)
    return _ser().config_cls.model_validate(config.ser_options())


@register_system("care", CareSystemConfig)
class CareSystem(System):
    """A CARE encoder's levels through the ``ser`` head (module docstring)."""

    config: CareSystemConfig
    seeded = True
    needs_audio = True
    features = ("encoded",)
    presets = {
        "care-init-whisper-base": preset("CARE graph at initialisation (Whisper-base + MiniLM, no pre-training), "
                                         + SUPERB, model="care-init:care-whisper-base"),
        "care-random-whisper-base": preset("CARE graph, random Whisper-base weights (B0), " + SUPERB,
                                           model="care-init:care-whisper-base-random"),
    }

    def __init__(self, config: CareSystemConfig) -> None:
        super().__init__(config)
        self.inner = _ser()(_ser_config(config))
        self.info = self.inner.info

    @classmethod
    def requirements(cls, config: CareSystemConfig) -> Requirements:  # type: ignore[override]
        return _ser().requirements(_ser_config(config))

    @classmethod
    def fingerprint_parts(cls, config: CareSystemConfig, context: TaskContext) -> dict[str, Any]:  # type: ignore[override]
        return _ser().fingerprint_parts(_ser_config(config), context)

    @classmethod
    def settings_text(cls, options: Any, seed: int, settings: Any, folds: Sequence[Any]) -> str:
        return f"{options.get('model', '?')}#{options.get('branch', 'both')}, " + \
            _ser().settings_text(options, seed, settings, folds)

    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.context = context
        self.inner.fit(train, valid, context)
        self.info = self.inner.info

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        return self.inner.predict(segments)

    def save_state(self, folder: Path) -> None:
        self.inner.save_state(folder)

    def load_state(self, folder: Path) -> None:
        self.inner.context = self.context
        self.inner.load_state(folder)
