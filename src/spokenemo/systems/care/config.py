"""Settings of a CARE pre-training run (:class:`PretrainConfig`), read from ``configs/care-*.yaml``.

::

    model: {preset: care-whisper-base}          # or any CareModelConfig options (+ preset to start from)
    data: {limit: 400, valid_fraction: 0.2, crop_seconds: 5.0, missing_text: skip}
    targets: {text_teacher: null, acoustic_norm: utterance}
    train: {lr: 1e-4, epochs: 3, batch_size: 4, valid_every: 50, lam: 1.0, device: auto}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from spokenemo.core.config import read_yaml_mapping
from spokenemo.core.errors import ConfigError
from spokenemo.models.care.config import CareModelConfig, care_config


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSection(_Section):
    """Which utterances pre-train, and how they are cut.

    ``limit``: a seeded subset of this many utterances (stratified by corpus); ``valid_fraction``:
    a random share held out for the best-checkpoint choice (thesis: 80/20 by utterance);
    ``crop_seconds``: clips are zero-padded or randomly cropped to this length (5 s);
    ``missing_text``: utterances without a transcript are transcribed (``asr``, with
    ``asr_backend``) or skipped with a count (``skip``).
    """

    limit: int | None = Field(None, ge=2)
    valid_fraction: float = Field(0.2, gt=0, lt=1)
    crop_seconds: float = Field(5.0, gt=0)
    missing_text: Literal["asr", "skip"] = "skip"
    asr_backend: str = "auto"


class TargetsSection(_Section):
    """The teachers. ``text_teacher``: a text encoder name (None: the graph's ``text``);
    ``acoustic_encoder``: the speech-encoder registry name of the frame target (None: ``egemaps-lld``
    for eGeMAPS, ``pase`` for PASE+, which must be registered by whoever has it);
    ``acoustic_norm``: ``utterance`` (each clip z-scored with std + 1, the authors' code) or ``none``."""

    text_teacher: str | None = None
    acoustic_encoder: str | None = None
    acoustic_norm: Literal["utterance", "none"] = "utterance"


class TrainSection(_Section):
    """Optimisation (AdamW; thesis: lr 1e-5, batch 128, 200k steps, best on validation loss)."""

    lr: float = Field(1e-4, gt=0)
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = Field(1e-6, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    epochs: float = Field(3.0, gt=0)
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    schedule: Literal["cosine", "linear", "constant"] = "constant"
    max_grad_norm: float | None = 10.0
    lam: float = Field(1.0, ge=0)
    reduction: Literal["elements", "norm"] = "elements"
    valid_every: int = Field(50, ge=1)
    keep_checkpoints: int = Field(1, ge=1)
    seed: int = 0
    device: str = "auto"
    mixed_precision: Literal["no", "bf16"] = "no"


class PretrainConfig(_Section):
    """A whole pre-training run (module docstring)."""

    model: CareModelConfig = Field(default_factory=lambda: care_config("care-whisper-base"))
    data: DataSection = Field(default_factory=DataSection)
    targets: TargetsSection = Field(default_factory=TargetsSection)
    train: TrainSection = Field(default_factory=TrainSection)


def pretrain_config(source: str | Path | dict[str, Any] | PretrainConfig | None = None) -> PretrainConfig:
    """A :class:`PretrainConfig` from a YAML file, a mapping or None (the offline defaults)."""
    if isinstance(source, PretrainConfig):
        return source
    data: dict[str, Any] = {} if source is None else dict(source) if isinstance(source, dict) else \
        read_yaml_mapping(source, example="configs/care-offline-cpu.yaml")
    data = dict(data)
    model = data.pop("model", None)
    try:
        return PretrainConfig(model=care_config(model or "care-whisper-base"), **data)
    except ValueError as err:
        where = f"{source}: " if isinstance(source, (str, Path)) else ""
        raise ConfigError(f"{where}CARE pre-training settings: {err}",
                          hint="see configs/care-offline-cpu.yaml for every section") from None
