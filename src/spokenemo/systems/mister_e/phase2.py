"""Phase 2 of MiSTER-E: the context networks, the multimodal network and the gate, trained together.

Each conversation is a pair of ``(turns, dim)`` arrays (the frozen phase-1 embeddings of its
speech and text) and its labels; batches are padded with :func:`spokenemo.models.turns.pad_turns`.
Training runs through the platform's loop
(:func:`~spokenemo.systems.mister_e.selection.fit_keep_best`: AdamW, gradient clipping, the epoch
with the best validation WF1 kept). Safeguards, each a typed error that stops the run
after writing a ``stopped`` row to ``<work_dir>/phase2_log.jsonl``:

- an expert (or the mixture) gives NaN / infinite logits: :class:`ExpertOutputError`;
- from epoch ``collapse_after`` on, one expert's mean gate weight over the validation turns
  reaches ``collapse_threshold``: :class:`GateCollapseError`.

Every epoch appends the validation WF1 of the mixture and of each expert and the mean gate weight
per expert to ``phase2_log.jsonl``; the platform's ``train_log.jsonl`` beside it has the training
losses and the training turns' mean gate weights.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spokenemo.core.cache import fingerprint
from spokenemo.core.fileio import append_jsonl
from spokenemo.models.moe.errors import ExpertOutputError, GateCollapseError
from spokenemo.models.moe.loss import MoeLossSettings, moe_loss
from spokenemo.models.moe.mister_e import EXPERTS, MisterE, MoeOutput, MoeShape
from spokenemo.models.turns import pad_turns
from spokenemo.systems.mister_e.config import MisterEConfig
from spokenemo.systems.mister_e.phase1 import weighted_f1
from spokenemo.systems.mister_e.selection import fit_keep_best
from spokenemo.train.selection import epoch_settings

LOG_FILE = "phase2_log.jsonl"


@dataclass
class Conversations:
    """Phase-2 inputs: per conversation its speech and text embeddings and (optionally) labels."""

    names: list[str]
    speech: list[np.ndarray]
    text: list[np.ndarray]
    labels: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def batch(self, rows: list[int]) -> dict[str, torch.Tensor]:
        labels = None if self.labels is None else [self.labels[i] for i in rows]
        s = pad_turns([self.speech[i] for i in rows], labels)
        t = pad_turns([self.text[i] for i in rows])
        out = {"speech": s.x, "text": t.x, "mask": s.mask}
        if s.y is not None:
            out["y"] = s.y
        return out


def build_model(cfg: MisterEConfig, dim_speech: int, dim_text: int, n_classes: int) -> MisterE:
    shape = MoeShape(can_hidden=cfg.can_hidden, can_layers=cfg.can_layers, can_dropout=cfg.can_dropout,
                     mm_hidden=cfg.mm_hidden, mm_heads=cfg.mm_heads, mm_layers=cfg.mm_layers,
                     mm_dropout=cfg.mm_dropout, fused=cfg.fused, gate=cfg.gate)
    return MisterE(dim_speech, dim_text, n_classes, variant=cfg.variant, shape=shape)


def loss_settings(cfg: MisterEConfig) -> MoeLossSettings:
    return MoeLossSettings(gamma=cfg.gamma, alpha=cfg.alpha, lam=cfg.lam, tau=cfg.tau, kl=cfg.kl,
                           detach_reference=cfg.detach_reference, supervise_experts=cfg.supervise_experts,
                           contrastive_scope=cfg.contrastive_scope)


def check_finite(out: MoeOutput, mask: torch.Tensor, where: str) -> None:
    """:class:`ExpertOutputError` naming the first expert (or the mixture) with a non-finite logit."""
    for name, logits in [*out.experts.items(), ("mixture", out.logits)]:
        bad = ~torch.isfinite(logits.detach()[mask])
        if bool(bad.any()):
            n = int(bad.any(dim=-1).sum())
            raise ExpertOutputError(f"MiSTER-E {where}: the {name} expert gave NaN/inf logits on {n} turn(s)",
                                    hint="lower lr, keep max_grad_norm, and check the phase-1 embeddings for "
                                         "NaN/huge values")


def run(model: MisterE, data: Conversations, size: int = 32) -> list[dict[str, np.ndarray]]:
    """Per conversation: ``probs`` (T, C), each expert's probabilities and ``gate`` (T, 3) when present."""
    model.eval()
    dev = next(model.parameters()).device
    out: list[dict[str, np.ndarray]] = []
    with torch.no_grad():
        for at in range(0, len(data), size):
            rows = list(range(at, min(len(data), at + size)))
            b = {k: v.to(dev) for k, v in data.batch(rows).items() if k != "y"}
            res = model(b["speech"], b["text"], b["mask"])
            check_finite(res, b["mask"], "prediction")
            for j, i in enumerate(rows):
                n = len(data.speech[i])
                item = {"probs": torch.softmax(res.logits[j, :n].float(), -1).cpu().numpy()}
                for name, z in res.experts.items():
                    item[name] = torch.softmax(z[j, :n].float(), -1).cpu().numpy()
                if res.gate is not None:
                    item["gate"] = res.gate[j, :n].float().cpu().numpy()
                out.append(item)
    return out


def summarise(results: list[dict[str, np.ndarray]], labels: list[list[int]], n_classes: int) -> dict[str, Any]:
    """WF1 of the mixture and of each expert, and the mean gate weight per expert, over all turns."""
    y = np.concatenate([np.asarray(lab) for lab in labels])
    row: dict[str, Any] = {"wf1": weighted_f1(y, np.concatenate([r["probs"] for r in results]).argmax(1), n_classes)}
    for name in EXPERTS:
        if name in results[0]:
            row[f"wf1_{name}"] = weighted_f1(y, np.concatenate([r[name] for r in results]).argmax(1), n_classes)
    if "gate" in results[0]:
        means = np.concatenate([r["gate"] for r in results]).mean(axis=0)
        row.update({f"gate_{name}": float(v) for name, v in zip(EXPERTS, means, strict=True)})
    return row


def _collapsed(row: dict[str, Any], threshold: float | None) -> str | None:
    if threshold is None:
        return None
    for name in EXPERTS:
        if row.get(f"gate_{name}", 0.0) >= threshold:
            return name
    return None


def _loss_fn(cfg: MisterEConfig, log_path: Path) -> Any:
    settings = loss_settings(cfg)

    def loss_fn(model: Any, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        out = model(b["speech"], b["text"], b["mask"])
        try:
            check_finite(out, b["mask"], "training")
        except ExpertOutputError as err:
            append_jsonl(log_path, {"stopped": "non-finite logits", "message": err.message})
            raise
        return moe_loss(out, b["y"], b["mask"], settings)
    return loss_fn


def train(model: MisterE, data: Conversations, valid: Conversations, cfg: MisterEConfig, *, seed: int,
          work_dir: Path, device: str) -> dict[str, Any]:
    """Train ``model`` in place (module docstring); returns ``{"epoch": chosen, "history": [...]}``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / LOG_FILE
    log_path.unlink(missing_ok=True)
    n_classes = model.n_classes
    history: list[dict[str, Any]] = []
    evaluate = None
    if len(valid):
        def evaluate(epoch: int) -> float:
            row = {"epoch": epoch, **summarise(run(model, valid), valid.labels or [], n_classes)}
            history.append(row)
            append_jsonl(log_path, row)
            expert = _collapsed(row, cfg.collapse_threshold) if epoch >= cfg.collapse_after else None
            if expert is not None:
                msg = (f"MiSTER-E gate collapsed at epoch {epoch}: mean weight {row[f'gate_{expert}']:.3f} on the "
                       f"{expert} expert (threshold {cfg.collapse_threshold})")
                append_jsonl(log_path, {"stopped": "gate collapse", "epoch": epoch, "message": msg})
                raise GateCollapseError(msg, hint="raise collapse_threshold (or set it to null) if one modality "
                                                  "is truly uninformative; otherwise lower lr or use gate: mlp")
            model.train()
            return row["wf1"]

    settings = epoch_settings(n=len(data), epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size,
                              weight_decay=cfg.weight_decay, seed=seed, device=device)
    settings = replace(settings, max_grad_norm=cfg.max_grad_norm)
    torch.manual_seed(seed)
    chosen = fit_keep_best(model, range(len(data)), _loss_fn(cfg, log_path), settings, work_dir,
                           collate=data.batch, fingerprint=fingerprint({"n": len(data), "seed": seed}),
                           evaluate=evaluate)
    return {"epoch": chosen, "history": history}
