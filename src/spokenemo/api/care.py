"""CARE in the public API: pre-train from manifests, extract a CARE model's levels, load its encoder.

>>> from spokenemo.api.care import pretrain_care, extract_care
>>> pretrain_care(["nemo.jsonl"], "runs/care/a", config="configs/care-offline-cpu.yaml")   # doctest: +SKIP
>>> extract_care("runs/care/a/best", "ravdess.jsonl", "runs/care/feats")                     # doctest: +SKIP

Importing this module does not import torch: pre-training and the encoder load on use.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError
from spokenemo.data import read_manifest
from spokenemo.data.manifest import Segment
from spokenemo.features.encoded import EncodedStore
from spokenemo.models.care.config import CARE_INIT_PREFIX, CARE_PREFIX, CONFIG_FILE
from spokenemo.systems.care.config import PretrainConfig, pretrain_config
from spokenemo.systems.speech_encoders import register_care_encoder

PathArg = str | PathLike[str]
LAYOUTS = ("pooled", "frames")


def read_manifests(manifests: PathArg | Sequence[PathArg]) -> list[Segment]:
    """Segments of one or several manifests, in order."""
    paths = [manifests] if isinstance(manifests, (str, PathLike)) else list(manifests)
    if not paths:
        raise ConfigError("no manifest given", hint="pass at least one manifest (JSONL) of utterances with audio")
    return [u for p in paths for u in read_manifest(p, require_audio=True)]


def pretrain_care(manifests: PathArg | Sequence[PathArg], out_dir: PathArg, config: Any = None, *,
                  resume: bool = True, stop_after_steps: int | None = None, progress: bool = True) -> Any:
    """Pre-train CARE on the utterances of ``manifests`` into ``out_dir`` (resumes by default).

    ``config``: a YAML path (``configs/care-offline-cpu.yaml``), a mapping, a
    :class:`~spokenemo.systems.care.config.PretrainConfig` or None (offline defaults). Returns a
    :class:`~spokenemo.systems.care.pretrain.PretrainResult`; the model to use is ``out_dir/best``.
    """
    cfg: PretrainConfig = pretrain_config(config)  # config errors before any model loads
    segments = read_manifests(manifests)
    module = importlib.import_module("spokenemo.systems.care.pretrain")
    return module.pretrain(cfg, segments, out_dir, resume=resume, stop_after_steps=stop_after_steps,
                           progress=progress)


def care_encoder_name(model: PathArg | str, branch: str = "both") -> str:
    """The encoder name of a CARE model folder (``care:DIR#branch``) or preset at its initialisation
    (``care-init:PRESET#branch``), registered for :func:`spokenemo.models.encoders.get_speech_encoder`."""
    text = str(model)
    if text.startswith((CARE_PREFIX, CARE_INIT_PREFIX)):
        name = text if "#" in text else f"{text}#{branch}"
    elif (Path(text) / CONFIG_FILE).is_file():
        name = f"{CARE_PREFIX}{text}#{branch}"
    elif (Path(text) / "best" / CONFIG_FILE).is_file():
        name = f"{CARE_PREFIX}{Path(text) / 'best'}#{branch}"
    else:
        raise ConfigError(f"{text}: not a CARE model folder (no {CONFIG_FILE}) nor a care:/care-init: name",
                          hint="give the output folder of `spokenemo care pretrain` (or its best/), "
                               "or care-init:care-whisper-base")
    return register_care_encoder(name)


def care_encoder(model: PathArg | str, branch: str = "both") -> Any:
    """The :class:`~spokenemo.models.care.encoder.CareSpeechEncoder` of a model folder or name."""
    encoders = importlib.import_module("spokenemo.models.encoders")
    return encoders.get_speech_encoder(care_encoder_name(model, branch))


def extract_care(model: PathArg | str, manifests: PathArg | Sequence[PathArg], out_dir: PathArg, *,
                 branch: str = "both", layout: str = "pooled", progress: bool = True) -> dict[str, Any]:
    """Every level of a CARE model for the segments of ``manifests``, into the feature store
    ``out_dir/encoded-<name>-<layout>-<fingerprint>/`` (float16 ``.npy`` per segment; resumable:
    what is stored is kept, failures are retried). Returns counts and the store's folder."""
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}", hint="pooled (per-level mean and std) or frames")
    segments = read_manifests(manifests)
    encoder = care_encoder(model, branch)
    targets = importlib.import_module("spokenemo.systems.care.targets")
    store = EncodedStore(out_dir, encoder, targets.target_encoder, layout=layout)
    summary = store.compute(segments, progress=progress)
    return {"folder": str(store.folder), "encoder": encoder.name, "levels": encoder.n_layers, "dim": encoder.dim,
            "computed": summary.computed, "reused": summary.cached, "failed": len(summary.errors)}


__all__ = ["care_encoder", "care_encoder_name", "extract_care", "pretrain_care", "read_manifests"]
