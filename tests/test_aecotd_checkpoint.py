"""Checkpoints (atomic, pruned, complete only) and model-directory checks."""

from __future__ import annotations

import json
import random

import pytest
import torch

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.models.causal_lm import LoraSettings, add_lora, resolve_base
from spokenemo.models.tiny import tiny_qwen2_model
from spokenemo.systems.aecotd.config import LoraSection
from spokenemo.systems.aecotd.model_dir import read_info
from spokenemo.train.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from spokenemo.train.runtime import make_accelerator
from spokenemo.train.settings import TrainSettings


@pytest.fixture()
def peft_model():
    return add_lora(tiny_qwen2_model(64, seed=0), LoraSection(r=2))  # a system's config section works too


def _optim(model):
    """Model, optimizer and scheduler prepared by a fresh accelerator (CPU, fp32)."""
    acc = make_accelerator(TrainSettings(device="cpu"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s))
    return (acc, *acc.prepare(model, opt, sched))


def _step(model, opt, sched):
    out = model(input_ids=torch.tensor([[1, 2, 3, 4]]))
    out.logits.float().pow(2).mean().backward()
    opt.step()
    sched.step()
    opt.zero_grad()


def test_checkpoints_round_trip_and_prune(tmp_path, peft_model):
    acc, peft_model, opt, sched = _optim(peft_model)
    for step in range(1, 4):
        _step(peft_model, opt, sched)
        save_checkpoint(acc, tmp_path, step, {"fingerprint": "f"}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000002", "step-00000003"]
    # the adapter alone (not the frozen base model) is saved, usable with peft as it is
    assert (tmp_path / "step-00000003" / "adapter" / "adapter_model.safetensors").is_file()
    assert not list((tmp_path / "step-00000003").glob("model*.safetensors"))
    saved = {n: p.detach().clone() for n, p in peft_model.named_parameters() if p.requires_grad}
    torch.manual_seed(123)
    random.seed(5)
    expect_torch, expect_py = torch.rand(3), random.random()
    torch.manual_seed(123)
    random.seed(5)
    save_checkpoint(acc, tmp_path, 4, {"fingerprint": "f"}, keep=2)
    # a fresh model and optimizer, restored, hold the same weights, lr and RNG stream
    acc2, fresh, opt2, sched2 = _optim(add_lora(tiny_qwen2_model(64, seed=0), LoraSettings(r=2)))
    with pytest.raises(ConfigError, match="different run"):
        load_checkpoint(acc2, latest_checkpoint(tmp_path), fingerprint="another run")
    torch.manual_seed(999)
    state = load_checkpoint(acc2, latest_checkpoint(tmp_path), fingerprint="f")
    assert state["step"] == 4 and state["fingerprint"] == "f"
    for name, p in fresh.named_parameters():
        if p.requires_grad:
            assert torch.equal(p, saved[name]), name
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert opt2.state_dict()["state"].keys() == opt.state_dict()["state"].keys()
    assert torch.equal(torch.rand(3), expect_torch) and random.random() == expect_py
    # a checkpoint of the hand-written loop that came before cannot be continued: say so
    old = tmp_path / "step-00000009"
    old.mkdir()
    (old / "state.json").write_text(json.dumps({"fingerprint": "f", "step": 9}))
    (old / "rng.pt").write_bytes(b"")
    with pytest.raises(ConfigError, match="before accelerate"):
        load_checkpoint(acc2, old, fingerprint="f")


def test_incomplete_checkpoints_are_ignored(tmp_path):
    (tmp_path / ".step-00000009.partial").mkdir()
    (tmp_path / "step-00000008").mkdir()  # no state.json: never finished
    (tmp_path / "step-00000002").mkdir()
    (tmp_path / "step-00000002" / "state.json").write_text("{}")
    assert latest_checkpoint(tmp_path).name == "step-00000002"
    assert latest_checkpoint(tmp_path / "absent") is None


def test_model_directory_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="model directory not found"):
        read_info(tmp_path / "nope")
    (tmp_path / "m" / "checkpoints").mkdir(parents=True)
    with pytest.raises(ModelNotFoundError, match="resume"):
        read_info(tmp_path / "m")
    (tmp_path / "m" / "student.json").write_text(json.dumps({"format": "other/9", "base_model": "x",
                                                             "labels": ["a", "b"], "label_set": "s", "cot": True,
                                                             "prompt": {"name": "student", "sha256": "0"}}))
    with pytest.raises(ModelNotFoundError, match="format 'other/9'"):
        read_info(tmp_path / "m")
    (tmp_path / "m" / "student.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match="not a valid student"):
        read_info(tmp_path / "m")


def test_base_model_references(tmp_path):
    assert resolve_base("Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"  # a hub id, read from the cache
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_base(str(tmp_path / "missing" / "model"))
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve_base(str(tmp_path))


def test_missing_hub_model_is_not_downloaded():
    from spokenemo.models.causal_lm import load_tokenizer

    with pytest.raises(ModelNotFoundError, match="huggingface-cli download spokenemo-test/no-such-model"):
        load_tokenizer("spokenemo-test/no-such-model")
