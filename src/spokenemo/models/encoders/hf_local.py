"""Self-supervised speech encoders from a local transformers folder (``"hf:/path/to/model"``).

wav2vec 2.0, HuBERT, WavLM and data2vec-audio checkpoints (or emotion2vec-style models converted
to one of those classes) load through ``transformers.AutoModel`` with ``local_files_only=True``,
so nothing is downloaded; every layer comes back (``output_hidden_states=True``): index 0 is the
input to the first transformer layer, index ``L`` layer ``L``'s output. The frame rate and the
shortest usable clip follow from the convolutional front end in ``config.json`` (50 fps and
400 samples for the usual 7-layer front end). Waveforms are normalised to zero mean and unit
variance when the folder's ``preprocessor_config.json`` says ``do_normalize`` (or has none).
Inputs longer than ``max_seconds`` (30 s by default) are encoded in consecutive chunks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.models.encoders.base import SpeechEncoder, file_identity

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")


def local_model_dir(path: str | Path, entry: str) -> Path:
    """``path`` when it is a folder with a ``config.json``; else a typed error naming ``entry``."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ModelNotFoundError(f"{entry}: no model folder at {folder}",
                                 hint="give the folder of a transformers checkpoint (config.json + weights)")
    if not (folder / "config.json").is_file():
        raise ModelNotFoundError(f"{entry}: {folder} has no config.json",
                                 hint="save the model there with save_pretrained()")
    return folder


def weights_identity(folder: Path) -> dict[str, Any]:
    """config.json text and the identity of each weights file in ``folder``."""
    files = sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file())
    return {"config": (folder / "config.json").read_text(encoding="utf-8"),
            "weights": [file_identity(p) for p in files]}


class HFLocalSpeechEncoder(SpeechEncoder):
    """A transformers speech model from a local folder, every hidden state exposed.

    Parameters
    ----------
    path : the model folder.
    device : torch device.
    max_seconds : longest chunk one pass takes (None: no chunking).
    normalize : zero-mean unit-variance input; None reads ``do_normalize`` from the folder.
    """

    def __init__(self, path: str | Path, *, device: str = "cpu", max_seconds: float | None = 30.0,
                 normalize: bool | None = None) -> None:
        self.name = f"hf:{path}"
        self.folder = local_model_dir(path, self.name)
        try:
            self.model = transformers.AutoModel.from_pretrained(
                str(self.folder), local_files_only=True, output_hidden_states=True).to(device).eval()
        except (OSError, ValueError, KeyError) as err:
            raise ModelNotFoundError(f"{self.name}: cannot load a model from {self.folder} ({err})",
                                     hint="the folder needs config.json and the weights save_pretrained() writes") from err
        config = self.model.config
        strides, kernels = getattr(config, "conv_stride", None), getattr(config, "conv_kernel", None)
        if not strides or not kernels:
            raise ConfigError(f"{self.name}: {type(self.model).__name__} has no convolutional waveform front end",
                              hint="use a wav2vec2 / HuBERT / WavLM / data2vec-audio checkpoint")
        self.device = torch.device(device)
        self.max_seconds = max_seconds
        self.dim = int(config.hidden_size)
        self.n_layers = int(config.num_hidden_layers) + 1
        self.frame_rate = self.sample_rate / math.prod(strides)
        self.min_samples = receptive_field(kernels, strides)
        self.normalize = _do_normalize(self.folder) if normalize is None else bool(normalize)

    def _encode_chunk(self, wave: np.ndarray) -> np.ndarray:
        if self.normalize:
            wave = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)
        with torch.inference_mode():
            out = self.model(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None].to(self.device))
        return torch.stack([h[0] for h in out.hidden_states]).float().cpu().numpy()

    def _identity(self) -> dict[str, Any]:
        return {**weights_identity(self.folder), "normalize": self.normalize, "max_seconds": self.max_seconds}

    def torch_module(self) -> torch.nn.Module:
        return self.model


def receptive_field(kernels: list[int], strides: list[int]) -> int:
    """Samples one output frame of a stack of 1-D convolutions sees (400 for wav2vec 2.0)."""
    field, jump = 1, 1
    for k, s in zip(kernels, strides, strict=True):
        field += (k - 1) * jump
        jump *= s
    return field


def _do_normalize(folder: Path) -> bool:
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return True
    return bool(json.loads(path.read_text(encoding="utf-8")).get("do_normalize", True))
