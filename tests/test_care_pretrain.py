"""CARE pre-training (issue #17) on the RAVDESS fixture clips with a tiny graph: transcripts given,
transcribed or skipped with a count; cached targets; exact resume; the fingerprint guard; the
best-on-validation model; the ``care`` system through the experiment runner; feature extraction
through the API with resume; the CLI group."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from spokenemo.api.care import care_encoder_name, extract_care
from spokenemo.apps.cli import cli
from spokenemo.core.errors import ConfigError
from spokenemo.data import prepare, write_manifest
from spokenemo.experiment import config_from_dict, run_experiment
from spokenemo.systems import find_preset, get_system
from spokenemo.systems.care.data import split, with_transcripts
from spokenemo.systems.care.plots import NO_WEIGHTS, row_parameters, size_performance_plot
from spokenemo.systems.care.pretrain import pretrain
from spokenemo.systems.care.targets import normalise_utterance, to_50hz

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "data" / "ravdess"
pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = {"model": {"preset": "care-tiny-whisper", "text": "minilm", "text_layers": 1},
        "data": {"limit": 8, "valid_fraction": 0.25}, "train": {"max_steps": 4, "batch_size": 3, "valid_every": 2,
                                                                "device": "cpu", "lr": 1e-3}}


@pytest.fixture(scope="module")
def segments():
    return [u for u in prepare("ravdess", FIXTURE)]


def test_transcripts_given_transcribed_or_skipped(segments):
    three = segments[:3]
    blank = [three[0], three[1].model_copy(update={"text": None}), three[2].model_copy(update={"text": "  "})]
    kept, report = with_transcripts(blank, "skip")
    assert [u.key for u in kept] == [three[0].key] and report.as_dict()["skipped"] == 2
    heard = {three[1].key: "dogs are sitting by the door", three[2].key: ""}
    kept, report = with_transcripts(blank, "asr", asr=lambda u: heard[u.key])
    assert report.given == 1 and report.transcribed == 1 and report.skipped == [three[2].key]
    assert kept[1].text == "dogs are sitting by the door" and kept[1].extra["text_from"] == "asr"
    train, valid = split(segments, 0.25, seed=0)
    assert len(valid) == 5 and not {u.key for u in train} & {u.key for u in valid}


def test_acoustic_target_rate_and_normalisation():
    frames = np.arange(10, dtype=np.float32).reshape(5, 2)  # 5 frames at 100 Hz
    assert to_50hz(frames, 100.0).tolist() == [[1.0, 2.0], [5.0, 6.0]]  # pairs averaged, odd last dropped
    z = normalise_utterance(np.array([[0.0], [2.0]], np.float32))  # mean 1, std 1 -> / (1 + 1)
    assert z.ravel().tolist() == [-0.5, 0.5]


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


@pytest.mark.slow
def test_pretraining_resumes_exactly_and_keeps_the_best(segments, tmp_path):
    whole = pretrain(TINY, segments, tmp_path / "whole", progress=False)
    assert whole.finished and whole.step == 4 and whole.summary["data"]["train_examples"] == 6
    half = pretrain(TINY, segments, tmp_path / "resumed", stop_after_steps=2, progress=False)
    assert not half.finished and half.step == 2 and not (tmp_path / "resumed" / "final").exists()
    again = pretrain(TINY, segments, tmp_path / "resumed", progress=False)
    assert again.finished and again.step == 4
    a, b = _weights(tmp_path / "whole" / "final"), _weights(tmp_path / "resumed" / "final")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    rows = [json.loads(line) for line in (tmp_path / "resumed" / "valid_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    best = json.loads((tmp_path / "resumed" / "best.json").read_text())
    assert best["valid_loss"] == pytest.approx(min(r["loss"] for r in rows)) and (tmp_path / "resumed" / "best").is_dir()
    changed = {**TINY, "train": {**TINY["train"], "lr": 5e-4}}
    with pytest.raises(ConfigError, match="different run"):
        pretrain(changed, segments, tmp_path / "resumed", progress=False)


def test_care_system_through_the_runner_and_extraction(segments, tmp_path):
    cls = get_system("care")
    assert cls.seeded and find_preset("care-init-whisper-base").options == {"model": "care-init:care-whisper-base"}
    cfg = config_from_dict({
        "name": "care-toy", "corpus": {"name": "ravdess", "root": str(FIXTURE)}, "label_set": "4class",
        "protocol": {"name": "speaker-kfold", "groups": [["01", "02"], ["03", "04"]]},
        "systems": [{"name": "care-tiny", "kind": "care", "model": "care-init:care-tiny-whisper", "epochs": 2},
                    {"name": "care-tiny-acoustic", "kind": "care", "model": "care-init:care-tiny-whisper",
                     "branch": "acoustic", "epochs": 2}],
        "seeds": [0]})
    result = run_experiment(cfg, tmp_path / "exp")
    rows = json.loads((tmp_path / "exp" / "results.json").read_text())
    assert result is not None and "care-tiny" in json.dumps(rows) and "care-tiny-acoustic" in json.dumps(rows)
    manifest = tmp_path / "m.jsonl"
    write_manifest(manifest, segments[:4])
    first = extract_care("care-init:care-tiny-whisper", manifest, tmp_path / "feats")
    assert (first["computed"], first["levels"], first["dim"]) == (4, 5, 112)
    again = extract_care("care-init:care-tiny-whisper", manifest, tmp_path / "feats")
    assert (again["computed"], again["reused"]) == (0, 4)
    with pytest.raises(ConfigError, match="not a CARE model folder"):
        care_encoder_name(tmp_path)


def test_size_performance_plot(tmp_path):
    full = row_parameters({"model": "care-init:care-tiny-whisper"})
    acoustic = row_parameters({"model": "care-init:care-tiny-whisper", "layers": [0, 1, 2, 3, 4]})
    assert 0 < acoustic < full and row_parameters({"encoder": "egemaps-lld"}) == NO_WEIGHTS
    out = size_performance_plot([("care", full, 60.0), ("eGeMAPS", NO_WEIGHTS, 50.0)], tmp_path / "f.png")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_cli_group_lists_its_commands():
    out = CliRunner().invoke(cli, ["care", "--help"])
    assert out.exit_code == 0 and all(c in out.output for c in ("pretrain", "extract", "plot"))
    bad = CliRunner().invoke(cli, ["care", "extract", "nowhere", "m.jsonl", "-o", "x"])
    assert bad.exit_code != 0
