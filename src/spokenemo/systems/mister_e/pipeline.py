"""MiSTER-E end to end on segments: phase 1 per modality, phase 2 on conversations, prediction.

:func:`fit` runs both phases on a fold's training part (choices on its validation part) and
returns a :class:`Fitted`, which predicts segments (the mixture, each expert on its own, and the
gate weights) and saves / loads itself. The ``mister-e`` system (:mod:`.system`) wraps it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spokenemo.core.fileio import atomic_write
from spokenemo.data.conversation import Conversation
from spokenemo.data.manifest import Segment
from spokenemo.models.causal_lm import pick_device
from spokenemo.models.moe.mister_e import EXPERTS, MisterE
from spokenemo.systems.mister_e import phase2
from spokenemo.systems.mister_e.config import MisterEConfig
from spokenemo.systems.mister_e.dialogues import check_apart, conversations_of, label_indices
from spokenemo.systems.mister_e.modality import ModalityEncoder
from spokenemo.systems.mister_e.phase1 import weighted_f1

MODEL_FILE, STATE_FILE = "phase2.pt", "mister-e.json"


@dataclass
class Output:
    """Predictions of segments, rows in the order asked: mixture ``probs`` (n, C), ``experts``
    name -> (n, C) (empty for monolithic), ``gate`` (n, 3) or None, and the phase-1 unimodal heads'
    probabilities ``unimodal`` name -> (n, C)."""

    probs: np.ndarray
    experts: dict[str, np.ndarray] = field(default_factory=dict)
    gate: np.ndarray | None = None
    unimodal: dict[str, np.ndarray] = field(default_factory=dict)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _flat(convs: Sequence[Conversation]) -> list[Segment]:
    return [u for c in convs for u in c]


def _split(rows: np.ndarray, convs: Sequence[Conversation]) -> list[np.ndarray]:
    cuts = np.cumsum([len(c) for c in convs])[:-1]
    return list(np.split(rows, cuts))


@dataclass
class Fitted:
    """The trained encoders and phase-2 model (see the module docstring)."""

    cfg: MisterEConfig
    classes: list[str]
    encoders: dict[str, ModalityEncoder]
    model: MisterE
    train_dialogues: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    def _embed(self, convs: Sequence[Conversation], context: Any,
               labels: list[list[int]] | None) -> tuple[phase2.Conversations, dict[str, np.ndarray]]:
        flat = _flat(convs)
        emb, logits = {}, {}
        for name, enc in self.encoders.items():
            emb[name], logits[name] = enc.outputs(flat, context)
        data = phase2.Conversations([c.name for c in convs], _split(emb["speech"], convs),
                                    _split(emb["text"], convs), labels)
        return data, logits

    def predict(self, segments: Sequence[Segment], context: Any) -> Output:
        """Mixture, expert and gate outputs of ``segments`` (each must be in a conversation)."""
        convs = conversations_of(segments, "test")
        check_apart(self.train_dialogues, convs, "test")
        data, logits = self._embed(convs, context, None)
        results = phase2.run(self.model, data)
        order = {u.key: i for i, u in enumerate(_flat(convs))}
        idx = [order[u.key] for u in segments]
        stack = {k: np.concatenate([r[k] for r in results])[idx] for k in results[0]}
        return Output(probs=stack.pop("probs"), gate=stack.pop("gate", None),
                      experts={k: stack[k] for k in EXPERTS if k in stack},
                      unimodal={k: _softmax(v)[idx] for k, v in logits.items()})

    def save(self, folder: Path) -> None:
        for enc in self.encoders.values():
            enc.save(folder)
        torch.save(self.model.state_dict(), folder / MODEL_FILE)
        state = {"classes": self.classes, "dims": {k: e.dim for k, e in self.encoders.items()},
                 "train_dialogues": self.train_dialogues, "info": self.info}
        with atomic_write(folder / STATE_FILE) as fh:
            json.dump(state, fh, indent=1, default=str)

    @classmethod
    def load(cls, folder: Path, cfg: MisterEConfig) -> Fitted:
        state = json.loads((folder / STATE_FILE).read_text())
        classes = list(state["classes"])
        encoders = {m: ModalityEncoder(m, cfg) for m in ("speech", "text")}
        for enc in encoders.values():
            enc.load(folder, len(classes))
        model = phase2.build_model(cfg, state["dims"]["speech"], state["dims"]["text"], len(classes))
        model.load_state_dict(torch.load(folder / MODEL_FILE, map_location="cpu", weights_only=True))
        return cls(cfg, classes, encoders, model.eval(), list(state["train_dialogues"]), state.get("info", {}))


def fit(cfg: MisterEConfig, train: Sequence[Segment], valid: Sequence[Segment], context: Any, classes: Sequence[str],
        *, seed: int, work_dir: Path, cache_dir: Path | None = None) -> Fitted:
    """Phase 1 and phase 2 on ``train`` (epochs chosen on ``valid``); see the module docstring.

    ``cache_dir``: where text vectors and trained phase-1 encoders are shared between runs (see
    :class:`ModalityEncoder`)."""
    device = "cpu" if pick_device(cfg.device).type == "cpu" else cfg.device
    tr, va = conversations_of(train, "training"), conversations_of(valid, "validation")
    check_apart([c.name for c in tr], va, "validation")
    y_tr, y_va = label_indices(tr, classes, "training"), label_indices(va, classes, "validation")
    flat_y, flat_yv = np.concatenate(y_tr), np.concatenate(y_va) if y_va else np.zeros(0, dtype=int)
    encoders = {m: ModalityEncoder(m, cfg, cache_dir) for m in ("speech", "text")}
    info: dict[str, Any] = {"phase1": {}}
    for name, enc in encoders.items():
        info["phase1"][name] = enc.fit(_flat(tr), flat_y, _flat(va), flat_yv, len(classes), context, seed=seed,
                                       work_dir=work_dir / f"phase1-{name}", device=device)
    fitted = Fitted(cfg, list(classes), encoders, phase2.build_model(cfg, encoders["speech"].dim,
                                                                      encoders["text"].dim, len(classes)),
                    [c.name for c in tr], info)
    data, _ = fitted._embed(tr, context, y_tr)
    vdata, vlogits = fitted._embed(va, context, y_va) if va else (phase2.Conversations([], [], [], []), {})
    for name, z in vlogits.items():
        info["phase1"][name]["valid_wf1"] = weighted_f1(flat_yv, z.argmax(1), len(classes))
    info["phase2"] = phase2.train(fitted.model, data, vdata, cfg, seed=seed, work_dir=work_dir / "phase2",
                                  device=device)
    fitted.model.cpu().eval()
    return fitted
