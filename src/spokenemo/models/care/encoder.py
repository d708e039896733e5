"""CARE as a speech encoder: every downstream level of a CARE model behind :class:`SpeechEncoder`.

``CareSpeechEncoder("runs/care/a/best")`` (a folder written by pre-training) or
``CareSpeechEncoder.untrained("care-whisper-base")`` (the graph at its initialisation: the
no-pre-training control, or with ``speech_init: random`` the B0 baseline). ``encode`` returns
``(n_levels, n_frames, dim)`` at 50 frames per second, the levels of
:meth:`~spokenemo.models.care.graph.CareModel.levels` for the chosen ``branch`` (``both``,
``acoustic``: front end + common + acoustic, ``semantic``: front end + common + semantic). Names
for the encoder registry and the feature store: ``care:DIR[#branch]``, ``care-init:PRESET[#branch]``
(:func:`care_encoder`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from spokenemo.models.care.config import CareModelConfig, care_config, parse_care_name
from spokenemo.models.care.graph import BRANCHES, CareModel, build_care
from spokenemo.models.care.io import WEIGHTS_FILE, load_care
from spokenemo.models.encoders.base import SpeechEncoder, file_identity

FRAME_RATE = 50.0


class CareSpeechEncoder(SpeechEncoder):
    """A CARE model's downstream levels (module docstring).

    Parameters
    ----------
    source : a CARE model folder, or a built :class:`CareModel`.
    branch : ``both``, ``acoustic`` or ``semantic``.
    name : the encoder's name (default ``care:<folder>#<branch>``).
    device : torch device.
    """

    frame_rate = FRAME_RATE
    max_seconds = 30.0
    code_version = "1"

    def __init__(self, source: str | Path | CareModel, *, branch: str = "both", name: str | None = None,
                 device: str = "cpu", identity: dict[str, Any] | None = None) -> None:
        if branch not in BRANCHES:
            raise ValueError(f"branch must be one of {BRANCHES}, got {branch!r}")
        if isinstance(source, CareModel):
            self.model = source.to(device).eval()
            self.identity = identity or {"config": source.config.model_dump(), "untrained": True}
        else:
            self.model = load_care(source, device=device)
            self.identity = {**file_identity(Path(source) / WEIGHTS_FILE), **(identity or {})}
        self.branch = branch
        self.device = torch.device(device)
        self.name = name or f"care:{source if not isinstance(source, CareModel) else 'model'}#{branch}"
        self.n_layers = self.model.level_count(branch)  # type: ignore[arg-type]
        self.dim = self.model.level_dim(branch)  # type: ignore[arg-type]
        self.min_samples = self.model.min_samples()

    @classmethod
    def untrained(cls, config: str | CareModelConfig, *, branch: str = "both", seed: int = 0,
                  device: str = "cpu") -> CareSpeechEncoder:
        """The graph of ``config`` at its initialisation (adapters random, backbones as configured)."""
        cfg = care_config(config)
        label = config if isinstance(config, str) else "config"
        return cls(build_care(cfg, seed=seed), branch=branch, name=f"care-init:{label}#{branch}", device=device,
                   identity={"config": cfg.model_dump(), "seed": seed, "untrained": True})

    def _encode_chunk(self, wave: np.ndarray) -> np.ndarray:
        inputs = torch.from_numpy(np.ascontiguousarray(self.model.speech.featurize(wave)))[None].to(self.device)
        with torch.inference_mode():
            out = self.model(inputs)
            levels = self.model.levels(out, self.branch)  # type: ignore[arg-type]
        return levels[:, 0].float().cpu().numpy()

    def _identity(self) -> dict[str, Any]:
        return {**self.identity, "branch": self.branch}

    def torch_module(self) -> CareModel:
        return self.model


def care_encoder(name: str, *, device: str = "cpu") -> CareSpeechEncoder:
    """The encoder a CARE name gives (``care:DIR[#branch]`` or ``care-init:PRESET[#branch]``)."""
    kind, source, branch = parse_care_name(name)
    if kind == "init":
        enc = CareSpeechEncoder.untrained(source, branch=branch, device=device)
    else:
        enc = CareSpeechEncoder(source, branch=branch, device=device)
    enc.name = name
    return enc


def from_options(checkpoint: str | None = None, preset: str | None = None, branch: str = "both",
                 device: str = "cpu") -> CareSpeechEncoder:
    """Registry factory: ``get_speech_encoder("care", checkpoint=DIR)`` or ``(..., preset=NAME)``."""
    if checkpoint:
        return CareSpeechEncoder(checkpoint, branch=branch, device=device)
    return CareSpeechEncoder.untrained(preset or "care-whisper-base", branch=branch, device=device)
