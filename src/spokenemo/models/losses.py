"""Classification losses shared by the thesis systems (thesis.md 3.3, 4.3, 5.1).

One definition each, used by HCAM, MiSTER-E and ABHINAYA:

- :func:`balanced_class_weights`: ``w_c = N / (N_c * C)`` (Eq. 4.28's weights);
- :func:`weighted_cross_entropy` (WCE, Eq. 4.29): ``mean_i -w_{y_i} log p_{i,y_i}``;
- :func:`focal_loss` (WFL, Eq. 4.30): ``mean_i -w_{y_i} (1 - p_{i,y_i})^gamma log p_{i,y_i}``;
- :func:`vs_loss` (Eq. 4.31): WCE on the vector-scaled logits of :func:`vs_adjusted_logits` (training only);
- :func:`supervised_contrastive_loss` (Eq. 4.7, and MiSTER-E's L_con);
- :func:`kl_to_reference`: ``KL(p_ref || p)``, MiSTER-E's directional agreement term.

Every loss takes raw logits ``(N, C)`` and integer targets ``(N,)``; targets equal to ``ignore_index``
(padded turns) are left out, and the result is the mean over the items kept (0 when none is kept, so a
batch of padding never makes NaN). Weighted losses are *not* renormalised by the weights' sum: the
thesis's Eq. 4.29 averages over samples, unlike ``torch.nn.functional.cross_entropy(weight=...)``.

>>> import torch
>>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]]); targets = torch.tensor([0, 1])
>>> round(float(focal_loss(logits, targets, gamma=0.0)), 4) == round(float(weighted_cross_entropy(logits, targets)), 4)
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def balanced_class_weights(counts: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """``w_c = N / (N_c * C)`` over the ``C`` classes present; a class with no example gets 0.

    Parameters
    ----------
    counts : sequence of int
        Training examples per class, ``N_c``.
    """
    n_c = torch.as_tensor(np.asarray(counts, dtype=np.float64))
    present = n_c > 0
    if not bool(present.any()):
        raise ValueError("balanced_class_weights needs at least one class with a training example")
    weights = n_c.sum() / (present.sum() * n_c.clamp(min=1))
    return torch.where(present, weights, torch.zeros_like(weights)).float()


def _kept(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    if logits.ndim != 2 or targets.ndim != 1 or len(logits) != len(targets):
        raise ValueError(f"expected logits (N, C) and targets (N,); got {tuple(logits.shape)} and "
                         f"{tuple(targets.shape)}")
    keep = targets != ignore_index
    return logits[keep], targets[keep].long()


def _mean(per_item: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return per_item.mean() if per_item.numel() else like.sum() * 0.0


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0, weight: torch.Tensor | None = None,
               ignore_index: int = -100) -> torch.Tensor:
    """Weighted focal loss ``mean_i -w_{y_i} (1 - p_{i,y_i})^gamma log p_{i,y_i}`` (``gamma = 0``: WCE)."""
    z, y = _kept(logits, targets, ignore_index)
    log_p = F.log_softmax(z.float(), dim=-1).gather(1, y[:, None])[:, 0]
    per_item = -((1.0 - log_p.exp()) ** gamma) * log_p
    if weight is not None:
        per_item = per_item * weight.to(per_item)[y]
    return _mean(per_item, logits)


def weighted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None = None,
                           ignore_index: int = -100) -> torch.Tensor:
    """``mean_i -w_{y_i} log p_{i,y_i}`` (plain cross-entropy when ``weight`` is None)."""
    return focal_loss(logits, targets, gamma=0.0, weight=weight, ignore_index=ignore_index)


def vs_adjusted_logits(logits: torch.Tensor, counts: Sequence[int] | np.ndarray | torch.Tensor, gamma: float = 0.3,
                       tau: float = 1.0) -> torch.Tensor:
    """Vector-scaled logits ``(N_c / N_max)^gamma * z_c + tau * log(N_c / N)`` (training only).

    A class with no example keeps its logit unscaled and gets a very negative offset, so it is never
    the training target's competitor; inference uses the raw logits.
    """
    n_c = torch.as_tensor(np.asarray(counts, dtype=np.float64)).to(logits.device)
    if n_c.numel() != logits.shape[-1]:
        raise ValueError(f"counts has {n_c.numel()} classes, logits {logits.shape[-1]}")
    scale = (n_c / n_c.max()).clamp(min=1e-12) ** gamma
    offset = tau * torch.log((n_c / n_c.sum()).clamp(min=1e-12))
    return logits * scale.to(logits.dtype) + offset.to(logits.dtype)


def vs_loss(logits: torch.Tensor, targets: torch.Tensor, counts: Sequence[int] | np.ndarray | torch.Tensor,
            gamma: float = 0.3, tau: float = 1.0, weight: torch.Tensor | None = None,
            ignore_index: int = -100) -> torch.Tensor:
    """VS loss: (weighted) cross-entropy on :func:`vs_adjusted_logits`."""
    adjusted = vs_adjusted_logits(logits, counts, gamma=gamma, tau=tau)
    return weighted_cross_entropy(adjusted, targets, weight=weight, ignore_index=ignore_index)


def supervised_contrastive_loss(features: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1,
                                exclude_self: bool = True) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020; thesis Eq. 4.7).

    ``L = mean_j (-1/|P_j|) sum_{p in P_j} log[exp(x_j.x_p / tau) / sum_a exp(x_j.x_a / tau)]`` over the
    L2-normalised ``features`` (N, D); ``P_j`` = the other items with ``j``'s label. With ``exclude_self``
    (the default, as in Khosla et al. and MiSTER-E's L_con) the denominator leaves out ``a = j``; Eq. 4.7
    as printed sums over the whole batch, which ``exclude_self=False`` gives. Items with a negative label
    (padding) are ignored; anchors without a positive are skipped.
    """
    if features.ndim != 2 or labels.ndim != 1 or len(features) != len(labels):
        raise ValueError(f"expected features (N, D) and labels (N,); got {tuple(features.shape)} and "
                         f"{tuple(labels.shape)}")
    keep = labels >= 0
    x, y = F.normalize(features[keep].float(), dim=-1), labels[keep]
    if len(y) < 2:
        return features.sum() * 0.0
    sim = x @ x.T / temperature
    eye = torch.eye(len(y), dtype=torch.bool, device=x.device)
    if exclude_self:
        sim = sim.masked_fill(eye, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positives = (y[:, None] == y[None, :]) & ~eye
    n_pos = positives.sum(1)
    anchors = n_pos > 0
    if not bool(anchors.any()):
        return features.sum() * 0.0
    summed = torch.where(positives, log_prob, torch.zeros_like(log_prob)).sum(1)
    return (-summed[anchors] / n_pos[anchors]).mean()


def kl_to_reference(reference_logits: torch.Tensor, logits: torch.Tensor, detach_reference: bool = False,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over items of ``KL(p_ref || p)`` with ``p = softmax(logits)``; ``mask`` (N,) keeps items."""
    ref = reference_logits.detach() if detach_reference else reference_logits
    log_ref, log_p = F.log_softmax(ref.float(), dim=-1), F.log_softmax(logits.float(), dim=-1)
    per_item = (log_ref.exp() * (log_ref - log_p)).sum(-1)
    if mask is not None:
        per_item = per_item[mask]
    return _mean(per_item, logits)
