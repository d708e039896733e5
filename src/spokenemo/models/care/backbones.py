"""The two backbones of a CARE graph, behind one small interface each.

:class:`SpeechBackbone` (a speech transformer cut into a front end and its layers):

- :class:`WhisperBackbone`: Whisper's encoder (:class:`~spokenemo.models.encoders.whisper.WhisperEncoderModule`)
  from the packaged CTranslate2 weights, or random (sinusoidal positions, as Whisper's); input
  the log-mel of each clip (computed in numpy, per clip); 50 frames per second.
- :class:`WavLMBackbone`: a transformers WavLM / HuBERT / wav2vec 2.0 / data2vec-audio model from a
  local folder, or a random WavLM; the front end is the CNN, the feature projection, the
  positional convolution, layer norm and dropout (the authors' code), and WavLM's relative
  position bias computed by the first layer is handed on to the later ones (``state``).

:class:`TextStack`: the last ``k`` layers of a transformers text encoder (local folder, packaged
MiniLM/mpnet, or a random BERT), run on frame sequences without an attention mask.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from torch import nn

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.models.care.config import TINY_SPEECH, TINY_TEXT, CareModelConfig, CareShapeError
from spokenemo.models.encoders.hf_local import local_model_dir, receptive_field
from spokenemo.models.encoders.logmel import HOP, whisper_log_mel
from spokenemo.models.encoders.text_files import minilm_dir, mpnet_dir
from spokenemo.models.encoders.whisper import WhisperEncoderModule, WhisperSpeechEncoder

SAMPLE_RATE = 16000


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's sinusoidal position table ``(length, channels)``."""
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-increment * torch.arange(channels // 2, dtype=torch.float32))
    scaled = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=1)


def layer_output(out: Any) -> torch.Tensor:
    """A transformers layer's hidden states (layers return a tensor or a tuple)."""
    return out[0] if isinstance(out, tuple) else out


def _from_folder(folder: Path, *, random_init: bool, name: str, what: str, hint: str) -> nn.Module:
    """A transformers model from a local folder: its weights, or only its config (``random_init``)."""
    try:
        if random_init:
            return transformers.AutoModel.from_config(transformers.AutoConfig.from_pretrained(str(folder)))
        return transformers.AutoModel.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise ModelNotFoundError(f"{name}: cannot load a {what} model from {folder} ({err})", hint=hint) from err


class SpeechBackbone(nn.Module):
    """Interface: ``featurize`` (numpy, one clip) -> ``frontend`` -> ``run_layer`` x n -> ``final``."""

    dim: int

    @property
    def layers(self) -> nn.ModuleList:
        """The transformer layers (common first, then acoustic)."""
        raise NotImplementedError

    def featurize(self, wave: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def frontend(self, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def run_layer(self, index: int, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def final(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def frontend_modules(self) -> list[nn.Module]:
        raise NotImplementedError

    def n_frames(self, n_samples: int) -> int:
        """Frames the front end gives for ``n_samples`` samples."""
        raise NotImplementedError

    def samples_for(self, n_frames: int) -> int:
        """Fewest samples that give ``n_frames`` frames."""
        n = 1
        while self.n_frames(n) < n_frames:
            n += 160
        return n


class WhisperBackbone(SpeechBackbone):
    """Whisper's audio encoder split into front end and layers (module docstring)."""

    def __init__(self, module: WhisperEncoderModule, identity: dict[str, Any]) -> None:
        super().__init__()
        self.module = module
        self.dim = module.conv1.out_channels
        self.n_mels = module.conv1.in_channels
        self.identity = identity

    @classmethod
    def build(cls, config: CareModelConfig) -> WhisperBackbone:
        n_layers = config.n_common + config.n_acoustic
        if config.speech == "tiny-whisper" or config.speech_init == "random":
            if config.speech == "tiny-whisper":
                t = config.tiny
                dim, heads, ffn = t.speech_dim, t.speech_heads, t.speech_ffn
            else:
                ref = WhisperSpeechEncoder(config.speech).module
                dim, heads = ref.conv1.out_channels, ref.layers[0].n_heads
                ffn, n_layers = ref.layers[0].fc1.out_features, len(ref.layers)
            module = WhisperEncoderModule(80, dim, heads, n_layers, ffn)
            module.positions.copy_(sinusoids(module.positions.shape[0], dim))
            return cls(module, {"speech": config.speech, "init": "random"})
        encoder = WhisperSpeechEncoder(config.speech)
        if len(encoder.module.layers) != n_layers:
            raise CareShapeError(f"{config.speech} has {len(encoder.module.layers)} layers, but n_common + n_acoustic "
                                 f"= {n_layers}", hint="split the backbone's layers between the two encoders")
        return cls(encoder.module, {"speech": config.speech, "weights": encoder._identity()})

    @property
    def layers(self) -> nn.ModuleList:
        return self.module.layers

    def featurize(self, wave: np.ndarray) -> np.ndarray:
        return whisper_log_mel(wave, self.n_mels)

    def frontend(self, inputs: torch.Tensor) -> torch.Tensor:
        m = self.module
        x = F.gelu(m.conv2(F.gelu(m.conv1(inputs)))).transpose(1, 2)
        if x.shape[1] > m.positions.shape[0]:
            raise ConfigError(f"{x.shape[1]} frames exceed Whisper's {m.positions.shape[0]} positions (30 s)",
                              hint="crop the audio (pre-training crops to 5 s; the encoder chunks at 30 s)")
        return x + m.positions[: x.shape[1]]

    def run_layer(self, index: int, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        return self.layers[index](x), state

    def final(self, x: torch.Tensor) -> torch.Tensor:
        return self.module.final_norm(x)

    def frontend_modules(self) -> list[nn.Module]:
        return [self.module.conv1, self.module.conv2]

    def n_frames(self, n_samples: int) -> int:
        return (n_samples // HOP + 1) // 2


class WavLMBackbone(SpeechBackbone):
    """A transformers SSL speech model split into front end and layers (module docstring)."""

    def __init__(self, model: Any, identity: dict[str, Any]) -> None:
        super().__init__()
        self.model = model
        self.dim = int(model.config.hidden_size)
        self.identity = identity
        self.kernels, self.strides = list(model.config.conv_kernel), list(model.config.conv_stride)

    @classmethod
    def build(cls, config: CareModelConfig) -> WavLMBackbone:
        if config.speech == "tiny-wavlm":
            t = config.tiny
            cfg = transformers.WavLMConfig(hidden_size=t.speech_dim, num_attention_heads=t.speech_heads,
                                           intermediate_size=t.speech_ffn, conv_dim=(t.conv_channels,) * 7,
                                           num_hidden_layers=config.n_common + config.n_acoustic,
                                           num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                                           num_buckets=32, max_bucket_distance=100)
            return cls(transformers.WavLMModel(cfg), {"speech": config.speech, "init": "random"})
        folder = local_model_dir(config.speech[3:] if config.speech.startswith("hf:") else config.speech,
                                 config.speech)
        model = _from_folder(folder, random_init=config.speech_init == "random", name=config.speech, what="speech",
                             hint="a WavLM / HuBERT / wav2vec 2.0 / data2vec-audio folder")
        n = len(model.encoder.layers)
        if n != config.n_common + config.n_acoustic:
            raise CareShapeError(f"{config.speech} has {n} layers, but n_common + n_acoustic = "
                                 f"{config.n_common + config.n_acoustic}", hint="split its layers between the two")
        return cls(model, {"speech": str(folder), "init": config.speech_init})

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.encoder.layers

    def featurize(self, wave: np.ndarray) -> np.ndarray:
        return ((wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)).astype(np.float32)

    def frontend(self, inputs: torch.Tensor) -> torch.Tensor:
        m = self.model
        feats = m.feature_extractor(inputs).transpose(1, 2)
        x = m.feature_projection(feats)
        x = x[0] if isinstance(x, tuple) else x
        x = x + m.encoder.pos_conv_embed(x)
        return m.encoder.dropout(m.encoder.layer_norm(x))

    def run_layer(self, index: int, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        out = self.layers[index](x, position_bias=state, index=index)
        return out[0], out[1]

    def frontend_modules(self) -> list[nn.Module]:
        m = self.model
        return [m.feature_extractor, m.feature_projection, m.encoder.pos_conv_embed, m.encoder.layer_norm]

    def n_frames(self, n_samples: int) -> int:
        n = n_samples
        for k, s in zip(self.kernels, self.strides, strict=True):
            n = (n - k) // s + 1 if n >= k else 0
        return max(n, 0)

    def samples_for(self, n_frames: int) -> int:
        return receptive_field(self.kernels, self.strides) + (n_frames - 1) * math.prod(self.strides)


def build_speech(config: CareModelConfig) -> SpeechBackbone:
    """The speech backbone a config names."""
    if config.speech.startswith("whisper-") or config.speech == "tiny-whisper":
        return WhisperBackbone.build(config)
    if config.speech.startswith("hf:") or config.speech == "tiny-wavlm" or Path(config.speech).is_dir():
        return WavLMBackbone.build(config)
    raise ConfigError(f"unknown CARE speech backbone {config.speech!r}",
                      hint=f"whisper-base, whisper-tiny.en, hf:/path/to/wavlm, {', '.join(TINY_SPEECH)}")


class TextStack(nn.Module):
    """The last ``k`` layers of a text transformer (module docstring); ``dim`` is its hidden size."""

    def __init__(self, layers: nn.ModuleList, dim: int, identity: dict[str, Any]) -> None:
        super().__init__()
        self.layers, self.dim, self.identity = layers, dim, identity

    def run_layer(self, index: int, x: torch.Tensor) -> torch.Tensor:
        return layer_output(self.layers[index](x))


def text_folder(name: str) -> Path:
    """The local folder of a text model name (``minilm``, ``mpnet``, ``hf:/path``)."""
    if name == "minilm":
        return minilm_dir()
    if name == "mpnet":
        return mpnet_dir()
    if name.startswith("hf:"):
        return local_model_dir(name[3:], name)
    raise ConfigError(f"unknown CARE text model {name!r}", hint=f"minilm, mpnet, hf:/path/to/roberta, {TINY_TEXT}")


def build_text(config: CareModelConfig) -> TextStack:
    """The semantic branch's text layers; random for ``tiny-bert`` and the ``no-init`` ablation."""
    k = config.text_layers
    if config.text == TINY_TEXT:
        t = config.tiny
        cfg = transformers.BertConfig(vocab_size=64, hidden_size=t.text_dim, num_hidden_layers=k,
                                      num_attention_heads=t.text_heads, intermediate_size=t.text_ffn)
        model = transformers.BertModel(cfg)
        identity: dict[str, Any] = {"text": TINY_TEXT, "init": "random"}
    else:
        folder = text_folder(config.text)
        model = _from_folder(folder, random_init=config.semantic == "no-init", name=config.text, what="text",
                             hint="the folder needs what save_pretrained() writes")
        identity = {"text": str(folder), "init": "random" if config.semantic == "no-init" else "pretrained"}
    layers = list(model.encoder.layer)
    if len(layers) < k:
        raise CareShapeError(f"{config.text} has {len(layers)} layers; text_layers asks for its last {k}",
                             hint=f"text_layers <= {len(layers)}")
    dim = int(model.config.hidden_size)
    if config.adapter_dim is not None and config.adapter_dim != dim:
        raise CareShapeError(f"the adapters map into {config.adapter_dim} dimensions, but {config.text} has hidden "
                             f"size {dim}", hint=f"set adapter_dim: {dim} (or null), or use a text model of width "
                             f"{config.adapter_dim}")
    return TextStack(nn.ModuleList(layers[-k:]), dim, identity)
