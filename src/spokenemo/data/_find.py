"""Finding a corpus's folders and audio files, with layout errors that say what was expected.

Recipes find audio *by stem* whatever the extension, so a corpus re-encoded to FLAC or Opus
(as in ``shared/data``) or converted to WAV (MELD clips) is read by the same recipe.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from spokenemo.core.errors import CorpusLayoutError

#: Audio (or audio-bearing video) extensions, in the order preferred when one stem has several.
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".opus", ".ogg", ".mp3", ".m4a", ".mp4")
_RANK = {ext: i for i, ext in enumerate(AUDIO_EXTENSIONS)}


def resolve_root(root: str | Path, corpus: str, expected: str) -> Path:
    """Return ``root`` absolute and resolved, or raise if it is not an existing folder.

    Parameters
    ----------
    root : str or Path
        The corpus root given by the user.
    corpus : str
        Recipe name, used in the message.
    expected : str
        One line describing the layout the recipe expects under ``root``.
    """
    path = Path(root).expanduser()
    if not path.exists():
        raise CorpusLayoutError(f"{corpus}: corpus root {path} does not exist",
                                hint=f"give the folder of the {corpus} release, which holds {expected}")
    path = path.resolve()
    if not path.is_dir():
        raise CorpusLayoutError(f"{corpus}: corpus root {path} is not a folder",
                                hint=f"give the folder of the {corpus} release, which holds {expected}")
    return path


def layout_error(corpus: str, root: Path, expected: str, found: str | None = None) -> CorpusLayoutError:
    """A :class:`CorpusLayoutError` naming the root, what was expected and (optionally) what was found."""
    msg = f"{corpus}: {root} does not look like the {corpus} release: expected {expected}"
    if found:
        msg += f"; found {found}"
    return CorpusLayoutError(msg, hint=f"point the recipe at the folder that holds {expected}")


def describe_folder(path: Path, limit: int = 6) -> str:
    """A short listing of ``path`` for error messages (``'a/, b.txt, ... (12 entries)'``)."""
    try:
        names = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(path))
    except OSError:
        return "nothing readable"
    if not names:
        return "an empty folder"
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} entries)" if len(names) > limit else "")


def child_dirs(path: Path, pattern: str | None = None) -> list[Path]:
    """Sub-folders of ``path`` (sorted), optionally those whose name fully matches ``pattern``."""
    rx = re.compile(pattern) if pattern else None
    try:
        entries = list(os.scandir(path))
    except OSError:
        return []
    out = [Path(e.path) for e in entries
           if e.is_dir() and not e.name.startswith(".") and (rx is None or rx.fullmatch(e.name))]
    return sorted(out)


def _is_audio_name(name: str) -> bool:
    # "._x.wav" are macOS resource forks shipped inside some tarballs (MELD.Raw): not audio.
    if name.startswith("."):
        return False
    return os.path.splitext(name)[1].lower() in _RANK


def iter_audio(folder: Path, recursive: bool = True) -> Iterable[Path]:
    """Yield audio files under ``folder`` in a stable (sorted) order."""
    if recursive:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if _is_audio_name(name):
                    yield Path(dirpath) / name
    else:
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.is_file())
        except OSError:
            return
        for name in names:
            if _is_audio_name(name):
                yield folder / name


def index_audio(folder: Path, recursive: bool = True) -> dict[str, Path]:
    """Map file stem -> audio path for every audio file under ``folder``.

    When a stem exists with several extensions the one earliest in :data:`AUDIO_EXTENSIONS`
    wins (``.wav`` before ``.flac`` before ``.opus``...); when it exists in several folders the
    first in sorted order wins. A missing ``folder`` gives an empty index.
    """
    index: dict[str, Path] = {}
    if not folder.is_dir():
        return index
    for path in iter_audio(folder, recursive=recursive):
        stem = path.stem
        old = index.get(stem)
        if old is None or _RANK[path.suffix.lower()] < _RANK[old.suffix.lower()]:
            index[stem] = path
    return index


def expected_audio(folder: Path, stem: str) -> str:
    """How a missing file is described: ``'<folder>/<stem>.{wav,flac,...}'``."""
    exts = ",".join(e.lstrip(".") for e in AUDIO_EXTENSIONS)
    return f"{folder / stem}.{{{exts}}}"


def read_text(path: Path, encodings: tuple[str, ...] = ("utf-8-sig", "utf-16", "cp1252")) -> str:
    """Read a small text file trying ``encodings`` in turn (a UTF-16 BOM is honoured first)."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    last: UnicodeDecodeError | None = None
    for enc in encodings:
        if enc == "utf-16" and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        try:
            return raw.decode(enc)
        except UnicodeDecodeError as e:
            last = e
    raise CorpusLayoutError(f"{path}: cannot decode the text file ({last})",
                            hint=f"save it as UTF-8; tried {', '.join(encodings)}")
