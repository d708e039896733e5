"""One fingerprinted, resumable store for per-item results: JSONL rows, Parquet tables, arrays.

Every long per-item computation (the features of each segment, an LLM's answer to each prompt)
is cached the same way:

- **append-only rows** (:class:`JsonlLog`): each row is one JSON line, flushed and fsync'ed as
  soon as it is computed, so a killed run loses at most the line being written. A torn last line
  is ignored when reading and cut off before the next append; a corrupt line *before* the last
  one is a :class:`~spokenemo.core.errors.ConfigError` (the file was edited, or is not a cache).
- **later lines win** (:class:`ResultStore`): a result row ``{"key", "source", <value>}`` or an
  error row ``{"key", "source", "error"}``; the last row of a key is the one that counts. An
  item whose last row is an error is computed again by the next run; ``source`` (what the
  result was computed from, e.g. an audio path and segment) must match too.
- **the fingerprint is part of the path** (:func:`fingerprint`, :meth:`ResultStore.at`): a hash
  of the settings and the code version, so changed settings never reuse stale rows. A store at
  a path the user chose records its fingerprint beside it instead (:func:`claim_fingerprint`)
  and refuses to mix rows of other settings.
- **arrays** (:class:`ArrayStore`): one ``.npy`` per item in a fingerprinted folder, indexed by a
  :class:`ResultStore`; **tables** (:func:`write_parquet`, :func:`read_rows`): whole Parquet or
  JSONL tables, written atomically.

>>> fingerprint({"sr": 16000, "set": "eGeMAPSv02"})
'c509f64a630a'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from spokenemo.core.errors import ConfigError
from spokenemo.core.fileio import append_jsonl, atomic_write, read_jsonl_tolerant
from spokenemo.core.lazy import optional_import

log = logging.getLogger(__name__)


def fingerprint(settings: Any, *, version: str | None = None, length: int = 12) -> str:
    """Short sha256 of ``settings`` (JSON with sorted keys; other objects by ``str``).

    Parameters
    ----------
    settings : anything JSON can write (dicts, lists, numbers, strings).
    version : the code version the results depend on (a package or algorithm version); hashed
        with the settings when given.
    length : hex digits kept.
    """
    blob = settings if version is None else {"settings": settings, "version": version}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:length]


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value, default=str))


# --- append-only rows ----------------------------------------------------------------------------
class JsonlLog:
    """An append-only JSONL file.

    Parameters
    ----------
    path : the file (created, with its folder, on the first append).
    what : what the file is, for error messages (``"teacher cache"``).
    """

    def __init__(self, path: str | Path, *, what: str = "cache") -> None:
        self.path = Path(path)
        self.what = what
        self._repaired = False

    def read(self) -> list[dict[str, Any]]:
        """All rows; a torn last line is ignored, an empty or missing file has none.

        Raises
        ------
        ConfigError
            A line before the last one is not JSON.
        """
        try:
            return read_jsonl_tolerant(self.path)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{self.path}: a line before the last one is not JSON ({err.msg})",
                              hint=f"the file was edited or is not a {self.what}; move it away and rerun") from err

    def append(self, row: Mapping[str, Any]) -> None:
        """Append one row (flushed and fsync'ed); the first append cuts a torn last line off."""
        if not self._repaired:
            self.repair()
            self._repaired = True
        append_jsonl(self.path, dict(row))

    def repair(self) -> bool:
        """Cut a torn last line (no newline: its write was interrupted) off the file, so the next
        append starts on a fresh line. Returns whether something was cut."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return False
        with open(self.path, "rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) == b"\n":
                return False
            fh.seek(0)
            content = fh.read()
            keep = content.rfind(b"\n") + 1
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        log.warning("%s: dropped a torn last line (%d bytes) left by an interrupted run", self.path,
                    len(content) - keep)
        return True

    def clear(self) -> None:
        """Remove the file (a missing file is fine)."""
        self.path.unlink(missing_ok=True)

    def exists(self) -> bool:
        return self.path.exists()


# --- per-item results ----------------------------------------------------------------------------
class ItemStore(Protocol):
    """What :func:`spokenemo.features.executor.run_items` fills: results and errors by key."""

    def has(self, key: str, source: Any = None) -> bool: ...

    def put(self, key: str, value: Any, *, source: Any = None) -> None: ...

    def put_error(self, key: str, error: Any, *, source: Any = None) -> None: ...


class ResultStore:
    """Per-item results by key in one :class:`JsonlLog`; the last row of a key wins.

    Parameters
    ----------
    path : the JSONL file.
    value_field : the row field that holds a result (``"features"`` for the feature cache).
    what : what the store is, for error messages.

    Rows are ``{"key", "source", value_field: value}`` for a result and ``{"key", "source",
    "error"}`` for a failure (``source`` only when one is given).
    """

    def __init__(self, path: str | Path, *, value_field: str = "value", what: str = "result cache") -> None:
        self.log = JsonlLog(path, what=what)
        self.path = self.log.path
        self.value_field = value_field
        self.rows: dict[str, dict[str, Any]] = {}
        for row in self.log.read():
            if row.get("key") is not None:
                self.rows[str(row["key"])] = row  # later lines win (a retried failure)

    @classmethod
    def at(cls, folder: str | Path, name: str, fingerprint: str, **kwargs: Any) -> ResultStore:
        """The store ``FOLDER/<name>-<fingerprint>.jsonl``: other settings, other file."""
        return cls(Path(folder) / f"{name}-{fingerprint}.jsonl", **kwargs)

    def _row(self, key: str, source: Any) -> dict[str, Any] | None:
        row = self.rows.get(key)
        if row is None or self.value_field not in row:
            return None
        if source is not None and row.get("source") != _plain(source):
            return None
        return row

    def has(self, key: str, source: Any = None) -> bool:
        """Whether ``key`` has a result (computed from ``source``, when given)."""
        return self._row(key, source) is not None

    def get(self, key: str, source: Any = None) -> Any:
        """The result of ``key`` (computed from ``source``, when given), or None."""
        row = self._row(key, source)
        return None if row is None else row[self.value_field]

    def failure(self, key: str) -> Any:
        """The recorded error of ``key`` when its last row is a failure, else None."""
        row = self.rows.get(key)
        return row.get("error") if row is not None and self.value_field not in row else None

    def put(self, key: str, value: Any, *, source: Any = None) -> None:
        """Append a result row for ``key``."""
        self._append(key, {self.value_field: value}, source)

    def put_error(self, key: str, error: Any, *, source: Any = None) -> None:
        """Append an error row for ``key`` (computed again by the next run)."""
        self._append(key, {"error": error}, source)

    def _append(self, key: str, body: dict[str, Any], source: Any) -> None:
        row: dict[str, Any] = {"key": key}
        if source is not None:
            row["source"] = source
        row.update(body)
        self.log.append(row)
        self.rows[key] = _plain(row)

    def __len__(self) -> int:
        return sum(self.value_field in row for row in self.rows.values())


class ArrayStore:
    """One ``.npy`` array per item in a folder, with a :class:`ResultStore` index (``index.jsonl``).

    Each array is written atomically before its index row, so an interrupted run leaves no row
    pointing at half a file.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.index = ResultStore(self.folder / "index.jsonl", value_field="file", what="array store index")

    @classmethod
    def at(cls, folder: str | Path, name: str, fingerprint: str) -> ArrayStore:
        """The store ``FOLDER/<name>-<fingerprint>/``: other settings, other folder."""
        return cls(Path(folder) / f"{name}-{fingerprint}")

    @staticmethod
    def file_name(key: str) -> str:
        """A file name for ``key``: readable, and unique through a hash of the key."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")[:80]
        return f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.npy"

    def has(self, key: str, source: Any = None) -> bool:
        file = self.index.get(key, source)
        return file is not None and (self.folder / file).is_file()

    def get(self, key: str, source: Any = None) -> np.ndarray | None:
        """The array of ``key`` (computed from ``source``, when given), or None."""
        return np.load(self.folder / self.index.get(key, source)) if self.has(key, source) else None

    def failure(self, key: str) -> Any:
        return self.index.failure(key)

    def put(self, key: str, value: Any, *, source: Any = None) -> None:
        name = self.file_name(key)
        with atomic_write(self.folder / name, "wb") as fh:
            np.save(fh, np.asarray(value))
        self.index.put(key, name, source=source)

    def put_error(self, key: str, error: Any, *, source: Any = None) -> None:
        self.index.put_error(key, error, source=source)


# --- stores at a path the user chose -------------------------------------------------------------
def claim_fingerprint(sidecar: str | Path, fp: str, settings: Any = None, *, resume: bool,
                      what: str = "cache", hint: str | None = None) -> None:
    """Record the fingerprint of a store whose path the user chose, in a JSON file beside it.

    Parameters
    ----------
    sidecar : the JSON file (``{"fingerprint": fp, "config": settings}``).
    fp : the fingerprint of the settings the store is filled with now.
    settings : the settings themselves (written for people and tools to read).
    resume : whether the store holds rows that this run will reuse: then the recorded
        fingerprint must be ``fp``.

    Raises
    ------
    ConfigError
        ``resume`` and the recorded fingerprint differs or is missing.
    """
    sidecar = Path(sidecar)
    if resume:
        old = None
        with contextlib.suppress(OSError, json.JSONDecodeError):
            old = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(old, dict) or old.get("fingerprint") != fp:
            raise ConfigError(f"{sidecar.parent}: the {what} there was computed with other settings "
                              f"(or its {sidecar.name} is missing)",
                              hint=hint or "recompute it (restart), or write elsewhere")
    with atomic_write(sidecar) as fh:
        json.dump({"fingerprint": fp, "config": settings}, fh, indent=1)
        fh.write("\n")


# --- whole tables --------------------------------------------------------------------------------
def write_parquet(path: str | Path, rows: list[dict[str, Any]], *, empty_columns: Iterable[str] = ()) -> None:
    """Write ``rows`` as a Parquet table, atomically; no rows gives string ``empty_columns``."""
    pa = optional_import("pyarrow", purpose="Parquet tables")
    pq = optional_import("pyarrow.parquet", purpose="Parquet tables")
    table = (pa.Table.from_pylist(rows) if rows
             else pa.table({c: pa.array([], pa.string()) for c in empty_columns}))
    with atomic_write(path, "wb") as fh:
        pq.write_table(table, fh)


def read_rows(path: str | Path, *, what: str = "table", hint: str | None = None) -> list[dict[str, Any]]:
    """Rows of a ``.jsonl`` (tolerant: a torn last line is ignored) or Parquet table.

    Raises
    ------
    ConfigError
        The file is missing, not readable Parquet, or has a corrupt JSON line.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {what} not found", hint=hint)
    if path.suffix == ".jsonl":
        return JsonlLog(path, what=what).read()
    pq = optional_import("pyarrow.parquet", purpose="Parquet tables")
    try:
        return pq.read_table(path).to_pylist()
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for bad files
        raise ConfigError(f"{path}: not a readable Parquet file ({err})", hint=hint) from None
