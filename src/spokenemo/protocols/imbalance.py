"""Imbalance made explicit on balanced corpora (thesis.md 5.4, ABHINAYA's local protocol (a)).

RAVDESS is (nearly) balanced, while naturalistic data such as MSP-Podcast is long-tailed (neutral
about 26 times fear). :func:`imbalanced_folds` turns every fold of a protocol into

- a **long-tailed training part**: the classes, ordered by how many training examples they have
  (ties broken by a seeded hash of the class name), keep
  ``n_k = min(available_k, round(n_max * ratio ** (-k / (C - 1))))`` examples, ``k = 0 .. C-1``
  (geometric decay from the largest class down to ``n_max / ratio``), chosen by a seeded hash of
  the keys (:func:`long_tail_counts`, :func:`long_tailed_subset`);
- **balanced validation and test parts**: every class cut to the part's smallest class
  (:func:`balanced_part`), so macro-F1 and accuracy weigh the classes alike.

Speakers never move between parts, so the folds stay speaker-independent. Everything is
deterministic in ``seed`` and independent of input order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from spokenemo.core.errors import ProtocolError
from spokenemo.core.sampling import seeded_order, seeded_rank, stratified_subset
from spokenemo.data.manifest import Segment
from spokenemo.protocols.fold import Fold

#: Default head-to-tail ratio of the training part (thesis.md 5.4; MSP-Podcast's is about 26).
DEFAULT_RATIO = 10.0


def long_tail_counts(available: Mapping[str, int], ratio: float = DEFAULT_RATIO, seed: int = 0) -> dict[str, int]:
    """How many training examples each class keeps (see the module docstring).

    >>> long_tail_counts({"a": 100, "b": 90, "c": 80}, ratio=4.0)
    {'a': 100, 'b': 50, 'c': 25}

    Raises
    ------
    ProtocolError
        ``ratio < 1``, no classes, or a class with no example.
    """
    if ratio < 1:
        raise ProtocolError(f"imbalance ratio {ratio} < 1", hint="use a head-to-tail ratio >= 1 (10 in thesis.md 5.4)")
    if not available:
        raise ProtocolError("long-tailed subsample of an empty training part")
    empty = sorted(c for c, n in available.items() if n <= 0)
    if empty:
        raise ProtocolError(f"class(es) {empty} have no training example; a long tail needs every class",
                            hint="drop the class from the label set or choose other training speakers")
    order = sorted(available, key=lambda c: (-available[c], seeded_rank(str(c), seed)))
    n_max, steps = available[order[0]], max(1, len(order) - 1)
    return {c: max(1, min(available[c], int(round(n_max * ratio ** (-k / steps))))) for k, c in enumerate(order)}


def long_tailed_subset(segments: Sequence[Segment], ratio: float = DEFAULT_RATIO, seed: int = 0) -> list[Segment]:
    """The long-tailed subsample of ``segments`` (input order kept)."""
    by_class: dict[str, list[Segment]] = {}
    for u in segments:
        by_class.setdefault(str(u.label), []).append(u)
    quota = long_tail_counts({c: len(m) for c, m in by_class.items()}, ratio, seed)
    keep = {u.key for c, members in by_class.items() for u in seeded_order(members, seed)[:quota[c]]}
    return [u for u in segments if u.key in keep]


def balanced_part(segments: Sequence[Segment], seed: int = 0, per_class: int | None = None) -> list[Segment]:
    """Every class cut to ``per_class`` examples (default: the smallest class's count), seeded."""
    by_class: dict[str, list[Segment]] = {}
    for u in segments:
        by_class.setdefault(str(u.label), []).append(u)
    if not by_class:
        return []
    n = min(len(m) for m in by_class.values()) if per_class is None else int(per_class)
    short = sorted(c for c, m in by_class.items() if len(m) < n)
    if short:
        raise ProtocolError(f"balanced subset of {n} per class: class(es) {short} have fewer",
                            hint="ask for fewer per class")
    keep = {u.key for members in by_class.values() for u in seeded_order(members, seed)[:n]}
    return [u for u in segments if u.key in keep]


def imbalanced_folds(folds: Sequence[Fold], utterances: Sequence[Segment], *, ratio: float | None = DEFAULT_RATIO,
                     seed: int = 0, balance_valid: bool = True, balance_test: bool = True,
                     test_per_class: int | None = None, valid_per_class: int | None = None,
                     train_limit: int | None = None) -> list[Fold]:
    """Each fold with a long-tailed training part (``ratio``; None keeps it as it is) and balanced
    validation / test parts (``valid_per_class`` / ``test_per_class``: that many per class, default
    the smallest class's count; MSP-Podcast's balanced validation subset has 326 per class).
    ``train_limit`` keeps at most that many training examples, classes in proportion (seeded), so
    a long-tailed corpus keeps its own tail on a smaller budget.

    Raises
    ------
    ProtocolError
        A fold key missing from ``utterances``, a class with no training example in a fold, or a
        test class with fewer than ``test_per_class`` examples.
    """
    by_key = {u.key: u for u in utterances}
    out = []
    for fold in folds:
        missing = [k for k in (*fold.train, *fold.valid, *fold.test) if k not in by_key]
        if missing:
            raise ProtocolError(f"fold {fold.name!r}: {len(missing)} keys not in the manifest (e.g. {missing[0]})")
        train = [by_key[k] for k in fold.train]
        if ratio is not None:
            train = long_tailed_subset(train, ratio, seed)
        train = stratified_subset(train, train_limit, seed)
        valid, test = [by_key[k] for k in fold.valid], [by_key[k] for k in fold.test]
        valid = balanced_part(valid, seed, valid_per_class) if balance_valid else valid
        test = balanced_part(test, seed, test_per_class) if balance_test else test
        counts = Counter(str(u.label) for u in train)
        info = {**dict(fold.info), "imbalance": {
            "ratio": ratio, "seed": seed, "balanced_valid": balance_valid, "balanced_test": balance_test,
            "test_per_class": test_per_class, "valid_per_class": valid_per_class,
            "train_limit": train_limit, "train_counts": dict(sorted(counts.items(), key=lambda kv: -kv[1]))}}
        tag = f"+long-tail{ratio:g}" if ratio is not None else ""
        tag += f"+balanced-test{test_per_class or ''}" if balance_test else ""
        out.append(Fold(fold.name, tuple(u.key for u in train), tuple(u.key for u in test),
                        tuple(u.key for u in valid), protocol=f"{fold.protocol}{tag}",
                        speaker_independent=fold.speaker_independent, label_set=fold.label_set, info=info))
    return out


__all__ = ["DEFAULT_RATIO", "balanced_part", "imbalanced_folds", "long_tail_counts", "long_tailed_subset"]
