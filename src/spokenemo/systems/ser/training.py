"""Training the torch heads of ``ser`` through the platform's loop, with model selection.

:func:`train_head` builds a head (:mod:`spokenemo.models.heads`) with a seeded initialisation and
trains it with :func:`spokenemo.train.loop.fit` (AdamW, constant learning rate, class-balanced
cross-entropy as the loss callable). After every epoch the head is scored on the *selection*
part (validation speakers, :func:`~spokenemo.systems.ser.inputs.selection_split`): the weights
of the epoch with the best unweighted accuracy (ties: the lower validation loss) are kept, and
``patience`` epochs without improvement stop the run. When the selection speakers were held out
of the training part, ``refit`` trains a fresh head (same seed) on the whole training part for
the chosen number of epochs. Without a selection part the last epoch is kept.

This module needs torch; :mod:`spokenemo.systems.ser.system` reaches it lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from spokenemo.models.heads import build_head, layer_weights
from spokenemo.train.selection import class_weights, epoch_settings, fit_best_epoch


@dataclass
class HeadInputs:
    """What a head reads for ``n`` segments: per stream an array ``(n, n_layers, F)`` (pooled) or a
    list of ``(n_layers, n_frames, dim)`` arrays (frames)."""

    streams: list[Any]
    frames: bool = False

    def __len__(self) -> int:
        return len(self.streams[0])

    def subset(self, rows: Sequence[int]) -> HeadInputs:
        idx = list(rows)
        if self.frames:
            return HeadInputs([[s[i] for i in idx] for s in self.streams], True)
        return HeadInputs([s[idx] for s in self.streams], False)

    def shapes(self) -> list[tuple[int, int]]:
        """``(n_layers, features)`` of each stream (what :func:`build_head` needs)."""
        if self.frames:
            return [(int(s[0].shape[0]), int(s[0].shape[2])) for s in self.streams]
        return [(int(s.shape[1]), int(s.shape[2])) for s in self.streams]

    def batch(self, rows: Sequence[int]) -> dict[str, Any]:
        """Tensors of ``rows``: ``xs`` (and ``masks`` for frames, padded to the longest)."""
        if not self.frames:
            return {"xs": [torch.as_tensor(np.asarray(s[list(rows)], dtype=np.float32)) for s in self.streams]}
        xs, masks = [], []
        for s in self.streams:
            items = [s[i] for i in rows]
            longest = max(f.shape[1] for f in items)
            x = np.zeros((len(items), items[0].shape[0], longest, items[0].shape[2]), dtype=np.float32)
            m = np.zeros((len(items), longest), dtype=bool)
            for j, f in enumerate(items):
                x[j, :, :f.shape[1]] = f
                m[j, :f.shape[1]] = True
            xs.append(torch.from_numpy(x))
            masks.append(torch.from_numpy(m))
        return {"xs": xs, "masks": masks}


@dataclass
class TrainedHead:
    """A trained head: the model, the epochs its weights were trained for, the selection record."""

    model: torch.nn.Module
    epochs: int
    selection: list[dict[str, float]] = field(default_factory=list)
    rule: str = ""
    shapes: list[tuple[int, int]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        best = max(self.selection, key=_score) if self.selection else None
        return {"epochs": self.epochs, "selection_rule": self.rule, "layer_weights": layer_weights(self.model),
                "valid_ua": None if best is None else round(best["valid_ua"], 4),
                "valid_curve": [round(r["valid_ua"], 4) for r in self.selection]}


def _score(row: dict[str, float]) -> tuple[float, float]:
    return row["valid_ua"], -row["valid_loss"]


def probabilities(model: torch.nn.Module, inputs: HeadInputs, *, batch_size: int = 64) -> np.ndarray:
    """Class probabilities ``(n, n_classes)`` of ``inputs`` (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for at in range(0, len(inputs), batch_size):
            b = inputs.batch(range(at, min(at + batch_size, len(inputs))))
            xs = [x.to(device) for x in b["xs"]]
            masks = [m.to(device) for m in b["masks"]] if "masks" in b else None
            out.append(torch.softmax(model(xs, masks).float(), dim=1).cpu().numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, 0))


def unweighted_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y``."""
    return float(np.mean([(pred[y == c] == c).mean() for c in np.unique(y)]))


def _train(kind: str, inputs: HeadInputs, y: np.ndarray, n_classes: int, options: Any, seed: int, epochs: int,
           work_dir: Path, fingerprint: str, select: tuple[HeadInputs, np.ndarray] | None) -> TrainedHead:
    """One run of :func:`~spokenemo.train.loop.fit`; with ``select``, keep the best epoch's weights."""
    torch.manual_seed(seed)
    model = build_head(kind, inputs.shapes(), n_classes, hidden=options.hidden, dropout=options.dropout)
    weights = class_weights(y, n_classes)
    labels = torch.as_tensor(y, dtype=torch.long)
    settings = epoch_settings(n=len(y), epochs=epochs, lr=options.lr, batch_size=options.batch_size,
                              weight_decay=options.weight_decay, seed=seed, device=options.device)
    history: list[dict[str, float]] = []

    def collate(rows: list[int]) -> dict[str, Any]:
        return {**inputs.batch(rows), "y": labels[rows]}

    def loss_fn(m: Any, batch: dict[str, Any]) -> torch.Tensor:
        logits = m(batch["xs"], batch.get("masks"))
        return F.cross_entropy(logits, batch["y"], weight=weights.to(logits.device))

    def evaluate(epoch: int) -> tuple[float, float] | None:
        if select is None:
            return None
        p = probabilities(model, select[0])
        loss = float(F.nll_loss(torch.log(torch.as_tensor(p).clamp_min(1e-12)), torch.as_tensor(select[1]),
                                weight=class_weights(select[1], n_classes)))
        history.append({"epoch": epoch, "valid_ua": unweighted_accuracy(select[1], p.argmax(axis=1)),
                        "valid_loss": loss})
        return _score(history[-1])

    chosen = fit_best_epoch(model, range(len(y)), loss_fn, settings, work_dir, collate=collate,
                            fingerprint=fingerprint, evaluate=evaluate, patience=options.patience)
    return TrainedHead(chosen.model, epochs if chosen.epoch is None else chosen.epoch, history,
                       shapes=inputs.shapes())


def train_head(kind: str, fit_part: tuple[HeadInputs, np.ndarray], select_part: tuple[HeadInputs, np.ndarray] | None,
               *, n_classes: int, options: Any, seed: int, work_dir: str | Path, fingerprint: str = "",
               refit_on: tuple[HeadInputs, np.ndarray] | None = None, rule: str = "") -> TrainedHead:
    """Train a head with model selection (module docstring).

    Parameters
    ----------
    kind : ``superb``, ``asp`` or ``linear``.
    fit_part, select_part : ``(inputs, integer labels)``; ``select_part`` None or empty: no selection.
    options : the system's options (``epochs``, ``lr``, ``batch_size``, ``hidden``, ``dropout``,
        ``weight_decay``, ``patience``, ``device``).
    refit_on : the whole training part, to train again on for the chosen epochs (None: no refit).
    """
    work_dir = Path(work_dir)
    if select_part is not None and len(select_part[1]) == 0:
        select_part = None
    head = _train(kind, *fit_part, n_classes, options, seed, options.epochs, work_dir / "select", fingerprint,
                  select_part)
    head.rule = rule
    if refit_on is not None and select_part is not None:
        again = _train(kind, *refit_on, n_classes, options, seed, head.epochs, work_dir / "refit", fingerprint, None)
        head = TrainedHead(again.model, head.epochs, head.selection, rule + "; refit on the whole training part",
                           again.shapes)
    return head


def save_head(model: torch.nn.Module, path: Path) -> None:
    """The head's weights (``torch.save`` of its state dict, on CPU)."""
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)


def load_head(kind: str, shapes: Sequence[tuple[int, int]], n_classes: int, options: Any, path: Path) -> torch.nn.Module:
    """A head saved by :func:`save_head`, built with the same shapes and options."""
    model = build_head(kind, [tuple(s) for s in shapes], n_classes, hidden=options.hidden, dropout=options.dropout)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()
