"""Speaker and emotion embeddings of S2S-ZEST, each with an adversarial head behind gradient reversal.

- :class:`SpeakerModule` (Fig. 5.2, Eq. 5.1): a frozen speaker d-vector (offline: Resemblyzer's
  256-d GE2E vector in ECAPA-TDNN's place) through two trained FC layers gives ``s``; a speaker head
  and, behind a gradient reversal layer of weight ``lambda_adv^emo`` (10), an emotion head. Minimising
  ``CE_spk + CE_emo(GRL(s))`` trains the emotion head to find emotion in ``s`` and the FC layers to
  remove it, i.e. ``L_spk = CE_spk - lambda_adv^emo CE_emo`` for the FC layers.
- :class:`EmotionEncoder` (Eq. 5.2): frozen speech-encoder frames (offline: Whisper-base's last
  layer in HuBERT-base's place) through a trained projection and transformer layer give ``E``
  (T x dim) and ``e_bar`` = its masked time mean; an emotion head on ``e_bar`` and a speaker head
  behind a GRL of weight ``lambda_adv^spk`` (1).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: float) -> torch.Tensor:  # type: ignore[override]
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.weight * grad, None


def grad_reverse(x: torch.Tensor, weight: float) -> torch.Tensor:
    """Identity forward; the gradient times ``-weight`` backward (weight 0: the input is detached)."""
    return _GradReverse.apply(x, weight) if weight else x.detach()


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (B, T, D) over the True steps of ``mask`` (B, T)."""
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


class SpeakerModule(nn.Module):
    """Two FC layers on a frozen d-vector, speaker head, emotion head behind a GRL (Eq. 5.1)."""

    def __init__(self, n_speakers: int, n_emotions: int, *, in_dim: int = 256, dim: int = 256,
                 adv_weight: float = 10.0) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(in_dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.speaker_head = nn.Linear(dim, n_speakers)
        self.emotion_head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, n_emotions))
        self.adv_weight = adv_weight
        self.dim = dim

    def forward(self, dvector: torch.Tensor) -> torch.Tensor:
        """``s`` (B, dim) from d-vectors (B, in_dim)."""
        return self.fc(dvector)

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """``CE_spk + CE_emo(GRL(s))`` (the FC layers see ``CE_spk - lambda CE_emo``) and its parts."""
        s = self(batch["dvector"])
        ce_spk = F.cross_entropy(self.speaker_head(s), batch["speaker"])
        ce_emo = F.cross_entropy(self.emotion_head(grad_reverse(s, self.adv_weight)), batch["emotion"])
        return ce_spk + ce_emo, {"ce_spk": ce_spk.item(), "ce_emo_adv": ce_emo.item()}


class EmotionEncoder(nn.Module):
    """Projection + transformer layer over frozen frames; emotion head, speaker head behind a GRL (Eq. 5.2)."""

    def __init__(self, n_emotions: int, n_speakers: int, *, in_dim: int = 512, dim: int = 256, heads: int = 4,
                 layers: int = 1, dropout: float = 0.1, adv_weight: float = 1.0) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(in_dim, dim), nn.Dropout(dropout))
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.emotion_head = nn.Linear(dim, n_emotions)
        self.speaker_head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, n_speakers))
        self.adv_weight = adv_weight
        self.dim = dim

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``E`` (B, T, dim) and ``e_bar`` (B, dim) from frames (B, T, in_dim), mask True on real frames."""
        e = self.encoder(self.proj(frames), src_key_padding_mask=~mask)
        return e, masked_mean(e, mask)

    def loss(self, e_bar: torch.Tensor, emotion: torch.Tensor, speaker: torch.Tensor
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """``CE_emo + CE_spk(GRL(e_bar))`` (the encoder sees ``CE_emo - lambda CE_spk``, Eq. 5.2)."""
        ce_emo = F.cross_entropy(self.emotion_head(e_bar), emotion)
        ce_spk = F.cross_entropy(self.speaker_head(grad_reverse(e_bar, self.adv_weight)), speaker)
        return ce_emo + ce_spk, {"ce_emo": ce_emo.item(), "ce_spk_adv": ce_spk.item()}
