"""``abhinaya``: the ensemble, members trained on the same fold and joined by majority vote.

Each member is a registered system (``abhinaya-s1``, ``-s2``, ``-t1``, ``-t2``, ``-st1`` or any
other) named in the config with its options. ``fit`` fits every member on the fold; ``predict``
takes each member's decision and votes (:func:`~spokenemo.systems.abhinaya.vote.majority_vote`:
strict plurality, else the tie-breaker's label; thesis.md 5.2). The probabilities are the share of
members voting for each class; the decisions are the vote's. A vote needs three members; a member
whose kind is unknown, whose options are wrong or whose saved folder cannot be read is an error
naming the member.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.data.manifest import Segment
from spokenemo.systems.abhinaya.config import ImbalanceSection, VoteConfig
from spokenemo.systems.abhinaya.vote import check_members, majority_vote
from spokenemo.systems.base import Predictions, Requirements, System
from spokenemo.systems.context import FoldContext, TaskContext
from spokenemo.systems.registry import get_system, load_system, register_system

MEMBERS_FILE = "members.json"


def build_member(entry: dict[str, Any]) -> System:
    """The system of one member entry (``{name, kind, **options}``), with errors naming the member."""
    options = {k: v for k, v in entry.items() if k not in ("name", "kind")}
    try:
        cls = get_system(str(entry["kind"]))
        return cls(cls.config_cls.model_validate(options))
    except SpokenemoError as err:
        raise ConfigError(f"vote member {entry['name']!r}: {err}", hint=getattr(err, "hint", None)) from None
    except ValueError as err:  # pydantic's ValidationError
        raise ConfigError(f"vote member {entry['name']!r} ({entry['kind']}): bad options: {err}") from None


def _members(config: VoteConfig) -> list[System]:
    check_members([str(m["name"]) for m in config.members], config.tie_breaker)
    return [build_member(m) for m in config.members]


@register_system("abhinaya", VoteConfig)
class Abhinaya(System):
    """The ABHINAYA vote (see the module docstring)."""

    config: VoteConfig
    seeded = True
    #: ``imbalance:`` in an experiment config: the long-tailed protocol of thesis.md 5.4.
    config_sections = {"imbalance": ImbalanceSection}

    def __init__(self, config: VoteConfig) -> None:
        super().__init__(config)
        self.names = [str(m["name"]) for m in config.members]
        self.tie_breaker = check_members(self.names, config.tie_breaker)
        self.members: list[System] = []
        self.classes: list[str] = []

    @classmethod
    def requirements(cls, config: VoteConfig) -> Requirements:  # type: ignore[override]
        needs = [type(m).requirements(m.config) for m in _members(config)]
        features: dict[str, dict[str, Any]] = {}
        for need in needs:
            for name, request in need.features.items():
                merged = features.setdefault(name, {})
                for key, value in request.items():
                    if isinstance(value, list):
                        merged[key] = sorted(set(merged.get(key, [])) | set(value))
                    else:
                        merged[key] = merged.get(key) or value
        return Requirements(audio=any(n.audio for n in needs), text=any(n.text for n in needs), features=features)

    @classmethod
    def fingerprint_parts(cls, config: VoteConfig, context: TaskContext) -> dict[str, Any]:  # type: ignore[override]
        return {str(e["name"]): type(m).fingerprint_parts(m.config, context)
                for e, m in zip(config.members, _members(config), strict=True)}

    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.context = context
        self.classes = list(context.labels) or sorted({str(u.label) for u in train})
        self.members = _members(self.config)
        for name, member in zip(self.names, self.members, strict=True):
            member.fit(train, valid, context)
            self.info[name] = dict(member.info)

    def member_decisions(self, segments: Sequence[Segment]) -> dict[str, list[str | None]]:
        """Each member's label per segment."""
        if not self.members:
            raise SpokenemoError("system 'abhinaya' is not fitted", hint="call fit() or load() first")
        return {n: m.predict(segments).decisions() for n, m in zip(self.names, self.members, strict=True)}

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        decisions = self.member_decisions(segments)
        voted = majority_vote(decisions, self.tie_breaker)
        index = {c: i for i, c in enumerate(self.classes)}
        shares = np.zeros((len(segments), len(self.classes)))
        for labels in decisions.values():
            for i, label in enumerate(labels):
                if label in index:
                    shares[i, index[label]] += 1.0 / len(decisions)
        shares[[i for i, v in enumerate(voted) if v is None]] = np.nan
        return Predictions(self.classes, shares, voted)

    def save_state(self, folder: Path) -> None:
        for name, member in zip(self.names, self.members, strict=True):
            member.save(folder / name)
        with atomic_write(folder / MEMBERS_FILE) as fh:
            json.dump({"classes": self.classes, "members": self.names}, fh, indent=1)
            fh.write("\n")

    def load_state(self, folder: Path) -> None:
        state = json.loads((folder / MEMBERS_FILE).read_text(encoding="utf-8"))
        self.classes, self.members = list(state["classes"]), []
        for name in self.names:
            try:
                self.members.append(load_system(folder / name, self.context))
            except (OSError, SpokenemoError, RuntimeError, KeyError, ValueError) as err:
                raise SpokenemoError(f"vote member {name!r} failed to load from {folder / name}: {err}",
                                     hint="retrain the ensemble, or check that the member's folder is complete") \
                    from None
