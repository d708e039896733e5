"""Training a head with the epoch chosen on validation data: one fit, the best epoch's weights kept.

Heads of several systems (``ser``, ``silver``) train the same way: the platform's
:func:`~spokenemo.train.loop.fit` runs once for ``epochs``; after every epoch a caller's
``evaluate(epoch)`` scores the model on validation data (any sortable value, higher is better, or
None when there is nothing to score); the best epoch's weights are copied and restored at the end,
and ``patience`` epochs without improvement stop the fit early. Nothing of the fit is kept on disk
(its checkpoints are removed), since the chosen weights are what the caller saves.
"""

from __future__ import annotations

import copy
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spokenemo.models.losses import balanced_class_weights
from spokenemo.train.loop import fit
from spokenemo.train.settings import TrainSettings


class _Stop(Exception):
    """Raised from the epoch callback to end the fit early (patience exhausted)."""


@dataclass
class Selected:
    """The model (best epoch's weights loaded, in eval mode) and the epoch chosen (None: none was scored)."""

    model: torch.nn.Module
    epoch: int | None


def epoch_settings(*, n: int, epochs: int, lr: float, batch_size: int, weight_decay: float, seed: int,
                   device: str) -> TrainSettings:
    """Constant learning rate, one log per epoch (where ``evaluate`` runs), one checkpoint at the end."""
    steps = max(1, math.ceil(n / batch_size))
    return TrainSettings(lr=lr, weight_decay=weight_decay, schedule="constant", epochs=epochs, batch_size=batch_size,
                         seed=seed, device=device, log_every=steps, checkpoint_every=steps * epochs,
                         keep_checkpoints=1, max_grad_norm=None)


def class_weights(y: np.ndarray, n_classes: int) -> torch.Tensor:
    """Balanced class weights ``n / (k * count_c)`` over the ``k`` classes present (absent classes get 0)."""
    return balanced_class_weights(np.bincount(y, minlength=n_classes))


def fit_best_epoch(model: torch.nn.Module, rows: Sequence[int], loss_fn: Callable[[Any, Any], torch.Tensor],
                   settings: TrainSettings, work_dir: Path, *, collate: Callable[[list[int]], Any], fingerprint: str,
                   evaluate: Callable[[int], Any] | None = None, patience: int | None = None) -> Selected:
    """Fit ``model`` once and keep the epoch ``evaluate`` scores best (module docstring)."""
    best: dict[str, Any] = {}

    def on_epoch(row: dict[str, Any]) -> None:
        epoch = row["step"] // settings.log_every
        score = evaluate(epoch) if evaluate is not None else None
        if score is None:
            return
        if not best or score > best["score"]:
            best.update(score=score, epoch=epoch, state=copy.deepcopy(model.state_dict()))
        elif patience and epoch - best["epoch"] >= patience:
            raise _Stop

    try:
        fit(model, list(rows), loss_fn, settings, work_dir, collate_fn=collate, fingerprint=fingerprint, resume=False,
            on_log=on_epoch)
    except _Stop:
        pass
    finally:
        shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)
    model.eval()
    if not best:
        return Selected(model, None)
    model.load_state_dict(best["state"])
    return Selected(model, int(best["epoch"]))
