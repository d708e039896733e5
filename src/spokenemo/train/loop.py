"""One generic training loop, :func:`fit`, on Hugging Face accelerate.

Why accelerate: it wraps our loop instead of replacing it, so the loss (a callable the system
passes in, such as AECoTD's emotion-focused cross-entropy), the data order and the fingerprinted,
atomic checkpoints stay ours and stay tested, while device placement, DDP / FSDP over several
GPUs and nodes, bf16 autocast, gradient accumulation, the saved optimizer / scheduler / random
state of every process, and seeding come from the library. The transformers ``Trainer`` would
take over the loss (``compute_loss``), sampler, checkpoint layout and a second settings object
(``TrainingArguments``), and Lightning would make every model a ``LightningModule``; accelerate
is already installed with peft, and the ``Trainer`` itself runs on it.

The same code runs on one CPU or GPU and, started by a launcher, on several GPUs or nodes
(each process trains on its own share of every epoch; the model folder is written once)::

    python -m spokenemo train configs/aecotd-paper.yaml -o runs/m ...                  # one process
    accelerate launch --num_processes 4 -m spokenemo train configs/aecotd-paper.yaml -o runs/m ...
    torchrun --nproc_per_node 4 -m spokenemo train configs/aecotd-paper.yaml -o runs/m ...
    accelerate launch --num_machines 2 --machine_rank R --main_process_ip HOST --main_process_port 29500 \\
        --num_processes 8 -m spokenemo train ...                                          # 2 nodes x 4 GPUs

(``accelerate config`` or ``--use_fsdp`` selects FSDP for models that do not fit one GPU.)

Counting: the loop counts *optimizer steps*. A step takes ``grad_accum`` micro-batches of
``batch_size`` examples on each process (the gradient is their mean, averaged over processes);
an epoch is ``ceil(micro-batches per process / grad_accum)`` steps and its example order is a
permutation fixed by ``(seed, epoch)`` (:func:`~spokenemo.train.runtime.epoch_order`), split
between processes by accelerate. The position in the data is therefore a function of the step
alone, and a resumed run, which also restores the weights, optimizer, scheduler and random
states, continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from spokenemo.core.errors import ConfigError
from spokenemo.core.fileio import append_jsonl
from spokenemo.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from spokenemo.train.runtime import (
    make_accelerator,
    make_loader,
    make_optimizer,
    make_scheduler,
    plan_steps,
    seed_everything,
    trainable_parameters,
)
from spokenemo.train.settings import FitResult, TrainSettings

log = logging.getLogger(__name__)

#: ``loss_fn(model, batch)`` -> the loss of one micro-batch, or ``(loss, {name: float})`` with
#: figures to log (averaged over the micro-batches of a step and the steps of a logged row).
LossFn = Callable[[Any, Any], "torch.Tensor | tuple[torch.Tensor, dict[str, float]]"]
OnLog = Callable[[dict[str, Any]], None]

__all__ = ["FitResult", "LossFn", "TrainSettings", "fit"]


@dataclass
class _Run:
    """Everything one call of :func:`fit` holds while it trains."""

    accelerator: Accelerator
    model: Any
    optimizer: Any
    scheduler: Any
    loader: Any
    settings: TrainSettings
    steps_per_epoch: int
    total: int
    ckpt_dir: Path
    log_path: Path
    state: dict[str, Any]
    on_log: OnLog | None
    params: list[torch.nn.Parameter] = field(default_factory=list)
    tokens: int = 0
    t0: float = field(default_factory=time.perf_counter)
    history: list[dict[str, Any]] = field(default_factory=list)
    window: dict[str, float] = field(default_factory=dict)
    window_n: int = 0


def fit(model: Any, dataset: Sequence[Any], loss_fn: LossFn, settings: TrainSettings, work_dir: str | Path, *,
        collate_fn: Callable[[list[Any]], Any], fingerprint: str = "", resume: bool = True,
        stop_after_steps: int | None = None, on_log: OnLog | None = None) -> FitResult:
    """Train the trainable parameters of ``model`` on ``dataset`` with ``loss_fn``.

    Parameters
    ----------
    model : torch module
        Its parameters that require a gradient are trained (a peft model: the adapter), in place.
    dataset : sequence
        Examples; ``collate_fn`` turns a list of them into a batch (a dict of tensors; a batch
        with ``attention_mask`` is counted in tokens, for the logged tokens/s).
    loss_fn : callable
        ``loss_fn(model, batch)``, see :data:`LossFn`.
    settings : TrainSettings
    work_dir : folder
        ``checkpoints/`` and ``train_log.jsonl`` go here.
    fingerprint : str
        Identifies the data and settings; a checkpoint with another fingerprint is not resumed
        (:class:`ConfigError`), so a changed config never continues a different run.
    resume : bool
        Continue from the newest checkpoint in ``work_dir/checkpoints`` if there is one.
    stop_after_steps : int, optional
        Stop (after writing a checkpoint) once this many steps are done in total; a later call
        resumes. For time-boxed runs and for testing resumption.
    on_log : callable, optional
        Called (on the main process) with each logged row.
    """
    if not dataset:
        raise ConfigError("no training examples", hint="check the training keys, labels and max_length")
    run = _prepare(model, dataset, settings, Path(work_dir), collate_fn, fingerprint, on_log)
    step, resumed_from = _resume(run, fingerprint, resume)
    end = run.total if stop_after_steps is None else min(run.total, stop_after_steps)
    run.model.train()
    while step < end:
        epoch, within = divmod(step, run.steps_per_epoch)
        run.loader.set_epoch(epoch)
        skip = within * settings.grad_accum
        batches = run.accelerator.skip_first_batches(run.loader, skip) if skip else run.loader
        step = _train_epoch(run, batches, loss_fn, first=skip, step=step, end=end)
    unwrapped = run.accelerator.unwrap_model(run.model, keep_fp32_wrapper=False)
    unwrapped.eval()
    main = run.accelerator.is_main_process
    if run.accelerator.device.type != "cpu":  # a full gc costs ~1.5 s per fit on CPU, where it frees nothing
        run.accelerator.free_memory()
    return FitResult(step=step, total_steps=run.total, finished=step >= run.total, resumed_from=resumed_from,
                     tokens=run.tokens, seconds=time.perf_counter() - run.t0, history=run.history,
                     main_process=main)


def _prepare(model: Any, dataset: Sequence[Any], settings: TrainSettings, work_dir: Path,
             collate_fn: Callable[[list[Any]], Any], fingerprint: str, on_log: OnLog | None) -> _Run:
    """Seed, build the accelerator, optimizer, schedule and loader, and prepare them."""
    accelerator = make_accelerator(settings)
    seed_everything(settings.seed)
    loader = accelerator.prepare(make_loader(dataset, collate_fn, settings.batch_size, settings.seed))
    steps_per_epoch, total = plan_steps(len(loader), settings)
    optimizer = make_optimizer(model, settings)
    scheduler = make_scheduler(optimizer, settings, total)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    state = {"fingerprint": fingerprint, "total_steps": total, "steps_per_epoch": steps_per_epoch}
    return _Run(accelerator=accelerator, model=model, optimizer=optimizer, scheduler=scheduler, loader=loader,
                settings=settings, steps_per_epoch=steps_per_epoch, total=total,
                ckpt_dir=work_dir / "checkpoints", log_path=work_dir / "train_log.jsonl", state=state,
                on_log=on_log, params=trainable_parameters(model))


def _resume(run: _Run, fingerprint: str, resume: bool) -> tuple[int, int | None]:
    """``(step, resumed_from)``: restored from the newest checkpoint, or a fresh start."""
    latest = latest_checkpoint(run.ckpt_dir) if resume else None
    if latest is None:
        if not resume and run.accelerator.is_main_process and run.log_path.exists():
            run.log_path.unlink()
        return 0, None
    state = load_checkpoint(run.accelerator, latest, fingerprint=fingerprint)
    step = int(state["step"])
    log.info("resumed from %s (step %d of %d)", latest, step, run.total)
    return step, step


def _call_loss(loss_fn: LossFn, model: Any, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
    out = loss_fn(model, batch)
    return out if isinstance(out, tuple) else (out, {})


def _batch_tokens(batch: Any) -> int:
    if isinstance(batch, dict) and "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return 0


def _train_epoch(run: _Run, batches: Iterable[Any], loss_fn: LossFn, *, first: int, step: int, end: int) -> int:
    """Optimizer steps over one epoch's micro-batches (from micro-batch ``first``) until ``end``."""
    acc, ga, n_batches = run.accelerator, run.settings.grad_accum, len(run.loader)
    sums: dict[str, float] = {}
    for i, batch in enumerate(batches, start=first):
        in_step = min(ga, n_batches - (i // ga) * ga)  # micro-batches of this step (fewer at an epoch's end)
        with acc.accumulate(run.model):
            loss, figures = _call_loss(loss_fn, run.model, batch)
            # accelerate divides by grad_accum; a short last step is still the mean of its micro-batches
            acc.backward(loss if in_step == ga else loss * (ga / in_step))
            for name, value in {"loss": loss.item(), **figures}.items():
                sums[name] = sums.get(name, 0.0) + value / in_step
            run.tokens += _batch_tokens(batch)
            if acc.sync_gradients:
                if run.settings.max_grad_norm is not None:
                    acc.clip_grad_norm_(run.params, run.settings.max_grad_norm)
                run.optimizer.step()
                run.scheduler.step()
                run.optimizer.zero_grad(set_to_none=True)
        if acc.sync_gradients:
            step += 1
            _after_step(run, step, end, sums)
            sums = {}
            if step >= end:
                break
    return step


def _after_step(run: _Run, step: int, end: int, sums: dict[str, float]) -> None:
    """Add the step to the logging window; log and checkpoint at their cadence."""
    for name, value in sums.items():
        run.window[name] = run.window.get(name, 0.0) + value
    run.window_n += 1
    if step % run.settings.log_every == 0 or step == end:
        _log_row(run, step)
    if step % run.settings.checkpoint_every == 0 or step == end:
        save_checkpoint(run.accelerator, run.ckpt_dir, step, run.state, keep=run.settings.keep_checkpoints)


def _log_row(run: _Run, step: int) -> None:
    """Write the window's means (averaged over processes) and reset it."""
    acc = run.accelerator
    names = list(run.window)
    means = [run.window[k] / run.window_n for k in names]
    tokens = run.tokens
    if acc.num_processes > 1:
        means = acc.reduce(torch.tensor(means, dtype=torch.float64, device=acc.device), "mean").tolist()
        tokens = int(acc.reduce(torch.tensor(tokens, device=acc.device), "sum").item())
    figures = dict(zip(names, means, strict=True))
    row = {"step": step, "total_steps": run.total, "epoch": round(step / run.steps_per_epoch, 3),
           "loss": figures.pop("loss"), **figures, "lr": run.scheduler.get_last_lr()[0],
           "tokens_per_s": tokens / max(time.perf_counter() - run.t0, 1e-9)}
    run.history.append(row)
    if acc.is_main_process:
        append_jsonl(run.log_path, row)
        if run.on_log is not None:
            run.on_log(row)
    run.window, run.window_n = {}, 0
