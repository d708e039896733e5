"""RAVDESS clips as S2S-ZEST sees them: actor, emotion, intensity, statement and repetition per file.

RAVDESS is parallel (2 statements x every emotion x every actor), which the evaluation settings use
(same / different text) and training never does (thesis.md 6.6).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from spokenemo.core.errors import CorpusLayoutError
from spokenemo.data import prepare

EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad",
            "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised"}
_NAME = re.compile(r"03-01-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)")


@dataclass(frozen=True)
class Clip:
    """One RAVDESS speech file."""

    path: str
    actor: str
    emotion: str
    intensity: str
    statement: str
    repetition: str

    @property
    def key(self) -> str:
        return Path(self.path).stem


def parse_clip(path: str | Path) -> Clip | None:
    """The fields of a RAVDESS speech file name, or None for another name."""
    m = _NAME.fullmatch(Path(path).stem)
    if not m:
        return None
    emo, intensity, statement, rep, actor = m.groups()
    return Clip(str(path), actor, EMOTIONS[emo], intensity, statement, rep)


def ravdess_clips(root: str | Path) -> list[Clip]:
    """Every speech clip under a RAVDESS root (``Actor_NN`` folders)."""
    clips = [parse_clip(s.path) for s in prepare("ravdess", str(root))]
    found = [c for c in clips if c is not None]
    if not found:
        raise CorpusLayoutError(f"{root}: no RAVDESS speech files", hint="point data.root at the RAVDESS folder")
    return sorted(found, key=lambda c: c.key)


def select(clips: Sequence[Clip], *, actors: Sequence[str] | None = None, emotions: Sequence[str] | None = None,
           repetitions: Sequence[str] | None = None, statements: Sequence[str] | None = None,
           intensities: Sequence[str] | None = None) -> list[Clip]:
    """The clips matching every given field."""
    def ok(value: str, allowed: Sequence[str] | None) -> bool:
        return allowed is None or value in allowed
    return [c for c in clips if ok(c.actor, actors) and ok(c.emotion, emotions) and ok(c.repetition, repetitions)
            and ok(c.statement, statements) and ok(c.intensity, intensities)]
