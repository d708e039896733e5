"""The common part of ABHINAYA's trained members: items in, a torch head trained with a chosen loss.

A member subclass says which features it needs (:meth:`TrainedMember.requirements`), turns
segments into per-segment items (:meth:`TrainedMember.items`, None where a segment has no
input), builds its torch module (:meth:`TrainedMember.build_model`) and collates items into the
module's inputs (:meth:`TrainedMember.collate`). This class does the rest: class indices, the
"no training example" check, training with :mod:`.training` (best validation macro-F1 epoch),
probabilities (NaN rows for segments without input), and saving / loading the weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.core.lazy import optional_import
from spokenemo.data.manifest import Segment
from spokenemo.systems.abhinaya.config import MemberConfig
from spokenemo.systems.base import Predictions, System
from spokenemo.systems.context import FoldContext

STATE_FILE, WEIGHTS_FILE = "member.json", "member.pt"


def training() -> Any:
    """:mod:`spokenemo.systems.abhinaya.training` (torch), imported on first use."""
    return optional_import("spokenemo.systems.abhinaya.training", extra="llm", purpose="training ABHINAYA members")


def modules() -> Any:
    """:mod:`spokenemo.systems.abhinaya.modules` (torch), imported on first use."""
    return optional_import("spokenemo.systems.abhinaya.modules", extra="llm", purpose="ABHINAYA's member modules")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TrainedMember(System):
    """Base of the trained members (see the module docstring)."""

    config: MemberConfig
    seeded = True
    #: What the member stands in for (report label and ``info``).
    stands_for: str = ""

    def __init__(self, config: MemberConfig) -> None:
        super().__init__(config)
        self.classes: list[str] = []
        self.model: Any = None
        self.shapes: dict[str, Any] = {}

    # --- what subclasses provide ------------------------------------------------------------------
    def items(self, segments: Sequence[Segment]) -> list[Any]:
        """One input per segment (None where it has none)."""
        raise NotImplementedError

    def build_model(self, shapes: dict[str, Any], n_classes: int) -> Any:
        """The torch module for inputs of ``shapes`` (from :meth:`shapes_of`)."""
        raise NotImplementedError

    def shapes_of(self, item: Any) -> dict[str, Any]:
        """What :meth:`build_model` needs to know about the inputs (saved with the weights)."""
        raise NotImplementedError

    def collate(self, items: Sequence[Any]) -> tuple[Any, ...]:
        """The module's positional inputs for a batch of items."""
        raise NotImplementedError

    def prepare(self, segments: Sequence[Segment]) -> None:  # noqa: B027 - optional hook
        """Called once before :meth:`items` with every segment of the fit (e.g. to encode text)."""

    def after_build(self, train_items: Sequence[Any]) -> None:  # noqa: B027 - optional hook
        """Called after :meth:`build_model` with the training items (e.g. input statistics)."""

    # --- the protocol -----------------------------------------------------------------------------
    def settings(self) -> Any:
        c = self.config
        epochs = getattr(getattr(self.context, "options", None), "epochs", None) or c.epochs
        return training().TrainSettings(loss=c.loss, epochs=int(epochs), lr=c.lr, batch_size=c.batch_size,
                             weight_decay=c.weight_decay)

    def _part(self, segments: Sequence[Segment], index: dict[str, int]) -> tuple[list[Any], np.ndarray]:
        got = self.items(segments) if segments else []
        kept = [(x, index[str(u.label)]) for u, x in zip(segments, got, strict=True)
                if x is not None and str(u.label) in index]
        return [x for x, _ in kept], np.array([y for _, y in kept], dtype=np.int64)

    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.context = context
        self.classes = list(context.labels) or sorted({str(u.label) for u in train})
        index = {c: i for i, c in enumerate(self.classes)}
        self.prepare([*train, *valid])
        train_part, valid_part = self._part(train, index), self._part(valid, index)
        if not train_part[0]:
            raise SpokenemoError(f"{self.name}: no training segment has an input",
                                 hint="see the feature store's errors (index.jsonl) or the transcripts")
        train_mod = training()
        train_mod.seed_everything(context.seed)
        self.shapes = self.shapes_of(train_part[0][0])
        self.model = self.build_model(self.shapes, len(self.classes))
        self.after_build(train_part[0])
        record = train_mod.train_classifier(self.model, train_part, valid_part if len(valid_part[0]) else None, self.collate,
                                  self.settings(), n_classes=len(self.classes), seed=context.seed,
                                  classes=self.classes)
        self.info.update({"member": self.stands_for, "loss": self.config.loss, **record.to_dict(),
                          "n_train_without_input": len(train) - len(train_part[0])})

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        if self.model is None:
            raise SpokenemoError(f"system {self.name!r} is not fitted", hint="call fit() or load() first")
        got = self.items(segments) if segments else []
        rows = [i for i, x in enumerate(got) if x is not None]
        probs = np.full((len(segments), len(self.classes)), np.nan)
        if rows:
            probs[rows] = softmax(training().predict_logits(self.model, [got[i] for i in rows], self.collate))
        self.info["n_test_without_input"] = len(segments) - len(rows)
        return Predictions(self.classes, probs)

    # --- save / load ------------------------------------------------------------------------------
    def save_state(self, folder: Path) -> None:
        if self.model is None:
            raise SpokenemoError(f"system {self.name!r} is not fitted; nothing to save")
        modules().save_weights(self.model, folder / WEIGHTS_FILE)
        with atomic_write(folder / STATE_FILE) as fh:
            json.dump({"classes": self.classes, "shapes": self.shapes}, fh, indent=1)
            fh.write("\n")

    def load_state(self, folder: Path) -> None:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        self.classes, self.shapes = list(state["classes"]), dict(state["shapes"])
        self.model = self.build_model(self.shapes, len(self.classes))
        modules().load_weights(self.model, folder / WEIGHTS_FILE)


__all__ = ["TrainedMember", "modules", "softmax", "training"]
