"""A slim, shippable copy of a trained student model directory.

>>> export_model_dir("runs/default-model/model", "models/spokenemo-default")   # doctest: +SKIP

The copy holds what inference needs and what documents the model:

- ``adapter/``: the LoRA weights cast to ``dtype`` (float16 by default: half the size; peft
  loads them into the fp32 base model, where they are used in fp32), ``adapter_config.json``
  and the other small files peft wrote;
- ``student.json`` (with an ``"export"`` record: source folder, dtype, date, version),
  ``thresholds.json``, ``prompt.json``, ``config.yaml``, ``metrics.json`` and ``train_log.jsonl``
  when present;
- ``tokenizer/`` only when the base model is not the embedded one: the embedded base's
  tokenizer is re-created from the bundled model, and it is the one training used.

No ``checkpoints/`` and nothing else from the source (predictions, reports). The copy is
written into a temporary folder beside ``dst`` and renamed into place, so ``dst`` is either the
old copy or the complete new one.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from spokenemo import __version__
from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.core.lazy import optional_import
from spokenemo.systems.aecotd.config import EMBEDDED
from spokenemo.systems.aecotd.model_dir import (
    ADAPTER_DIR,
    CONFIG_FILE,
    METRICS_FILE,
    PROMPT_FILE,
    STUDENT_FILE,
    THRESHOLDS_FILE,
    TOKENIZER_DIR,
    TRAIN_LOG_FILE,
    read_info,
    write_json,
)
from spokenemo.systems.aecotd.temperature import CALIBRATION_FILE

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
DTYPES = ("float16", "bfloat16", "float32")

ExportDtype = Literal["float16", "bfloat16", "float32"]


def _check_paths(src: Path, dst: Path) -> None:
    s, d = src.resolve(), dst.resolve()
    if s == d or s.is_relative_to(d) or d.is_relative_to(s):
        raise ConfigError(f"cannot export {src} into {dst}: the folders overlap",
                          hint="choose a destination outside the source model directory")
    if dst.exists() and not (dst.is_dir() and ((dst / STUDENT_FILE).is_file() or not any(dst.iterdir()))):
        raise ConfigError(f"{dst} exists and is not a model directory; refusing to replace it",
                          hint="choose a new destination, or remove it first")


def _cast_adapter(src: Path, dst: Path, dtype: str) -> dict[str, Any]:
    """Copy ``src`` (a peft adapter folder) to ``dst`` with floating weights cast to ``dtype``."""
    torch = optional_import("torch", purpose="exporting a student")
    safetensors = optional_import("safetensors", purpose="exporting a student")
    save_file = optional_import("safetensors.torch", purpose="exporting a student").save_file
    weights = src / ADAPTER_WEIGHTS
    for need in (weights, src / ADAPTER_CONFIG):
        if not need.is_file():
            raise ModelNotFoundError(f"{src}: {need.name} is missing",
                                     hint="export a model directory written by `spokenemo train`")
    target = getattr(torch, dtype)
    with safetensors.safe_open(str(weights), framework="pt") as fh:
        metadata = fh.metadata() or {}
        tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118 (safe_open is not iterable)
    cast: dict[str, Any] = {}
    before = after = 0
    for name, t in tensors.items():
        before += t.numel() * t.element_size()
        if t.is_floating_point():
            t = t.to(target)
            if not bool(torch.isfinite(t).all()):
                raise ConfigError(f"{weights}: {name} does not fit in {dtype} (values overflow)",
                                  hint="export with dtype='float32' or 'bfloat16'")
        cast[name] = t.contiguous()
        after += t.numel() * t.element_size()
    dst.mkdir(parents=True)
    for item in src.iterdir():  # adapter_config.json, README.md, ...
        if item.is_file() and item.name != ADAPTER_WEIGHTS:
            shutil.copy2(item, dst / item.name)
    save_file(cast, str(dst / ADAPTER_WEIGHTS), metadata={**metadata, "format": "pt"})
    return {"tensors": len(cast), "bytes_before": before, "bytes_after": after}


def export_model_dir(src: str | Path, dst: str | Path, *, dtype: ExportDtype = "float16") -> Path:
    """Write a slim, shippable copy of the trained model directory ``src`` to ``dst``.

    Parameters
    ----------
    src : path
        A complete student model directory (``spokenemo train`` output).
    dst : path
        Destination folder; an existing model directory (or empty folder) there is replaced.
    dtype : {"float16", "bfloat16", "float32"}
        dtype of the adapter weights in the copy.

    Returns
    -------
    Path
        ``dst``; :func:`spokenemo.systems.aecotd.prediction.load_student` loads it.

    Raises
    ------
    ModelNotFoundError
        ``src`` is not a complete model directory (or its adapter is incomplete).
    ConfigError
        Unknown dtype, overlapping folders, or ``dst`` is some other existing folder.
    """
    src, dst = Path(src), Path(dst)
    if dtype not in DTYPES:
        raise ConfigError(f"unknown export dtype {dtype!r}", hint=f"use one of {', '.join(DTYPES)}")
    info = read_info(src)
    _check_paths(src, dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.export-partial"
    old = dst.parent / f".{dst.name}.export-old"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    try:
        tmp.mkdir()
        sizes = _cast_adapter(src / ADAPTER_DIR, tmp / ADAPTER_DIR, dtype)
        tokenizer = "base model"
        if info.base_model != EMBEDDED and (src / TOKENIZER_DIR).is_dir():
            shutil.copytree(src / TOKENIZER_DIR, tmp / TOKENIZER_DIR)
            tokenizer = "copied"
        for name in (THRESHOLDS_FILE, PROMPT_FILE, CONFIG_FILE, METRICS_FILE, TRAIN_LOG_FILE, CALIBRATION_FILE):
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / name)
        record = info.model_dump(mode="json")
        record["export"] = {"from": str(src), "from_created": info.created, "dtype": dtype, "tokenizer": tokenizer,
                            "adapter_bytes": sizes["bytes_after"], "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            "spokenemo_version": __version__}
        write_json(tmp / STUDENT_FILE, record)  # last: marks the copy complete
        if dst.exists():
            os.replace(dst, old)
        try:
            os.replace(tmp, dst)
        except OSError:
            if old.exists():
                os.replace(old, dst)  # put the previous copy back
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return dst
