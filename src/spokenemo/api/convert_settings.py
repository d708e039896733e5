"""The S2S-ZEST evaluation settings (thesis Table 5.1) built on local corpora (thesis.md 6.6).

RAVDESS is parallel, so a neutral source can be paired with a reference of the same or another actor
saying the same or the other statement:

=======  ======================================================================================
SSST     same actor, same statement, same repetition, a strong-intensity emotional reference
SSDT     same actor, the other statement
DSST     another actor of the reference pool, same statement
DSDT     another actor, the other statement
UTE      references in emotions the converter never saw (fearful, disgust), another actor
USS      sources from another corpus (nEMO / Korean neutral speech), RAVDESS references
USUE     those sources with fearful / disgust references
=======  ======================================================================================

Each source gets one reference per emotion; "another actor" is drawn with a seeded rank
(:func:`spokenemo.core.sampling.seeded_rank`), so the pairs are the same on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spokenemo.core.errors import ConfigError
from spokenemo.core.sampling import seeded_rank
from spokenemo.systems.zest.corpus import Clip, select

SETTINGS = ("SSST", "SSDT", "DSST", "DSDT", "UTE", "USS", "USUE")
SEEN_EMOTIONS = ("happy", "angry", "sad", "surprised")
UNSEEN_EMOTIONS = ("fearful", "disgust")


@dataclass(frozen=True)
class Side:
    """One clip of a pair: path, speaker, emotion and text (statement id or transcript)."""

    path: str
    speaker: str
    emotion: str
    text: str


@dataclass(frozen=True)
class Pair:
    """A source -> reference pair of one setting."""

    setting: str
    source: Side
    reference: Side

    @property
    def key(self) -> str:
        return f"{self.setting}:{self.source.path}->{self.reference.path}"


def side(clip: Clip) -> Side:
    return Side(clip.path, f"ravdess/{clip.actor}", clip.emotion, clip.statement)


def _pick(candidates: list[Clip], salt: str, seed: int) -> Clip | None:
    if not candidates:
        return None
    return min(candidates, key=lambda c: seeded_rank(f"{salt}:{c.key}", seed))


def ravdess_pairs(clips: Sequence[Clip], setting: str, *, source_actors: Sequence[str],
                  reference_actors: Sequence[str], source_repetitions: Sequence[str] = ("01", "02"),
                  emotions: Sequence[str] | None = None, seed: int = 0) -> list[Pair]:
    """The pairs of one RAVDESS setting (SSST, SSDT, DSST, DSDT or UTE; see the module docstring)."""
    if setting not in ("SSST", "SSDT", "DSST", "DSDT", "UTE"):
        raise ConfigError(f"{setting!r} is not a RAVDESS setting", hint="one of SSST SSDT DSST DSDT UTE")
    same_spk = setting.startswith("SS")
    same_txt = setting.endswith("ST")
    emotions = UNSEEN_EMOTIONS if setting == "UTE" else (emotions or SEEN_EMOTIONS)
    sources = select(clips, actors=source_actors, emotions=["neutral"], repetitions=source_repetitions)
    pairs = []
    for src in sources:
        for emo in emotions:
            pool = select(clips, emotions=[emo], intensities=["02"],
                          actors=[src.actor] if same_spk else [a for a in reference_actors if a != src.actor])
            pool = [c for c in pool if (c.statement == src.statement) == same_txt
                    and (not same_spk or c.repetition == src.repetition)]
            ref = _pick(pool, f"{setting}:{src.key}:{emo}", seed)
            if ref is not None:
                pairs.append(Pair(setting, side(src), side(ref)))
    return pairs


def foreign_pairs(sources: Sequence[Side], clips: Sequence[Clip], setting: str, *, reference_actors: Sequence[str],
                  seed: int = 0) -> list[Pair]:
    """USS (seen emotions) or USUE (fearful, disgust): foreign-corpus sources, RAVDESS references."""
    if setting not in ("USS", "USUE"):
        raise ConfigError(f"{setting!r} is not a foreign-source setting", hint="USS or USUE")
    emotions = SEEN_EMOTIONS if setting == "USS" else UNSEEN_EMOTIONS
    pairs = []
    for src in sources:
        for emo in emotions:
            pool = select(clips, emotions=[emo], intensities=["02"], actors=reference_actors)
            ref = _pick(pool, f"{setting}:{src.path}:{emo}", seed)
            if ref is not None:
                pairs.append(Pair(setting, src, side(ref)))
    return pairs
