"""MiSTER-E's view of a fold part: whole conversations with checked turns and labels.

Bad input, each a :class:`~spokenemo.models.moe.errors.MoeInputError` naming the segment and the fix:

- a segment without ``dialogue`` (MiSTER-E labels turns *in context*; single utterances need
  pseudo-conversations, :mod:`spokenemo.data.pseudo`);
- a training or validation turn without a label, or with a label outside the task's classes;
- a dialogue split across fold parts (its turns in training and in validation or test).

A conversation of a single turn is allowed (the CAN then has no context; documented).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from spokenemo.data.conversation import Conversation, conversations
from spokenemo.data.manifest import Segment
from spokenemo.models.moe.errors import MoeInputError


def conversations_of(segments: Sequence[Segment], part: str) -> list[Conversation]:
    """The conversations of ``segments`` (every segment must belong to one)."""
    loose = [u.key for u in segments if u.dialogue is None]
    if loose:
        raise MoeInputError(f"{len(loose)} {part} segment(s) belong to no dialogue: {loose[:5]}",
                            hint="MiSTER-E labels turns of conversations; give segments a dialogue and turn, or "
                                 "build pseudo-conversations (spokenemo.data.pseudo)")
    return conversations(segments)


def label_indices(convs: Sequence[Conversation], classes: Sequence[str], part: str) -> list[list[int]]:
    """Per conversation the class index of each turn; unlabelled or unknown labels are errors."""
    index = {c: i for i, c in enumerate(classes)}
    out = []
    for conv in convs:
        for u in conv:
            if u.label is None:
                raise MoeInputError(f"{part} turn {u.key!r} of dialogue {conv.name!r} has no label",
                                    hint="label every training and validation turn, or drop its conversation")
            if u.label not in index:
                raise MoeInputError(f"{part} turn {u.key!r} has label {u.label!r}, not in the label set "
                                    f"{list(classes)}",
                                    hint="map the corpus labels onto the task's label set first")
        out.append([index[str(u.label)] for u in conv])
    return out


def check_apart(seen: Iterable[str], convs: Sequence[Conversation], part: str) -> None:
    """A dialogue of ``convs`` that was already seen in training is a split dialogue."""
    shared = sorted(set(seen) & {c.name for c in convs})
    if shared:
        raise MoeInputError(f"{len(shared)} dialogue(s) are split between training and {part}: {shared[:5]}",
                            hint="keep every conversation inside one fold part (protocols.dialogue_folds)")
