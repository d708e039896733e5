"""What a training run is told (:class:`TrainSettings`) and what it reports (:class:`FitResult`).

Plain dataclasses: a system maps its own validated config onto them (AECoTD:
:func:`spokenemo.systems.aecotd.training.train_settings`), so the loop knows no system's config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from spokenemo.core.errors import ConfigError

Schedule = Literal["cosine", "linear", "constant"]
Precision = Literal["no", "bf16"]


@dataclass(frozen=True)
class TrainSettings:
    """Optimizer, schedule, batching and runtime settings of :func:`spokenemo.train.loop.fit`.

    Attributes
    ----------
    lr, weight_decay, betas, eps : AdamW settings.
    warmup_ratio : float
        Linear warm-up over ``ceil(warmup_ratio * total_steps)`` steps.
    schedule : {"cosine", "linear", "constant"}
        Decay after the warm-up.
    epochs : float
        Passes over the data (fractions allowed); ignored when ``max_steps`` is set.
    max_steps : int, optional
        Optimizer steps of the whole run.
    batch_size : int
        Examples per micro-batch and process.
    grad_accum : int
        Micro-batches per optimizer step (the gradient is their mean).
    max_grad_norm : float, optional
        Gradient clipping (None: off).
    seed : int
        Seeds the data order and every random generator.
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (under a launcher each process takes its own GPU).
    mixed_precision : {"no", "bf16"}
        bf16 autocast of the forward pass (weights stay fp32).
    checkpoint_every, keep_checkpoints, log_every : int
        Cadence of checkpoints (and how many to keep) and of logged rows, in optimizer steps.
    """

    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_ratio: float = 0.0
    schedule: Schedule = "cosine"
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 1
    grad_accum: int = 1
    max_grad_norm: float | None = 1.0
    seed: int = 0
    device: str = "auto"
    mixed_precision: Precision = "no"
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.schedule not in ("cosine", "linear", "constant"):
            raise ConfigError(f"schedule must be cosine, linear or constant, got {self.schedule!r}")
        if self.mixed_precision not in ("no", "bf16"):
            raise ConfigError(f"mixed_precision must be 'no' or 'bf16', got {self.mixed_precision!r}")
        for name in ("batch_size", "grad_accum", "checkpoint_every", "keep_checkpoints", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass
class FitResult:
    """What a call to :func:`spokenemo.train.loop.fit` did.

    Attributes
    ----------
    step : int
        Optimizer steps done in total (including those of resumed checkpoints).
    total_steps : int
        Steps of the whole schedule.
    finished : bool
        False when the run stopped early (``stop_after_steps``); resume it to finish.
    resumed_from : int or None
        Step of the checkpoint this call resumed from.
    tokens, seconds : float
        Tokens this process trained on and wall time of this call (for tokens/s).
    history : list of dict
        The logged rows of this call.
    main_process : bool
        Whether this is the process that writes results (always True without a launcher).
    """

    step: int
    total_steps: int
    finished: bool
    resumed_from: int | None = None
    tokens: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    main_process: bool = True

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")
