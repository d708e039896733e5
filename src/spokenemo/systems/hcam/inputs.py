"""What stage I reads per turn: cached frozen features, or raw waveforms / token ids (fine-tuning).

A *source* gives one array per turn (:meth:`arrays`) and pads a list of them into a batch
(:func:`pad_items`). Frozen sources read :class:`~spokenemo.systems.hcam.cache.FrozenInputs`
(``(n, dim)`` float16 per turn); fine-tuning sources load the waveform (cut to ``max_seconds``)
or tokenise the text (cut to ``max_tokens``) for a backbone built from a local folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import transformers

from spokenemo.audio import load_audio
from spokenemo.core.errors import ModelNotFoundError
from spokenemo.data.manifest import Segment
from spokenemo.models.hcam import SpeechBackbone, TextBackbone
from spokenemo.systems.hcam.cache import FrozenInputs, speech_key, text_key
from spokenemo.systems.hcam.config import HcamConfig

LOCAL = "hf:"


def pad_items(items: Sequence[np.ndarray], pad: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack arrays of different lengths (axis 0) into ``(x (B, T, ...), mask (B, T) bool)``."""
    longest = max(1, max(len(a) for a in items))
    first = np.asarray(items[0])
    x = np.full((len(items), longest, *first.shape[1:]), pad, dtype=first.dtype)
    mask = np.zeros((len(items), longest), dtype=bool)
    for i, a in enumerate(items):
        x[i, :len(a)] = a
        mask[i, :len(a)] = True
    tensor = torch.from_numpy(x)
    return (tensor.float() if tensor.is_floating_point() else tensor), torch.from_numpy(mask)


class FrozenSource:
    """Cached frozen-encoder features of one modality."""

    def __init__(self, inputs: FrozenInputs, modality: str) -> None:
        self.inputs, self.modality = inputs, modality
        self.pad = 0.0

    @property
    def dim(self) -> int:
        return self.inputs.dim(self.modality)

    def arrays(self, segments: Sequence[Segment]) -> list[np.ndarray]:
        self.inputs.prepare(segments, self.modality)
        return [self.inputs.get(s, self.modality).astype(np.float16) for s in segments]

    def backbone(self) -> None:
        return None


def _local_folder(name: str) -> str:
    if not name.startswith(LOCAL):
        raise ModelNotFoundError(f"fine-tuning needs a local model folder, got {name!r}",
                                 hint="name it hf:/path/to/folder (e.g. HuBERT-large or RoBERTa saved there)")
    return name[len(LOCAL):]


class WaveSource:
    """Waveforms (16 kHz, at most ``max_seconds``) for a fine-tuned speech backbone."""

    pad = 0.0

    def __init__(self, config: HcamConfig) -> None:
        self.folder = _local_folder(config.speech_encoder)
        self.max_samples = int(config.max_seconds * 16000)
        self.model: Any = None

    def backbone(self) -> SpeechBackbone:
        model = transformers.AutoModel.from_pretrained(self.folder, local_files_only=True)
        return SpeechBackbone(model)

    @property
    def dim(self) -> int:
        return int(transformers.AutoConfig.from_pretrained(self.folder, local_files_only=True).hidden_size)

    def arrays(self, segments: Sequence[Segment]) -> list[np.ndarray]:
        out = []
        for s in segments:
            speech_key(s)
            wave = load_audio(s.path, start=s.start, end=s.end)  # type: ignore[arg-type]
            out.append(wave[:self.max_samples].astype(np.float32))
        return out


class TokenSource:
    """Token ids (at most ``max_tokens``) for a fine-tuned text backbone."""

    def __init__(self, config: HcamConfig) -> None:
        self.folder = _local_folder(config.text_encoder)
        self.layers, self.max_tokens = config.text_layers, config.max_tokens
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.folder, local_files_only=True)
        self.pad = int(self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0)

    def backbone(self) -> TextBackbone:
        return TextBackbone(transformers.AutoModel.from_pretrained(self.folder, local_files_only=True), self.layers)

    @property
    def dim(self) -> int:
        cfg = transformers.AutoConfig.from_pretrained(self.folder, local_files_only=True)
        return int(cfg.hidden_size) * self.layers

    def arrays(self, segments: Sequence[Segment]) -> list[np.ndarray]:
        for s in segments:
            text_key(s)
        enc = self.tokenizer([str(s.text).strip() for s in segments], truncation=True, max_length=self.max_tokens)
        return [np.asarray(ids, dtype=np.int64) for ids in enc["input_ids"]]


def make_source(config: HcamConfig, modality: str) -> Any:
    """The stage-I source of ``modality`` for ``config`` (frozen cache, or raw input to fine-tune)."""
    if config.finetune:
        return WaveSource(config) if modality == "speech" else TokenSource(config)
    inputs = FrozenInputs(config.cache_dir, speech_encoder=config.speech_encoder, text_encoder=config.text_encoder,
                          text_layers=config.text_layers, device=config.device)
    return FrozenSource(inputs, modality)
