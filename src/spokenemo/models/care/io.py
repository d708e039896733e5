"""A CARE model folder: ``care.json`` (the graph's config, seed, notes) + ``model.safetensors``.

:func:`save_care` writes the whole state (frozen parts too: a random backbone cannot be rebuilt
from a source), atomically (a temporary folder renamed into place); :func:`load_care` rebuilds the
graph from the config and loads the weights strictly, so a folder whose weights do not fit its
graph is a :class:`~spokenemo.models.care.config.CareShapeError`, never a silent mismatch.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from spokenemo.core.errors import ModelNotFoundError
from spokenemo.models.care.config import CONFIG_FILE, WEIGHTS_FILE, CareModelConfig, CareShapeError
from spokenemo.models.care.graph import CareModel, build_care

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "load_care", "read_care_meta", "save_care"]


def save_care(model: CareModel, folder: str | Path, *, seed: int = 0, info: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``folder`` (replacing what is there)."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp / WEIGHTS_FILE))
    meta = {"model": model.config.model_dump(), "seed": seed, "info": info or {}}
    (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=1, default=str) + "\n", encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


def read_care_meta(folder: str | Path) -> dict[str, Any]:
    """The ``care.json`` of a model folder (typed error when it is not one)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"{folder}: not a CARE model folder (no {CONFIG_FILE})",
                                 hint="give the output of `spokenemo care pretrain` (its best/ or final/ folder)")
    return json.loads(path.read_text(encoding="utf-8"))


def load_care(folder: str | Path, *, device: str = "cpu") -> CareModel:
    """The model saved in ``folder`` (eval mode)."""
    meta = read_care_meta(folder)
    model = build_care(CareModelConfig(**meta["model"]), seed=int(meta.get("seed", 0)))
    state = load_file(str(Path(folder) / WEIGHTS_FILE))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CareShapeError(f"{folder}: the weights do not fit the graph of its {CONFIG_FILE} ({str(err)[:300]})",
                             hint="the folder was edited or written by another version; pre-train again") from err
    return model.to(torch.device(device)).eval()
