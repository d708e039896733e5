"""Whisper's encoder in PyTorch over the packaged CTranslate2 weights, every layer exposed.

:class:`WhisperEncoderModule` is the Whisper audio encoder (two GELU convolutions, the second
with stride 2, sinusoidal positions, pre-norm transformer layers, a final layer norm) built from
the ``encoder/...`` arrays of a CTranslate2 ``model.bin`` (read by
:mod:`~spokenemo.models.encoders.whisper_ct2`; float16 on disk, float32 here). Unlike
transformers' ``WhisperEncoder`` it takes **unpadded** log-mel input: the position table is sliced
to the input length, as CTranslate2's ``encode`` does. Its output for layer ``L`` is the last
entry of ``forward``'s list, after the final layer norm, and matches ``encode`` (tests report the
difference).

:class:`WhisperSpeechEncoder` wraps it behind the :class:`SpeechEncoder` interface: the log-mel
of the whole clip (:func:`~spokenemo.models.encoders.logmel.whisper_log_mel`) is cut into
windows of at most 30 s (3,000 mel frames), each window is encoded, and the frames are
concatenated (50 per second). This module needs torch; light code reaches it through the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spokenemo.models.encoders.base import EncoderOutput, SpeechEncoder, check_wave, file_identity
from spokenemo.models.encoders.logmel import HOP, MIN_SAMPLES, SAMPLE_RATE, whisper_log_mel
from spokenemo.models.encoders.whisper_ct2 import CorruptModelError, Ct2Model, read_ct2_model
from spokenemo.models.encoders.whisper_files import WHISPER_FILES, whisper_model_dir

#: Mel frames one pass takes (30 s); longer input is chunked.
MAX_MEL_FRAMES = 3000


class _EncoderLayer(nn.Module):
    """Pre-norm self-attention (fused query-key-value projection) and GELU feed-forward."""

    def __init__(self, dim: int, n_heads: int, ffn_dim: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.attn_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.ffn_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v)
        x = x + self.out(att.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ffn_norm(x))))


class WhisperEncoderModule(nn.Module):
    """Whisper's audio encoder; ``forward(mel)`` returns every layer's hidden states.

    Parameters
    ----------
    n_mels, dim, n_heads, n_layers, ffn_dim : the architecture (base: 80, 512, 8, 6, 2048).
    n_positions : rows of the position table (1,500 = 30 s).
    """

    def __init__(self, n_mels: int, dim: int, n_heads: int, n_layers: int, ffn_dim: int,
                 n_positions: int = MAX_MEL_FRAMES // 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, dim, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(dim, dim, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positions", torch.zeros(n_positions, dim))
        self.layers = nn.ModuleList(_EncoderLayer(dim, n_heads, ffn_dim) for _ in range(n_layers))
        self.final_norm = nn.LayerNorm(dim)

    def forward(self, mel: torch.Tensor) -> list[torch.Tensor]:
        """``mel`` ``(batch, n_mels, frames)`` -> ``n_layers + 1`` tensors ``(batch, ceil(frames / 2), dim)``:
        the input to the first layer, then each layer's output (the last after the final norm)."""
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
        if x.shape[1] > self.positions.shape[0]:
            raise ValueError(f"{mel.shape[-1]} mel frames exceed the encoder's {2 * self.positions.shape[0]}; "
                             "chunk the input (WhisperSpeechEncoder.encode does)")
        x = x + self.positions[: x.shape[1]]
        states = [x]
        for layer in self.layers:
            x = layer(x)
            states.append(x)
        states[-1] = self.final_norm(x)
        return states

    @classmethod
    def from_ct2(cls, model: Ct2Model) -> WhisperEncoderModule:
        """Build the encoder from the ``encoder/...`` arrays of a CTranslate2 Whisper model."""
        n_layers = sum(1 for k in model.arrays if k.startswith("encoder/layer_") and k.endswith("/ffn/linear_0/bias"))
        if n_layers == 0:
            raise CorruptModelError(f"{model.path}: no encoder layers in this {model.spec} model",
                                    hint="is it a Whisper model.bin?")
        conv1 = model.get("encoder/conv1/weight")
        ffn_dim = model.get("encoder/layer_0/ffn/linear_0/weight").shape[0]
        module = cls(n_mels=conv1.shape[1], dim=conv1.shape[0], n_heads=int(model.get("encoder/num_heads")),
                     n_layers=n_layers, ffn_dim=ffn_dim,
                     n_positions=model.get("encoder/position_encodings/encodings").shape[0])
        state = {k: torch.from_numpy(np.array(model.get(v), dtype=np.float32)) for k, v in _ct2_names(n_layers).items()}
        module.load_state_dict(state, strict=True)
        return module.eval()


def _ct2_names(n_layers: int) -> dict[str, str]:
    """This module's parameter names -> CTranslate2 variable names."""
    names = {"conv1.weight": "encoder/conv1/weight", "conv1.bias": "encoder/conv1/bias",
             "conv2.weight": "encoder/conv2/weight", "conv2.bias": "encoder/conv2/bias",
             "positions": "encoder/position_encodings/encodings",
             "final_norm.weight": "encoder/layer_norm/gamma", "final_norm.bias": "encoder/layer_norm/beta"}
    parts = {"attn_norm": "self_attention/layer_norm", "qkv": "self_attention/linear_0",
             "out": "self_attention/linear_1", "ffn_norm": "ffn/layer_norm", "fc1": "ffn/linear_0",
             "fc2": "ffn/linear_1"}
    for i in range(n_layers):
        for ours, theirs in parts.items():
            norm = "norm" in ours
            names[f"layers.{i}.{ours}.weight"] = f"encoder/layer_{i}/{theirs}/{'gamma' if norm else 'weight'}"
            names[f"layers.{i}.{ours}.bias"] = f"encoder/layer_{i}/{theirs}/{'beta' if norm else 'bias'}"
    return names


class WhisperSpeechEncoder(SpeechEncoder):
    """A packaged Whisper encoder (``"whisper-base"``, ``"whisper-tiny.en"``) in PyTorch.

    Parameters
    ----------
    model : packaged model name.
    model_dir : a CTranslate2 Whisper folder to use instead of the packaged one.
    device : torch device.
    cache_dir : where split packages are joined (default spokenemo's cache dir).
    """

    frame_rate = SAMPLE_RATE / HOP / 2
    max_seconds = MAX_MEL_FRAMES * HOP / SAMPLE_RATE
    min_samples = MIN_SAMPLES
    code_version = "1"

    def __init__(self, model: str = "whisper-base", *, model_dir: str | Path | None = None,
                 device: str = "cpu", cache_dir: str | Path | None = None) -> None:
        self.name = model
        folder = Path(model_dir) if model_dir else whisper_model_dir(model, cache_dir=cache_dir)
        package = " ".join(WHISPER_FILES[model].packages) if model in WHISPER_FILES and not model_dir else None
        self.model_path = folder / "model.bin"
        self.module = WhisperEncoderModule.from_ct2(read_ct2_model(self.model_path, prefix="encoder/",
                                                                   package=package)).to(device)
        self.device = torch.device(device)
        self.n_mels = self.module.conv1.in_channels
        self.dim = self.module.conv1.out_channels
        self.n_layers = len(self.module.layers) + 1

    def encode(self, wave: np.ndarray) -> EncoderOutput:
        """All layers for one clip; the log-mel is computed whole and encoded in 30 s windows."""
        wave = check_wave(wave, self.min_samples, self.sample_rate)
        return EncoderOutput(self.encode_mel(whisper_log_mel(wave, self.n_mels)), self.frame_rate)

    def encode_mel(self, mel: np.ndarray) -> np.ndarray:
        """``(n_layers, ceil(frames / 2), dim)`` float32 for log-mel ``(n_mels, frames)`` of any length."""
        parts = []
        with torch.inference_mode():
            for start in range(0, mel.shape[1], MAX_MEL_FRAMES):
                chunk = torch.from_numpy(np.ascontiguousarray(mel[:, start:start + MAX_MEL_FRAMES]))
                states = self.module(chunk[None].to(self.device))
                parts.append(torch.stack([s[0] for s in states]).float().cpu().numpy())
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _encode_chunk(self, wave: np.ndarray) -> np.ndarray:
        return self.encode_mel(whisper_log_mel(wave, self.n_mels))

    def _identity(self) -> dict[str, Any]:
        return {**file_identity(self.model_path), "n_mels": self.n_mels, "window_frames": MAX_MEL_FRAMES}

    def torch_module(self) -> WhisperEncoderModule:
        return self.module

