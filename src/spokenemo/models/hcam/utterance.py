"""Stage I: utterance encoders of HCAM (thesis 3.2), on frames or tokens of a speech / text model.

- **Speech**: the transformer layers' outputs **summed** per frame -> two 1-D convolutions
  (kernel 3, ReLU) -> average pool over real frames -> utterance embedding -> linear classifier.
- **Text**: the last ``k`` hidden layers **concatenated** per token -> Bi-GRU over tokens -> the
  final states of both directions -> utterance embedding -> linear classifier.

The heads read ``(B, T, D)`` frames or tokens with a mask. Where they come from is the backbone:
precomputed frozen features (the CPU plan, :mod:`spokenemo.systems.hcam.cache`) or, fine-tuned,
a :class:`SpeechBackbone` (HuBERT-large or any transformers speech model from a local folder:
its convolutional front end frozen, the transformer layers trained) or a :class:`TextBackbone`
(RoBERTa or any local text model, all trained). Tests build both from tiny random configs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spokenemo.models.hcam.context import run_gru


class SpeechUtteranceEncoder(nn.Module):
    """Layer-summed frames -> 1-D CNN -> masked average pool -> classifier.

    Parameters
    ----------
    dim_in : frame width of the speech model.
    n_classes : classes.
    channels, kernel, n_conv : the CNN (ours: 256 channels, kernel 3, 2 layers).
    frame_pool : frames averaged in time before the CNN (1: none; the CPU plan uses 4, 12.5 frames/s).
    dropout : before the classifier.
    backbone : optional :class:`SpeechBackbone`; then ``forward`` takes waveforms.
    """

    def __init__(self, dim_in: int, n_classes: int, *, channels: int = 256, kernel: int = 3, n_conv: int = 2,
                 frame_pool: int = 1, dropout: float = 0.1, backbone: SpeechBackbone | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.frame_pool = int(frame_pool)
        layers: list[nn.Module] = []
        for i in range(n_conv):
            layers += [nn.Conv1d(dim_in if i == 0 else channels, channels, kernel, padding=kernel // 2), nn.ReLU()]
        self.cnn = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(dim_in)
        self.drop = nn.Dropout(dropout)
        self.dim = channels
        self.classifier = nn.Linear(channels, n_classes)

    def embed(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Utterance embeddings (B, channels); ``x`` frames (B, T, D) or, with a backbone, waveforms."""
        if self.backbone is not None:
            x, mask = self.backbone(x, mask)
        if self.frame_pool > 1:
            k = self.frame_pool
            x = nn.functional.avg_pool1d(x.transpose(1, 2), k, k, ceil_mode=True).transpose(1, 2)
            mask = nn.functional.max_pool1d(mask[:, None].float(), k, k, ceil_mode=True)[:, 0] > 0
        h = self.cnn(self.norm(x).transpose(1, 2)).transpose(1, 2)  # (B, T, C)
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rep = self.embed(x, mask)
        return self.classifier(self.drop(rep)), rep


class TextUtteranceEncoder(nn.Module):
    """Concatenated last-``k``-layer tokens -> Bi-GRU -> final states of both directions -> classifier.

    Parameters
    ----------
    dim_in : token width (``k`` x the text model's width).
    n_classes : classes.
    hidden : GRU units per direction (ours: 256).
    proj : optional width of a linear projection of the tokens before the GRU (the CPU plan: 128).
    dropout : on the tokens and before the classifier.
    backbone : optional :class:`TextBackbone`; then ``forward`` takes token ids.
    """

    def __init__(self, dim_in: int, n_classes: int, *, hidden: int = 256, proj: int | None = None,
                 dropout: float = 0.1, backbone: TextBackbone | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.drop = nn.Dropout(dropout)
        self.proj = nn.Identity() if proj is None else nn.Linear(dim_in, proj)
        self.gru = nn.GRU(dim_in if proj is None else proj, hidden, batch_first=True, bidirectional=True)
        self.dim = 2 * hidden
        self.classifier = nn.Linear(2 * hidden, n_classes)

    def embed(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Utterance embeddings (B, 2 * hidden); ``x`` tokens (B, T, D) or, with a backbone, ids."""
        if self.backbone is not None:
            x, mask = self.backbone(x, mask)
        _, h_n = run_gru(self.gru, self.proj(self.drop(x)), mask)
        return torch.cat([h_n[-2], h_n[-1]], dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rep = self.embed(x, mask)
        return self.classifier(self.drop(rep)), rep


class SpeechBackbone(nn.Module):
    """A transformers speech model (HuBERT, wav2vec 2.0, WavLM) giving layer-summed frames.

    The convolutional feature encoder is frozen (thesis: "CNN frozen, transformer layers
    fine-tuned"); ``forward(waves (B, S), wave_mask (B, S))`` -> ``(frames (B, F, D), mask (B, F))``.
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        if hasattr(model, "freeze_feature_encoder"):
            model.freeze_feature_encoder()
        self.dim = int(model.config.hidden_size)

    def forward(self, waves: torch.Tensor, wave_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(waves, attention_mask=wave_mask.long(), output_hidden_states=True)
        frames = torch.stack(out.hidden_states[1:]).sum(0)
        lengths = self.model._get_feat_extract_output_lengths(wave_mask.sum(1))
        n = frames.shape[1]
        mask = torch.arange(n, device=frames.device)[None, :] < lengths[:, None].to(frames.device)
        return frames, mask


class TextBackbone(nn.Module):
    """A transformers text model (RoBERTa, MPNet, MiniLM) giving its last ``k`` layers concatenated per token.

    ``forward(input_ids (B, T), attention_mask (B, T))`` -> ``(tokens (B, T, k * D), mask (B, T) bool)``.
    """

    def __init__(self, model: Any, layers: int = 4) -> None:
        super().__init__()
        self.model = model
        self.layers = int(layers)
        n = int(model.config.num_hidden_layers) + 1
        if not 1 <= self.layers <= n:
            raise ValueError(f"text model has {n} hidden states; cannot concatenate the last {self.layers}")
        self.dim = int(model.config.hidden_size) * self.layers

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(input_ids=ids, attention_mask=mask.long(), output_hidden_states=True)
        return torch.cat(out.hidden_states[-self.layers:], dim=-1), mask.bool()
