"""Run by ``torchrun --standalone --nproc_per_node 2`` from tests/test_train_loop.py: the generic loop
under two processes (CPU, gloo DDP). Each process writes what it saw to ``OUT/rank-<r>.json``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from spokenemo.train.loop import fit
from spokenemo.train.settings import TrainSettings

sys.path.insert(0, str(Path(__file__).parent))
import test_train_loop as t  # noqa: E402


def main(root: Path) -> None:
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    settings = TrainSettings(lr=2e-2, epochs=2, batch_size=1, grad_accum=2, device="cpu", checkpoint_every=1,
                             log_every=1)
    straight = t._lora_model(0.2)
    first = fit(straight, t._sequences(), t._lm_loss, settings, root / "a", collate_fn=t._collate)
    fit(t._lora_model(0.2), t._sequences(), t._lm_loss, settings, root / "b", collate_fn=t._collate,
        stop_after_steps=3)
    resumed = t._lora_model(0.2)
    second = fit(resumed, t._sequences(), t._lm_loss, settings, root / "b", collate_fn=t._collate)
    a, b = t._weights(straight), t._weights(resumed)
    report = {"total_steps": first.total_steps, "main": first.main_process, "resumed_from": second.resumed_from,
              "same": all(torch.equal(a[n], b[n]) for n in a), "history": first.history}
    (root / f"rank-{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
