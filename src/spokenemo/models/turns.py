"""Conversations of per-turn vectors as one padded batch (HCAM stages II-III, MiSTER-E phase 2).

>>> import numpy as np
>>> b = pad_turns([np.ones((2, 3)), np.ones((1, 3))], labels=[[0, 1], [2]])
>>> tuple(b.x.shape), b.mask.tolist(), b.y.tolist()
((2, 2, 3), [[True, True], [True, False]], [[0, 1], [2, -100]])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class TurnBatch:
    """Padded conversations.

    Attributes
    ----------
    x : Tensor (B, T, D) float
        Per-turn vectors, zeros on padded turns.
    mask : Tensor (B, T) bool
        True on real turns.
    y : Tensor (B, T) long or None
        Per-turn labels, ``pad_label`` on padded turns (None when no labels were given).
    """

    x: torch.Tensor
    mask: torch.Tensor
    y: torch.Tensor | None = None

    def to(self, device: str | torch.device) -> TurnBatch:
        return TurnBatch(self.x.to(device), self.mask.to(device), None if self.y is None else self.y.to(device))

    def flat_targets(self) -> torch.Tensor:
        """The labels of the real turns, in batch-then-turn order (matches ``logits[mask]``)."""
        if self.y is None:
            raise ValueError("this TurnBatch has no labels")
        return self.y[self.mask]


def pad_turns(sequences: Sequence[np.ndarray | torch.Tensor], labels: Sequence[Sequence[int]] | None = None,
              pad_label: int = -100) -> TurnBatch:
    """Stack conversations of different lengths into one :class:`TurnBatch`.

    Parameters
    ----------
    sequences : sequence of array (T_i, D)
        One array per conversation, one row per turn.
    labels : sequence of sequence of int, optional
        One label per turn of each conversation.
    pad_label : int
        Label of padded turns (ignored by :mod:`spokenemo.models.losses`).
    """
    if not sequences:
        raise ValueError("pad_turns needs at least one conversation")
    arrays = [torch.as_tensor(np.asarray(s, dtype=np.float32)) if not isinstance(s, torch.Tensor) else s.float()
              for s in sequences]
    dims = {a.shape[-1] for a in arrays if a.ndim == 2}
    if len(dims) != 1 or any(a.ndim != 2 or len(a) == 0 for a in arrays):
        raise ValueError(f"every conversation must be a non-empty (turns, dim) array of one dim; got shapes "
                         f"{[tuple(a.shape) for a in arrays]}")
    longest = max(len(a) for a in arrays)
    x = torch.zeros(len(arrays), longest, dims.pop())
    mask = torch.zeros(len(arrays), longest, dtype=torch.bool)
    for i, a in enumerate(arrays):
        x[i, : len(a)] = a
        mask[i, : len(a)] = True
    y = None
    if labels is not None:
        if len(labels) != len(arrays) or any(len(lab) != len(a) for lab, a in zip(labels, arrays, strict=False)):
            raise ValueError("labels must give one label per turn of every conversation")
        y = torch.full((len(arrays), longest), pad_label, dtype=torch.long)
        for i, lab in enumerate(labels):
            y[i, : len(lab)] = torch.as_tensor(list(lab), dtype=torch.long)
    return TurnBatch(x, mask, y)
