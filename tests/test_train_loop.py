"""The generic training loop (accelerate) on CPU: it learns, accumulates, checkpoints and resumes exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from spokenemo.core.errors import ConfigError
from spokenemo.models.causal_lm import LoraSettings, add_lora
from spokenemo.models.tiny import tiny_qwen2_model
from spokenemo.train.checkpoint import TRAINABLE_FILE, latest_checkpoint
from spokenemo.train.loop import fit
from spokenemo.train.runtime import make_accelerator, plan_steps, seed_everything
from spokenemo.train.settings import TrainSettings

pytestmark = pytest.mark.usefixtures("one_torch_thread")
VOCAB = 64


def _sequences(n: int = 10, length: int = 12) -> list[list[int]]:
    g = torch.Generator().manual_seed(7)
    return [torch.randint(3, VOCAB, (length - i % 3,), generator=g).tolist() for i in range(n)]


def _collate(seqs: list[list[int]]) -> dict[str, torch.Tensor]:
    n = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), n), dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)], mask[i, :len(s)] = torch.tensor(s), 1
    return {"input_ids": ids, "attention_mask": mask}


def _lm_loss(model, batch):
    """Plain next-token cross-entropy (a loss the loop knows nothing about), with a logged figure."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    target = batch["input_ids"][:, 1:].masked_fill(batch["attention_mask"][:, 1:] == 0, -100)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB).float(), target.reshape(-1))
    hits = (logits.argmax(-1) == target)[target != -100].float().mean()
    return loss, {"accuracy": float(hits)}


def _lora_model(dropout: float = 0.0):
    seed_everything(0)
    return add_lora(tiny_qwen2_model(VOCAB, seed=0), LoraSettings(r=4, dropout=dropout))


def _weights(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _rows(path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "tokens_per_s"}
            for line in path.read_text().splitlines()]


def test_fit_learns_with_gradient_accumulation(tmp_path):
    settings = TrainSettings(lr=2e-2, epochs=4, batch_size=2, grad_accum=2, warmup_ratio=0.0, device="cpu",
                             log_every=1, checkpoint_every=100)
    model = _lora_model()
    result = fit(model, _sequences(), _lm_loss, settings, tmp_path, collate_fn=_collate)
    # 10 examples in micro-batches of 2 = 5 per epoch; 2 per step: steps of 2, 2 and 1 micro-batches
    assert plan_steps(5, settings) == (3, 12)
    assert result.finished and result.step == result.total_steps == 12 and result.resumed_from is None
    rows = _rows(tmp_path / "train_log.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 13)) and rows[-1]["epoch"] == 4.0
    assert rows[-1]["loss"] < 0.7 * rows[0]["loss"] and rows[-1]["accuracy"] > rows[0]["accuracy"]
    assert rows[-1]["lr"] == pytest.approx(0.0, abs=1e-12)  # the cosine schedule ran to its end
    assert result.tokens == sum(len(s) for s in _sequences()) * 4
    assert not model.training and [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000012"]


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    settings = TrainSettings(lr=2e-2, epochs=3, batch_size=2, grad_accum=2, warmup_ratio=0.2, device="cpu",
                             log_every=2, checkpoint_every=2, keep_checkpoints=1)
    straight = _lora_model(dropout=0.2)  # dropout draws from the generators a checkpoint restores
    fit(straight, _sequences(), _lm_loss, settings, tmp_path / "a", collate_fn=_collate)
    part = fit(_lora_model(dropout=0.2), _sequences(), _lm_loss, settings, tmp_path / "b", collate_fn=_collate,
               stop_after_steps=4)  # mid-epoch: epoch 2 starts at step 3
    assert not part.finished and latest_checkpoint(tmp_path / "b" / "checkpoints").name == "step-00000004"
    resumed = _lora_model(dropout=0.2)
    result = fit(resumed, _sequences(), _lm_loss, settings, tmp_path / "b", collate_fn=_collate)
    assert result.resumed_from == 4 and result.finished
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert _rows(tmp_path / "a" / "train_log.jsonl") == _rows(tmp_path / "b" / "train_log.jsonl")
    other = _lora_model(dropout=0.2)  # another seed gives other weights (the comparison above can fail)
    fit(other, _sequences(), _lm_loss, TrainSettings(**{**settings.__dict__, "seed": 1}), tmp_path / "c",
        collate_fn=_collate)
    assert any(not torch.equal(a[n], w) for n, w in _weights(other).items())
    with pytest.raises(ConfigError, match="different run"):
        fit(_lora_model(), _sequences(), _lm_loss, settings, tmp_path / "b", collate_fn=_collate, fingerprint="x")


class _Regressor(torch.nn.Module):
    """A frozen feature layer and a trainable head: a model that is not a peft model."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Linear(3, 8)
        self.head = torch.nn.Linear(8, 1)
        self.features.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.features(x))).squeeze(-1)


def _regression_data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    xs = torch.randn(12, 3, generator=g)
    return list(zip(xs, xs @ torch.tensor([1.0, -2.0, 0.5]), strict=True))


def _mse(model, batch):
    x, y = batch
    return torch.nn.functional.mse_loss(model(x), y)


def _regressor() -> _Regressor:
    seed_everything(0)
    return _Regressor()


def test_any_model_checkpoints_its_trainable_parameters_only(tmp_path):
    settings = TrainSettings(lr=5e-2, epochs=2, batch_size=3, device="cpu", checkpoint_every=2, log_every=1)
    collate = torch.utils.data.default_collate
    straight = _regressor()
    frozen = straight.features.weight.detach().clone()
    fit(straight, _regression_data(), _mse, settings, tmp_path / "a", collate_fn=collate)
    assert torch.equal(straight.features.weight, frozen)
    part = fit(_regressor(), _regression_data(), _mse, settings, tmp_path / "b", collate_fn=collate,
               stop_after_steps=3)
    saved = load_file(str(tmp_path / "b" / "checkpoints" / f"step-{part.step:08d}" / TRAINABLE_FILE))
    assert sorted(saved) == ["head.bias", "head.weight"]
    resumed = _regressor()
    fit(resumed, _regression_data(), _mse, settings, tmp_path / "b", collate_fn=collate)
    assert all(torch.equal(p, q) for p, q in zip(straight.parameters(), resumed.parameters(), strict=True))
    rows = _rows(tmp_path / "a" / "train_log.jsonl")
    assert rows == _rows(tmp_path / "b" / "train_log.jsonl") and rows[-1]["loss"] < rows[0]["loss"]


def test_fit_errors_and_settings_checks(tmp_path):
    with pytest.raises(ConfigError, match="no training examples"):
        fit(_regressor(), [], _mse, TrainSettings(device="cpu"), tmp_path, collate_fn=list)
    frozen = _regressor().requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        fit(frozen, _regression_data(), _mse, TrainSettings(device="cpu"), tmp_path,
            collate_fn=torch.utils.data.default_collate)
    with pytest.raises(ConfigError, match="grad_accum must be at least 1"):
        TrainSettings(grad_accum=0)
    with pytest.raises(ConfigError, match="mixed_precision"):
        TrainSettings(mixed_precision="fp16")


def test_runs_of_one_process_may_change_precision(tmp_path):
    """accelerate keeps one state per process; consecutive fits (an experiment) may still differ."""
    collate = torch.utils.data.default_collate
    for i, precision in enumerate(["bf16", "no", "bf16"]):
        settings = TrainSettings(device="cpu", mixed_precision=precision, max_steps=2, batch_size=4)
        result = fit(_regressor(), _regression_data(), _mse, settings, tmp_path / str(i), collate_fn=collate)
        assert result.finished
    assert make_accelerator(TrainSettings(device="cpu")).mixed_precision == "no"


@pytest.mark.slow
def test_two_processes_share_the_epoch_and_resume_exactly(tmp_path):
    """``torchrun`` with 2 CPU processes (gloo DDP): the same code as one process, the work split."""
    script = Path(__file__).with_name("ddp_fit_script.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    # 10 examples, micro-batches of 1 on each of 2 processes, 2 per step: 3 steps per epoch, 6 in all
    assert [r["total_steps"] for r in ranks] == [6, 6] and [r["main"] for r in ranks] == [True, False]
    assert all(r["resumed_from"] == 3 and r["same"] for r in ranks)
    figures = [[{k: v for k, v in row.items() if k != "tokens_per_s"} for row in r["history"]] for r in ranks]
    assert figures[0] == figures[1]  # logged figures are averaged over the processes
    rows = _rows(tmp_path / "a" / "train_log.jsonl")  # written once, by the main process
    assert [r["step"] for r in rows] == list(range(1, 7)) and rows == _rows(tmp_path / "b" / "train_log.jsonl")
    last = sorted((tmp_path / "b" / "checkpoints").iterdir())[-1]
    assert {"random_states_0.pkl", "random_states_1.pkl", "adapter"} <= {p.name for p in last.iterdir()}
