"""The :class:`Fold` and the rules every fold builder checks: speakers and conversations stay whole.

The rule of the project is that no speaker is in both the training and the test part of a fold:
builders check it and raise :class:`~spokenemo.core.errors.ProtocolError` naming the speakers.
The one protocol that cannot honour it is the official MELD/EmoryNLP split (its speakers are TV
characters who appear in every split); there the fold says so itself with
``speaker_independent=False``, which is written into the fold files and printed by the CLI.

Conversations stay whole as well: the segments of one dialogue (``corpus`` + ``dialogue``) are
never in two parts of a fold (:func:`check_conversations`, run by every builder).

Speakers are identified by their ``speaker`` field when the segments come from one corpus and by
``"corpus/speaker"`` (:func:`spokenemo.core.speakers.speaker_id`) when they come from several
(speaker ``"01"`` of two corpora is two people). Sorting is "natural" (``"2"`` before ``"10"``)
so folds do not depend on how ids are padded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from spokenemo.core.errors import ProtocolError
from spokenemo.core.speakers import speaker_id
from spokenemo.data.conversation import dialogue_of, natural_key
from spokenemo.data.manifest import Segment
from spokenemo.protocols.labels import LabelledUtterances, corpus_key

PARTS: tuple[str, ...] = ("train", "valid", "test")


@dataclass(frozen=True)
class Fold:
    """One train/valid/test partition of a manifest, by segment key.

    Parameters
    ----------
    name : str
        Unique within its protocol (``"session-Ses01"``, ``"fold1"``, ``"official"``).
    train, test, valid : tuple of str
        Segment keys of each part (``valid`` may be empty).
    protocol : str
        Name of the protocol that built it (``"speaker-kfold"``, ...).
    speaker_independent : bool
        Whether the fold guarantees that no speaker is in two parts.
    label_set : str, optional
        Name of the label set the keys were filtered with.
    info : mapping
        Extra description (test speakers, seed, source corpora, ...), JSON-serialisable.
    """

    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    valid: tuple[str, ...] = ()
    protocol: str = ""
    speaker_independent: bool = True
    label_set: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for part in PARTS:
            object.__setattr__(self, part, tuple(getattr(self, part)))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))
        seen: dict[str, str] = {}
        for part in PARTS:
            for key in getattr(self, part):
                if key in seen:
                    raise ProtocolError(f"fold {self.name!r}: utterance {key!r} is in both {seen[key]} and {part}")
                seen[key] = part

    def __hash__(self) -> int:
        return hash((self.name, self.protocol, self.train, self.valid, self.test))

    def part(self, name: str) -> tuple[str, ...]:
        """Keys of ``"train"``, ``"valid"`` or ``"test"``."""
        if name not in PARTS:
            raise ProtocolError(f"unknown fold part {name!r}", hint="parts are train, valid, test")
        return getattr(self, name)

    def select(self, utterances: Iterable[Segment], part: str) -> list[Segment]:
        """The segments of one part, in the fold's key order.

        Raises :class:`ProtocolError` when keys of the fold are missing from ``utterances`` (the
        folds were built from another manifest).
        """
        keys = self.part(part)
        by_key = {u.key: u for u in utterances}
        missing = [k for k in keys if k not in by_key]
        if missing:
            raise ProtocolError(
                f"fold {self.name!r}: {len(missing)} {part} keys are not in the manifest (e.g. {missing[:3]})",
                hint="build the folds from this manifest with `spokenemo folds`")
        return [by_key[k] for k in keys]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "protocol": self.protocol, "label_set": self.label_set,
                "speaker_independent": self.speaker_independent, "info": dict(self.info),
                "train": list(self.train), "valid": list(self.valid), "test": list(self.test)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], source: str = "<fold>") -> Fold:
        try:
            return cls(name=obj["name"], train=obj["train"], test=obj["test"], valid=obj.get("valid", ()),
                       protocol=obj.get("protocol", ""), speaker_independent=bool(obj.get("speaker_independent", True)),
                       label_set=obj.get("label_set"), info=obj.get("info", {}))
        except (KeyError, TypeError) as err:
            raise ProtocolError(f"{source}: not a fold file ({err!s} missing or malformed)",
                                hint="rewrite the folds with `spokenemo folds`") from None


# --- identities --------------------------------------------------------------------------------
def speaker_ids(utterances: Sequence[Segment]) -> dict[str, str]:
    """Key -> speaker identity: ``speaker``, qualified as ``corpus/speaker`` if corpora are mixed.

    Raises :class:`ProtocolError` when a segment has no speaker (independence cannot be checked).
    """
    missing = [u.key for u in utterances if not u.speaker]
    if missing:
        raise ProtocolError(f"{len(missing)} utterances have no speaker (e.g. {missing[:3]}); "
                            "a speaker-independent protocol needs one for every utterance",
                            hint="fix the corpus recipe, or use the official split of a corpus that has one")
    qualify = len({corpus_key(u.corpus) for u in utterances}) > 1
    return {u.key: str(speaker_id(u.corpus, u.speaker)) if qualify else str(u.speaker) for u in utterances}


def dialogue_ids(utterances: Iterable[Segment]) -> dict[str, str]:
    """Key -> ``"corpus/dialogue"`` for the segments that belong to a conversation."""
    return {u.key: d for u in utterances if (d := dialogue_of(u)) is not None}


def sorted_names(items: Iterable[str]) -> list[str]:
    """Distinct ``items`` in natural order."""
    return sorted(set(items), key=natural_key)


def fmt_names(names: Iterable[str], limit: int = 8) -> str:
    """``"a, b, c, ... (12 in all)"`` for messages."""
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


# --- checks ------------------------------------------------------------------------------------
def _shared(fold: Fold, owner: Mapping[str, str]) -> tuple[str, str, list[str]] | None:
    """The first pair of parts sharing an owner (speaker, dialogue), with the shared owners."""
    parts = {p: {owner[k] for k in fold.part(p) if k in owner} for p in PARTS}
    for a, b in (("train", "test"), ("valid", "test"), ("train", "valid")):
        shared = parts[a] & parts[b]
        if shared:
            return a, b, sorted_names(shared)
    return None


def check_speaker_independence(fold: Fold, speakers: Mapping[str, str]) -> None:
    """Raise :class:`ProtocolError` naming the speakers found in two parts of ``fold``.

    Keys missing from ``speakers`` (segments of unknown speaker) are not checked.
    """
    found = _shared(fold, speakers)
    if found is not None:
        a, b, shared = found
        raise ProtocolError(
            f"fold {fold.name!r} ({fold.protocol}): speakers in both {a} and {b}: {fmt_names(shared)}",
            hint="choose speaker groups that do not overlap; a corpus whose official split shares "
                 "speakers must be declared speaker_independent=False")


def split_conversations(parts: Mapping[str, Iterable[Segment]]) -> list[str]:
    """The conversations (``"corpus/dialogue"``) with segments in more than one of ``parts``."""
    where: dict[str, set[str]] = {}
    for part, segments in parts.items():
        for s in segments:
            d = dialogue_of(s)
            if d is not None:
                where.setdefault(d, set()).add(part)
    return sorted_names(d for d, found in where.items() if len(found) > 1)


def check_conversations(fold: Fold, dialogues: Mapping[str, str]) -> None:
    """Raise :class:`ProtocolError` naming the conversations split across parts of ``fold``.

    ``dialogues`` maps keys to their conversation (:func:`dialogue_ids`); keys missing from it
    (segments of no conversation) are not checked.
    """
    found = _shared(fold, dialogues)
    if found is not None:
        a, b, shared = found
        raise ProtocolError(
            f"fold {fold.name!r} ({fold.protocol}): conversations with turns in both {a} and {b}: {fmt_names(shared)}",
            hint="a conversation must stay in one part: use a protocol by session or by dialogue "
                 "(loso-session, dialogue-kfold), or drop the dialogue field for utterance-level work")


def make_fold(name: str, train: Sequence[Segment], test: Sequence[Segment], valid: Sequence[Segment] = (),
              *, protocol: str, speakers: Mapping[str, str] | None, label_set: str | None = None,
              info: Mapping[str, Any] | None = None, whole_conversations: bool = True) -> Fold:
    """Build a fold; check it is non-empty, keeps conversations whole and, when ``speakers`` is
    given, is speaker-independent.

    ``whole_conversations=False`` (a corpus's own official split) skips the conversation check;
    the caller reports what it found instead.
    """
    if not test:
        raise ProtocolError(f"fold {name!r} ({protocol}) has no test utterances")
    if not train:
        raise ProtocolError(f"fold {name!r} ({protocol}) has no training utterances")
    fold = Fold(name=name, train=tuple(u.key for u in train), test=tuple(u.key for u in test),
                valid=tuple(u.key for u in valid), protocol=protocol, speaker_independent=speakers is not None,
                label_set=label_set, info=dict(info or {}))
    if speakers is not None:
        check_speaker_independence(fold, speakers)
    if whole_conversations:
        check_conversations(fold, dialogue_ids([*train, *valid, *test]))
    return fold


def label_set_name(utterances: Sequence[Segment], label_set: str | None) -> str | None:
    """``label_set``, else the name carried by :class:`LabelledUtterances`."""
    if label_set is None and isinstance(utterances, LabelledUtterances):
        return utterances.label_set.name
    return label_set


def select_corpora(utterances: Sequence[Segment], names: Sequence[str], role: str) -> list[Segment]:
    """The segments of the corpora ``names`` (matched loosely); every one must be present."""
    wanted = {corpus_key(n) for n in names}
    present = {corpus_key(u.corpus) for u in utterances}
    absent = sorted(w for w in wanted if w not in present)
    if absent:
        raise ProtocolError(f"{role} corpus {absent} not in the manifest",
                            hint="corpora present: " + ", ".join(sorted(str(p) for p in present)))
    return [u for u in utterances if corpus_key(u.corpus) in wanted]


def split_in_order(items: Sequence[str], k: int, what: str) -> list[list[str]]:
    """``items`` cut, in the given order, into ``k`` runs whose sizes differ by at most 1 (the first
    ``len(items) % k`` runs get the extra item); ``what`` names the items in errors."""
    if k < 2:
        raise ProtocolError(f"k must be at least 2, got {k}")
    if k > len(items):
        raise ProtocolError(f"cannot make {k} {what} groups from {len(items)} {what}s", hint="lower --k")
    size, extra = divmod(len(items), k)
    groups, start = [], 0
    for i in range(k):
        end = start + size + (1 if i < extra else 0)
        groups.append(list(items[start:end]))
        start = end
    return groups
