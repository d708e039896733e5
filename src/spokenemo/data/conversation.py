"""Beyond single segments: the recordings segments are cut from and the conversations they form.

>>> from spokenemo.data import Segment, conversations
>>> segs = [Segment(key=f"d/{t}", dialogue="d1", turn=t, speaker="AB"[t % 2], corpus="x") for t in (2, 0, 1)]
>>> [c.keys for c in conversations(segs)]
[('d/0', 'd/1', 'd/2')]

A **conversation** is every segment of one corpus that names the same ``dialogue``, ordered by
``turn``; two segments of one dialogue with the same turn are an error. A **recording** is one
audio file with the segments cut from it (one for an acted utterance, many for a podcast).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from spokenemo.audio import audio_info
from spokenemo.core.errors import AudioError, ManifestError, SpokenemoError
from spokenemo.data.manifest import Segment


class ConversationError(SpokenemoError):
    """Segments do not form well-ordered conversations (a missing or repeated turn)."""


def natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers numerically (``"Actor_2"`` < ``"Actor_10"``)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p)


@dataclass(frozen=True)
class Conversation:
    """The segments of one dialogue, in turn order.

    Attributes
    ----------
    id : str
        The ``dialogue`` of its segments.
    corpus : str or None
        Their corpus (dialogue ids are unique within a corpus only).
    segments : tuple of Segment
        The turns, ordered by ``turn``.
    """

    id: str
    corpus: str | None
    segments: tuple[Segment, ...]

    def __len__(self) -> int:
        return len(self.segments)

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    @property
    def name(self) -> str:
        """``"corpus/dialogue"``: unique across corpora."""
        return f"{self.corpus}/{self.id}" if self.corpus else self.id

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.segments)

    @property
    def turns(self) -> tuple[int, ...]:
        return tuple(int(s.turn) for s in self.segments)  # type: ignore[arg-type]

    @property
    def labels(self) -> tuple[str | None, ...]:
        return tuple(s.label for s in self.segments)

    @property
    def speakers(self) -> tuple[str, ...]:
        """The speakers, in the order they first speak (segments without a speaker are left out)."""
        return tuple(dict.fromkeys(s.speaker for s in self.segments if s.speaker))


def dialogue_of(segment: Segment) -> str | None:
    """``"corpus/dialogue"`` of a segment (the conversation it belongs to), or None."""
    if segment.dialogue is None:
        return None
    return f"{segment.corpus}/{segment.dialogue}" if segment.corpus else segment.dialogue


def _where(segment: Segment) -> str:
    return f"{segment.key!r}" + (f" ({segment.origin})" if segment.origin else "")


def conversations(segments: Iterable[Segment]) -> list[Conversation]:
    """Group segments into conversations by ``(corpus, dialogue)``, each ordered by ``turn``.

    Segments without a ``dialogue`` belong to no conversation and are left out. Conversations
    come sorted by corpus, then by dialogue id in natural order (``dia2`` before ``dia10``), so
    the result does not depend on the order of ``segments``.

    Raises
    ------
    ConversationError
        A dialogue has a segment without ``turn``, or two segments with the same turn.
    """
    groups: dict[tuple[str, str], list[Segment]] = {}
    for s in segments:
        if s.dialogue is None:
            continue
        if s.turn is None:
            raise ConversationError(f"segment {_where(s)} of dialogue {s.dialogue!r} has no turn",
                                    hint="a conversation needs every turn's order; fix the recipe or the manifest")
        groups.setdefault((s.corpus or "", s.dialogue), []).append(s)
    out = []
    for (corpus, dialogue), members in sorted(groups.items(), key=lambda kv: (kv[0][0], natural_key(kv[0][1]))):
        members.sort(key=lambda s: (s.turn, s.key))
        for a, b in zip(members, members[1:], strict=False):
            if a.turn == b.turn:
                name = f"{corpus}/{dialogue}" if corpus else dialogue
                raise ConversationError(f"dialogue {name!r} has two segments with turn {a.turn}: "
                                        f"{_where(a)} and {_where(b)}",
                                        hint="turns order a dialogue and must be distinct; fix the recipe or the manifest")
        out.append(Conversation(id=dialogue, corpus=corpus or None, segments=tuple(members)))
    return out


@dataclass(frozen=True)
class Recording:
    """One audio file and the segments cut from it.

    Attributes
    ----------
    id : str
        The resolved path as text (unique per file).
    path : Path
        The audio file.
    corpus : str or None
        The corpus of its segments (``None`` when they disagree or name none).
    speakers : tuple of str
        The speakers of its segments, in order of first appearance.
    segments : tuple of str
        Keys of its segments, ordered by start offset.
    duration, sample_rate : float or None, int or None
        From the audio header (:func:`recordings` with ``read_header=True``), else the longest
        segment duration known and ``None``.
    """

    id: str
    path: Path
    corpus: str | None
    speakers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    duration: float | None = None
    sample_rate: int | None = None


def _recording(path: Path, members: Sequence[Segment], read_header: bool) -> Recording:
    members = sorted(members, key=lambda s: (s.start or 0.0, s.key))
    corpora = {s.corpus for s in members}
    duration = max((s.duration for s in members if s.duration is not None and s.start is None), default=None)
    rate = None
    if read_header:
        try:
            info = audio_info(path)
        except AudioError as err:
            where = next((s.origin for s in members if s.origin), None)
            raise ManifestError(where or path, None, f"recording of {members[0].key!r}: {err.message}",
                                hint=err.hint) from None
        duration, rate = info.duration, info.sample_rate
    return Recording(id=str(path), path=path, corpus=corpora.pop() if len(corpora) == 1 else None,
                     speakers=tuple(dict.fromkeys(s.speaker for s in members if s.speaker)),
                     segments=tuple(s.key for s in members), duration=duration, sample_rate=rate)


def recordings(segments: Iterable[Segment], *, base: str | Path | None = None,
               read_header: bool = False) -> list[Recording]:
    """The audio files behind ``segments`` (text-only segments are left out), sorted by path.

    Parameters
    ----------
    base : path, optional
        Folder relative paths resolve against (the manifest's folder).
    read_header : bool
        Read each file's header for its duration and sample rate.
    """
    groups: dict[Path, list[Segment]] = {}
    for s in segments:
        p = s.audio_path(base)
        if p is not None:
            groups.setdefault(p.resolve(), []).append(s)
    return [_recording(p, groups[p], read_header) for p in sorted(groups)]
