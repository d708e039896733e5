"""The pieces of a training run that :func:`spokenemo.train.loop.fit` puts together.

- :func:`make_accelerator`: the ``accelerate.Accelerator`` of a run (device, bf16, gradient
  accumulation), reusable several times in one process;
- :func:`training_device`: where this process trains (the launcher's GPU under
  ``accelerate launch``/``torchrun``, else the requested device); :func:`wait_for_everyone`;
- :func:`seed_everything`: Python, NumPy and torch (all devices) seeded by accelerate;
- :func:`epoch_order`, :class:`EpochSampler`, :func:`make_loader`: the example order of an epoch,
  a permutation fixed by ``(seed, epoch)``, so the position in the data is a function of the
  step alone and a resumed run needs no sampler state;
- :func:`make_optimizer`, :func:`make_scheduler`: AdamW over the trainable parameters and the
  warm-up + cosine / linear / constant schedule of transformers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, PartialState
from accelerate.utils import set_seed
from torch.utils.data import DataLoader, Sampler

from spokenemo.core.errors import ConfigError
from spokenemo.core.lazy import optional_import
from spokenemo.models.causal_lm import pick_device
from spokenemo.train.settings import TrainSettings


def launched() -> bool:
    """Whether this process is one of several started by ``accelerate launch`` or ``torchrun``."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def training_device(device: str = "auto") -> torch.device:
    """The device this process trains on.

    Under a launcher every process takes the GPU accelerate assigns it (``LOCAL_RANK``);
    otherwise ``device`` as :func:`spokenemo.models.causal_lm.pick_device` resolves it
    (``auto``, ``cpu``, ``cuda``, ``cuda:N``).
    """
    if launched() and device != "cpu":
        return PartialState().device
    return pick_device(device)


def wait_for_everyone() -> None:
    """Block until every launched process gets here (returns at once in a single process)."""
    if launched():
        PartialState().wait_for_everyone()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch on every device (``accelerate.utils.set_seed``)."""
    set_seed(seed % 2**32)


def _reset_if_changed(cpu: bool, mixed_precision: str) -> None:
    """Let one process run several fits with different devices or precisions.

    accelerate keeps one process-wide state and refuses a second ``Accelerator`` with another
    precision; a single (not launched) process that trains several models one after another
    (an experiment, the tests) starts from a fresh state instead. Launched runs are left alone.
    """
    if not AcceleratorState._shared_state or launched():
        return
    state = AcceleratorState()
    if state.mixed_precision != mixed_precision or (state.device.type == "cpu") != cpu:
        AcceleratorState._reset_state(reset_partial_state=True)


def make_accelerator(settings: TrainSettings) -> Accelerator:
    """The ``Accelerator`` of a run.

    Gradient accumulation is accelerate's (``grad_accum`` micro-batches per optimizer step,
    gradients synchronised across processes on the last one only); the scheduler is stepped by
    the loop once per optimizer step; no random generator is re-synchronised per epoch (the
    data order does not depend on one).
    """
    cpu = settings.device == "cpu" or (not launched() and pick_device(settings.device).type == "cpu")
    _reset_if_changed(cpu, settings.mixed_precision)
    if not launched() and settings.device.startswith("cuda:"):
        torch.cuda.set_device(pick_device(settings.device))
    return Accelerator(cpu=cpu, mixed_precision=settings.mixed_precision,
                       gradient_accumulation_steps=settings.grad_accum, step_scheduler_with_optimizer=False,
                       rng_types=[])


def epoch_order(n: int, epoch: int, seed: int) -> list[int]:
    """The example order of one epoch: a permutation that depends only on ``(seed, epoch)``.

    Recomputing it is how a resumed run finds its place without storing a sampler state.
    """
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


class EpochSampler(Sampler[int]):
    """Indices ``0..n-1`` in :func:`epoch_order`; accelerate sets the epoch (``set_epoch``)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_order(self.n, self.epoch, self.seed))

    def __len__(self) -> int:
        return self.n


def make_loader(dataset: Sequence[Any], collate_fn: Callable[[list[Any]], Any], batch_size: int,
                seed: int) -> DataLoader:
    """Micro-batches of ``batch_size`` examples in the epoch's order (not yet prepared).

    The loader owns a generator, so iterating it never draws from torch's global one (the
    stream LoRA dropout uses): an interrupted and resumed run sees the same dropout masks.
    """
    return DataLoader(dataset, batch_size=batch_size, sampler=EpochSampler(len(dataset), seed),
                      collate_fn=collate_fn, generator=torch.Generator())


def trainable_parameters(model: Any) -> list[torch.nn.Parameter]:
    """The parameters that require a gradient (a LoRA model's adapter)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters",
                          hint="check lora.target_modules (or which parameters require a gradient)")
    return params


def make_optimizer(model: Any, settings: TrainSettings) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters."""
    return torch.optim.AdamW(trainable_parameters(model), lr=settings.lr, betas=settings.betas,
                             weight_decay=settings.weight_decay, eps=settings.eps)


def make_scheduler(optimizer: torch.optim.Optimizer, settings: TrainSettings, total_steps: int) -> Any:
    """Linear warm-up over ``ceil(warmup_ratio * total_steps)`` steps, then the decay of ``settings.schedule``."""
    transformers = optional_import("transformers", purpose="the learning-rate schedule")
    warmup = math.ceil(settings.warmup_ratio * total_steps)
    if settings.schedule == "cosine":
        return transformers.get_cosine_schedule_with_warmup(optimizer, warmup, total_steps)
    if settings.schedule == "linear":
        return transformers.get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    return transformers.get_constant_schedule_with_warmup(optimizer, warmup)


def plan_steps(batches_per_epoch: int, settings: TrainSettings) -> tuple[int, int]:
    """``(steps_per_epoch, total_steps)`` for ``batches_per_epoch`` micro-batches per process."""
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / settings.grad_accum))
    total = settings.max_steps or max(1, math.ceil(settings.epochs * steps_per_epoch))
    return steps_per_epoch, total
