"""Fold files: one JSON file per fold plus ``index.json`` (protocol, label set, counts), written atomically."""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from spokenemo.core.errors import LabelError, ProtocolError
from spokenemo.core.fileio import atomic_write
from spokenemo.data.manifest import Segment, json_error_text
from spokenemo.protocols.fold import PARTS, Fold, sorted_names
from spokenemo.protocols.labels import get_label_set

INDEX = "index.json"


def fold_file_name(name: str) -> str:
    """The file a fold is written to: ``"ravdess->nemo:nemo/EB0"`` -> ``"ravdess_to_nemo_nemo_EB0.json"``."""
    return re.sub(r"[^0-9A-Za-z.+-]+", "_", name.replace("->", "_to_")).strip("._") + ".json"


def fold_counts(fold: Fold, utterances: Iterable[Segment], labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Per part: segment count, speaker count and segments per class (in ``labels`` order)."""
    by_key = {u.key: u for u in utterances}
    out: dict[str, Any] = {}
    for part in PARTS:
        utts = fold.select(by_key.values(), part)
        classes = Counter(u.label for u in utts)
        order = list(labels) if labels is not None else sorted_names(str(c) for c in classes)
        out[part] = {"n": len(utts), "speakers": len({(u.corpus, u.speaker) for u in utts if u.speaker}),
                     "classes": {c: classes.get(c, 0) for c in order}}
    return out


def _check_writable(folds: Sequence[Fold]) -> list[str]:
    """The file names of ``folds``; raise when they cannot share one folder."""
    if not folds:
        raise ProtocolError("no folds to write")
    protocols = {f.protocol for f in folds}
    if len(protocols) != 1:
        raise ProtocolError(f"folds of several protocols cannot share a folder: {sorted(protocols)}")
    files = [fold_file_name(f.name) for f in folds]
    if len(set(files)) != len(files):
        raise ProtocolError("fold names collide as file names: " + ", ".join(f.name for f in folds))
    return files


def _write_json(path: Path, obj: Any) -> None:
    with atomic_write(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1)
        fh.write("\n")


def write_folds(folds: Sequence[Fold], out_dir: str | Path, utterances: Sequence[Segment]) -> Path:
    """Write one JSON file per fold and ``index.json`` into ``out_dir``, each atomically.

    The index (written last) names the protocol, label set, speaker independence and, per fold,
    its file and the counts of :func:`fold_counts`. Fold files of a previous index that the new one
    does not list are removed. Returns the index path.
    """
    files = _check_writable(folds)
    out_dir = Path(out_dir)
    old = _read_index(out_dir) if (out_dir / INDEX).exists() else None
    lset_names = {f.label_set for f in folds}
    lset = lset_names.pop() if len(lset_names) == 1 else None
    labels = sorted_names(str(u.label) for u in utterances)
    if lset is not None:
        # a set name this version does not know falls back to the labels present
        with contextlib.suppress(LabelError):
            labels = list(get_label_set(lset).names)
    entries = []
    for fold, fname in zip(folds, files, strict=True):
        counts = fold_counts(fold, utterances, labels)
        _write_json(out_dir / fname, {**fold.to_json(), "counts": counts})
        entries.append({"name": fold.name, "file": fname, "counts": counts})
    _write_json(out_dir / INDEX, {"protocol": folds[0].protocol, "label_set": lset, "labels": labels,
                                  "speaker_independent": all(f.speaker_independent for f in folds),
                                  "n_folds": len(folds), "folds": entries})
    if old is not None:
        for entry in old.get("folds", []):
            stale = out_dir / str(entry.get("file", ""))
            if entry.get("file") and entry["file"] not in files and stale.is_file():
                stale.unlink()
    return out_dir / INDEX


def _read_json(path: Path, hint: str | None = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ProtocolError(f"{path}:{err.lineno}: not valid JSON ({json_error_text(err)})", hint=hint) from None


def _read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX
    if not path.is_file():
        raise ProtocolError(f"{path}: fold index not found", hint="write folds with `spokenemo folds MANIFEST -o DIR`")
    index = _read_json(path, hint="rewrite the folds with `spokenemo folds`")
    if not isinstance(index, dict) or not isinstance(index.get("folds"), list):
        raise ProtocolError(f"{path}: not a fold index", hint="rewrite the folds with `spokenemo folds`")
    return index


def read_folds_index(folder: str | Path) -> dict[str, Any]:
    """The ``index.json`` of a folds folder (protocol, label set, counts)."""
    return _read_index(Path(folder))


def read_folds(folder: str | Path) -> list[Fold]:
    """Read the folds listed in ``folder/index.json``, in index order."""
    folder = Path(folder)
    folds = []
    for entry in _read_index(folder)["folds"]:
        path = folder / str(entry.get("file"))
        if not path.is_file():
            raise ProtocolError(f"{path}: fold file listed in {INDEX} is missing",
                                hint="rewrite the folds with `spokenemo folds`")
        folds.append(Fold.from_json(_read_json(path), source=str(path)))
    return folds
