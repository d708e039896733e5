"""F0 predictor (Fig. 5.3, Eqs. 5.3-5.4) and duration predictor (Eqs. 5.5-5.6) of S2S-ZEST.

- F0: ``C = Emb(t)``; ``f_hat = CNN(Attn(Q = C, K = V = s + E))`` with 4 heads and hidden 256, a
  residual and layer norm around the attention, and a position-wise 1-D CNN feed-forward (kernel 3).
  **(ours)** ``s`` and ``E`` are each projected to the hidden size before the sum; the network works
  in units of ``f0_scale`` Hz (100) and returns Hz; a learnt position embedding is added to ``C`` so
  the contour can follow the position in the utterance.
- Duration: ``d_hat = CNN(Emb(t') + s + e_bar)`` (concatenated, ``s`` and ``e_bar`` broadcast over
  the runs), two conv layers of kernel 3 and hidden 256, then a linear output per run, in frames
  (or log(1 + frames) with ``log_domain``).
"""

from __future__ import annotations

import torch
from torch import nn

MAX_POSITIONS = 2048


class _ConvFFN(nn.Module):
    """Position-wise 1-D CNN feed-forward with a residual and layer norm (masked steps zeroed)."""

    def __init__(self, dim: int, hidden: int, kernel: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(dim, hidden, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(hidden, dim, kernel, padding=kernel // 2)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(x.dtype)
        h = torch.relu(self.conv1((x * m).transpose(1, 2)))
        h = self.conv2(self.drop(h)).transpose(1, 2)
        return self.norm(x + self.drop(h)) * m


class F0Predictor(nn.Module):
    """``f_hat = CNN(Attn(Q = Emb(t), K = V = s + E))`` (module docstring)."""

    def __init__(self, n_units: int = 100, *, s_dim: int = 256, e_dim: int = 256, dim: int = 256, heads: int = 4,
                 blocks: int = 1, dropout: float = 0.1, f0_scale: float = 100.0) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_units, dim)
        self.position = nn.Embedding(MAX_POSITIONS, dim)
        self.s_proj = nn.Linear(s_dim, dim)
        self.e_proj = nn.Linear(e_dim, dim)
        self.attn = nn.ModuleList(nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
                                  for _ in range(blocks))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(blocks))
        self.ffn = nn.ModuleList(_ConvFFN(dim, dim, 3, dropout) for _ in range(blocks))
        self.out = nn.Linear(dim, 1)
        self.f0_scale = f0_scale

    def forward(self, units: torch.Tensor, unit_mask: torch.Tensor, s: torch.Tensor, e: torch.Tensor,
                e_mask: torch.Tensor) -> torch.Tensor:
        """F0 (B, T) in Hz per unit frame; ``e`` (B, T_e, e_dim) may come from another clip."""
        pos = torch.arange(units.shape[1], device=units.device).clamp_max(MAX_POSITIONS - 1)
        x = self.embed(units) + self.position(pos)[None]
        kv = self.s_proj(s).unsqueeze(1) + self.e_proj(e)
        for attn, norm, ffn in zip(self.attn, self.norms, self.ffn, strict=True):
            a, _ = attn(x, kv, kv, key_padding_mask=~e_mask, need_weights=False)
            x = ffn(norm(x + a), unit_mask)
        return self.out(x).squeeze(-1) * self.f0_scale * unit_mask.to(x.dtype)


class DurationPredictor(nn.Module):
    """``d_hat = CNN(Emb(t') + s + e_bar)`` per unit run (module docstring)."""

    def __init__(self, n_units: int = 100, *, s_dim: int = 256, e_dim: int = 256, dim: int = 256,
                 kernel: int = 3, dropout: float = 0.1, log_domain: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_units, dim)
        self.conv1 = nn.Conv1d(dim + s_dim + e_dim, dim, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(dim, 1)
        self.log_domain = log_domain

    def forward(self, runs: torch.Tensor, run_mask: torch.Tensor, s: torch.Tensor, e_bar: torch.Tensor
                ) -> torch.Tensor:
        """Predicted durations (B, R) in the training domain (frames, or log(1 + frames))."""
        r = runs.shape[1]
        x = torch.cat([self.embed(runs), s.unsqueeze(1).expand(-1, r, -1), e_bar.unsqueeze(1).expand(-1, r, -1)], -1)
        m = run_mask.unsqueeze(-1).to(x.dtype)
        h = self.drop(self.norm1(torch.relu(self.conv1((x * m).transpose(1, 2))).transpose(1, 2)))
        h = self.drop(self.norm2(torch.relu(self.conv2((h * m).transpose(1, 2))).transpose(1, 2)))
        return self.out(h).squeeze(-1) * run_mask.to(h.dtype)

    def to_frames(self, pred: torch.Tensor) -> torch.Tensor:
        """Predictions in frames (from the log domain when trained there)."""
        return torch.expm1(pred).clamp_min(0.0) if self.log_domain else pred.clamp_min(0.0)

    def target(self, durations: torch.Tensor) -> torch.Tensor:
        """Durations in frames mapped to the training domain."""
        return torch.log1p(durations.float()) if self.log_domain else durations.float()
