"""Emotion recognition in conversations (HCAM, issue #19): train on a manifest, label every turn.

>>> import spokenemo.api.erc as erc
>>> erc.train_erc("runs/meld/manifest.jsonl", "runs/hcam/model", preset="hcam-text-2",
...               options={"single_turn": "allow"})                         # doctest: +SKIP
>>> rows = erc.predict_erc("conversations.jsonl", "runs/hcam/model")      # doctest: +SKIP
>>> rows[0]["label"], rows[0]["probabilities"]                            # doctest: +SKIP

A conversation manifest is an ordinary manifest whose segments fill ``dialogue`` and ``turn``
(and ``path`` / ``text`` for the modalities the model reads). Importing this module does not
import torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.core.fileio import write_jsonl
from spokenemo.data.manifest import Segment, read_manifest
from spokenemo.protocols.labels import apply_label_set
from spokenemo.systems.base import System
from spokenemo.systems.registry import get_system, load_system

__all__ = ["DEFAULT_MODEL", "VALID_SPLITS", "load_erc_model", "predict_erc", "train_erc", "write_erc"]

#: Where ``spokenemo erc`` looks for a model when none is named (or ``$SPOKENEMO_ERC_MODEL``).
DEFAULT_MODEL = "runs/hcam/model"
#: Manifest ``split`` values that choose the epoch (validation) when training.
VALID_SPLITS = ("dev", "valid", "validation")


def _segments(manifest: str | Path | Sequence[Segment]) -> list[Segment]:
    return read_manifest(manifest) if isinstance(manifest, str | Path) else list(manifest)


def train_erc(manifest: str | Path | Sequence[Segment], out: str | Path, *, preset: str = "hcam",
              options: Mapping[str, Any] | None = None, label_set: str | None = None, seed: int = 0) -> Path:
    """Train HCAM on the manifest's ``train`` split (``dev``/``valid`` chooses epochs) and save it to ``out``.

    Segments without a ``split`` are training turns. ``label_set`` (e.g. ``"meld7"``) maps labels first.
    """
    segments = _segments(manifest)
    if label_set:
        segments = list(apply_label_set(segments, label_set))
    cls = get_system("hcam")
    found = cls.presets.get(preset)
    if found is None:
        raise ConfigError(f"no HCAM preset {preset!r}", hint=f"presets: {', '.join(cls.presets)}")
    config = cls.config_cls(**{**found.options, **dict(options or {})})
    train = [s for s in segments if s.split in (None, "train")]
    valid = [s for s in segments if s.split in VALID_SPLITS]
    classes = sorted({str(s.label) for s in train if s.label is not None})
    system = cls(config)
    context = SimpleNamespace(labels=classes, seed=seed, work_dir=Path(out) / "work")
    system.fit(train, valid, context)  # type: ignore[arg-type]
    return system.save(out)


def load_erc_model(model: str | Path | None = None) -> System:
    """A saved HCAM model (default ``$SPOKENEMO_ERC_MODEL`` or :data:`DEFAULT_MODEL`)."""
    folder = Path(model or os.environ.get("SPOKENEMO_ERC_MODEL") or DEFAULT_MODEL)
    if not (folder / "system.json").is_file():
        raise ModelNotFoundError(f"no ERC model at {folder}",
                                 hint="train one with `spokenemo erc-train MANIFEST -o DIR` and pass --model DIR")
    return load_system(folder)


def predict_erc(manifest: str | Path | Sequence[Segment], model: str | Path | System | None = None) -> list[dict[str, Any]]:
    """One row per turn: key, dialogue, turn, the predicted label and every class's probability."""
    segments = _segments(manifest)
    system = model if isinstance(model, System) else load_erc_model(model)
    pred = system.predict(segments)
    rows = []
    for seg, label, probs in zip(segments, pred.decisions(), pred.probabilities, strict=True):
        rows.append({"key": seg.key, "dialogue": seg.dialogue, "turn": seg.turn, "label": label,
                     "probabilities": {c: round(float(p), 4) for c, p in zip(pred.classes, probs, strict=True)},
                     **({"true_label": seg.label} if seg.label is not None else {})})
    return rows


def write_erc(rows: Sequence[Mapping[str, Any]], out: str | Path) -> Path:
    """Write :func:`predict_erc`'s rows to ``out`` (a ``.jsonl`` file, or ``predictions.jsonl`` in a folder)."""
    path = Path(out)
    if path.suffix != ".jsonl":
        path.mkdir(parents=True, exist_ok=True)
        path = path / "predictions.jsonl"
    write_jsonl(path, list(rows))
    return path
