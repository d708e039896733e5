"""The ABHINAYA majority vote (thesis.md 5.2, Table 4.9).

Each member gives one label per item. The output is the label with a **strict plurality** of the
members' votes; when no label has one (a tie for the most votes, e.g. 2-2-1 of five members or
1-1-1 of three), the output is the label of the tie-breaking member (the thesis: S2, the best
single model; **(ours)** the tie rule as stated). A member without a prediction for an item
(None) abstains there; if every member abstains the output is None. A vote needs at least three
members: with two, every disagreement is a tie and the vote is just the tie-breaker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from spokenemo.core.errors import ConfigError

#: Fewest members a vote takes.
MIN_MEMBERS = 3

#: The vote subsets of thesis Table 4.9 (member names of this package's presets) and the thesis's
#: validation macro-F1 of each, with the tie-breaker it names.
TABLE_4_9: dict[str, dict[str, object]] = {
    "S2+T2+ST1": {"members": ("S2", "T2", "ST1"), "tie_breaker": "S2", "valid": 40.36, "test": 39.74},
    "S1+T2+ST1": {"members": ("S1", "T2", "ST1"), "tie_breaker": "ST1", "valid": 39.07},
    "S1+S2+T2+ST1": {"members": ("S1", "S2", "T2", "ST1"), "tie_breaker": "S2", "valid": 40.99},
    "S1+S2+T1+T2": {"members": ("S1", "S2", "T1", "T2"), "tie_breaker": "S2", "valid": 40.48},
    "all five": {"members": ("S1", "S2", "T1", "T2", "ST1"), "tie_breaker": "S2", "valid": 42.31, "test": 44.02},
}


def check_members(members: Sequence[str], tie_breaker: str | None) -> str:
    """The tie-breaker to use (the first member when None); errors for a vote that cannot work.

    Raises
    ------
    ConfigError
        Fewer than three members, a member named twice, or a tie-breaker that is not a member.
    """
    members = list(members)
    if len(members) < MIN_MEMBERS:
        raise ConfigError(f"a majority vote needs at least {MIN_MEMBERS} members, got {len(members)}: {members}",
                          hint="add members (thesis Table 4.9 votes over 3 to 5)")
    if len(set(members)) != len(members):
        raise ConfigError(f"a vote member is named twice: {members}")
    tie_breaker = members[0] if tie_breaker is None else tie_breaker
    if tie_breaker not in members:
        raise ConfigError(f"tie-breaker {tie_breaker!r} is not a member of the vote {members}",
                          hint="name one of the members (the thesis uses S2, its best single model)")
    return tie_breaker


def vote_one(labels: Mapping[str, str | None], tie_breaker: str) -> str | None:
    """The vote of one item: ``labels`` is member -> label (None = abstains)."""
    counts = Counter(v for v in labels.values() if v is not None)
    if not counts:
        return None
    ranked = counts.most_common()
    if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
        return ranked[0][0]
    fallback = labels.get(tie_breaker)
    if fallback is not None:
        return fallback
    # the tie-breaker abstains: the tied label that comes first in member order
    tied = {c for c, n in ranked if n == ranked[0][1]}
    return next(v for v in labels.values() if v in tied)


def majority_vote(decisions: Mapping[str, Sequence[str | None]], tie_breaker: str | None = None) -> list[str | None]:
    """The majority vote of members' decisions (see the module docstring).

    Parameters
    ----------
    decisions : mapping
        Member name -> one label per item (all the same length).
    tie_breaker : str, optional
        The member whose label is used on ties (default: the first member).

    >>> majority_vote({"S1": ["a", "a", "b"], "S2": ["b", "c", "b"], "T2": ["a", "d", "c"]}, "S2")
    ['a', 'c', 'b']
    """
    names = list(decisions)
    tie_breaker = check_members(names, tie_breaker)
    lengths = {n: len(v) for n, v in decisions.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"vote members have different numbers of predictions: {lengths}")
    n_items = next(iter(lengths.values()))
    return [vote_one({m: decisions[m][i] for m in names}, tie_breaker) for i in range(n_items)]


__all__ = ["MIN_MEMBERS", "TABLE_4_9", "check_members", "majority_vote", "vote_one"]
