"""The torch modules and batching of ABHINAYA's trained members (imported only when one trains).

- :class:`Standardised`: a head applied to inputs z-scored with the training part's statistics
  (kept as buffers, so a saved member carries them);
- :func:`input_statistics`: those statistics per (layer, feature);
- :func:`pad_stack`: variable-length arrays padded and stacked, with a mask;
- builders of each member's module: :func:`frames_model` (S1: layer weights + ASP + FFN),
  :func:`pooled_model` (S2 stand-in: layer weights + FFN), :func:`tokens_model` (T2 stand-in:
  ASP over one layer's tokens), :class:`JointTransformer` (ST1 stand-in).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from spokenemo.models.heads import AttentiveStatsHead, SuperbHead


class Standardised(nn.Module):
    """``head([z], [mask])`` on inputs z-scored per (layer, feature) with fixed statistics."""

    def __init__(self, head: nn.Module, n_layers: int, dim: int) -> None:
        super().__init__()
        self.head = head
        self.register_buffer("mean", torch.zeros(n_layers, dim))
        self.register_buffer("std", torch.ones(n_layers, dim))

    def set_statistics(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(np.maximum(std, 1e-5), dtype=torch.float32))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        extra = [1] * (x.dim() - 3)  # frames / tokens: (B, L, T, D); pooled: (B, L, D)
        shape = (1, self.mean.shape[0], *extra, -1)
        z = (x - self.mean.view(shape)) / self.std.view(shape)
        if mask is not None:
            return self.head([z * mask[:, None, :, None]], [mask])
        return self.head([z])


def input_statistics(arrays: Sequence[np.ndarray], frames: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per (layer, feature) mean and std over the training items: over all frames of
    ``(L, T, D)`` items (``frames``), else over the ``(L, D)`` items themselves."""
    if frames:
        total = sum(a.shape[1] for a in arrays)
        s = sum(a.astype(np.float64).sum(axis=1) for a in arrays)
        s2 = sum((a.astype(np.float64) ** 2).sum(axis=1) for a in arrays)
        mean = s / total
        return mean, np.sqrt(np.maximum(s2 / total - mean**2, 0.0))
    stacked = np.stack([a.astype(np.float64) for a in arrays])
    return stacked.mean(axis=0), stacked.std(axis=0)


def pad_stack(arrays: Sequence[np.ndarray], axis: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad float arrays along ``axis`` (their time axis) to the longest and stack them.

    Returns ``(batch, *shape)`` float32 and a ``(batch, max_len)`` mask (True on real steps).
    """
    longest = max(a.shape[axis] for a in arrays)
    shape = list(arrays[0].shape)
    shape[axis] = longest
    out = np.zeros((len(arrays), *shape), dtype=np.float32)
    mask = np.zeros((len(arrays), longest), dtype=bool)
    for i, a in enumerate(arrays):
        n = a.shape[axis]
        index: list[Any] = [i] + [slice(None)] * a.ndim
        index[axis + 1] = slice(0, n)
        out[tuple(index)] = a
        mask[i, :n] = True
    return torch.from_numpy(out), torch.from_numpy(mask)


def frames_model(n_layers: int, dim: int, n_classes: int, hidden: int, dropout: float) -> Standardised:
    """S1: softmax layer weights over frames, attentive statistics pooling, FFN."""
    return Standardised(AttentiveStatsHead([(n_layers, dim)], n_classes, hidden=hidden, dropout=dropout), n_layers, dim)


def pooled_model(n_layers: int, dim: int, n_classes: int, hidden: int, dropout: float) -> Standardised:
    """S2 stand-in: softmax layer weights over pooled (mean, std) layers, FFN."""
    return Standardised(SuperbHead([(n_layers, dim)], n_classes, hidden=hidden, dropout=dropout), n_layers, dim)


def tokens_model(dim: int, n_classes: int, hidden: int, dropout: float) -> Standardised:
    """T2 stand-in: attentive statistics pooling over one layer's tokens, FFN."""
    return Standardised(AttentiveStatsHead([(1, dim)], n_classes, hidden=hidden, dropout=dropout), 1, dim)


class JointTransformer(nn.Module):
    """ST1 stand-in: [speech ; text] -> transformer -> ASP -> classifier (module :mod:`.joint`)."""

    def __init__(self, speech_dim: int, text_dim: int, n_classes: int, *, d_model: int = 128, n_heads: int = 4,
                 n_layers: int = 1, hidden: int = 256, dropout: float = 0.2, max_len: int = 512) -> None:
        super().__init__()
        self.speech_in = nn.Sequential(nn.LayerNorm(speech_dim), nn.Linear(speech_dim, d_model))
        self.text_in = nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, d_model))
        self.modality = nn.Embedding(2, d_model)
        self.position = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 2 * d_model, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = AttentiveStatsHead([(1, d_model)], n_classes, hidden=hidden, dropout=dropout)

    def _embed(self, x: torch.Tensor, part: int, proj: nn.Module) -> torch.Tensor:
        n = min(x.shape[1], self.position.num_embeddings)
        return proj(x[:, :n]) + self.modality.weight[part] + self.position.weight[:n]

    def forward(self, speech: torch.Tensor, speech_mask: torch.Tensor, text: torch.Tensor,
                text_mask: torch.Tensor) -> torch.Tensor:
        s, t = self._embed(speech, 0, self.speech_in), self._embed(text, 1, self.text_in)
        x = torch.cat([s, t], dim=1)
        mask = torch.cat([speech_mask[:, : s.shape[1]], text_mask[:, : t.shape[1]]], dim=1)
        h = self.encoder(x, src_key_padding_mask=~mask)
        return self.head([h[:, None]], [mask])


def joint_collate(items: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, ...]:
    """ST1 batches: padded speech, its mask, padded text, its mask."""
    speech, speech_mask = pad_stack([np.asarray(s, dtype=np.float32) for s, _ in items])
    text, text_mask = pad_stack([np.asarray(t, dtype=np.float32) for _, t in items])
    return speech, speech_mask, text, text_mask


def save_weights(model: nn.Module, path: Any) -> None:
    torch.save(model.state_dict(), path)


def load_weights(model: nn.Module, path: Any) -> None:
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()
