"""The phase-2 MiSTER-E model and its ablation variants (thesis Fig. 4.4b, section 4.4).

``variant``:

- ``moe`` (MiSTER-E): a speech CAN, a text CAN and the multimodal network (on the frozen
  utterance embeddings) each give logits; the gate mixes the **logits** per turn;
- ``feat-moe``: the same three experts, but the gate mixes their **representations** (the CAN
  hidden states and the multimodal network's fused vector, projected to one width) and one
  classifier reads the mixture;
- ``monolithic``: no experts: the two CANs' contextual hidden states go straight into the
  multimodal (fusion) network, whose logits are the prediction.

The expert order everywhere is :data:`EXPERTS` (speech, text, multimodal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from spokenemo.models.moe.context import ContextAdditionNetwork
from spokenemo.models.moe.gate import Gate, GateKind, mix
from spokenemo.models.moe.multimodal import MultimodalNetwork

EXPERTS: tuple[str, str, str] = ("speech", "text", "multimodal")
Variant = Literal["moe", "feat-moe", "monolithic"]
VARIANTS: tuple[str, ...] = ("moe", "feat-moe", "monolithic")


@dataclass(frozen=True)
class MoeShape:
    """Sizes of the phase-2 network (thesis values in brackets; defaults are the small CPU ones).

    Attributes
    ----------
    can_hidden, can_layers, can_dropout : CAN GRU hidden per direction [512], layers [2-3], dropout [0.2].
    mm_hidden, mm_heads, mm_layers, mm_dropout : multimodal network [120, 4, 4, 0.5].
    fused : width of the multimodal network's fused vector [1024 in the public code].
    gate : ``thesis`` or ``mlp`` (public code).
    """

    can_hidden: int = 128
    can_layers: int = 2
    can_dropout: float = 0.2
    mm_hidden: int = 120
    mm_heads: int = 4
    mm_layers: int = 2
    mm_dropout: float = 0.5
    fused: int = 256
    gate: GateKind = "thesis"


@dataclass
class MoeOutput:
    """What the model returns for a batch of conversations.

    Attributes
    ----------
    logits : (B, T, C) the prediction's logits (softmax gives the probabilities).
    experts : expert name -> (B, T, C) logits (empty for ``monolithic``).
    gate : (B, T, 3) expert weights, or None (``monolithic``).
    m_speech, m_text : (B, T, H) the multimodal network's per-modality vectors (contrastive loss).
    """

    logits: torch.Tensor
    experts: dict[str, torch.Tensor] = field(default_factory=dict)
    gate: torch.Tensor | None = None
    m_speech: torch.Tensor | None = None
    m_text: torch.Tensor | None = None


class MisterE(nn.Module):
    """Phase-2 MiSTER-E on per-turn utterance embeddings (see the module docstring).

    Parameters
    ----------
    dim_speech, dim_text : int
        Utterance embedding sizes (the phase-1 heads' first FC layer).
    n_classes : int
    variant : {"moe", "feat-moe", "monolithic"}
    shape : MoeShape
    """

    def __init__(self, dim_speech: int, dim_text: int, n_classes: int, *, variant: Variant = "moe",
                 shape: MoeShape | None = None) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        sh = shape or MoeShape()
        self.variant, self.shape, self.n_classes = variant, sh, n_classes
        can = dict(hidden=sh.can_hidden, layers=sh.can_layers, dropout=sh.can_dropout)
        self.can_speech = ContextAdditionNetwork(dim_speech, n_classes, **can)
        self.can_text = ContextAdditionNetwork(dim_text, n_classes, **can)
        width = self.can_speech.out_dim
        mm_in = (width, width) if variant == "monolithic" else (dim_speech, dim_text)
        self.multimodal = MultimodalNetwork(*mm_in, n_classes, hidden=sh.mm_hidden, heads=sh.mm_heads,
                                            layers=sh.mm_layers, dropout=sh.mm_dropout, fused=sh.fused)
        if variant == "moe":
            self.gate = Gate(n_classes, len(EXPERTS), kind=sh.gate)
        elif variant == "feat-moe":
            self.project_mm = nn.Linear(sh.fused, width)
            self.gate = Gate(width, len(EXPERTS), kind=sh.gate)
            self.classifier = nn.Linear(width, n_classes)

    def forward(self, speech: torch.Tensor, text: torch.Tensor, mask: torch.Tensor) -> MoeOutput:
        """``speech`` (B, T, Ds), ``text`` (B, T, Dt), ``mask`` (B, T) bool -> :class:`MoeOutput`."""
        h_s, y_s = self.can_speech(speech, mask)
        h_t, y_t = self.can_text(text, mask)
        if self.variant == "monolithic":
            m_s, m_t, _, y_m = self.multimodal(h_s, h_t, mask)
            return MoeOutput(logits=y_m, m_speech=m_s, m_text=m_t)
        m_s, m_t, fused, y_m = self.multimodal(speech, text, mask)
        experts = dict(zip(EXPERTS, (y_s, y_t, y_m), strict=True))
        if self.variant == "moe":
            weights = self.gate([y_s, y_t, y_m])
            logits = mix([y_s, y_t, y_m], weights)
        else:
            reps = [h_s, h_t, self.project_mm(fused)]
            weights = self.gate(reps)
            logits = self.classifier(mix(reps, weights))
        return MoeOutput(logits=logits, experts=experts, gate=weights, m_speech=m_s, m_text=m_t)
