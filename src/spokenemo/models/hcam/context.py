"""Stage II: the contextual GRU block of one modality (thesis 3.2, Fig. 4.2).

A Bi-GRU runs over the conversation's frozen stage-I utterance embeddings (padded turns are
packed away), a self-attention block (Eqs. 4.1-4.3) relates every turn to the others, and a
position-wise FFN with ReLU gives the per-turn representation that the classifier reads.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from spokenemo.models.hcam.blocks import AttentionBlock, FeedForward


def run_gru(gru: nn.GRU, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch-first GRU over the real steps of each row: ``(outputs (B, T, H), h_n)``; padding gives 0."""
    lengths = mask.sum(dim=1).clamp(min=1).cpu()
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, h_n = gru(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, h_n


class ContextualGRU(nn.Module):
    """Bi-GRU over turns -> self attention -> FFN -> classifier.

    Parameters
    ----------
    dim_in : width of the stage-I utterance embeddings.
    n_classes : classes of the task.
    dim : model width ``d`` (the Bi-GRU has ``d / 2`` units per direction).
    heads, dropout : of the self-attention block.
    """

    def __init__(self, dim_in: int, n_classes: int, *, dim: int = 256, heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"dim must be even (two GRU directions), got {dim}")
        self.dim = dim
        self.inp = nn.Dropout(dropout)
        self.gru = nn.GRU(dim_in, dim // 2, batch_first=True, bidirectional=True)
        self.attn = AttentionBlock(dim, heads, dropout)
        self.ffn = FeedForward(dim, dim, dropout)
        self.classifier = nn.Linear(dim, n_classes)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-turn representations (B, T, d) of utterance embeddings ``x`` (B, T, dim_in)."""
        h, _ = run_gru(self.gru, self.inp(x), mask)
        return self.ffn(self.attn(h, mask=mask))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rep = self.encode(x, mask)
        return self.classifier(rep), rep
