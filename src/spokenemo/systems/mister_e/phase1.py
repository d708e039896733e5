"""Phase 1 of MiSTER-E: each modality's utterance encoder trained alone (thesis Fig. 4.4a).

- frozen vectors (MiniLM / Whisper-base / eGeMAPS / random): an
  :class:`~spokenemo.models.moe.utterance.UtteranceHead` is trained with the focal loss;
- ``llm`` text: an :class:`~spokenemo.models.moe.utterance.LlmUtteranceEncoder` (LoRA + head) is.

Both go through the platform's loop (:func:`~spokenemo.systems.mister_e.selection.fit_keep_best`):
the epoch with the best validation WF1 is kept (the last one when there is no validation part).
The embedding phase 2 reads is the head's first FC layer output.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spokenemo.core.cache import fingerprint
from spokenemo.models.causal_lm import LoraSettings
from spokenemo.models.losses import focal_loss
from spokenemo.models.moe.utterance import LlmUtteranceEncoder, UtteranceHead
from spokenemo.protocols.metrics import compute_metrics
from spokenemo.systems.mister_e.config import MisterEConfig
from spokenemo.systems.mister_e.selection import fit_keep_best
from spokenemo.train.selection import epoch_settings


def weighted_f1(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> float:
    """WF1 (support-weighted F1, the thesis metric) of class indices."""
    labels = [str(c) for c in range(n_classes)]
    with warnings.catch_warnings():  # a validation part without some class: UA warns, WF1 is defined
        warnings.simplefilter("ignore")
        return float(compute_metrics([str(int(v)) for v in y_true], [str(int(v)) for v in y_pred], labels).weighted_f1)


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _predict_batches(model: torch.nn.Module, n: int, batch: Callable[[list[int]], dict[str, torch.Tensor]],
                     size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(embeddings, logits)`` of rows ``0..n-1`` in eval mode."""
    model.eval()
    dev = _device_of(model)
    es, zs = [], []
    with torch.no_grad():
        for at in range(0, n, size):
            inputs = {k: v.to(dev) for k, v in batch(list(range(at, min(n, at + size)))).items() if k != "y"}
            e, z = model(**inputs)
            es.append(e.float().cpu().numpy())
            zs.append(z.float().cpu().numpy())
    return np.concatenate(es), np.concatenate(zs)


def _fit(model: torch.nn.Module, n: int, batch: Callable[[list[int]], dict[str, torch.Tensor]],
         valid: tuple[int, Callable[[list[int]], dict[str, torch.Tensor]], np.ndarray] | None, n_classes: int,
         cfg: MisterEConfig, lr: float, seed: int, work_dir: Path, device: str, tag: str) -> dict[str, Any]:
    """Train ``model`` on rows ``0..n-1`` with the focal loss; keep the best validation epoch."""
    def loss_fn(m: Any, b: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = {k: v for k, v in b.items() if k != "y"}
        return focal_loss(m(**inputs)[1], b["y"], gamma=cfg.gamma)

    evaluate = None
    if valid is not None and valid[0]:
        nv, vbatch, yv = valid

        def evaluate(epoch: int) -> float:
            score = weighted_f1(yv, _predict_batches(model, nv, vbatch)[1].argmax(1), n_classes)
            model.train()
            return score

    settings = epoch_settings(n=n, epochs=cfg.phase1_epochs, lr=lr, batch_size=cfg.phase1_batch_size,
                              weight_decay=0.0, seed=seed, device=device)
    chosen = fit_keep_best(model, range(n), loss_fn, settings, work_dir, collate=batch,
                           fingerprint=fingerprint({"tag": tag, "n": n, "seed": seed}), evaluate=evaluate)
    return {"epoch": chosen}


def _row_batcher(X: np.ndarray, y: np.ndarray | None) -> Callable[[list[int]], dict[str, torch.Tensor]]:
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = None if y is None else torch.as_tensor(y, dtype=torch.long)

    def batch(rows: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(rows, dtype=torch.long)
        return {"x": Xt[idx]} if yt is None else {"x": Xt[idx], "y": yt[idx]}
    return batch


def train_head(X: np.ndarray, y: np.ndarray, Xv: np.ndarray, yv: np.ndarray, n_classes: int, cfg: MisterEConfig,
               *, seed: int, work_dir: Path, device: str, tag: str) -> tuple[UtteranceHead, dict[str, Any]]:
    """An :class:`UtteranceHead` trained on standardised vectors ``X`` (labels ``y``)."""
    torch.manual_seed(seed)
    head = UtteranceHead(X.shape[1], n_classes, hidden=cfg.head_hidden, dropout=cfg.head_dropout)
    valid = (len(Xv), _row_batcher(Xv, None), yv) if len(Xv) else None
    info = _fit(head, len(X), _row_batcher(X, y), valid, n_classes, cfg, cfg.phase1_lr, seed, work_dir, device, tag)
    return head, info


def head_outputs(head: UtteranceHead, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(embeddings, logits)`` of the rows of ``X``."""
    return _predict_batches(head, len(X), _row_batcher(X, None))


def _text_batcher(encoder: LlmUtteranceEncoder, texts: Sequence[str], y: np.ndarray | None,
                  max_tokens: int) -> Callable[[list[int]], dict[str, torch.Tensor]]:
    def batch(rows: list[int]) -> dict[str, torch.Tensor]:
        out = encoder.tokenize([texts[i] for i in rows], max_length=max_tokens)
        if y is not None:
            out["y"] = torch.as_tensor(y[rows], dtype=torch.long)
        return out
    return batch


def build_llm_encoder(cfg: MisterEConfig, n_classes: int, device: str = "cpu") -> LlmUtteranceEncoder:
    """The ``llm`` text encoder: ``cfg.llm_base`` + LoRA (r, alpha from the config; dropout 0.1)."""
    lora = LoraSettings(r=cfg.llm_lora_r, alpha=cfg.llm_lora_alpha, dropout=0.1, target_modules="all-linear")
    return LlmUtteranceEncoder.from_base(n_classes, cfg.llm_base, lora=lora, hidden=cfg.head_hidden,
                                         dropout=cfg.head_dropout, device="cpu" if device == "auto" else device)


def train_llm(encoder: LlmUtteranceEncoder, texts: Sequence[str], y: np.ndarray, texts_v: Sequence[str],
              yv: np.ndarray, n_classes: int, cfg: MisterEConfig, *, seed: int, work_dir: Path,
              device: str) -> dict[str, Any]:
    """Phase 1 of the ``llm`` text encoder (LoRA and head; the base weights stay frozen)."""
    torch.manual_seed(seed)
    valid = (len(texts_v), _text_batcher(encoder, texts_v, None, cfg.llm_max_tokens), yv) if len(texts_v) else None
    return _fit(encoder, len(texts), _text_batcher(encoder, texts, y, cfg.llm_max_tokens), valid, n_classes, cfg,
                cfg.phase1_lr, seed, work_dir, device, "llm-text")


def llm_outputs(encoder: LlmUtteranceEncoder, texts: Sequence[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """``(embeddings, logits)`` of ``texts``."""
    return _predict_batches(encoder, len(texts), _text_batcher(encoder, texts, None, max_tokens), size=32)
