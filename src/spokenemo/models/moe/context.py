"""The Context Addition Network (CAN) of MiSTER-E (thesis Eqs. 4.11-4.12).

One per modality: a *temporal inception network* (1-D convolutions over the turn axis with kernels
1, 3 and 5; ReLU of each branch, summed, as in the public code) -> a Bi-GRU -> a residual link
with the input embedding (``FC(e)`` added to the GRU output) -> dropout -> FC -> logits.

Padding turns are zeroed before the convolutions (so a padded conversation sees the same zeros a
convolution pads with at its end) and the GRU runs on packed sequences, so a conversation's
outputs do not depend on the batch it is in.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ContextAdditionNetwork(nn.Module):
    """Temporal inception over turns -> Bi-GRU -> residual -> logits.

    Parameters
    ----------
    dim_in : int
        Utterance embedding size.
    n_classes : int
    hidden : int
        GRU hidden size per direction (thesis 512; small default 128); the outputs are ``2 hidden``.
    layers : int
        GRU layers (thesis 3 for IEMOCAP/MOSI, 2 for MELD).
    dropout : float
        Between GRU layers and before the output layer (thesis 0.2).
    kernels : sequence of int
        Odd kernel sizes of the inception branches.
    """

    def __init__(self, dim_in: int, n_classes: int, *, hidden: int = 128, layers: int = 2, dropout: float = 0.2,
                 kernels: Sequence[int] = (1, 3, 5)) -> None:
        super().__init__()
        if any(k % 2 == 0 for k in kernels):
            raise ValueError(f"inception kernels must be odd, got {list(kernels)}")
        width = 2 * hidden
        self.convs = nn.ModuleList(nn.Conv1d(dim_in, width, k, padding=k // 2) for k in kernels)
        self.gru = nn.GRU(width, hidden, num_layers=layers, bidirectional=True, batch_first=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.skip = nn.Linear(dim_in, width)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, n_classes)
        self.out_dim = width

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, T, D), ``mask`` (B, T) True on real turns -> (hidden (B, T, 2H), logits (B, T, C))."""
        m = mask.unsqueeze(-1).to(x.dtype)
        xm = (x * m).transpose(1, 2)
        conv = sum(torch.relu(c(xm)) for c in self.convs).transpose(1, 2) * m
        lengths = mask.sum(dim=1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(conv, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        h = (out + self.skip(x)) * m
        return h, self.head(self.drop(h))
