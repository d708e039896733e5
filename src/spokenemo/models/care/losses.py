"""CARE's losses (thesis Eqs. 3.1-3.3): L = L_sem + lambda * L_acoust.

- ``L_sem``: squared error between the text teacher's pooled embedding ``y_text`` ``(B, Dt)`` and
  the pooled semantic output ``(B, Dt)``;
- ``L_acoust``: squared error between the acoustic targets ``(B, T', A)`` and the acoustic
  prediction ``(B, T, A)`` over the first ``min(T, T')`` frames, real frames only (both masks);

``reduction="elements"`` (default, the authors' ``nn.MSELoss``): means over every element, so both
terms are per dimension; ``"norm"`` (the thesis's equations): squared norms summed over the
dimensions, averaged over clips (``L_sem``) and over real frames (``L_acoust``).
"""

from __future__ import annotations

from typing import Literal

import torch

Reduction = Literal["elements", "norm"]


def semantic_loss(pred: torch.Tensor, target: torch.Tensor, reduction: Reduction = "elements") -> torch.Tensor:
    """Eq. 3.1: ``(B, D)`` against ``(B, D)``."""
    sq = (pred - target.to(pred.dtype)) ** 2
    return sq.mean() if reduction == "elements" else sq.sum(-1).mean()


def acoustic_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                  reduction: Reduction = "elements") -> torch.Tensor:
    """Eq. 3.2 over real frames: ``pred`` ``(B, T, A)``, ``target`` ``(B, T', A)``, ``mask``
    ``(B, min(T, T'))`` or wider (True where both the audio and the target are real)."""
    n = min(pred.shape[1], target.shape[1])
    sq = ((pred[:, :n] - target[:, :n].to(pred.dtype)) ** 2).sum(-1)
    m = mask[:, :n].to(sq.dtype)
    frames = m.sum().clamp_min(1.0)
    total = (sq * m).sum() / frames
    return total / pred.shape[-1] if reduction == "elements" else total


def care_loss(pooled: torch.Tensor, y_text: torch.Tensor, acoustic_pred: torch.Tensor, y_acoustic: torch.Tensor,
              mask: torch.Tensor, *, lam: float = 1.0, reduction: Reduction = "elements"
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 3.3: ``(L, {"sem": L_sem, "acoust": L_acoust})``."""
    sem = semantic_loss(pooled, y_text, reduction)
    ac = acoustic_loss(acoustic_pred, y_acoustic, mask, reduction)
    return sem + lam * ac, {"sem": float(sem.detach()), "acoust": float(ac.detach())}
