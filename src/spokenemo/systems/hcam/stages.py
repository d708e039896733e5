"""Training and running one HCAM stage through the platform's loop (:mod:`spokenemo.train`).

Each stage is fitted once with :func:`~spokenemo.train.selection.fit_best_epoch`: Adam at a
constant learning rate, gradient clipping at L2 norm 0.25 (thesis 3.3), the loss of Eq. 4.8
(:func:`~spokenemo.models.hcam.hcam_loss`), and the epoch whose weighted F1 on the selection
conversations is best (patience in epochs). Batches are dicts of tensors built by the callers'
collate functions; :func:`run_batches` evaluates a model over them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spokenemo.models.hcam import hcam_loss
from spokenemo.protocols.metrics import compute_metrics
from spokenemo.systems.hcam.config import HcamConfig
from spokenemo.train.selection import fit_best_epoch
from spokenemo.train.settings import TrainSettings

Collate = Callable[[list[int]], dict[str, torch.Tensor]]
Forward = Callable[[Any, dict[str, torch.Tensor]], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class StageRecord:
    """What one stage's fit did: the epoch chosen and the selection set's weighted F1 there."""

    name: str
    epoch: int | None
    select_wf1: float | None
    n_train: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "epoch": self.epoch, "select_wf1": self.select_wf1, "n_train": self.n_train}


def settings_for(config: HcamConfig, n: int, batch_size: int, epochs: int, seed: int, lr: float) -> TrainSettings:
    """Constant-lr Adam, clipping at ``config.max_grad_norm``, one log (= selection point) per epoch."""
    steps = max(1, math.ceil(n / batch_size))
    return TrainSettings(lr=lr, schedule="constant", epochs=epochs, batch_size=batch_size, seed=seed,
                         device=config.device, log_every=steps, checkpoint_every=steps * epochs, keep_checkpoints=1,
                         max_grad_norm=config.max_grad_norm)


def run_batches(model: Any, forward: Forward, collate: Collate, n: int, batch_size: int,
                device: str = "cpu") -> tuple[list[torch.Tensor], list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """``(logits, reps, batches)`` of ``forward`` over items ``0 .. n-1`` in order, in eval mode."""
    was = model.training
    model.eval()
    logits, reps, batches = [], [], []
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            batch = {k: v.to(device) for k, v in collate(list(range(i, min(n, i + batch_size)))).items()}
            z, r = forward(model, batch)
            logits.append(z.float().cpu())
            reps.append(r.float().cpu())
            batches.append({k: v.cpu() for k, v in batch.items()})
    model.train(was)
    return logits, reps, batches


def flat_predictions(logits: Sequence[torch.Tensor], batches: Sequence[dict[str, torch.Tensor]]) -> np.ndarray:
    """Probabilities of the real items, in order (turn-level batches are flattened over their mask)."""
    rows = []
    for z, b in zip(logits, batches, strict=True):
        p = torch.softmax(z, dim=-1)
        rows.append(p[b["mask"]] if z.ndim == 3 else p)
    return torch.cat(rows).numpy() if rows else np.zeros((0, 0))


def weighted_f1(probs: np.ndarray, y: np.ndarray, classes: Sequence[str]) -> float:
    pred = [classes[i] for i in probs.argmax(1)]
    return float(compute_metrics([classes[i] for i in y], pred, classes).weighted_f1)


def train_stage(name: str, model: Any, forward: Forward, collate: Collate, *, n_train: int, batch_size: int,
                epochs: int, lr: float, config: HcamConfig, seed: int, work_dir: Path, classes: Sequence[str],
                select: tuple[Collate, int, np.ndarray] | None) -> StageRecord:
    """Fit ``model`` (in place) on items ``0 .. n_train-1`` and keep the best selection epoch.

    ``select`` is ``(collate, n, y)`` of the selection items (None: keep the last epoch).
    """
    settings = settings_for(config, n_train, batch_size, epochs, seed, lr)
    scores: dict[int, float] = {}

    def loss_fn(m: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        logits, rep = forward(m, batch)
        return hcam_loss(logits, rep, batch["y"], beta=config.beta, temperature=config.temperature)

    def evaluate(epoch: int) -> float | None:
        if select is None:
            return None
        sel_collate, n, y = select
        device = str(next(model.parameters()).device)
        logits, _, batches = run_batches(model, forward, sel_collate, n, batch_size, device)
        scores[epoch] = weighted_f1(flat_predictions(logits, batches), y, classes)
        return scores[epoch]

    chosen = fit_best_epoch(model, list(range(n_train)), loss_fn, settings, work_dir / name, collate=collate,
                            fingerprint=f"hcam-{name}-{seed}", evaluate=evaluate, patience=config.patience)
    return StageRecord(name, chosen.epoch, scores.get(chosen.epoch) if chosen.epoch else None, n_train)
