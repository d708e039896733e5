"""HCAM's torch modules (thesis 3.2, docs/methods/hcam.md): stage I utterance encoders, stage II
contextual GRU blocks, stage III co-attention fusion, and the loss of Eqs. 4.7-4.8.

Every module's ``forward`` returns ``(logits, representation)``: the representation is what the
supervised contrastive term sees (the input of the classifier). This package needs torch.
"""

from spokenemo.models.hcam.blocks import AttentionBlock, FeedForward
from spokenemo.models.hcam.context import ContextualGRU
from spokenemo.models.hcam.fusion import CoAttentionFusion, JointContextFusion
from spokenemo.models.hcam.loss import hcam_loss
from spokenemo.models.hcam.utterance import (
    SpeechBackbone,
    SpeechUtteranceEncoder,
    TextBackbone,
    TextUtteranceEncoder,
)

__all__ = ["AttentionBlock", "CoAttentionFusion", "ContextualGRU", "FeedForward", "JointContextFusion",
           "SpeechBackbone", "SpeechUtteranceEncoder", "TextBackbone", "TextUtteranceEncoder", "hcam_loss"]
