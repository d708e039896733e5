"""The one speaker rule: who is speaking, across corpora.

Speaker ``"01"`` of RAVDESS and speaker ``"01"`` of CREMA-D are two people, so a speaker's
identity is ``"corpus/speaker"``. An utterance whose corpus names no speaker is its own
speaker (``"corpus/?key"``): it can never be in train and test at once, and it never pools
statistics with anyone else.

>>> speaker_id("ravdess", "01")
'ravdess/01'
>>> speaker_id("meld", None, key="dia1_utt2")
'meld/?dia1_utt2'
>>> speaker_id("meld", "", key=None) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == ""


def speaker_id(corpus: str | None, speaker: Any, *, key: str | None = None) -> str | None:
    """``"corpus/speaker"``; without a speaker ``"corpus/?key"``, or None when there is no key either."""
    prefix = f"{corpus}/" if corpus else ""
    if not _missing(speaker):
        return f"{prefix}{speaker}"
    return f"{prefix}?{key}" if key else None


def speaker_of(item: Any) -> str:
    """Speaker identity of a segment (anything with ``corpus``, ``speaker`` and ``key``)."""
    return str(speaker_id(item.corpus, item.speaker, key=item.key))


def speaker_of_row(row: Mapping[str, Any]) -> str | None:
    """Speaker identity of a table row (a cue row, a prediction row); None when it names no speaker."""
    if _missing(row.get("speaker")):
        return None
    return speaker_id(row.get("corpus"), row.get("speaker"))


def has_speaker(item: Any) -> bool:
    """Whether the corpus named this segment's speaker."""
    return not _missing(getattr(item, "speaker", None))
