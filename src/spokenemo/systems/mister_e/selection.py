"""Best-epoch training that keeps only the *trainable* weights of the best epoch.

Like :func:`spokenemo.train.selection.fit_best_epoch` (one fit through the platform's loop, an
``evaluate(epoch)`` after every epoch, the best epoch restored at the end), but the copy kept is of
the parameters that require a gradient, moved to the CPU: for an LLM encoder that is the LoRA
adapter and the head, not a second copy of the frozen base model (gigabytes for LLaMA-3.1-8B).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from spokenemo.train.loop import fit
from spokenemo.train.settings import TrainSettings


def fit_keep_best(model: torch.nn.Module, rows: Sequence[int], loss_fn: Callable[[Any, Any], Any],
                  settings: TrainSettings, work_dir: Path, *, collate: Callable[[list[int]], Any], fingerprint: str,
                  evaluate: Callable[[int], float] | None = None) -> int | None:
    """Train ``model`` in place; with ``evaluate``, restore the best epoch's trainable weights.

    Returns the chosen epoch (1-based), or None when nothing was evaluated (the last weights stay).
    """
    best: dict[str, Any] = {}

    def on_epoch(row: dict[str, Any]) -> None:
        epoch = row["step"] // settings.log_every
        score = evaluate(epoch) if evaluate is not None else None
        if score is not None and (not best or score > best["score"]):
            state = {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}
            best.update(score=score, epoch=epoch, state=state)

    try:
        fit(model, list(rows), loss_fn, settings, work_dir, collate_fn=collate, fingerprint=fingerprint, resume=False,
            on_log=on_epoch)
    finally:
        shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)
    model.eval()
    if not best:
        return None
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in best["state"].items():
            params[name].copy_(value.to(params[name].device))
    return int(best["epoch"])
