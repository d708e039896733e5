"""Conversations for HCAM, checked: every turn labelled within the classes, no one-turn
conversation unless allowed, no dialogue in two fold parts, every turn's modality present.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from spokenemo.core.errors import LabelError, ProtocolError
from spokenemo.data.conversation import Conversation, ConversationError, conversations, dialogue_of
from spokenemo.data.manifest import Segment
from spokenemo.systems.hcam.cache import HcamInputError, speech_key, text_key


def hcam_conversations(segments: Sequence[Segment], *, single_turn: str = "error",
                       what: str = "segments") -> list[Conversation]:
    """The conversations of ``segments`` (every segment must belong to one).

    Raises
    ------
    HcamInputError
        A segment has no ``dialogue``.
    ConversationError
        A conversation has one turn and ``single_turn`` is ``"error"`` (or a turn is repeated).
    """
    lone = [s.key for s in segments if s.dialogue is None]
    if lone:
        raise HcamInputError(f"{len(lone)} {what} belong to no conversation (no dialogue), e.g. {lone[:3]}",
                             hint="HCAM labels turns of conversations: fill dialogue and turn in the manifest")
    convs = conversations(segments)
    short = [c.name for c in convs if len(c) < 2]
    if short and single_turn == "error":
        raise ConversationError(f"{len(short)} conversation(s) of {what} have a single turn, e.g. {short[:3]}",
                                hint="a one-turn conversation has no context; set single_turn='allow' to keep them")
    return convs


def check_labels(segments: Sequence[Segment], classes: Sequence[str], what: str) -> None:
    """A :class:`LabelError` naming the first turns whose label is missing or outside ``classes``."""
    bad = [(s.key, s.label) for s in segments if s.label not in set(classes)]
    if bad:
        raise LabelError(f"{len(bad)} {what} turn(s) have a label outside {list(classes)}, e.g. {bad[:3]}",
                         hint="apply the task's label set first (spokenemo.protocols.labels.apply_label_set)")


def check_modalities(segments: Sequence[Segment], modalities: Sequence[str]) -> None:
    """An :class:`HcamInputError` for the first turn without audio (speech) or text (text)."""
    for s in segments:
        if "speech" in modalities:
            speech_key(s)
        if "text" in modalities:
            text_key(s)


def check_apart(parts: dict[str, Sequence[Segment]]) -> None:
    """A :class:`ProtocolError` when one dialogue has turns in two parts (train, valid, test)."""
    owner: dict[str, str] = {}
    for part, segs in parts.items():
        for s in segs:
            d = str(dialogue_of(s))
            if owner.setdefault(d, part) != part:
                raise ProtocolError(f"dialogue {d!r} is split across fold parts ({owner[d]} and {part})",
                                    hint="keep conversations whole: use a dialogue-level protocol "
                                         "(official, dialogue-kfold, session folds)")


def split_selection(convs: Sequence[Conversation], fraction: float, seed: int) -> tuple[list[Conversation],
                                                                                         list[Conversation]]:
    """Whole conversations held out of training for choosing the epoch (when a fold has no validation part)."""
    order = sorted(convs, key=lambda c: c.name)
    random.Random(f"hcam-select:{seed}").shuffle(order)
    n = max(1, round(fraction * len(order))) if len(order) > 1 else 0
    return order[n:], order[:n]


__all__ = ["ConversationError", "check_apart", "check_labels", "check_modalities", "hcam_conversations",
           "split_selection"]
