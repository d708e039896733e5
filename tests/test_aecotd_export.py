"""Slim export of a student model directory, the tokenizer fallback, the default model lookup and
``spokenemo explain [MODEL] FILE``, on a tiny random Qwen2 student trained in a few seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.models.tiny import make_tiny_model_dir
from spokenemo.protocols.calibration import Calibration
from spokenemo.systems.aecotd import (
    StudentInput,
    TrainingData,
    config_from_dict,
    load_student,
    predict,
    read_info,
    train,
)
from spokenemo.systems.aecotd import default_model as dm
from spokenemo.systems.aecotd.export import export_model_dir
from spokenemo.systems.aecotd.temperature import read_temperature, write_calibration

LABELS = ["angry", "happy", "neutral", "sad"]
CLIPS = {"neutral": "03-01-01-01-02-01-02", "happy": "03-01-03-01-01-01-02", "sad": "03-01-04-01-02-01-02",
         "angry": "03-01-05-01-01-01-02"}
TEXT = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
REASONS = {"angry": "The intensity is strong and the pitch is high.", "happy": "The pitch is high and rises.",
           "neutral": "The pitch and intensity stay level.", "sad": "The intensity is weak and the pitch falls."}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory, test_data) -> Path:
    """A tiny student (cues + chain of thought) trained for a few steps on 4 real clips' cues."""
    from spokenemo.features.cues import extract_file
    from spokenemo.systems.aecotd.cuetext import fit_thresholds, render, text_config

    ws = tmp_path_factory.mktemp("export")
    base = make_tiny_model_dir(ws / "tiny")
    cfg = config_from_dict({}, overrides={
        "model.base": str(base), "optim.max_steps": 8, "optim.lr": 2e-2, "optim.batch_size": 1,
        "optim.warmup_ratio": 0.0, "runtime.precision": "fp32", "runtime.threads": 1,
        "runtime.checkpoint_every": 4})
    rows = {lab: extract_file(test_data / "ravdess" / "Actor_02" / f"{stem}.flac").to_row() | {"key": stem}
            for lab, stem in CLIPS.items()}
    thresholds = fit_thresholds(rows.values(), cfg.cues)
    items = [StudentInput(stem, TEXT[stem.split("-")[4]], render(rows[lab], thresholds, text_config(cfg.cues)), lab,
                          REASONS[lab]) for lab, stem in CLIPS.items()]
    data = TrainingData(items=items, labels=LABELS, label_set="4class", thresholds=thresholds.to_json())
    out = train(cfg, ws / "model", data=data)
    assert (out / "checkpoints").is_dir() and (out / "tokenizer").is_dir()
    return out


def _inputs() -> list[StudentInput]:
    return [StudentInput("a", "Kids are talking by the door", "Pitch: high. Intensity: strong."),
            StudentInput("b", "Dogs are sitting by the door", "Pitch: low. Intensity: weak. Speech rate: slow."),
            StudentInput("c", "Dogs", "Pitch: high. Intensity: weak."),
            StudentInput("d", "Kids are talking by the door", "")]


def _agree(a_dir: Path, b_dir: Path) -> None:
    a = predict(load_student(a_dir), _inputs())
    b = predict(load_student(b_dir), _inputs())
    for x, y in zip(a, b, strict=True):
        assert x.predicted == y.predicted
        assert list(x.probabilities.values()) == pytest.approx(list(y.probabilities.values()), abs=1e-2)
    # the comparison is not trivial: the trained student's probabilities are far from uniform
    assert max(max(p.probabilities.values()) for p in a) > 0.3


# --- export -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_export_is_slim_float16_and_predicts_like_the_original(student_dir, tmp_path):
    from safetensors.torch import load_file

    dst = export_model_dir(student_dir, tmp_path / "ship" / "model")
    assert dst == tmp_path / "ship" / "model"
    names = sorted(p.name for p in dst.iterdir())
    assert names == ["adapter", "config.yaml", "metrics.json", "prompt.json", "student.json", "thresholds.json",
                     "tokenizer", "train_log.jsonl"]  # a folder base: its tokenizer is kept; no checkpoints
    assert sorted(p.name for p in (tmp_path / "ship").iterdir()) == ["model"]  # no temporary folder left
    original, slim = load_file(str(student_dir / "adapter" / "adapter_model.safetensors")), \
        load_file(str(dst / "adapter" / "adapter_model.safetensors"))
    assert original.keys() == slim.keys() and original
    assert {t.dtype for t in original.values()} == {torch.float32}
    assert {t.dtype for t in slim.values()} == {torch.float16}
    for name, t in original.items():
        torch.testing.assert_close(slim[name].float(), t, rtol=1e-3, atol=1e-6)
    assert (dst / "adapter" / "adapter_config.json").read_bytes() == \
        (student_dir / "adapter" / "adapter_config.json").read_bytes()
    for name in ("thresholds.json", "prompt.json", "config.yaml", "metrics.json", "train_log.jsonl"):
        assert (dst / name).read_bytes() == (student_dir / name).read_bytes(), name
    record = json.loads((dst / "student.json").read_text())
    assert record["export"]["from"] == str(student_dir) and record["export"]["dtype"] == "float16"
    assert record["export"]["tokenizer"] == "copied"
    assert read_info(dst).labels == LABELS and read_info(dst).base_model == read_info(student_dir).base_model
    _agree(student_dir, dst)


@pytest.mark.slow
def test_missing_tokenizer_falls_back_to_the_base_models(student_dir, tmp_path):
    bare = tmp_path / "bare"
    export_model_dir(student_dir, bare)
    shutil.rmtree(bare / "tokenizer")
    student = load_student(bare)
    assert student.tokenizer.pad_token_id is not None and len(student.tokenizer) == \
        len(load_student(student_dir).tokenizer)
    _agree(student_dir, bare)


@pytest.mark.slow
def test_embedded_base_exports_without_tokenizer(student_dir, tmp_path):
    fake = tmp_path / "embedded-src"
    shutil.copytree(student_dir, fake, ignore=shutil.ignore_patterns("checkpoints"))
    info = json.loads((fake / "student.json").read_text())
    (fake / "student.json").write_text(json.dumps(info | {"base_model": "embedded"}))
    dst = export_model_dir(fake, tmp_path / "out", dtype="bfloat16")
    assert not (dst / "tokenizer").exists() and (dst / "adapter" / "adapter_model.safetensors").is_file()
    record = json.loads((dst / "student.json").read_text())
    assert record["export"]["tokenizer"] == "base model" and record["export"]["dtype"] == "bfloat16"


@pytest.mark.slow
def test_export_keeps_the_calibration_temperature(student_dir, tmp_path):
    src = tmp_path / "calibrated"
    shutil.copytree(student_dir, src, ignore=shutil.ignore_patterns("checkpoints"))
    write_calibration(src, Calibration(temperature=1.7, nll_before=1.2, nll_after=1.0, ece_before=0.2,
                                       ece_after=0.1, n=40), split="valid")
    dst = export_model_dir(src, tmp_path / "slim")
    assert read_temperature(dst) == pytest.approx(1.7)


@pytest.mark.slow
def test_export_replaces_an_old_copy_and_refuses_what_it_should(student_dir, tmp_path):
    dst = export_model_dir(student_dir, tmp_path / "m")
    (dst / "stale.txt").write_text("from an older export")
    export_model_dir(student_dir, dst, dtype="float32")
    assert not (dst / "stale.txt").exists()
    assert json.loads((dst / "student.json").read_text())["export"]["dtype"] == "float32"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    # not a model directory
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="no student.json"):
        export_model_dir(tmp_path / "empty", tmp_path / "x")
    with pytest.raises(ModelNotFoundError, match="not found"):
        export_model_dir(tmp_path / "missing", tmp_path / "x")
    # a destination that is some other folder, the source itself, or inside it
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a model directory"):
        export_model_dir(student_dir, other)
    assert (other / "keep.txt").read_text() == "mine"
    with pytest.raises(ConfigError, match="overlap"):
        export_model_dir(student_dir, student_dir)
    with pytest.raises(ConfigError, match="overlap"):
        export_model_dir(student_dir, student_dir / "slim")
    with pytest.raises(ConfigError, match="dtype"):
        export_model_dir(student_dir, tmp_path / "y", dtype="int8")  # type: ignore[arg-type]
    assert read_info(student_dir).labels == LABELS  # the source is untouched


# --- default model lookup -------------------------------------------------------------------------
def test_default_model_lookup_order(tmp_path, monkeypatch):
    repo_default = tmp_path / "repo" / "models" / "spokenemo-default"
    env_model = tmp_path / "elsewhere"
    monkeypatch.setattr(dm, "DEFAULT_MODEL_DIR", repo_default)
    monkeypatch.delenv(dm.MODEL_ENV, raising=False)
    with pytest.raises(ModelNotFoundError) as err:
        dm.default_model_path()
    assert "spokenemo export" in str(err.value) and "--model" in str(err.value)
    assert dm.find_default_model() is None
    repo_default.mkdir(parents=True)
    assert dm.default_model_path() == repo_default
    monkeypatch.setenv(dm.MODEL_ENV, str(env_model))
    with pytest.raises(ModelNotFoundError, match="SPOKENEMO_MODEL"):
        dm.default_model_path()  # set but missing: an error, not a silent fallback
    env_model.mkdir()
    assert dm.default_model_path() == env_model  # the variable wins over the checkout's folder
    monkeypatch.setenv(dm.MODEL_ENV, "")
    assert dm.default_model_path() == repo_default  # empty counts as unset


def test_repo_root_is_the_checkout_and_the_demo_uses_it():
    from spokenemo.apps import demo

    assert (dm.REPO_ROOT / "pyproject.toml").is_file() and (dm.REPO_ROOT / "src" / "spokenemo").is_dir()
    assert dm.DEFAULT_MODEL_DIR == dm.REPO_ROOT / "models" / "spokenemo-default"
    assert demo.REPO_ROOT is dm.REPO_ROOT and demo.DEFAULT_CLIPS.is_dir()
    assert demo.coarse_words("Pitch: high. Intensity: weak. Speech rate: fast. Articulation rate: slow. "
                             "Pitch by segment: [0.10, 0.20]. Intensity by segment: [0.30, 0.40].") == \
        "pitch high, intensity weak, speech rate fast, articulation rate slow"


# --- CLI --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_explain_with_and_without_model_argument(student_dir, test_data, tmp_path, monkeypatch):
    from spokenemo.apps.cli import cli

    slim = export_model_dir(student_dir, tmp_path / "slim")
    clip = test_data / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.flac"
    args = [str(clip), "--text", "Dogs are sitting by the door", "--max-new-tokens", "4", "--json"]
    runner = CliRunner()
    monkeypatch.setattr(dm, "DEFAULT_MODEL_DIR", tmp_path / "no-such-default")
    monkeypatch.setenv(dm.MODEL_ENV, str(slim))
    res = runner.invoke(cli, ["explain", *args])
    assert res.exit_code == 0, res.output
    by_default = json.loads(res.output)
    assert by_default["emotion"] in LABELS and by_default["cue_text"].startswith("Pitch: ")
    assert sum(by_default["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    # the old form MODEL FILE and --model give the same answer
    for form in (["explain", str(slim), *args], ["explain", "--model", str(slim), *args]):
        res = runner.invoke(cli, form)
        assert res.exit_code == 0, res.output
        assert json.loads(res.output)["probabilities"] == by_default["probabilities"]
    # the original (fp32, with tokenizer) agrees with the exported copy
    res = runner.invoke(cli, ["explain", str(student_dir), *args])
    original = json.loads(res.output)
    assert original["emotion"] == by_default["emotion"]
    assert list(original["probabilities"].values()) == pytest.approx(list(by_default["probabilities"].values()),
                                                                     abs=1e-2)
    res = runner.invoke(cli, ["explain", "--model", str(slim), str(slim), str(clip)])
    assert res.exit_code == 2 and "give the model once" in res.output
    monkeypatch.delenv(dm.MODEL_ENV)
    res = runner.invoke(cli, ["explain", "--student", *args])
    assert res.exit_code == 2 and "no default model" in res.output and "spokenemo export" in res.output
    # without a student named or asked for, the shipped recogniser answers, with its evidence
    res = runner.invoke(cli, ["explain", str(clip), "--asr", "none", "--json"])
    assert res.exit_code == 0, res.output
    answer = json.loads(res.output)
    assert answer["label"] in LABELS and answer["normalisation"] == "global" and answer["evidence"]["cues"]


@pytest.mark.slow
def test_cli_predict_manifest_with_the_default_model(student_dir, test_data, tmp_path, monkeypatch):
    from spokenemo.apps.cli import cli
    from spokenemo.data.manifest import Segment, write_manifest

    utts = [Segment(key=f"ravdess/01/{stem}", path=str(test_data / "ravdess" / "Actor_01" / f"{stem}.flac"),
                      label=label, raw_label=stem.split("-")[2], speaker="01", corpus="ravdess",
                      text=TEXT[stem.split("-")[4]])
            for stem, label in (("03-01-05-01-02-01-01", "angry"), ("03-01-04-01-01-01-01", "sad"),
                                ("03-01-03-01-02-01-01", "happy"), ("03-01-01-01-01-01-01", "neutral"))]
    manifest = tmp_path / "clips.jsonl"
    write_manifest(manifest, utts)
    monkeypatch.setenv(dm.MODEL_ENV, str(student_dir))
    res = CliRunner().invoke(cli, ["predict", str(manifest)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "clips.predictions.jsonl"  # beside the manifest, not inside the default model
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["key"] for r in rows] == [u.key for u in utts] and all(r["predicted"] in LABELS for r in rows)
    assert not (student_dir / "predictions.jsonl").exists()
