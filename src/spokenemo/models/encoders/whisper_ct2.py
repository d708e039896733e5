"""A small pure reader of CTranslate2's ``model.bin`` (binary format version 6).

The file is a flat list of named arrays (the layout that
``ctranslate2.specs.model_spec.ModelSpec._serialize`` writes), little-endian:

- ``uint32`` format version, the spec name (a string), ``uint32`` spec revision, ``uint32`` count;
- per variable: name (string), rank (``uint8``), dims (``uint32`` each), dtype (``uint8``:
  0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16), byte count (``uint32``), raw data;
- ``uint32`` alias count, then (alias, target) string pairs.

A string is a ``uint16`` length that counts a trailing NUL, then the bytes. Variables are sorted
by name (``decoder/...`` before ``encoder/...``). :func:`read_ct2_model` reads the variables whose
name starts with a prefix (the others are skipped without reading their data) and raises
:class:`CorruptModelError` for a missing, truncated or malformed file.

>>> model = read_ct2_model("model.bin", prefix="encoder/")          # doctest: +SKIP
>>> model.arrays["encoder/conv1/weight"].shape                      # doctest: +SKIP
(384, 80, 3)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from spokenemo.core.errors import ModelNotFoundError

#: The binary format versions this reader understands.
SUPPORTED_VERSIONS = (6,)
#: dtype id -> numpy dtype (bfloat16 is kept as raw uint16 bits and widened on read).
DTYPES: dict[int, str] = {0: "<f4", 1: "i1", 2: "<i2", 3: "<i4", 4: "<f2", 5: "<u2"}
BFLOAT16 = 5
_MAX_RANK = 8


class CorruptModelError(ModelNotFoundError):
    """A ``model.bin`` is truncated or not in CTranslate2's format; the message names the file."""


@dataclass(frozen=True)
class Ct2Model:
    """What :func:`read_ct2_model` read: header fields, the selected arrays and all aliases."""

    path: Path
    version: int
    spec: str
    revision: int
    count: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> np.ndarray:
        """Array ``name`` (following an alias); a missing one is a :class:`CorruptModelError`."""
        name = self.aliases.get(name, name)
        try:
            return self.arrays[name]
        except KeyError:
            raise CorruptModelError(f"{self.path}: no variable {name!r} in this {self.spec} model",
                                    hint="is it the model you meant? reinstall its package") from None


class _Reader:
    """Sequential little-endian reads that turn a short read into :class:`CorruptModelError`."""

    def __init__(self, f: BinaryIO, path: Path, size: int, hint: str) -> None:
        self.f, self.path, self.size, self.hint = f, path, size, hint

    def fail(self, what: str) -> CorruptModelError:
        return CorruptModelError(f"{self.path}: {what} (at byte {self.f.tell()} of {self.size}); "
                                 "the file is truncated or not a CTranslate2 model.bin", hint=self.hint)

    def take(self, n: int, what: str) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise self.fail(f"file ends inside {what}")
        return data

    def skip(self, n: int, what: str) -> None:
        if self.f.tell() + n > self.size:
            raise self.fail(f"file ends inside {what}")
        self.f.seek(n, 1)

    def uint(self, fmt: str, what: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        n = self.uint("H", what)
        raw = self.take(n, what)
        if n == 0 or raw[-1:] != b"\0":
            raise self.fail(f"{what} is not a NUL-terminated string")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not UTF-8") from None


def read_ct2_model(path: str | Path, *, prefix: str = "", package: str | None = None) -> Ct2Model:
    """Read a CTranslate2 ``model.bin``: its header and the arrays whose names start with ``prefix``.

    Parameters
    ----------
    path : the ``model.bin`` file.
    prefix : read only variables whose name starts with it (``"encoder/"``); ``""`` reads all.
    package : the pip package that ships the file, named in the errors' fix.

    Raises
    ------
    ModelNotFoundError
        The file is missing.
    CorruptModelError
        Truncated, an unknown format version or dtype, or bytes after the alias table.
    """
    path = Path(path)
    hint = f"reinstall it: pip install --force-reinstall {package}" if package else \
        "convert the model again with ct2-transformers-converter"
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: no such model file",
                                 hint=f"pip install {package}" if package else "check the path")
    size = path.stat().st_size
    with open(path, "rb") as f:
        r = _Reader(f, path, size, hint)
        version = r.uint("I", "the format version")
        if version not in SUPPORTED_VERSIONS:
            raise r.fail(f"format version {version} is not supported ({SUPPORTED_VERSIONS})")
        spec = r.string("the spec name")
        revision = r.uint("I", "the spec revision")
        count = r.uint("I", "the variable count")
        arrays = {}
        for i in range(count):
            name, value = _read_variable(r, i, prefix)
            if value is not None:
                arrays[name] = value
        aliases = _read_aliases(r)
        if f.tell() != size:
            raise r.fail(f"{size - f.tell()} unexpected bytes after the alias table")
    return Ct2Model(path, version, spec, revision, count, arrays, aliases)


def _read_variable(r: _Reader, index: int, prefix: str) -> tuple[str, np.ndarray | None]:
    """One variable's name and array (None when its name does not start with ``prefix``)."""
    name = r.string(f"the name of variable {index}")
    rank = r.uint("B", f"the rank of {name}")
    if rank > _MAX_RANK:
        raise r.fail(f"{name} has rank {rank}")
    dims = tuple(r.uint("I", f"the shape of {name}") for _ in range(rank))
    dtype_id = r.uint("B", f"the dtype of {name}")
    if dtype_id not in DTYPES:
        raise r.fail(f"{name} has an unknown dtype id {dtype_id}")
    nbytes = r.uint("I", f"the byte count of {name}")
    dtype = np.dtype(DTYPES[dtype_id])
    if nbytes != int(np.prod(dims, dtype=np.int64)) * dtype.itemsize:
        raise r.fail(f"{name}: {nbytes} bytes do not hold shape {dims} of {dtype}")
    if not name.startswith(prefix):
        r.skip(nbytes, f"the data of {name}")
        return name, None
    value = np.frombuffer(r.take(nbytes, f"the data of {name}"), dtype=dtype).reshape(dims)
    if dtype_id == BFLOAT16:
        value = (value.astype(np.uint32) << 16).view(np.float32)
    return name, value


def _read_aliases(r: _Reader) -> dict[str, str]:
    n = r.uint("I", "the alias count")
    out = {}
    for i in range(n):
        alias = r.string(f"alias {i}")
        out[alias] = r.string(f"the target of alias {alias!r}")
    return out
