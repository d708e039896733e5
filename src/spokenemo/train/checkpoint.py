"""Training checkpoints: accelerate's saved state plus our step, fingerprint and model weights, atomic.

A checkpoint is a folder ``checkpoints/step-00000120/`` holding

- ``optimizer.bin``, ``scheduler.bin``, ``random_states_<process>.pkl`` (Python, NumPy, torch
  and device generators of every process): ``Accelerator.save_state``;
- the model's trainable weights, through accelerate's save/load hooks: a peft model's adapter in
  ``adapter/`` (``save_pretrained``, usable on its own), any other model's trainable parameters in
  ``trainable.safetensors``, so a frozen multi-GB base model is never copied (under FSDP or
  DeepSpeed accelerate writes the sharded model itself);
- ``state.json``: step, fingerprint of the run, and whatever the caller adds.

It is assembled in a hidden ``.partial`` folder and renamed into place by the main process,
``state.json`` last, so a crash leaves either a complete checkpoint or none; only complete
``step-*`` folders are ever resumed. The folder must be on a file system every process sees.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from accelerate import Accelerator
from safetensors.torch import load_file, save_file

from spokenemo.core.errors import ConfigError
from spokenemo.core.lazy import optional_import

_NAME = re.compile(r"^step-(\d{8})$")
ADAPTER_DIR = "adapter"
TRAINABLE_FILE = "trainable.safetensors"


def is_peft_model(model: Any) -> bool:
    """Whether ``model`` carries peft adapters (it is then saved as its adapter alone)."""
    return hasattr(model, "peft_config") and hasattr(model, "save_pretrained")


def save_model_weights(model: Any, folder: Path) -> None:
    """The trainable weights of ``model`` into ``folder`` (the adapter of a peft model)."""
    if is_peft_model(model):
        model.save_pretrained(folder / ADAPTER_DIR)
        return
    tensors = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    save_file(tensors, str(folder / TRAINABLE_FILE))


def load_model_weights(model: Any, folder: Path) -> None:
    """Restore what :func:`save_model_weights` wrote (the model's frozen weights are untouched)."""
    if is_peft_model(model):
        files = sorted((folder / ADAPTER_DIR).rglob("adapter_model.safetensors"))
        if not files:
            raise FileNotFoundError(f"{folder / ADAPTER_DIR}: no adapter_model.safetensors")
        peft = optional_import("peft", purpose="loading a LoRA checkpoint")
        result = peft.set_peft_model_state_dict(model, load_file(str(files[0])))
        unexpected = getattr(result, "unexpected_keys", None)
        if unexpected:
            raise RuntimeError(f"{folder}: adapter keys do not fit the model: {unexpected[:3]}")
        return
    path = folder / TRAINABLE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found")
    tensors = load_file(str(path))
    wanted = {n for n, p in model.named_parameters() if p.requires_grad}
    if set(tensors) != wanted:
        raise RuntimeError(f"{folder}: saved weights do not fit the model's trainable parameters "
                           f"(e.g. {sorted(set(tensors) ^ wanted)[:3]})")
    model.load_state_dict(tensors, strict=False)


def _weights_hooks(accelerator: Accelerator) -> tuple[Any, Any]:
    """Save/load pre-hooks that write the trainable weights and keep accelerate from writing the whole model."""

    def save(models: list[Any], weights: list[Any], output_dir: str) -> None:
        if weights and accelerator.is_main_process:
            for model in models:
                save_model_weights(accelerator.unwrap_model(model), Path(output_dir))
        weights.clear()

    def load(models: list[Any], input_dir: str) -> None:
        for model in models:
            load_model_weights(accelerator.unwrap_model(model), Path(input_dir))
        models.clear()

    return save, load


def save_checkpoint(accelerator: Accelerator, root: str | Path, step: int, state: dict[str, Any], *,
                    keep: int = 2) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically and keep only the newest ``keep``.

    Every process must call it (each saves its random generators).

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        Holding the prepared model(s), optimizer and scheduler.
    root : folder of the checkpoints
    step : optimizer steps done
    state : JSON-serialisable trainer state (``step`` is added)
    keep : number of checkpoints to keep
    """
    root = Path(root)
    final = root / f"step-{step:08d}"
    tmp = root / f".step-{step:08d}.partial"
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    save_hook, _ = _weights_hooks(accelerator)
    handle = accelerator.register_save_state_pre_hook(save_hook)
    try:
        accelerator.save_state(str(tmp))
    finally:
        handle.remove()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=1), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
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


def read_state(path: str | Path) -> dict[str, Any]:
    """The ``state.json`` of a checkpoint."""
    return json.loads((Path(path) / "state.json").read_text(encoding="utf-8"))


def load_checkpoint(accelerator: Accelerator, path: str | Path, *, fingerprint: str | None = None) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and random generators; return the trainer state.

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        Holding the prepared model(s), optimizer and scheduler to restore into.
    path : a checkpoint folder
    fingerprint : str, optional
        When given, a checkpoint of another run (another fingerprint) is refused with
        :class:`ConfigError` before anything is loaded.
    """
    path = Path(path)
    state = read_state(path)
    if fingerprint is not None and state.get("fingerprint") != fingerprint:
        raise ConfigError(f"{path.parent.parent}: holds checkpoints of a different run (data or settings changed)",
                          hint="train into a new output folder, or start afresh with resume disabled")
    if (path / "rng.pt").is_file():
        raise ConfigError(f"{path}: a checkpoint of the training loop before accelerate (spokenemo 0.1.0)",
                          hint="start afresh with resume disabled (--restart), or train into a new output folder")
    _, load_hook = _weights_hooks(accelerator)
    handle = accelerator.register_load_state_pre_hook(load_hook)
    try:
        accelerator.load_state(str(path))
    finally:
        handle.remove()
    return state
