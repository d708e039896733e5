"""Import and export EmoBox metadata (Ma et al. 2024, github.com/emo-box/EmoBox).

EmoBox describes each corpus as JSON lines, one utterance per line, as written by its
``preprocess_utils.write_jsonl``::

    {"key": "iemocap-Ses01F_impro04_F000", "dataset": "iemocap",
     "wav": "downloads/iemocap/Session1/sentences/wav/Ses01F_impro04/Ses01F_impro04_F000.wav",
     "type": "raw", "sample_rate": 16000, "num_frame": 70312.0, "task": "category",
     "length": 4.3945, "emo": "neu", "channel": 1}

plus ``start_time``/``end_time`` for segments. A dataset folder ``data/<name>/`` holds
``<name>.jsonl``, ``label_map.json`` (corpus label -> display name, e.g. ``"exc": "Happy"``) and
``fold_<k>/<name>_{train,test}_fold_<k>.jsonl``. ``wav`` paths are relative to the EmoBox root.

Mapping to :class:`~spokenemo.data.manifest.Segment`: ``emo`` <-> ``raw_label``; ``label``
is the canonical name of ``emo`` in the corpus's own scheme when a recipe knows the corpus
(IEMOCAP ``exc`` stays ``excited``: EmoBox's label maps merge classes, a protocol decision),
else of the ``label_map.json`` display name, else of ``emo`` itself;
``length`` <-> ``duration``, ``start_time``/``end_time`` <-> ``start``/``end``. EmoBox fields
with no Segment counterpart (``sample_rate``, ``num_frame``, ``type``, ``task``, ``channel``,
anything else) are kept in ``extra['emobox']`` and written back unchanged, so an EmoBox file
read and written again is identical. ``speaker`` and ``gender`` (``"Male"``/``"Female"``) are
written when known and read when present; EmoBox's own loader ignores them. The fold membership
read by :func:`read_emobox_dataset` is kept in ``extra['emobox_folds']`` (fold -> ``train``/``test``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from spokenemo.audio import audio_info
from spokenemo.core.errors import AudioError, CorpusLayoutError, ManifestError
from spokenemo.core.fileio import atomic_write
from spokenemo.data._common import header_duration
from spokenemo.data.manifest import Segment, json_lines
from spokenemo.data.recipes import recipe_label
from spokenemo.data.recipes.generic import canonical_or_raw

#: EmoBox fields mapped onto Segment fields; every other field goes to ``extra['emobox']``.
_MAPPED = ("key", "dataset", "wav", "emo", "length", "start_time", "end_time", "speaker", "gender",
           "category")
_GENDER_OUT = {"M": "Male", "F": "Female"}


def _strip_dataset(key: str, dataset: str) -> str:
    prefix = f"{dataset}-"
    return key[len(prefix):] if key.startswith(prefix) else key


def _emo_of(record: Mapping[str, Any]) -> str | None:
    """The categorical label: ``emo`` (EmoBox) or ``category`` (a str or ``[{"fold", "label"}]``)."""
    if record.get("emo") is not None:
        return str(record["emo"])
    cat = record.get("category")
    if isinstance(cat, str):
        return cat
    if isinstance(cat, list) and cat and isinstance(cat[0], Mapping) and "label" in cat[0]:
        return str(cat[0]["label"])
    return None


def from_emobox(record: Mapping[str, Any], *, data_root: str | Path | None = None,
                label_map: Mapping[str, str] | None = None) -> Segment:
    """One EmoBox record -> :class:`Segment`.

    Parameters
    ----------
    record : mapping
        A parsed JSONL line (needs ``key`` and ``wav``).
    data_root : path, optional
        Folder the relative ``wav`` paths are relative to (the EmoBox checkout); when given,
        ``path`` becomes absolute, otherwise it stays as written.
    label_map : mapping, optional
        EmoBox ``label_map.json`` (corpus label -> display name) used for the canonical label.
    """
    if "key" not in record or "wav" not in record:
        raise ValueError("an EmoBox record needs 'key' and 'wav'")
    dataset = str(record.get("dataset") or str(record["key"]).split("-", 1)[0])
    key = str(record["key"])
    rest = _strip_dataset(key, dataset)
    speaker = record.get("speaker")
    speaker = str(speaker) if speaker not in (None, "") else None
    wav = str(record["wav"])
    if data_root is not None and not os.path.isabs(wav):
        wav = str(Path(data_root).resolve() / wav)
    raw = _emo_of(record)
    label = None
    if raw is not None:
        # The corpus's own scheme first (IEMOCAP "exc" stays "excited": EmoBox's label maps merge
        # classes, which is a protocol decision), then EmoBox's display name, then synonyms.
        label = recipe_label(dataset, raw)
        if label is None:
            shown = label_map.get(raw, raw) if label_map else raw
            label = canonical_or_raw(str(shown))
    length = record.get("length")
    extra: dict[str, Any] = {"emobox_key": key,
                             "emobox": {k: v for k, v in record.items() if k not in _MAPPED}}
    if "category" in record and record.get("emo") is None:
        extra["emobox"]["category"] = record["category"]
    return Segment(
        key=f"{dataset}/{speaker}/{rest}" if speaker else f"{dataset}/{rest}",
        path=wav,
        start=record.get("start_time"),
        end=record.get("end_time"),
        label=label,
        raw_label=raw,
        speaker=speaker,
        gender=record.get("gender") or None,
        corpus=dataset,
        duration=float(length) if length is not None else None,
        extra=extra,
    )


def _header(path: str | None) -> tuple[int, int | None] | None:
    """(sample_rate, frames) from the audio header, or None when the file is absent or unreadable."""
    if path is None or not os.path.isfile(path):
        return None
    try:
        info = audio_info(path)
    except AudioError:
        return None
    return int(info.sample_rate), info.frames


def to_emobox(utt: Segment, *, dataset: str | None = None, wav_root: str | Path | None = None,
              key: str | None = None, read_header: bool = True) -> dict[str, Any]:
    """One :class:`Segment` -> an EmoBox record (a dict ready for ``json.dumps``).

    Parameters
    ----------
    utt : Segment
        Needs ``path`` (EmoBox has no text-only items).
    dataset : str, optional
        EmoBox dataset name; default ``utt.corpus``.
    wav_root : path, optional
        Write ``wav`` relative to this folder (EmoBox's convention); default: the path as stored.
    key : str, optional
        EmoBox key; default: the key read from EmoBox, else ``<dataset>-<file stem>``.
    read_header : bool
        Read ``sample_rate``/``num_frame`` from the audio header when they are not known.
    """
    if utt.path is None:
        where = f" ({utt.origin})" if utt.origin else ""
        raise ValueError(f"{utt.key}{where}: EmoBox records need an audio path (text-only utterance)")
    dataset = dataset or utt.corpus or "custom"
    kept: dict[str, Any] = dict(utt.extra.get("emobox") or {})
    wav = utt.path
    if wav_root is not None:
        wav = Path(os.path.relpath(Path(utt.path).resolve(), Path(wav_root).resolve())).as_posix()
    length = utt.duration
    if length is None and utt.start is not None and utt.end is not None:
        length = utt.end - utt.start
    if length is None and read_header and os.path.isfile(utt.path):
        try:
            length = header_duration(utt.path) - (utt.start or 0.0)
        except ValueError:
            length = None  # unreadable header: the record goes out without "length"
    if "sample_rate" not in kept and read_header:
        hdr = _header(utt.path)
        if hdr is not None:
            kept["sample_rate"] = hdr[0]
            if utt.start is None and utt.end is None and hdr[1] is not None:
                kept["num_frame"] = float(hdr[1])
            elif length is not None:
                kept["num_frame"] = float(round(length * hdr[0]))
    rec: dict[str, Any] = {
        "key": key or utt.extra.get("emobox_key") or f"{dataset}-{Path(utt.path).stem}",
        "dataset": dataset,
        "wav": wav,
        "type": kept.pop("type", "raw"),
        "sample_rate": kept.pop("sample_rate", None),
        "num_frame": kept.pop("num_frame", None),  # absent ones are dropped below
        "task": kept.pop("task", "category"),
        "length": length,
        "emo": utt.raw_label if utt.raw_label is not None else utt.label,
        "channel": kept.pop("channel", 1),
    }
    for field in ("sample_rate", "num_frame", "length"):
        if rec[field] is None:
            del rec[field]
    if utt.start is not None:
        rec["start_time"] = utt.start
    if utt.end is not None:
        rec["end_time"] = utt.end
    if "category" in kept:  # the record came with a "category" field instead of "emo": keep its form
        rec.pop("emo")
    if utt.speaker is not None:
        rec["speaker"] = utt.speaker
    if utt.gender is not None:
        rec["gender"] = _GENDER_OUT.get(utt.gender, utt.gender)
    rec.update(kept)
    return rec


def _parse_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for every non-blank line."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for i, obj in json_lines(fh, path, hint="an EmoBox file has one JSON object per line"):
            if not isinstance(obj, dict) or "key" not in obj or "wav" not in obj:
                raise ManifestError(path, i, "not an EmoBox record (needs 'key' and 'wav')")
            records.append((i, obj))
    return records


def read_emobox_jsonl(path: str | Path, *, data_root: str | Path | None = None,
                      label_map: Mapping[str, str] | None = None) -> list[Segment]:
    """Read an EmoBox JSONL file (``<name>.jsonl`` or a fold file) into utterances, in file order.

    Raises :class:`ManifestError` with the line number for malformed lines and for duplicate keys.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, None, "EmoBox file not found", hint="give a data/<dataset>/<dataset>.jsonl file")
    out: list[Segment] = []
    seen: set[str] = set()
    for i, rec in _parse_lines(path):
        try:
            utt = from_emobox(rec, data_root=data_root, label_map=label_map)
        except ValueError as e:
            raise ManifestError(path, i, str(e)) from e
        if utt.key in seen:
            raise ManifestError(path, i, f"duplicate key {rec['key']!r}")
        seen.add(utt.key)
        out.append(utt)
    return out


def _unique_keys(utts: list[Segment], dataset: str) -> list[str]:
    """EmoBox keys ``<dataset>-<stem>``; items whose stem collides use their full key instead."""
    keys = [u.extra.get("emobox_key") or f"{dataset}-{Path(u.path or u.key).stem}" for u in utts]
    counts: dict[str, int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    return [k if counts[k] == 1 else f"{dataset}-{u.key.replace('/', '-')}" for k, u in zip(keys, utts, strict=True)]


def _write_records(path: Path, utts: list[Segment], keys: Mapping[str, str], *, dataset: str | None,
                   wav_root: str | Path | None, read_header: bool) -> None:
    with atomic_write(path) as fh:
        for u in utts:
            rec = to_emobox(u, dataset=dataset, wav_root=wav_root, key=keys[u.key], read_header=read_header)
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def write_emobox_jsonl(path: str | Path, utterances: Iterable[Segment], *, dataset: str | None = None,
                       wav_root: str | Path | None = None, read_header: bool = True) -> int:
    """Write utterances as an EmoBox JSONL file (atomically); returns how many were written.

    Text-only utterances (``path=None``) are skipped: EmoBox has no place for them.
    """
    utts = [u for u in utterances if u.path is not None]
    ds = dataset or (utts[0].corpus if utts else None) or "custom"
    keys = dict(zip((u.key for u in utts), _unique_keys(utts, ds), strict=True))
    _write_records(Path(path), utts, keys, dataset=dataset, wav_root=wav_root, read_header=read_header)
    return len(utts)


def read_emobox_dataset(dataset_dir: str | Path, *, data_root: str | Path | None = None) -> list[Segment]:
    """Read an EmoBox ``data/<name>/`` folder: all utterances plus their fold membership.

    Uses ``label_map.json`` for canonical labels when present. ``extra['emobox_folds']`` maps
    each fold number (as a string) to ``"train"``, ``"valid"`` or ``"test"``.
    """
    d = Path(dataset_dir)
    name = d.name
    if not d.is_dir():
        raise CorpusLayoutError(f"emobox: {d} is not a folder", hint="give EmoBox's data/<dataset> folder")
    lm_path = d / "label_map.json"
    label_map = json.loads(lm_path.read_text(encoding="utf-8")) if lm_path.is_file() else None
    fold_files = sorted(d.glob(f"fold_*/{name}_*_fold_*.jsonl"))
    main = d / f"{name}.jsonl"
    if not main.is_file() and not fold_files:
        raise CorpusLayoutError(f"emobox: {d} holds neither {name}.jsonl nor fold_<k>/{name}_<split>_fold_<k>.jsonl",
                                hint="give EmoBox's data/<dataset> folder")
    utts: dict[str, Segment] = {}
    if main.is_file():
        for u in read_emobox_jsonl(main, data_root=data_root, label_map=label_map):
            utts[u.extra["emobox_key"]] = u
    for f in fold_files:
        split, fold = f.stem[len(name) + 1:].rsplit("_fold_", 1)
        for u in read_emobox_jsonl(f, data_root=data_root, label_map=label_map):
            kept = utts.setdefault(u.extra["emobox_key"], u)
            kept.extra.setdefault("emobox_folds", {})[fold] = split
    return list(utts.values())


def write_emobox_dataset(out_dir: str | Path, utterances: Iterable[Segment], *, dataset: str,
                         folds: Mapping[int | str, Mapping[str, Iterable[str]]] | None = None,
                         wav_root: str | Path | None = None, read_header: bool = True) -> Path:
    """Write an EmoBox ``<out_dir>/<dataset>/`` folder: ``<dataset>.jsonl``, ``label_map.json`` and folds.

    Parameters
    ----------
    out_dir : path
        Parent folder (EmoBox's ``data/``).
    utterances : iterable of Segment
        Text-only utterances are skipped.
    dataset : str
        EmoBox dataset name (folder and file names).
    folds : mapping, optional
        Fold number -> {"train": keys, "test": keys[, "valid": keys]} with *Segment* keys.
        Default: the ``extra['emobox_folds']`` read by :func:`read_emobox_dataset`, if any.
    wav_root : path, optional
        Write ``wav`` paths relative to this folder.
    read_header : bool
        Read sample rates from the audio headers when unknown.

    Returns
    -------
    Path
        The dataset folder written.
    """
    utts = [u for u in utterances if u.path is not None]
    target = Path(out_dir) / dataset
    emokeys = dict(zip((u.key for u in utts), _unique_keys(utts, dataset), strict=True))
    _write_records(target / f"{dataset}.jsonl", utts, emokeys, dataset=dataset, wav_root=wav_root,
                   read_header=read_header)
    labels = {u.raw_label: (u.label or u.raw_label).capitalize() for u in utts if u.raw_label is not None}
    with atomic_write(target / "label_map.json") as fh:
        json.dump(dict(sorted(labels.items())), fh, indent=4, ensure_ascii=False)
    if folds is None:
        derived: dict[str, dict[str, list[str]]] = {}
        for u in utts:
            for fold, split in (u.extra.get("emobox_folds") or {}).items():
                derived.setdefault(str(fold), {}).setdefault(split, []).append(u.key)
        folds = derived
    by_key = {u.key: u for u in utts}
    for fold, parts in folds.items():
        for split, keys in parts.items():
            chosen = []
            for k in keys:
                if k not in by_key:
                    raise CorpusLayoutError(f"emobox: fold {fold} {split} names {k!r}, which is not among the utterances",
                                            hint="fold lists must use the keys of the utterances written")
                chosen.append(by_key[k])
            _write_records(target / f"fold_{fold}" / f"{dataset}_{split}_fold_{fold}.jsonl", chosen, emokeys,
                           dataset=dataset, wav_root=wav_root, read_header=read_header)
    return target
