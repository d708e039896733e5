"""The attention block of HCAM (thesis Eqs. 4.1-4.6) and the position-wise feed-forward layer.

``A = softmax(Q K^T / sqrt(d_k)) V`` (multi-head), ``Q' = Q + A``, ``O = LayerNorm(Q')``. Self
attention takes Q, K, V from one sequence; cross attention takes Q from one modality and K, V
from the other. Padded turns are masked as keys (``mask``: True on real turns).
"""

from __future__ import annotations

import torch
from torch import nn


class AttentionBlock(nn.Module):
    """Residual multi-head attention followed by layer normalisation (Eqs. 4.1-4.6).

    Parameters
    ----------
    dim : model width ``d``.
    heads : attention heads (``d`` must divide by it).
    dropout : dropout on the attention output.
    """

    def __init__(self, dim: int, heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, query: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """``query`` (B, T, d); ``context`` (B, S, d) for cross attention (None: self attention);
        ``mask`` (B, S) bool, True on the context's real positions."""
        context = query if context is None else context
        pad = None if mask is None else ~mask
        attended, _ = self.attn(query, context, context, key_padding_mask=pad, need_weights=False)
        return self.norm(query + self.drop(attended))


class FeedForward(nn.Module):
    """Position-wise ``Linear -> ReLU -> Dropout`` (the FFN after each stage's attention)."""

    def __init__(self, dim_in: int, dim_out: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim_in, dim_out), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
