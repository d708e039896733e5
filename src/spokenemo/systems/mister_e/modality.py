"""One modality's phase-1 encoder as the system keeps it: input -> standardise -> head -> embedding.

:class:`ModalityEncoder` reads a modality's raw input (:mod:`~spokenemo.systems.mister_e.inputs`),
trains its phase-1 model (:mod:`~spokenemo.systems.mister_e.phase1`), gives the embeddings phase 2
reads, and saves / loads itself (the ``llm`` text encoder saves only its trainable LoRA and head
weights; the base LM is loaded again from ``llm_base``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from spokenemo.core.cache import fingerprint
from spokenemo.data.manifest import Segment
from spokenemo.models.moe.utterance import UtteranceHead
from spokenemo.systems.mister_e.config import LLM, MisterEConfig
from spokenemo.systems.mister_e.inputs import Standardiser, speech_matrix, text_matrix, turn_texts
from spokenemo.systems.mister_e.phase1 import (
    build_llm_encoder,
    head_outputs,
    llm_outputs,
    train_head,
    train_llm,
)

Modality = Literal["speech", "text"]


class ModalityEncoder:
    """Phase-1 encoder of ``modality`` (see the module docstring)."""

    def __init__(self, modality: Modality, cfg: MisterEConfig, cache_dir: Path | None = None) -> None:
        self.modality, self.cfg, self.cache_dir = modality, cfg, cache_dir
        self.is_llm = modality == "text" and cfg.text_input == LLM
        self.model: Any = None
        self.norm: Standardiser | None = None

    def raw(self, segments: Sequence[Segment], context: Any) -> Any:
        """The input of ``segments``: an ``(n, D)`` array, or the texts for the ``llm`` input."""
        if self.is_llm:
            return turn_texts(segments)
        if self.modality == "speech":
            return speech_matrix(segments, self.cfg, context)
        return text_matrix(segments, self.cfg, context, self.cache_dir)

    def fingerprint(self, train: Sequence[Segment], y: np.ndarray, valid: Sequence[Segment], seed: int) -> str:
        """What the phase-1 result depends on: its options, the seed and the data (keys and labels)."""
        fields = [f for f in type(self.cfg).model_fields if f.startswith(("phase1", "head", "llm", self.modality))]
        opts = {f: getattr(self.cfg, f) for f in [*fields, "gamma", "random_dim"]}
        return fingerprint({"modality": self.modality, "options": opts, "seed": seed,
                            "train": [u.key for u in train], "y": [int(v) for v in y], "valid": [u.key for u in valid]})

    def fit(self, train: Sequence[Segment], y: np.ndarray, valid: Sequence[Segment], yv: np.ndarray, n_classes: int,
            context: Any, *, seed: int, work_dir: Path, device: str) -> dict[str, Any]:
        """Train the phase-1 model on ``train`` (epoch chosen on ``valid``); returns its info.

        With a ``cache_dir``, the trained encoder is kept in ``cache_dir/phase1/<fingerprint>``, so
        system rows that share phase 1 (the ablations of one seed and fold) train it once.
        """
        cache = self.cache_dir / "phase1" if self.cache_dir is not None else None
        if cache is not None:
            folder = cache / self.fingerprint(train, y, valid, seed)
            if (folder / f"phase1-{self.modality}.pt").is_file():
                self.load(folder, n_classes)
                return {"cached": str(folder)}
        info = self._fit(train, y, valid, yv, n_classes, context, seed=seed, work_dir=work_dir, device=device)
        if cache is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self.save(folder)
        return info

    def _fit(self, train: Sequence[Segment], y: np.ndarray, valid: Sequence[Segment], yv: np.ndarray, n_classes: int,
             context: Any, *, seed: int, work_dir: Path, device: str) -> dict[str, Any]:
        X, Xv = self.raw(train, context), self.raw(valid, context) if len(valid) else []
        if self.is_llm:
            self.model = build_llm_encoder(self.cfg, n_classes, device)
            return train_llm(self.model, X, y, Xv, yv, n_classes, self.cfg, seed=seed, work_dir=work_dir,
                             device=device)
        self.norm = Standardiser(X)
        Zv = self.norm(np.asarray(Xv)) if len(valid) else np.zeros((0, X.shape[1]), dtype=np.float32)
        self.model, info = train_head(self.norm(X), y, Zv, yv, n_classes, self.cfg, seed=seed, work_dir=work_dir,
                                      device=device, tag=self.modality)
        return {**info, "dim_in": int(X.shape[1])}

    def outputs(self, segments: Sequence[Segment], context: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(embeddings, logits)`` of ``segments`` (the phase-1 unimodal predictions are the logits)."""
        if self.model is None:
            raise RuntimeError(f"the {self.modality} encoder is not trained")
        X = self.raw(segments, context)
        if self.is_llm:
            return llm_outputs(self.model, X, self.cfg.llm_max_tokens)
        assert self.norm is not None
        return head_outputs(self.model, self.norm(X))

    @property
    def dim(self) -> int:
        return int(self.model.head.out_dim if self.is_llm else self.model.out_dim)

    def save(self, folder: Path) -> None:
        state = {n: p.detach().cpu() for n, p in self.model.named_parameters() if p.requires_grad}
        extra = {} if self.norm is None else {k: torch.as_tensor(v) for k, v in self.norm.state().items()}
        dim_in = None if self.is_llm else int(self.model.fc1.in_features)
        torch.save({"params": state, "norm": extra, "dim_in": dim_in}, folder / f"phase1-{self.modality}.pt")

    def load(self, folder: Path, n_classes: int) -> None:
        blob = torch.load(folder / f"phase1-{self.modality}.pt", map_location="cpu", weights_only=True)
        if self.is_llm:
            self.model = build_llm_encoder(self.cfg, n_classes, "cpu")
        else:
            self.model = UtteranceHead(int(blob["dim_in"]), n_classes, hidden=self.cfg.head_hidden,
                                       dropout=self.cfg.head_dropout)
            self.norm = Standardiser.from_state(blob["norm"]["mean"].numpy(), blob["norm"]["std"].numpy())
        missing = set(blob["params"]) - {n for n, _ in self.model.named_parameters()}
        if missing:
            raise RuntimeError(f"phase-1 {self.modality} weights do not fit the model: {sorted(missing)[:3]}")
        self.model.load_state_dict(blob["params"], strict=False)
        self.model.eval()
