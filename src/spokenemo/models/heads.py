"""Downstream heads over a frozen speech encoder's layers (docs/methods/ser.md).

Every head reads one or more *streams*: the layers of one encoder, ``(batch, n_layers, ...)``.
Several streams (several encoders, fused) are each reduced on their own and concatenated.

- :class:`SuperbHead`, the SUPERB-style downstream protocol of the thesis (section 1.4 in
  docs/methods/ser.md): a convex combination of the layers with learned weights (softmax over one
  scalar per layer), mean pooling over time, and a 2-layer feed-forward network (hidden 256,
  ReLU) to the classes. It reads *pooled* input ``(batch, n_layers, F)``: the per-layer means
  over frames (``F = dim``), whose weighted sum equals the time mean of the weighted frames, or
  per-layer mean and std concatenated (``F = 2 dim``).
- :class:`AttentiveStatsHead`: the same layer weights on *frame-level* input
  ``(batch, n_layers, n_frames, dim)`` with a padding mask, then attentive statistics pooling
  (a learned attention over frames gives a weighted mean and standard deviation) and the same
  feed-forward network.
- :class:`LinearProbe`: one linear layer over the flattened input of every stream.

Heads return logits; the training (cross-entropy, seeds, model selection) is the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from spokenemo.core.errors import ConfigError

#: Names of the heads :func:`build_head` makes.
HEADS = ("superb", "asp", "linear")


class LayerWeights(nn.Module):
    """Softmax-normalised weights over ``n_layers`` (learned; uniform at the start)."""

    def __init__(self, n_layers: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, n_layers, ...)`` -> ``(batch, ...)``: the weighted sum over layers."""
        w = torch.softmax(self.logits, dim=0)
        return (x * w.view(1, -1, *[1] * (x.dim() - 2))).sum(1)

    def weights(self) -> np.ndarray:
        """The current convex weights (sum to 1)."""
        return torch.softmax(self.logits.detach().float().cpu(), dim=0).numpy()


def feed_forward(in_features: int, n_classes: int, hidden: int = 256, dropout: float = 0.0) -> nn.Sequential:
    """The 2-layer head: Linear -> ReLU -> (Dropout) -> Linear."""
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))


class SuperbHead(nn.Module):
    """Layer-weighted pooled features -> 2-layer FFN (see the module docstring).

    Parameters
    ----------
    streams : sequence of (n_layers, features)
        One entry per encoder.
    n_classes : int
    hidden : int
        Width of the hidden layer (256 in the thesis).
    dropout : float
        Dropout after the hidden layer (0 in the thesis).
    """

    def __init__(self, streams: Sequence[tuple[int, int]], n_classes: int, *, hidden: int = 256,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.layer_weights = nn.ModuleList(LayerWeights(n) for n, _ in streams)
        self.ffn = feed_forward(sum(f for _, f in streams), n_classes, hidden, dropout)

    def forward(self, xs: Sequence[torch.Tensor], masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``xs[i]``: ``(batch, n_layers_i, features_i)`` -> logits ``(batch, n_classes)``."""
        return self.ffn(torch.cat([lw(x) for lw, x in zip(self.layer_weights, xs, strict=True)], dim=1))


def attentive_statistics(x: torch.Tensor, mask: torch.Tensor, attention: nn.Module) -> torch.Tensor:
    """Attentive statistics pooling: ``x`` ``(batch, frames, dim)``, ``mask`` ``(batch, frames)``
    (True = a real frame) -> ``(batch, 2 dim)``, the attention-weighted mean and standard deviation."""
    scores = attention(x).squeeze(-1).masked_fill(~mask, float("-inf"))
    alpha = torch.softmax(scores, dim=1).unsqueeze(-1)
    mean = (alpha * x).sum(1)
    var = (alpha * x * x).sum(1) - mean * mean
    return torch.cat([mean, torch.sqrt(var.clamp(min=1e-6))], dim=1)


class AttentiveStatsHead(nn.Module):
    """Layer-weighted frames -> attentive statistics pooling -> 2-layer FFN (module docstring).

    Parameters
    ----------
    streams : sequence of (n_layers, dim)
    n_classes, hidden, dropout : as :class:`SuperbHead`.
    attention : int
        Width of the attention's hidden layer.
    """

    def __init__(self, streams: Sequence[tuple[int, int]], n_classes: int, *, hidden: int = 256,
                 dropout: float = 0.0, attention: int = 128) -> None:
        super().__init__()
        self.layer_weights = nn.ModuleList(LayerWeights(n) for n, _ in streams)
        self.attention = nn.ModuleList(nn.Sequential(nn.Linear(d, attention), nn.Tanh(), nn.Linear(attention, 1))
                                       for _, d in streams)
        self.ffn = feed_forward(sum(2 * d for _, d in streams), n_classes, hidden, dropout)

    def forward(self, xs: Sequence[torch.Tensor], masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``xs[i]``: ``(batch, n_layers_i, frames_i, dim_i)``, ``masks[i]``: ``(batch, frames_i)``."""
        if masks is None:
            masks = [torch.ones(x.shape[0], x.shape[2], dtype=torch.bool, device=x.device) for x in xs]
        pooled = [attentive_statistics(lw(x), m, att)
                  for lw, att, x, m in zip(self.layer_weights, self.attention, xs, masks, strict=True)]
        return self.ffn(torch.cat(pooled, dim=1))


class LinearProbe(nn.Module):
    """One linear layer over the flattened input of every stream."""

    def __init__(self, streams: Sequence[tuple[int, int]], n_classes: int, **_: object) -> None:
        super().__init__()
        self.linear = nn.Linear(sum(n * f for n, f in streams), n_classes)

    def forward(self, xs: Sequence[torch.Tensor], masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        return self.linear(torch.cat([x.flatten(1) for x in xs], dim=1))


def build_head(kind: str, streams: Sequence[tuple[int, int]], n_classes: int, *, hidden: int = 256,
               dropout: float = 0.0) -> nn.Module:
    """A head by name: ``superb``, ``asp`` or ``linear`` (see the module docstring)."""
    if kind == "superb":
        return SuperbHead(streams, n_classes, hidden=hidden, dropout=dropout)
    if kind == "asp":
        return AttentiveStatsHead(streams, n_classes, hidden=hidden, dropout=dropout)
    if kind == "linear":
        return LinearProbe(streams, n_classes)
    raise ConfigError(f"unknown head {kind!r}", hint=f"heads: {', '.join(HEADS)}")


def layer_weights(model: nn.Module) -> list[list[float]]:
    """The convex layer weights of each stream (empty for heads without them)."""
    found = getattr(model, "layer_weights", None)
    return [] if found is None else [[round(float(w), 4) for w in lw.weights()] for lw in found]
