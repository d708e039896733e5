"""Downstream training of ``silver-text`` (thesis.md 2.2 item 4): a SUPERB head on the frozen
encoder's layer means (default), or the whole encoder fine-tuned with the same head (option).

Both train through :func:`spokenemo.train.loop.fit` (AdamW, cross-entropy, optionally
class-balanced) and keep the epoch with the best weighted F1 on the fold's validation part (the
official dev split); without one, the last epoch. Frozen: the inputs are z-scored per layer and
dimension with the training part's statistics. This module needs torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spokenemo.models.heads import LayerWeights, SuperbHead, feed_forward
from spokenemo.train.selection import class_weights, epoch_settings, fit_best_epoch
from spokenemo.train.settings import TrainSettings


@dataclass
class Trained:
    """A trained downstream model, the chosen epoch and the validation curve (WF1 per epoch)."""

    model: nn.Module
    epoch: int
    curve: list[float] = field(default_factory=list)


def weighted_f1(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Support-weighted F1 over the classes of ``y`` (integer labels)."""
    total = 0.0
    for c in range(n_classes):
        true, predicted = y == c, pred == c
        if true.any():
            tp = float(np.sum(true & predicted))
            total += true.sum() * 2 * tp / (true.sum() + predicted.sum())
    return total / max(len(y), 1)


def _select_and_fit(model: nn.Module, n: int, collate: Callable[[list[int]], Any], loss_fn: Any,
                    settings: TrainSettings, work_dir: Path, fingerprint: str, probs: Callable[[], np.ndarray] | None,
                    y_valid: np.ndarray | None, patience: int | None, n_classes: int) -> Trained:
    """One fit; after each epoch score ``probs()`` on the validation part (weighted F1) and keep the best."""
    curve: list[float] = []

    def evaluate(epoch: int) -> float | None:
        if probs is None or y_valid is None:
            return None
        curve.append(weighted_f1(y_valid, probs().argmax(axis=1), n_classes))
        return curve[-1]

    chosen = fit_best_epoch(model, range(n), loss_fn, settings, work_dir, collate=collate, fingerprint=fingerprint,
                            evaluate=evaluate, patience=patience)
    return Trained(chosen.model, int(settings.epochs) if chosen.epoch is None else chosen.epoch, curve)


def _settings(options: Any, seed: int, n: int, epochs: int, lr: float) -> TrainSettings:
    return epoch_settings(n=n, epochs=epochs, lr=lr, batch_size=options.batch_size,
                          weight_decay=options.weight_decay, seed=seed, device=options.device)


def head_probabilities(model: nn.Module, X: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class probabilities of a :class:`SuperbHead` over ``X`` ``(n, n_layers, dim)``."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for at in range(0, len(X), batch_size):
            x = torch.as_tensor(X[at:at + batch_size], dtype=torch.float32, device=device)
            out.append(torch.softmax(model([x]).float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def train_frozen_head(X: np.ndarray, y: np.ndarray, X_valid: np.ndarray | None, y_valid: np.ndarray | None, *,
                      n_classes: int, options: Any, seed: int, work_dir: Path, fingerprint: str = "") -> Trained:
    """A SUPERB head (layer weights, 2-layer FFN) on standardised layer means."""
    torch.manual_seed(seed)
    model = SuperbHead([(X.shape[1], X.shape[2])], n_classes, hidden=options.hidden, dropout=options.dropout)
    weights = class_weights(y, n_classes) if options.balanced else None
    labels = torch.as_tensor(y, dtype=torch.long)
    data = torch.as_tensor(X, dtype=torch.float32)

    def collate(rows: list[int]) -> dict[str, Any]:
        return {"x": data[rows], "y": labels[rows]}

    def loss_fn(m: Any, batch: dict[str, Any]) -> torch.Tensor:
        logits = m([batch["x"]])
        return F.cross_entropy(logits, batch["y"], weight=None if weights is None else weights.to(logits.device))

    probs = None if X_valid is None or not len(X_valid) else (lambda: head_probabilities(model, X_valid))
    settings = _settings(options, seed, len(y), options.epochs, options.lr)
    return _select_and_fit(model, len(y), collate, loss_fn, settings, work_dir, fingerprint, probs, y_valid,
                           options.patience, n_classes)


class FinetuneModel(nn.Module):
    """The encoder, trainable, under the SUPERB head: layer weights over every hidden state, mean
    over real tokens, 2-layer FFN."""

    def __init__(self, encoder: nn.Module, n_classes: int, hidden: int = 256, dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder = encoder
        self.layer_weights = LayerWeights(int(encoder.config.num_hidden_layers) + 1)
        self.ffn = feed_forward(int(encoder.config.hidden_size), n_classes, hidden, dropout)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        mixed = self.layer_weights(torch.stack(list(out.hidden_states), dim=1))  # (b, t, d)
        mask = attention_mask.unsqueeze(-1).to(mixed.dtype)
        return self.ffn((mixed * mask).sum(1) / mask.sum(1).clamp_min(1.0))


def finetune_probabilities(model: FinetuneModel, tokenizer: Any, texts: Sequence[str], max_length: int,
                           batch_size: int = 64) -> np.ndarray:
    """Class probabilities of the fine-tuned model for ``texts`` (sorted by length internally)."""
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.ffn[-1].out_features), dtype=np.float32)
    device = next(model.parameters()).device
    with torch.no_grad():
        for at in range(0, len(order), batch_size):
            rows = order[at:at + batch_size]
            b = tokenizer([texts[i] or "" for i in rows], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt")
            logits = model(b["input_ids"].to(device), b["attention_mask"].to(device))
            out[rows] = torch.softmax(logits.float(), dim=1).cpu().numpy()
    return out


def train_finetuned(encoder: nn.Module, tokenizer: Any, texts: Sequence[str], y: np.ndarray,
                    valid_texts: Sequence[str], y_valid: np.ndarray | None, *, n_classes: int, options: Any,
                    seed: int, work_dir: Path, fingerprint: str = "") -> Trained:
    """Fine-tune ``encoder`` with the SUPERB head (``ft_epochs``, ``ft_lr``, ``max_length``)."""
    torch.manual_seed(seed)
    model = FinetuneModel(encoder, n_classes, options.hidden, options.dropout)
    weights = class_weights(y, n_classes) if options.balanced else None
    labels = torch.as_tensor(y, dtype=torch.long)

    def collate(rows: list[int]) -> dict[str, Any]:
        b = tokenizer([texts[i] or "" for i in rows], padding=True, truncation=True, max_length=options.max_length,
                      return_tensors="pt")
        return {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"], "y": labels[rows]}

    def loss_fn(m: Any, batch: dict[str, Any]) -> torch.Tensor:
        logits = m(batch["input_ids"], batch["attention_mask"])
        return F.cross_entropy(logits, batch["y"], weight=None if weights is None else weights.to(logits.device))

    probs = None if not len(valid_texts) else (
        lambda: finetune_probabilities(model, tokenizer, valid_texts, options.max_length))
    settings = _settings(options, seed, len(y), options.ft_epochs, options.ft_lr)
    return _select_and_fit(model, len(y), collate, loss_fn, settings, work_dir, fingerprint, probs, y_valid,
                           None, n_classes)
