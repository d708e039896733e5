"""What every recipe does after parsing: missing-audio policy, durations, unique sorted keys."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from spokenemo.audio import audio_info
from spokenemo.core.errors import AudioError, CorpusLayoutError, LabelError
from spokenemo.data.manifest import Segment

log = logging.getLogger(__name__)

OnMissing = Literal["error", "skip", "keep"]
ON_MISSING_CHOICES: tuple[str, ...] = ("error", "skip", "keep")

#: ``extra`` key a recipe sets (to the expected location) when a labelled item has no audio file.
MISSING_KEY = "missing_audio"
#: ``extra`` key set when an audio header could not be read while filling durations.
AUDIO_ERROR_KEY = "audio_error"


def canonical_label(raw: str, mapping: Mapping[str, str], corpus: str, where: str | Path) -> str:
    """Map a corpus label to its canonical name, or raise :class:`LabelError` naming ``where``."""
    try:
        return mapping[raw]
    except KeyError:
        known = ", ".join(sorted(mapping))
        raise LabelError(f"{corpus}: unknown label {raw!r} in {where}",
                         hint=f"the {corpus} release uses: {known}") from None


def check_on_missing(on_missing: str) -> None:
    if on_missing not in ON_MISSING_CHOICES:
        raise CorpusLayoutError(f"on_missing must be one of {', '.join(ON_MISSING_CHOICES)}, got {on_missing!r}",
                                hint="'error' stops, 'skip' drops items without audio, 'keep' keeps them with path=None")


def apply_missing_policy(utts: list[Segment], corpus: str, root: Path, on_missing: str) -> list[Segment]:
    """Deal with utterances whose audio the recipe could not find (``extra['missing_audio']`` set).

    ``'error'`` raises :class:`CorpusLayoutError` listing the first few, ``'skip'`` drops them
    (logging how many), ``'keep'`` keeps them with ``path=None``.
    """
    check_on_missing(on_missing)
    missing = [u for u in utts if MISSING_KEY in u.extra]
    if not missing or on_missing == "keep":
        if missing:
            log.warning("%s: %d labelled utterances have no audio (kept with path=None)", corpus, len(missing))
        return utts
    if on_missing == "skip":
        log.warning("%s: skipped %d labelled utterances without audio, e.g. %s (expected %s)",
                    corpus, len(missing), missing[0].key, missing[0].extra[MISSING_KEY])
        return [u for u in utts if MISSING_KEY not in u.extra]
    shown = "; ".join(f"{u.key} (expected {u.extra[MISSING_KEY]})" for u in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    raise CorpusLayoutError(
        f"{corpus}: {len(missing)} of {len(utts)} labelled utterances under {root} have no audio file: {shown}{more}",
        hint="restore the missing files, or pass on_missing='skip' (drop them) or 'keep' (keep them without audio)")


# --- durations ---------------------------------------------------------------------------------
def _is_lfs_pointer(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(40).startswith(b"version https://git-lfs")
    except OSError:
        return False


def header_duration(path: str) -> float:
    """Duration in seconds read from the file header with :func:`spokenemo.audio.audio_info`.

    Nothing is decoded, so this stays fast on thousands of files. Raises ``ValueError`` with a
    readable reason (a Git LFS pointer left by a clone without ``git lfs pull`` is named as such).
    """
    try:
        info = audio_info(path)
    except AudioError as e:
        if _is_lfs_pointer(path):
            raise ValueError("a Git LFS pointer, not audio (run `git lfs pull` in the corpus repository)") from e
        raise ValueError(e.message) from e
    if info.duration is None:
        raise ValueError("the file header records no duration")
    return float(info.duration)


def fill_durations(utts: list[Segment], corpus: str) -> None:
    """Set ``duration`` from the audio headers, in place.

    Segments (``start``/``end`` set) get ``end - start``. A file whose header cannot be read keeps
    ``duration=None`` and records the reason in ``extra['audio_error']`` (one warning in total).
    """
    cache: dict[str, float | Exception] = {}
    failed = 0
    for u in utts:
        if u.path is None or u.duration is not None:
            continue
        if u.start is not None and u.end is not None:
            u.duration = round(u.end - u.start, 6)
            continue
        got = cache.get(u.path)
        if got is None:
            try:
                got = header_duration(u.path)
            except ValueError as e:
                got = e
            cache[u.path] = got
        if isinstance(got, Exception):
            u.extra[AUDIO_ERROR_KEY] = str(got)
            failed += 1
            continue
        u.duration = round(max(0.0, got - (u.start or 0.0)), 6)
    if failed:
        first = next(u for u in utts if AUDIO_ERROR_KEY in u.extra)
        log.warning("%s: could not read the audio header of %d files, e.g. %s: %s",
                    corpus, failed, first.path, first.extra[AUDIO_ERROR_KEY])


def finish(utts: list[Segment], corpus: str, root: Path, *, with_duration: bool, on_missing: str) -> list[Segment]:
    """The common tail of every recipe: missing-audio policy, unique keys, durations, sort by key."""
    utts = apply_missing_policy(utts, corpus, root, on_missing)
    seen: set[str] = set()
    for u in utts:
        if u.key in seen:
            raise CorpusLayoutError(f"{corpus}: two utterances under {root} share the key {u.key!r}",
                                    hint="the release has a duplicated file or label line; remove one")
        seen.add(u.key)
    if not utts:
        raise CorpusLayoutError(f"{corpus}: no utterances found under {root}",
                                hint="check the corpus root and the recipe options")
    utts.sort(key=lambda u: u.key)
    if with_duration:
        fill_durations(utts, corpus)
    return utts
