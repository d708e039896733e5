"""Seeded, order-independent subsets: the one sampling rule of the project.

Every choice is made by ranking items on ``sha256(f"{seed}:{key}")``, so a subset depends on
the seed and the keys only, never on the order items arrive in or on the platform.

>>> from types import SimpleNamespace as U
>>> items = [U(key=f"u{i}", label="a" if i < 6 else "b") for i in range(8)]
>>> [u.key for u in stratified_subset(items, 4, seed=0)] == [u.key for u in stratified_subset(items[::-1], 4, 0)][::-1]
True
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def seeded_rank(key: str, seed: int) -> str:
    """The sort key of ``key`` under ``seed`` (a hex digest)."""
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def seeded_order(items: Sequence[T], seed: int, *, key: Callable[[T], str] = lambda x: x.key) -> list[T]:
    """``items`` in a seeded pseudo-random order that does not depend on their input order."""
    return sorted(items, key=lambda x: seeded_rank(key(x), seed))


def proportional_quota(sizes: dict[str, int], limit: int) -> dict[str, int]:
    """At most ``limit`` items shared out in proportion to ``sizes`` (each class keeps at least 1)."""
    total = sum(sizes.values())
    quota = {c: max(1, int(round(limit * n / total))) for c, n in sizes.items()}
    while sum(quota.values()) > limit:  # rounding (and the floor of 1) can overshoot
        biggest = max(quota, key=lambda c: (quota[c], c))
        quota[biggest] -= 1
    return quota


def stratified_subset(items: Sequence[T], limit: int | None, seed: int, *,
                      label: Callable[[T], Any] = lambda x: x.label,
                      key: Callable[[T], str] = lambda x: x.key) -> list[T]:
    """At most ``limit`` items, classes kept in proportion, chosen by a seeded hash.

    Deterministic and independent of input order; ``None`` (or a limit >= the size) keeps all.
    The result keeps the input order.
    """
    if limit is None or limit >= len(items):
        return list(items)
    by_class: dict[str, list[T]] = {}
    for x in items:
        by_class.setdefault(str(label(x)), []).append(x)
    quota = proportional_quota({c: len(m) for c, m in by_class.items()}, limit)
    keep: set[str] = set()
    for c, members in by_class.items():
        keep.update(key(x) for x in seeded_order(members, seed, key=key)[:quota[c]])
    return [x for x in items if key(x) in keep]


def balanced_subset(items: Sequence[T], limit: int, seed: int, *,
                    label: Callable[[T], Any] = lambda x: x.label,
                    key: Callable[[T], str] = lambda x: x.key) -> list[T]:
    """At most ``limit`` items, classes as balanced as possible; input order kept.

    Each class (in sorted order) is shuffled by ``random.Random(seed)``; the classes then give
    one item each in turn until ``limit`` items are chosen, so a small class is used whole and
    the large ones share the rest. (The training subset of the AECoTD student.)
    """
    if len(items) <= limit:
        return list(items)
    rng = random.Random(seed)
    by_class: dict[str, list[T]] = defaultdict(list)
    for x in items:
        by_class[str(label(x))].append(x)
    pools = []
    for name in sorted(by_class):
        pool = list(by_class[name])
        rng.shuffle(pool)
        pools.append(pool)
    chosen: list[T] = []
    while len(chosen) < limit:
        for pool in pools:
            if pool and len(chosen) < limit:
                chosen.append(pool.pop())
    keep = {key(x) for x in chosen}
    return [x for x in items if key(x) in keep]
