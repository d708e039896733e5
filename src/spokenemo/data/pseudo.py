"""Pseudo-conversations: acted single utterances strung into dialogues whose emotions carry over.

The corpora with audio here (RAVDESS, nEMO, Korean) have no conversations, so conversation
models (context over turns) are tested on *pseudo-conversations* (docs/datasets-and-protocols.md,
"Pseudo-conversations"): 8-20 turns drawn from the speakers of one fold part, with emotions from
a **sticky** Markov chain (keep the previous turn's emotion with probability ``stay`` = 0.7, else
move to another one chosen uniformly, so that ``stay`` is exactly the chance of a repeat), so
context helps, and an **i.i.d.** control (every turn's emotion drawn afresh), where context cannot
help. RAVDESS conversations alternate two actors, nEMO ones are monologues
(:data:`DEFAULT_SPEAKERS`).

Each turn is a copy of a real segment with a new ``key``, ``dialogue`` and ``turn``;
``extra["source_key"]`` names the segment it came from and ``extra["pseudo"]`` how it was made.
Everything is drawn with :class:`random.Random` seeded by ``seed``, the name and the split (so
two fold parts, or two folds, get different streams), over segments sorted by key: the same
inputs give the same conversations on every platform.

>>> from spokenemo.data import Segment
>>> pool = [Segment(key=f"r/{s}/{e}{i}", speaker=s, label=e, corpus="ravdess")
...         for s in ("01", "02") for e in ("angry", "sad") for i in range(3)]
>>> turns = pseudo_conversations(pool, 2, seed=0)
>>> len({t.dialogue for t in turns}), turns[0].turn, turns[0].extra["source_key"] in {p.key for p in pool}
(2, 0, True)
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.speakers import speaker_of
from spokenemo.data.conversation import Conversation, natural_key
from spokenemo.data.manifest import Segment

Kind = Literal["sticky", "iid"]
KINDS: tuple[str, ...] = ("sticky", "iid")
#: Speakers per conversation by corpus (spec: RAVDESS alternates two actors, nEMO is monologues);
#: other corpora default to monologues.
DEFAULT_SPEAKERS: Mapping[str, int] = {"ravdess": 2, "nemo": 1}
#: The fold part each pseudo manifest part is written as (``split`` field).
PART_SPLITS: Mapping[str, str] = {"train": "train", "valid": "dev", "test": "test"}


class PseudoConversationError(SpokenemoError):
    """Pseudo-conversations cannot be built from the segments given."""


@dataclass(frozen=True)
class PseudoSpec:
    """How pseudo-conversations are drawn.

    Parameters
    ----------
    kind : {"sticky", "iid"}
        Sticky Markov emotions, or the i.i.d. control.
    stay : float in [0, 1)
        Sticky chain: probability that a turn keeps the previous turn's emotion; otherwise the
        next emotion is drawn from ``weights`` over the *other* classes. The fraction of
        consecutive turns with the same emotion is therefore ``stay`` on a long run.
    min_turns, max_turns : int
        Each conversation's length is drawn uniformly from this range (inclusive).
    speakers : int, optional
        Speakers per conversation, taking turns in order (2: A B A B ...); default
        :data:`DEFAULT_SPEAKERS` of the segments' corpus.
    weights : "uniform", "pool" or mapping
        Distribution emotions are drawn from: uniform over the classes (the spec), the label
        frequencies of the segments, or explicit weights per class. The i.i.d. control draws
        every turn from it, so its labels follow these marginals.
    seed : int
    """

    kind: Kind = "sticky"
    stay: float = 0.7
    min_turns: int = 8
    max_turns: int = 20
    speakers: int | None = None
    weights: str | Mapping[str, float] = "uniform"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PseudoConversationError(f"unknown pseudo-conversation kind {self.kind!r}",
                                          hint="use 'sticky' (Markov emotions) or 'iid' (the control)")
        if not 0 <= self.stay < 1:
            raise PseudoConversationError(f"stay must be in [0, 1), got {self.stay}")
        if not 1 <= self.min_turns <= self.max_turns:
            raise PseudoConversationError(f"turns must satisfy 1 <= min ({self.min_turns}) <= max ({self.max_turns})")
        if self.speakers is not None and self.speakers < 1:
            raise PseudoConversationError(f"speakers per conversation must be >= 1, got {self.speakers}")

    def describe(self) -> dict[str, object]:
        """The settings as written into each turn's ``extra["pseudo"]``."""
        weights = self.weights if isinstance(self.weights, str) else dict(sorted(self.weights.items()))
        return {"kind": self.kind, "stay": self.stay if self.kind == "sticky" else None, "seed": self.seed,
                "weights": weights}


def _draw(rng: random.Random, classes: Sequence[str], weights: Mapping[str, float]) -> str:
    """One class drawn from ``weights`` restricted to ``classes`` (cumulative sums: platform-stable)."""
    total = sum(weights[c] for c in classes)
    x = rng.random() * total
    for c in classes:
        x -= weights[c]
        if x < 0:
            return c
    return classes[-1]


def emotion_chain(rng: random.Random, classes: Sequence[str], n: int, spec: PseudoSpec,
                  weights: Mapping[str, float]) -> list[str]:
    """``n`` emotions: sticky Markov (``spec.stay``) or i.i.d. draws from ``weights``."""
    chain = [_draw(rng, classes, weights)]
    while len(chain) < n:
        prev = chain[-1]
        if spec.kind == "iid":
            chain.append(_draw(rng, classes, weights))
        elif rng.random() < spec.stay:
            chain.append(prev)
        else:
            chain.append(_draw(rng, [c for c in classes if c != prev], weights))
    return chain


def _class_weights(pool: Sequence[Segment], classes: Sequence[str], spec: PseudoSpec) -> dict[str, float]:
    if spec.weights == "uniform":
        return {c: 1.0 for c in classes}
    if spec.weights == "pool":
        counts = {c: 0.0 for c in classes}
        for s in pool:
            counts[str(s.label)] += 1
        return counts
    if isinstance(spec.weights, str):
        raise PseudoConversationError(f"unknown weights {spec.weights!r}", hint="use 'uniform', 'pool' or a mapping")
    unknown = sorted(set(spec.weights) - set(classes))
    lacking = [c for c in classes if spec.weights.get(c, 0) <= 0]
    if unknown or lacking:
        raise PseudoConversationError(f"weights must give every class a positive weight (classes {list(classes)}; "
                                      f"unknown {unknown}, missing or zero {lacking})")
    return {c: float(spec.weights[c]) for c in classes}


def _default_speakers(pool: Sequence[Segment]) -> int:
    corpora = {"".join(ch for ch in (s.corpus or "").lower() if ch.isalnum()) for s in pool}
    return DEFAULT_SPEAKERS.get(corpora.pop(), 1) if len(corpora) == 1 else 1


class _Pool:
    """The segments by (speaker, class), with the speakers that have every class."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        labelled = sorted((s for s in segments if s.label is not None), key=lambda s: s.key)
        if not labelled:
            raise PseudoConversationError("no labelled segments to build pseudo-conversations from")
        self.segments = labelled
        self.classes = sorted({str(s.label) for s in labelled})
        if len(self.classes) < 2:
            raise PseudoConversationError(f"pseudo-conversations need at least 2 classes, found {self.classes}")
        self.cells: dict[tuple[str, str], list[Segment]] = {}
        for s in labelled:
            self.cells.setdefault((speaker_of(s), str(s.label)), []).append(s)
        speakers = sorted({speaker_of(s) for s in labelled}, key=natural_key)
        self.speakers = [spk for spk in speakers if all((spk, c) in self.cells for c in self.classes)]
        if not self.speakers:
            raise PseudoConversationError(f"no speaker has segments of every class {self.classes}",
                                          hint="apply a label set that every speaker covers")


def _conversation(rng: random.Random, pool: _Pool, spec: PseudoSpec, n_speakers: int,
                  weights: Mapping[str, float]) -> list[tuple[Segment, str]]:
    """One conversation: (source segment, emotion) per turn."""
    who = rng.sample(pool.speakers, n_speakers)
    n = rng.randint(spec.min_turns, spec.max_turns)
    queues: dict[tuple[str, str], list[Segment]] = {}
    turns = []
    for t, emotion in enumerate(emotion_chain(rng, pool.classes, n, spec, weights)):
        cell = (who[t % n_speakers], emotion)
        if not queues.get(cell):  # a clip is reused within a conversation only once all are used
            queues[cell] = list(pool.cells[cell])
            rng.shuffle(queues[cell])
        turns.append((queues[cell].pop(), emotion))
    return turns


def pseudo_conversations(segments: Sequence[Segment], n_conversations: int | None = None,
                         spec: PseudoSpec | None = None, *, name: str | None = None,
                         split: str | None = None, **settings: object) -> list[Segment]:
    """Build pseudo-conversations from ``segments`` and return their turns as manifest rows.

    Parameters
    ----------
    segments : sequence of Segment
        The pool, normally one fold part (its speakers only), labels already mapped to a label
        set. Speakers lacking a class of the pool are not used.
    n_conversations : int, optional
        How many; default: about as many turns in all as there are segments.
    spec : PseudoSpec, optional
        Settings; ``**settings`` (``kind=``, ``stay=``, ``seed=`` ...) build one instead.
    name : str, optional
        Prefix of the dialogue ids and keys; default ``"pseudo-<kind>"``. Dialogues are
        ``<name>/c0000``, keys ``<name>/c0000/t00``.
    split : str, optional
        Written into every turn's ``split`` (e.g. the fold part).

    Raises
    ------
    PseudoConversationError
        Fewer than 2 classes, or fewer speakers with every class than a conversation needs.
    """
    spec = spec or PseudoSpec(**settings)  # type: ignore[arg-type]
    pool = _Pool(segments)
    n_speakers = spec.speakers or _default_speakers(pool.segments)
    if len(pool.speakers) < n_speakers:
        raise PseudoConversationError(
            f"a conversation needs {n_speakers} speakers with every class {pool.classes}; "
            f"{len(pool.speakers)} have them: {pool.speakers}", hint="lower the speakers per conversation")
    if n_conversations is None:
        n_conversations = max(1, round(2 * len(pool.segments) / (spec.min_turns + spec.max_turns)))
    weights = _class_weights(pool.segments, pool.classes, spec)
    name = name or f"pseudo-{spec.kind}"
    rng = random.Random(f"{spec.seed}:{name}:{split or ''}")  # str seeds hash with SHA-512: platform-stable
    made = spec.describe()
    out: list[Segment] = []
    for i in range(n_conversations):
        dialogue = f"{name}/c{i:04d}"
        for t, (src, _) in enumerate(_conversation(rng, pool, spec, n_speakers, weights)):
            turn = src.model_copy(deep=True, update={
                "key": f"{dialogue}/t{t:02d}", "dialogue": dialogue, "turn": t,
                "split": split if split is not None else src.split,
                "extra": {**src.extra, "source_key": src.key, "pseudo": made}})
            turn._origin = None  # built here, not read from a manifest line
            out.append(turn)
    return out


def pseudo_parts(parts: Mapping[str, Sequence[Segment]], n_conversations: Mapping[str, int] | int | None = None,
                 spec: PseudoSpec | None = None, *, name: str | None = None,
                 **settings: object) -> list[Segment]:
    """Pseudo-conversations for every part of a fold, each from that part's segments only.

    ``parts`` maps ``"train"``/``"valid"``/``"test"`` to segments (e.g. ``fold.select(segs, p)``;
    empty parts are skipped). Turns get ``split`` train/dev/test (:data:`PART_SPLITS`), so the
    official split of the resulting manifest is the fold again: speaker-independent when the fold
    was, and no conversation in two parts. Each part has its own random stream.
    """
    spec = spec or PseudoSpec(**settings)  # type: ignore[arg-type]
    out: list[Segment] = []
    for part, segs in parts.items():
        if not segs:
            continue
        split = PART_SPLITS.get(part, part)
        n = n_conversations.get(part) if isinstance(n_conversations, Mapping) else n_conversations
        out += pseudo_conversations(segs, n, spec, name=f"{name or f'pseudo-{spec.kind}'}-{split}", split=split)
    return out


def same_label_rate(convs: Sequence[Conversation]) -> float:
    """Fraction of consecutive turn pairs (within each conversation) that share their label."""
    pairs = same = 0
    for conv in convs:
        labels = conv.labels
        pairs += max(len(labels) - 1, 0)
        same += sum(a == b for a, b in zip(labels, labels[1:], strict=False))
    return same / pairs if pairs else float("nan")
