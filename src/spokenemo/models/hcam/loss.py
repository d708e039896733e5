"""HCAM's training objective (thesis Eqs. 4.7-4.8): ``beta * CE + (1 - beta) * SupCon``.

The contrastive term uses the representation just before the classifier, over the real items of
the mini-batch (padded turns carry label -100 and are left out of both terms).
"""

from __future__ import annotations

import torch

from spokenemo.models.losses import supervised_contrastive_loss, weighted_cross_entropy

IGNORE = -100


def hcam_loss(logits: torch.Tensor, rep: torch.Tensor, targets: torch.Tensor, *, beta: float = 0.8,
              temperature: float = 0.1, weight: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one batch and its two terms.

    Parameters
    ----------
    logits : (..., C); rep : (..., D); targets : (...) long, ``-100`` where there is no item.
    beta : weight of the cross-entropy (``1 - beta`` goes to the contrastive term).
    temperature : tau of Eq. 4.7.
    weight : optional class weights of the cross-entropy.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    flat_logits, flat_rep, flat_y = logits.reshape(-1, logits.shape[-1]), rep.reshape(-1, rep.shape[-1]), targets.reshape(-1)
    ce = weighted_cross_entropy(flat_logits, flat_y, weight=weight, ignore_index=IGNORE)
    if beta >= 1.0:
        return ce, {"ce": float(ce.detach())}
    keep = flat_y != IGNORE
    supcon = supervised_contrastive_loss(flat_rep[keep], flat_y[keep], temperature=temperature)
    loss = beta * ce + (1.0 - beta) * supcon
    return loss, {"ce": float(ce.detach()), "supcon": float(supcon.detach())}
