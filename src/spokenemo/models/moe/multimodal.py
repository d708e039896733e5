"""The multimodal (cross-modal) expert of MiSTER-E (thesis Eqs. 4.13-4.17).

Both modalities' frozen utterance embeddings are projected to ``hidden``. Each layer computes

    M^{t->s} = LN(E^s + FC(MHA(Q^s, K^t, V^t))),   M^{s->t} = LN(E^t + FC(MHA(Q^t, K^s, V^s)))

and then a modality-wise self-attention over the conversation with the same residual form, giving
``M^s`` and ``M^t`` (the public code's layout; the thesis writes the residual as ``FC(E)``, which
the input projection provides). After the layers a skip projection of the raw embeddings is added,
and ``y^m = FC(ReLU(FC(LN([M^s ; M^t]))))``. Padded turns are masked out of every attention.
"""

from __future__ import annotations

import torch
from torch import nn


class _Block(nn.Module):
    """Attention + dropout + FC + residual + LayerNorm."""

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(hidden, heads, dropout=0.1, batch_first=True)
        self.fc = nn.Linear(hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden, eps=1e-6)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        att = self.attn(query, memory, memory, key_padding_mask=pad, need_weights=False)[0]
        return self.norm(query + self.drop(self.fc(att)))


class CrossModalLayer(nn.Module):
    """One layer: cross-attention in both directions, then self-attention per modality."""

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.cross_s, self.cross_t = _Block(hidden, heads, dropout), _Block(hidden, heads, dropout)
        self.self_s, self.self_t = _Block(hidden, heads, dropout), _Block(hidden, heads, dropout)

    def forward(self, s: torch.Tensor, t: torch.Tensor, pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s2, t2 = self.cross_s(s, t, pad), self.cross_t(t, s, pad)
        return self.self_s(s2, s2, pad), self.self_t(t2, t2, pad)


class MultimodalNetwork(nn.Module):
    """Cross-modal expert: ``(E^s, E^t, mask)`` -> ``(M^s, M^t, fused, logits)``.

    Parameters
    ----------
    dim_speech, dim_text : int
        Embedding sizes of the two modalities.
    n_classes : int
    hidden : int
        Attention width (thesis 120); must be divisible by ``heads``.
    heads, layers : int
        Thesis 4 and 4.
    dropout : float
        After each attention's output FC (thesis 0.5).
    fused : int
        Width of the FC after the concatenation (``fused`` output, read by feat-MoE).
    """

    def __init__(self, dim_speech: int, dim_text: int, n_classes: int, *, hidden: int = 120, heads: int = 4,
                 layers: int = 4, dropout: float = 0.5, fused: int = 256) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
        self.in_s, self.in_t = nn.Linear(dim_speech, hidden), nn.Linear(dim_text, hidden)
        self.skip_s, self.skip_t = nn.Linear(dim_speech, hidden), nn.Linear(dim_text, hidden)
        self.layers = nn.ModuleList(CrossModalLayer(hidden, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(2 * hidden, eps=1e-6)
        self.fuse = nn.Linear(2 * hidden, fused)
        self.head = nn.Linear(fused, n_classes)
        self.hidden, self.out_dim = hidden, fused

    def forward(self, speech: torch.Tensor, text: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``speech`` (B, T, Ds), ``text`` (B, T, Dt), ``mask`` (B, T) -> M^s, M^t (B, T, hidden),
        fused (B, T, fused) and logits (B, T, C)."""
        pad = ~mask
        s, t = self.in_s(speech), self.in_t(text)
        for layer in self.layers:
            s, t = layer(s, t, pad)
        m_s, m_t = s + self.skip_s(speech), t + self.skip_t(text)
        fused = torch.relu(self.fuse(self.norm(torch.cat([m_s, m_t], dim=-1))))
        return m_s, m_t, fused, self.head(fused)
