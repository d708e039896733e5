"""Stage III: co-attention fusion of the two modalities (thesis 3.2, Fig. 4.3), and the
non-hierarchical variant that trains stages II and III together (Table 4.2).

Arm 1 takes queries from speech and keys/values from text (cross-attention block), then a
self-attention block; arm 2 is the reverse. The arms are concatenated per turn and a
position-wise FFN gives the representation the classifier reads.
"""

from __future__ import annotations

import torch
from torch import nn

from spokenemo.models.hcam.blocks import AttentionBlock, FeedForward
from spokenemo.models.hcam.context import ContextualGRU


class CoAttentionFusion(nn.Module):
    """Two cross-attention arms over frozen stage-II outputs -> concat -> FFN -> classifier.

    Parameters
    ----------
    dim_speech, dim_text : widths of the stage-II representations (projected to ``dim`` when
        they differ from it).
    n_classes, dim, heads, dropout : as :class:`~spokenemo.models.hcam.context.ContextualGRU`.
    """

    def __init__(self, dim_speech: int, dim_text: int, n_classes: int, *, dim: int = 256, heads: int = 4,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.proj_s = nn.Identity() if dim_speech == dim else nn.Linear(dim_speech, dim)
        self.proj_t = nn.Identity() if dim_text == dim else nn.Linear(dim_text, dim)
        self.cross_st, self.self_st = AttentionBlock(dim, heads, dropout), AttentionBlock(dim, heads, dropout)
        self.cross_ts, self.self_ts = AttentionBlock(dim, heads, dropout), AttentionBlock(dim, heads, dropout)
        self.ffn = FeedForward(2 * dim, dim, dropout)
        self.classifier = nn.Linear(dim, n_classes)

    def encode(self, speech: torch.Tensor, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        s, t = self.proj_s(speech), self.proj_t(text)
        arm1 = self.self_st(self.cross_st(s, t, mask), mask=mask)  # Q speech, K/V text
        arm2 = self.self_ts(self.cross_ts(t, s, mask), mask=mask)  # Q text, K/V speech
        return self.ffn(torch.cat([arm1, arm2], dim=-1))

    def forward(self, speech: torch.Tensor, text: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rep = self.encode(speech, text, mask)
        return self.classifier(rep), rep


class JointContextFusion(nn.Module):
    """The non-hierarchical variant: both stage-II blocks and the fusion trained as one model.

    Takes the frozen stage-I embeddings of both modalities; only the fusion's classifier is trained
    (the stage-II classifiers are not part of this model's loss).
    """

    def __init__(self, dim_speech: int, dim_text: int, n_classes: int, *, dim: int = 256, heads: int = 4,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.speech = ContextualGRU(dim_speech, n_classes, dim=dim, heads=heads, dropout=dropout)
        self.text = ContextualGRU(dim_text, n_classes, dim=dim, heads=heads, dropout=dropout)
        self.fusion = CoAttentionFusion(dim, dim, n_classes, dim=dim, heads=heads, dropout=dropout)

    def forward(self, speech: torch.Tensor, text: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.fusion(self.speech.encode(speech, mask), self.text.encode(text, mask), mask)
