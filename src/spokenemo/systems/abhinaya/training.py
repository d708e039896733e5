"""Training of the ABHINAYA members' heads: one loop, the loss chosen by name (thesis.md 5.1-5.2).

Losses (from :mod:`spokenemo.models.losses`, never re-implemented here): ``ce`` (unweighted
cross-entropy, the control), ``wce`` (weighted CE, ``w_c = N / (N_c C)``), ``wfl`` (weighted focal
loss, gamma 2) and ``vs`` (vector-scaling loss, gamma 0.3, tau 1, with the same weights; the logit
adjustment is used in training only). AdamW; every epoch is scored on the validation part and the
weights of the epoch with the best validation **macro-F1** are kept (thesis.md 5.2); without a
validation part the last epoch is kept. Items are per-segment arrays; a ``collate`` function turns
a list of them into the model's inputs, so one loop serves frames, pooled layers, tokens and
speech+text pairs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from spokenemo.core.errors import ConfigError, LabelError
from spokenemo.models.losses import balanced_class_weights, focal_loss, vs_loss, weighted_cross_entropy
from spokenemo.protocols.metrics import compute_metrics

#: Loss names a member takes.
LOSSES = ("ce", "wce", "wfl", "vs")
Collate = Callable[[Sequence[Any]], tuple[Any, ...]]


def class_counts(y: Sequence[int], n_classes: int, classes: Sequence[str] | None = None) -> np.ndarray:
    """Training examples per class; a class with none is a :class:`LabelError` (the losses need N_c > 0)."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes)[:n_classes]
    empty = [(classes[i] if classes else str(i)) for i in np.flatnonzero(counts == 0)]
    if empty:
        raise LabelError(f"class(es) {empty} have no training example",
                         hint="drop them from the label set, or use a training part that has them "
                              "(class weights and the VS loss need N_c > 0)")
    return counts


def make_loss(name: str, counts: np.ndarray, *, focal_gamma: float = 2.0, vs_gamma: float = 0.3,
              vs_tau: float = 1.0) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The training loss ``(logits, targets) -> scalar`` named ``name`` (see the module docstring)."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}", hint=f"losses: {', '.join(LOSSES)}")
    weight = balanced_class_weights(counts)
    if name == "ce":
        return lambda z, y: weighted_cross_entropy(z, y)
    if name == "wce":
        return lambda z, y: weighted_cross_entropy(z, y, weight=weight)
    if name == "wfl":
        return lambda z, y: focal_loss(z, y, gamma=focal_gamma, weight=weight)
    return lambda z, y: vs_loss(z, y, counts, gamma=vs_gamma, tau=vs_tau, weight=weight)


@dataclass
class TrainSettings:
    """Optimisation settings of one head (AdamW, constant learning rate)."""

    loss: str = "wfl"
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 0.0
    focal_gamma: float = 2.0
    vs_gamma: float = 0.3
    vs_tau: float = 1.0


@dataclass
class TrainRecord:
    """What training did: the kept epoch, its validation macro-F1, the per-epoch curve."""

    best_epoch: int = 0
    best_valid_macro_f1: float | None = None
    valid_curve: list[float] = field(default_factory=list)
    train_counts: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"best_epoch": self.best_epoch, "best_valid_macro_f1": self.best_valid_macro_f1,
                "valid_curve": [round(x, 4) for x in self.valid_curve], "train_counts": self.train_counts}


def predict_logits(model: nn.Module, items: Sequence[Any], collate: Collate, batch_size: int = 64) -> np.ndarray:
    """Raw logits of ``items`` (eval mode, no gradient)."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(items), batch_size):
            out.append(model(*collate(items[i:i + batch_size])).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def _macro_f1(model: nn.Module, items: Sequence[Any], y: np.ndarray, collate: Collate, n_classes: int) -> float:
    pred = predict_logits(model, items, collate).argmax(axis=1)
    names = [str(i) for i in range(n_classes)]
    return float(compute_metrics([str(v) for v in y], [str(v) for v in pred], names).macro_f1)


def train_classifier(model: nn.Module, train: tuple[Sequence[Any], np.ndarray],
                     valid: tuple[Sequence[Any], np.ndarray] | None, collate: Collate, settings: TrainSettings, *,
                     n_classes: int, seed: int, classes: Sequence[str] | None = None) -> TrainRecord:
    """Train ``model`` in place on ``train`` (items, class indices); keep the best validation epoch."""
    items, y = train
    counts = class_counts(y, n_classes, classes)
    loss_fn = make_loss(settings.loss, counts, focal_gamma=settings.focal_gamma, vs_gamma=settings.vs_gamma,
                        vs_tau=settings.vs_tau)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    record = TrainRecord(train_counts=[int(c) for c in counts])
    best_state, best = None, -1.0
    targets = torch.as_tensor(np.asarray(y, dtype=np.int64))
    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = torch.randperm(len(items), generator=generator).tolist()
        for i in range(0, len(order), settings.batch_size):
            idx = order[i:i + settings.batch_size]
            logits = model(*collate([items[j] for j in idx]))
            loss = loss_fn(logits, targets[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if valid is not None and len(valid[0]):
            score = _macro_f1(model, valid[0], valid[1], collate, n_classes)
            record.valid_curve.append(score)
            if score > best:
                best, best_state, record.best_epoch = score, copy.deepcopy(model.state_dict()), epoch
    if best_state is not None:
        model.load_state_dict(best_state)
        record.best_valid_macro_f1 = best
    else:
        record.best_epoch = settings.epochs
    model.eval()
    return record


def seed_everything(seed: int) -> None:
    """Seed torch's and numpy's global generators (model initialisation)."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


__all__ = ["LOSSES", "TrainRecord", "TrainSettings", "class_counts", "make_loss", "predict_logits",
           "seed_everything", "train_classifier"]
