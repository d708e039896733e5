"""Training checkpoints: adapter, optimizer, scheduler, step and RNG state, written atomically.

A checkpoint is a folder ``checkpoints/step-00000120/`` holding

- ``adapter/``: the LoRA adapter (``peft`` ``save_pretrained``; usable on its own);
- ``optimizer.pt``, ``scheduler.pt``: their ``state_dict()``;
- ``rng.pt``: the Python, NumPy and torch (CPU and CUDA) generator states;
- ``state.json``: step, fingerprint of the run, and whatever the trainer adds.

It is assembled in a hidden ``.partial`` folder and renamed into place, so a crash leaves
either a complete checkpoint or none; only complete ``step-*`` folders are ever resumed.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

_NAME = re.compile(r"^step-(\d{8})$")


def rng_state() -> dict[str, Any]:
    """Every random generator a training step can touch."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def save_checkpoint(root: str | Path, step: int, model: Any, optimizer: Any, scheduler: Any,
                    state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically and keep only the newest ``keep``.

    Parameters
    ----------
    root : folder of the checkpoints
    step : optimizer steps done
    model : peft model (its adapter is saved)
    optimizer, scheduler : torch objects with ``state_dict()``
    state : JSON-serialisable trainer state (``step`` is added)
    keep : number of checkpoints to keep
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".step-{step:08d}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save_pretrained(tmp / "adapter")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(rng_state(), tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=1), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoints under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _NAME.match(p.name) and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(root: str | Path) -> Path | None:
    """The newest complete checkpoint, or None."""
    found = list_checkpoints(root)
    return found[-1] if found else None


def load_checkpoint(path: str | Path, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    """Restore adapter weights, optimizer, scheduler and RNG state; return the trainer state."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    path = Path(path)
    adapter = path / "adapter"
    files = sorted(adapter.rglob("adapter_model.safetensors"))
    if not files:
        raise FileNotFoundError(f"{adapter}: no adapter_model.safetensors")
    result = set_peft_model_state_dict(model, load_file(str(files[0])))
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise RuntimeError(f"{path}: adapter keys do not fit the model: {unexpected[:3]}")
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    set_rng_state(torch.load(path / "rng.pt", weights_only=False))
    return json.loads((path / "state.json").read_text(encoding="utf-8"))
