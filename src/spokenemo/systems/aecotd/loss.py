"""The emotion-focused loss of AECoTD (Eq. 5-6): token cross-entropy weighted per target token.

``L = - sum_t w_t log p(y_t)``, with ``w_t = 1`` on the tokens of the emotion label,
``0.01`` on the rest of the target and ``0`` on the prompt and padding (weights come from
:mod:`spokenemo.systems.aecotd.examples`). Plain (uniform) cross-entropy over the target is the
same function with every target weight 1: the paper's "without emotion loss" ablation.

Only the positions with a non-zero weight are gathered before the softmax, so a zero-weight
position contributes exactly nothing, to the loss and to the gradients, whatever its logits and
labels are; this also avoids a softmax over the vocabulary for every prompt token.
"""

from __future__ import annotations

from typing import Literal

import torch

Normalize = Literal["weight", "sum", "mean"]


def weighted_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, *,
                           normalize: Normalize = "weight", shift: bool = True) -> torch.Tensor:
    """Weighted token cross-entropy.

    Parameters
    ----------
    logits : Tensor, shape (batch, time, vocab)
        Model outputs.
    labels : Tensor of int, shape (batch, time)
        Token ids. With ``shift=True`` (causal LM) these are the input ids and position ``t``
        of ``logits`` predicts ``labels[:, t + 1]``.
    weights : Tensor, shape (batch, time)
        Weight of predicting each token of ``labels`` (aligned with ``labels``, not with the
        shifted logits); 0 means "not trained".
    normalize : {"weight", "sum", "mean"}
        ``"weight"``: divide by ``sum(w)`` (default; the loss is then a weighted average and
        does not grow with the reasoning length); ``"sum"``: the raw sum of Eq. 5;
        ``"mean"``: divide by the number of tokens with a non-zero weight.
    shift : bool
        Whether ``logits[:, t]`` predicts ``labels[:, t + 1]`` (True) or ``labels[:, t]``.

    Returns
    -------
    Tensor
        A scalar (float32). Zero (still attached to the graph) when no weight is non-zero.
    """
    if logits.ndim != 3 or labels.shape != logits.shape[:2] or weights.shape != labels.shape:
        raise ValueError(f"shapes do not match: logits {tuple(logits.shape)}, labels {tuple(labels.shape)}, "
                         f"weights {tuple(weights.shape)}")
    if normalize not in ("weight", "sum", "mean"):
        raise ValueError(f"normalize must be 'weight', 'sum' or 'mean', got {normalize!r}")
    if shift:
        logits, labels, weights = logits[:, :-1], labels[:, 1:], weights[:, 1:]
    selected = weights != 0
    if not bool(selected.any()):
        return logits.sum() * 0.0
    picked = logits[selected].float()
    nll = -torch.log_softmax(picked, dim=-1).gather(-1, labels[selected].unsqueeze(-1)).squeeze(-1)
    w = weights[selected].float()
    total = (w * nll).sum()
    if normalize == "weight":
        return total / w.sum()
    if normalize == "mean":
        return total / selected.sum()
    return total


def token_nll(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, *, shift: bool = True) -> torch.Tensor:
    """Mean negative log-likelihood of the tokens where ``mask`` is true (e.g. the label tokens).

    Same alignment conventions as :func:`weighted_cross_entropy`; returns ``nan`` when the mask
    is empty. Used for logging, not for training.
    """
    has_tokens = bool((mask[:, 1:] if shift else mask).any())
    if not has_tokens:
        return torch.tensor(float("nan"))
    with torch.no_grad():
        return weighted_cross_entropy(logits, labels, mask.float(), normalize="mean", shift=shift)
