"""The optimisation loop of the student: LoRA parameters, AdamW, warm-up + cosine, checkpoints.

The loop counts *optimizer steps*. One step takes ``grad_accum`` micro-batches of
``batch_size`` examples; an epoch is ``ceil(n / (batch_size * grad_accum))`` steps and its
example order is a permutation fixed by ``(seed, epoch)``
(:func:`~spokenemo.systems.aecotd.dataset.epoch_order`). The position in the data is therefore a
function of the step alone, and a resumed run, which also restores the adapter, optimizer,
scheduler and RNG states, continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from spokenemo.core.errors import ConfigError
from spokenemo.core.fileio import append_jsonl
from spokenemo.models.causal_lm import autocast
from spokenemo.systems.aecotd.config import StudentConfig
from spokenemo.systems.aecotd.dataset import Example, collate, epoch_order
from spokenemo.systems.aecotd.loss import token_nll, weighted_cross_entropy
from spokenemo.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint, seed_everything

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What a call to :func:`fit` did.

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
        Tokens processed and wall time of this call (for tokens/s).
    history : list of dict
        The logged rows of this call.
    """

    step: int
    total_steps: int
    finished: bool
    resumed_from: int | None = None
    tokens: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


def schedule_steps(n_examples: int, cfg: StudentConfig) -> tuple[int, int]:
    """``(steps_per_epoch, total_steps)`` for ``n_examples`` under ``cfg.optim``."""
    per_step = cfg.optim.batch_size * cfg.optim.grad_accum
    steps_per_epoch = max(1, math.ceil(n_examples / per_step))
    total = cfg.optim.max_steps or max(1, math.ceil(cfg.optim.epochs * steps_per_epoch))
    return steps_per_epoch, total


def make_optimizer(model: Any, cfg: StudentConfig, total_steps: int) -> tuple[Any, Any]:
    """AdamW over the trainable (LoRA) parameters and the warm-up + decay schedule."""
    from transformers import (
        get_constant_schedule_with_warmup,
        get_cosine_schedule_with_warmup,
        get_linear_schedule_with_warmup,
    )

    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters", hint="check lora.target_modules")
    o = cfg.optim
    optimizer = torch.optim.AdamW(params, lr=o.lr, betas=o.betas, weight_decay=o.weight_decay, eps=1e-8)
    warmup = math.ceil(o.warmup_ratio * total_steps)
    if o.schedule == "cosine":
        scheduler = get_cosine_schedule_with_warmup(optimizer, warmup, total_steps)
    elif o.schedule == "linear":
        scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    else:
        scheduler = get_constant_schedule_with_warmup(optimizer, warmup)
    return optimizer, scheduler


def _micro_batches(n: int, step: int, steps_per_epoch: int, cfg: StudentConfig) -> list[list[int]]:
    """Example indices of the micro-batches of optimizer step ``step`` (0-based)."""
    epoch, within = divmod(step, steps_per_epoch)
    order = epoch_order(n, epoch, cfg.runtime.seed)
    per_step = cfg.optim.batch_size * cfg.optim.grad_accum
    chunk = order[within * per_step:(within + 1) * per_step]
    bs = cfg.optim.batch_size
    return [chunk[i:i + bs] for i in range(0, len(chunk), bs)]


def fit(model: Any, examples: Sequence[Example], cfg: StudentConfig, work_dir: str | Path, *, pad_id: int,
        device: Any = "cpu", bf16: bool = False, fingerprint: str = "", resume: bool = True,
        stop_after_steps: int | None = None, on_log: Callable[[dict[str, Any]], None] | None = None) -> FitResult:
    """Train the LoRA parameters of ``model`` on ``examples``.

    Parameters
    ----------
    model : peft model
        Trainable parameters are the adapter's.
    examples : sequence of Example
    cfg : StudentConfig
        ``optim``, ``loss`` and ``runtime`` sections are read.
    work_dir : folder
        ``checkpoints/`` and ``train_log.jsonl`` go here.
    pad_id : int
    device : torch device
    bf16 : bool
        bf16 autocast for the forward pass.
    fingerprint : str
        Identifies the data and settings; a checkpoint with another fingerprint is not resumed
        (:class:`ConfigError`), so a changed config never continues a different run.
    resume : bool
        Continue from the newest checkpoint in ``work_dir/checkpoints`` if there is one.
    stop_after_steps : int, optional
        Stop (after writing a checkpoint) once this many steps are done in total; a later call
        resumes. For time-boxed runs and for testing resumption.
    on_log : callable, optional
        Called with each logged row.
    """
    if not examples:
        raise ConfigError("no training examples", hint="check the training keys, labels and max_length")
    work_dir = Path(work_dir)
    ckpt_dir = work_dir / "checkpoints"
    log_path = work_dir / "train_log.jsonl"
    steps_per_epoch, total = schedule_steps(len(examples), cfg)
    seed_everything(cfg.runtime.seed)
    optimizer, scheduler = make_optimizer(model, cfg, total)
    step, resumed_from = 0, None
    latest = latest_checkpoint(ckpt_dir) if resume else None
    if latest is not None:
        state = json.loads((latest / "state.json").read_text(encoding="utf-8"))
        if state.get("fingerprint") != fingerprint:
            raise ConfigError(f"{work_dir}: holds checkpoints of a different run (data or settings changed)",
                              hint="train into a new output folder, or start afresh with resume disabled")
        state = load_checkpoint(latest, model, optimizer, scheduler)
        step = resumed_from = int(state["step"])
        log.info("resumed from %s (step %d of %d)", latest, step, total)
    elif not resume and log_path.exists():
        log_path.unlink()
    model.train()
    history: list[dict[str, Any]] = []
    tokens, t0 = 0, time.perf_counter()
    window_loss, window_label, window_n = 0.0, 0.0, 0
    end = total if stop_after_steps is None else min(total, stop_after_steps)
    while step < end:
        groups = _micro_batches(len(examples), step, steps_per_epoch, cfg)
        optimizer.zero_grad(set_to_none=True)
        step_loss, step_label = 0.0, 0.0
        for idx in groups:
            batch = collate([examples[i] for i in idx], pad_id)
            ids = batch["input_ids"].to(device)
            with autocast(bf16, device):
                out = model(input_ids=ids, attention_mask=batch["attention_mask"].to(device), use_cache=False)
            loss = weighted_cross_entropy(out.logits, ids, batch["weights"].to(device),
                                          normalize=cfg.loss.normalize)
            (loss / len(groups)).backward()
            step_loss += loss.item() / len(groups)
            step_label += float(token_nll(out.logits.detach(), ids, batch["label_mask"].to(device))) / len(groups)
            tokens += int(batch["attention_mask"].sum())
        if cfg.optim.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad],
                                           cfg.optim.max_grad_norm)
        optimizer.step()
        scheduler.step()
        step += 1
        window_loss, window_label, window_n = window_loss + step_loss, window_label + step_label, window_n + 1
        if step % cfg.runtime.log_every == 0 or step == end:
            row = {"step": step, "total_steps": total, "epoch": round(step / steps_per_epoch, 3),
                   "loss": window_loss / window_n, "label_nll": window_label / window_n,
                   "lr": scheduler.get_last_lr()[0], "tokens_per_s": tokens / max(time.perf_counter() - t0, 1e-9)}
            append_jsonl(log_path, row)
            history.append(row)
            if on_log is not None:
                on_log(row)
            window_loss, window_label, window_n = 0.0, 0.0, 0
        if step % cfg.runtime.checkpoint_every == 0 or step == end:
            save_checkpoint(ckpt_dir, step, model, optimizer, scheduler,
                            {"fingerprint": fingerprint, "total_steps": total, "steps_per_epoch": steps_per_epoch},
                            keep=cfg.runtime.keep_checkpoints)
    model.eval()
    return FitResult(step=step, total_steps=total, finished=step >= total, resumed_from=resumed_from,
                     tokens=tokens, seconds=time.perf_counter() - t0, history=history)
