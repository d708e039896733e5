"""``hcam``: emotion per turn of a conversation, in three frozen stages (docs/methods/hcam.md).

The fold's training turns are grouped into conversations (``dialogue``, ``turn``); the validation
part (or, without one, a seeded tenth of the training conversations) chooses each stage's epoch.
Stage I encodes each utterance, stage II adds context within a modality, stage III fuses speech
and text (:mod:`spokenemo.systems.hcam.pipeline`). Prediction needs whole conversations: the
turns of each dialogue given to :meth:`HcamSystem.predict` are read together, in turn order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import ProtocolError, SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.core.lazy import optional_import
from spokenemo.data.conversation import dialogue_of
from spokenemo.data.manifest import Segment
from spokenemo.systems.base import Predictions, Requirements, System, preset
from spokenemo.systems.context import FoldContext
from spokenemo.systems.hcam.config import HcamConfig
from spokenemo.systems.hcam.turns import (
    check_apart,
    check_labels,
    check_modalities,
    hcam_conversations,
    split_selection,
)
from spokenemo.systems.registry import register_system

STATE_FILE = "hcam.json"
OFFLINE = "Whisper-base (layers summed) + MiniLM (last 4 layers), frozen"


def _pipeline() -> Any:
    return optional_import("spokenemo.systems.hcam.pipeline", extra="llm", purpose="HCAM")


@register_system("hcam", HcamConfig)
class HcamSystem(System):
    """HCAM (see the module docstring)."""

    config: HcamConfig
    seeded = True
    presets = {
        "hcam": preset(f"HCAM stage III, {OFFLINE}"),
        "hcam-nonhier": preset(f"HCAM non-hierarchical (II+III joint), {OFFLINE}", hierarchical=False),
        "hcam-text-1": preset("HCAM text stage I, MiniLM last 4 layers frozen + Bi-GRU", modality="text", stage=1),
        "hcam-text-2": preset("HCAM text stage II (contextual GRU)", modality="text", stage=2),
        "hcam-speech-1": preset("HCAM speech stage I, Whisper-base layer sum frozen + CNN", modality="speech",
                                stage=1),
        "hcam-speech-2": preset("HCAM speech stage II (contextual GRU)", modality="speech", stage=2),
        "hcam-thesis-gpu": preset("HCAM stage III, HuBERT-large + RoBERTa fine-tuned (local folders; GPU)",
                                  speech_encoder="hf:models/hubert-large", text_encoder="hf:models/roberta-large",
                                  finetune=True, lr=1e-5, epochs=[100, 100, 100], patience=10, device="cuda"),
    }

    def __init__(self, config: HcamConfig) -> None:
        super().__init__(config)
        self.classes: list[str] = []
        self.pipeline: Any = None

    @classmethod
    def requirements(cls, config: HcamConfig) -> Requirements:  # type: ignore[override]
        return Requirements(audio="speech" in config.modalities, text="text" in config.modalities)

    # --- fit / predict ----------------------------------------------------------------------------
    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext,
            levels: Sequence[str] | None = None) -> None:
        """Train the stages; ``levels`` may ask for more than the configuration's own (comparisons)."""
        self.context = context
        self.classes = list(context.labels) or sorted({str(s.label) for s in train})
        check_apart({"train": train, "valid": valid})
        for part, segs in (("training", train), ("validation", valid)):
            check_labels(segs, self.classes, part)
            check_modalities(segs, self.config.modalities)
        convs = hcam_conversations(train, single_turn=self.config.single_turn, what="training turns")
        select = hcam_conversations(valid, single_turn=self.config.single_turn, what="validation turns")
        if not select:
            convs, select = split_selection(convs, self.config.valid_fraction, context.seed)
        with _threads(self.config.threads):
            self.pipeline = _pipeline().HcamPipeline(self.config, self.classes)
            self.pipeline.fit(convs, select, seed=context.seed, work_dir=Path(context.work_dir), levels=levels)
        self.info["stages"] = [r.as_dict() for r in self.pipeline.records]
        self.info["n_conversations"] = {"train": len(convs), "select": len(select)}

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        return self.predict_levels(segments)[_pipeline().target_level(self.config)]

    def predict_levels(self, segments: Sequence[Segment], levels: Sequence[str] | None = None) -> dict[str, Predictions]:
        """:class:`Predictions` of ``segments`` (in their order) at each trained level asked for."""
        if self.pipeline is None:
            raise SpokenemoError("system 'hcam' is not fitted", hint="call fit() or load() first")
        check_modalities(segments, self.config.modalities)
        self._check_unseen(segments)
        convs = hcam_conversations(segments, single_turn=self.config.single_turn, what="test turns")
        with _threads(self.config.threads):
            flat = self.pipeline.predict(convs, levels)
        at = {s.key: i for i, s in enumerate(s for c in convs for s in c)}
        order = [at[s.key] for s in segments]
        return {lv: Predictions(self.classes, np.asarray(p)[order]) for lv, p in flat.items()}

    def _check_unseen(self, segments: Sequence[Segment]) -> None:
        context = self.context
        fold = getattr(context, "fold", None)
        if fold is None:
            return
        train_keys = set(fold.train)
        seen = {str(dialogue_of(s)) for s in getattr(context, "segments", ()) if s.key in train_keys}
        shared = sorted({str(dialogue_of(s)) for s in segments} & seen)
        if shared:
            raise ProtocolError(f"dialogue(s) {shared[:3]} are split across fold parts: turns in training and in "
                                f"the data to predict",
                                 hint="a conversation must be in one fold part only")

    # --- save / load ------------------------------------------------------------------------------
    def save_state(self, folder: Path) -> None:
        if self.pipeline is None:
            raise SpokenemoError("system 'hcam' is not fitted; nothing to save")
        self.pipeline.save(folder)
        with atomic_write(folder / STATE_FILE) as fh:
            json.dump({"classes": self.classes, "stages": self.info.get("stages", [])}, fh, indent=1)
            fh.write("\n")

    def load_state(self, folder: Path) -> None:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        self.classes = list(state["classes"])
        self.info["stages"] = state.get("stages", [])
        self.pipeline = _pipeline().HcamPipeline(self.config, self.classes)
        self.pipeline.load(folder)


class _threads:
    """Torch threads for the block (restored after); None leaves them alone."""

    def __init__(self, n: int | None) -> None:
        self.n, self.old = n, None

    def __enter__(self) -> None:
        if self.n:
            torch = optional_import("torch", purpose="HCAM")
            self.old = torch.get_num_threads()
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        if self.old:
            optional_import("torch", purpose="HCAM").set_num_threads(self.old)
