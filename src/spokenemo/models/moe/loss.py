"""The phase-2 losses of MiSTER-E (thesis Eqs. 4.20-4.27) and the public code's variants.

With FL the focal loss (:func:`spokenemo.models.losses.focal_loss`), per batch of conversations
(every sum of the thesis is a mean over real turns here, **(ours)**)::

    L_CAN   = FL(y^s) + FL(y^t)
    L_con   = supervised contrastive loss over the 2 N_i normalised vectors (M^s_k, M^t_k) of each
              conversation i (positives: same label, another index, either modality), averaged
              over conversations (``contrastive_scope="conversation"``; ``"batch"``: over the whole
              batch at once, as the public code does)
    L_multi = FL(y^m) + lambda L_con
    L_moe   = FL(y) + alpha [KL(p^m || p^s) + KL(p^m || p^t)]     (``kl="directional"``;
              ``"symmetric"``: the public code's mean of both-way KLs over the three expert pairs)
    L_tot   = L_CAN + L_moe + L_multi

Ablations: ``supervise_experts=False`` is No-Loss-MoE (only ``FL(y)`` trains the model);
``alpha=0`` and ``lam=0`` drop the KL and contrastive terms; ``monolithic`` models have no experts,
so their loss is ``FL(y) + lambda L_con``. The figures returned with the loss include the mean gate
weight of every expert over the real turns (``gate_speech``, ``gate_text``, ``gate_multimodal``),
so the training log records them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from spokenemo.models.losses import focal_loss, kl_to_reference, supervised_contrastive_loss
from spokenemo.models.moe.mister_e import EXPERTS, MoeOutput


@dataclass(frozen=True)
class MoeLossSettings:
    """Weights and forms of the phase-2 loss (see the module docstring).

    Attributes
    ----------
    gamma : focal-loss exponent (thesis: not reported; ours 2; the public code uses 3).
    alpha : KL weight (thesis IEMOCAP 0.1, MELD 1e-3).
    lam : contrastive weight lambda (thesis IEMOCAP 2, MELD 1).
    tau : contrastive temperature (thesis IEMOCAP 1, MELD 0.05).
    kl : ``directional`` (thesis) or ``symmetric`` (public code).
    detach_reference : stop the KL gradient into the multimodal expert.
    supervise_experts : False = No-Loss-MoE.
    contrastive_scope : ``conversation`` (thesis) or ``batch`` (public code).
    """

    gamma: float = 2.0
    alpha: float = 0.1
    lam: float = 1.0
    tau: float = 1.0
    kl: Literal["directional", "symmetric"] = "directional"
    detach_reference: bool = False
    supervise_experts: bool = True
    contrastive_scope: Literal["conversation", "batch"] = "conversation"


def contrastive(m_s: torch.Tensor, m_t: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, tau: float,
                scope: str = "conversation") -> torch.Tensor:
    """L_con over both modalities' vectors (B, T, H), per conversation or over the batch."""
    if scope == "batch":
        return supervised_contrastive_loss(torch.cat([m_s[mask], m_t[mask]]), torch.cat([y[mask], y[mask]]), tau)
    terms = []
    for b in range(len(y)):
        keep = mask[b]
        labels = torch.cat([y[b, keep], y[b, keep]])
        if len(labels) < 2 or labels.unique().numel() == len(labels):  # no positive pair at all
            continue
        terms.append(supervised_contrastive_loss(torch.cat([m_s[b, keep], m_t[b, keep]]), labels, tau))
    return torch.stack(terms).mean() if terms else m_s.sum() * 0.0


def _kl(out: MoeOutput, mask: torch.Tensor, s: MoeLossSettings) -> torch.Tensor:
    z = {name: logits[mask] for name, logits in out.experts.items()}
    if s.kl == "directional":
        ref = z["multimodal"]
        return sum((kl_to_reference(ref, z[name], detach_reference=s.detach_reference) for name in ("speech", "text")),
                   start=ref.sum() * 0.0)
    pairs = [(a, b) for i, a in enumerate(EXPERTS) for b in EXPERTS[i + 1:]]
    both = [kl_to_reference(z[a], z[b]) + kl_to_reference(z[b], z[a]) for a, b in pairs]
    return torch.stack(both).mean()


def moe_loss(out: MoeOutput, y: torch.Tensor, mask: torch.Tensor,
             settings: MoeLossSettings | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """``(L_tot, figures)`` for a batch: ``y`` (B, T) labels (padding < 0), ``mask`` (B, T) real turns."""
    s = settings or MoeLossSettings()
    yy = torch.where(mask, y, torch.full_like(y, -100))
    flat = yy[mask]
    total = focal_loss(out.logits[mask], flat, gamma=s.gamma)
    figures = {"focal_moe": float(total.detach())}
    has_experts = bool(out.experts)
    if out.m_speech is not None and s.lam and (s.supervise_experts or not has_experts):
        con = contrastive(out.m_speech, out.m_text, yy, mask, s.tau, s.contrastive_scope)
        total = total + s.lam * con
        figures["contrastive"] = float(con.detach())
    if has_experts and s.supervise_experts:
        for name, logits in out.experts.items():
            fl = focal_loss(logits[mask], flat, gamma=s.gamma)
            total = total + fl
            figures[f"focal_{name}"] = float(fl.detach())
        if s.alpha:
            kl = _kl(out, mask, s)
            total = total + s.alpha * kl
            figures["kl"] = float(kl.detach())
    figures.update(gate_figures(out, mask))
    return total, figures


def gate_figures(out: MoeOutput, mask: torch.Tensor) -> dict[str, float]:
    """Mean gate weight of each expert over the real turns (empty without a gate)."""
    if out.gate is None:
        return {}
    means = out.gate.detach()[mask].mean(dim=0)
    return {f"gate_{name}": float(v) for name, v in zip(EXPERTS, means, strict=True)}
