"""A **stand-in** speech LLM for MiSTER-E's speech encoder (thesis: SALMONN-7B / Qwen2-Audio-7B).

Neither thesis model is available offline (SALMONN is not on PyPI; both need GPU-sized weights), so
this module builds the same *shape* of model from what is: a speech encoder's frames (the frozen
Whisper-base encoder, 512-d at 50 frames/s) -> a projector (``stack`` consecutive frames
concatenated, then a 2-layer MLP into the LM's hidden size, as SALMONN's window-level Q-Former and
Qwen2-Audio's adapter shorten the sequence) -> a causal LM adapted with LoRA, reading the projected
frames as input embeddings -> mean pooling over the real frames -> the 2-layer FC head
(:class:`~spokenemo.models.moe.utterance.UtteranceHead`; the embedding ``e^s`` is its first layer).
It is labelled a stand-in everywhere it is reported: its numbers are not the thesis model's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spokenemo.models.causal_lm import EMBEDDED, LoraSettings, add_lora, load_base_model
from spokenemo.models.moe.utterance import THESIS_LORA, UtteranceHead, backbone_of, masked_token_mean

STAND_IN_LABEL = "stand-in speech LLM (Whisper-base frames -> projector -> SmolLM2 + LoRA), not SALMONN"


class FrameProjector(nn.Module):
    """Stack ``stack`` consecutive frames and map them to the LM width with a 2-layer MLP."""

    def __init__(self, frame_dim: int, lm_dim: int, stack: int = 4) -> None:
        super().__init__()
        self.stack = stack
        self.net = nn.Sequential(nn.Linear(frame_dim * stack, lm_dim), nn.GELU(), nn.Linear(lm_dim, lm_dim))

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames`` (B, F, D), ``mask`` (B, F) -> (B, ceil(F / stack), lm_dim) and its mask."""
        b, f, d = frames.shape
        pad = (-f) % self.stack
        if pad:
            frames = torch.cat([frames, frames.new_zeros(b, pad, d)], dim=1)
            mask = torch.cat([mask, mask.new_zeros(b, pad)], dim=1)
        frames = (frames * mask.unsqueeze(-1).to(frames.dtype)).reshape(b, -1, self.stack * d)
        return self.net(frames), mask.reshape(b, -1, self.stack).any(dim=-1)


class SpeechLlmStandIn(nn.Module):
    """Frames -> projector -> causal LM (+ LoRA) -> mean pooling -> FC head (module docstring).

    Parameters
    ----------
    lm : transformers causal LM (usually peft-wrapped; :meth:`from_base` builds one)
    frame_dim : int
        Size of the speech encoder's frames (Whisper-base 512).
    n_classes : int
    stack : int
        Frames per projected position (4: 50 -> 12.5 positions per second).
    hidden, dropout : the head.
    """

    label = STAND_IN_LABEL

    def __init__(self, lm: Any, frame_dim: int, n_classes: int, *, stack: int = 4, hidden: int = 2048,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.lm = lm
        lm_dim = int(lm.config.hidden_size)
        self.projector = FrameProjector(frame_dim, lm_dim, stack)
        self.head = UtteranceHead(lm_dim, n_classes, hidden=hidden, dropout=dropout)

    @classmethod
    def from_base(cls, n_classes: int, frame_dim: int = 512, base: str = EMBEDDED, *,
                  lora: LoraSettings | None = THESIS_LORA, device: Any = "cpu", **kwargs: Any) -> SpeechLlmStandIn:
        """Load ``base`` (default: the bundled SmolLM2-135M-Instruct) and add LoRA."""
        lm = load_base_model(base, device=device)
        if lora is not None:
            lm = add_lora(lm, lora)
        return cls(lm, frame_dim, n_classes, **kwargs).to(device)

    def forward(self, frames: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames`` (B, F, D) float, ``frame_mask`` (B, F) bool -> ``(e, logits)``."""
        embeds, mask = self.projector(frames, frame_mask)
        attention = mask.long()
        out = backbone_of(self.lm)(inputs_embeds=embeds, attention_mask=attention)
        return self.head(masked_token_mean(out.last_hidden_state, attention))
