"""spokenemo.api: every name resolves to the layer below; importing it and ``spokenemo --help`` import no
torch; inputs are checked before a model is loaded; rows without a label are predicted without one
and left out of the metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import spokenemo.api as api
from spokenemo import audio, data, features, protocols
from spokenemo.apps.cli import cli
from spokenemo.core.errors import AudioNotFoundError, ConfigError, ManifestError, ProtocolError
from spokenemo.data.manifest import Segment, write_manifest
from spokenemo.models.tiny import make_tiny_model_dir
from spokenemo.systems.aecotd import StudentInput, TrainingData
from spokenemo.systems.aecotd import default_model as dm
from spokenemo.systems.aecotd import manifest_prediction as inference
from spokenemo.systems.aecotd.prediction import Prediction

from conftest import REPO_ROOT, TEST_DATA

HEAVY = ("torch", "transformers", "peft")
LABELS = ["angry", "happy", "neutral", "sad"]
ACTOR = TEST_DATA / "ravdess" / "Actor_01"
# a CLI call in a fresh interpreter, reporting its exit code, output and whether a heavy package was imported
CLI_PROBE = """import json, sys
from click.testing import CliRunner
from spokenemo.apps.cli import cli
res = CliRunner().invoke(cli, sys.argv[1:])
print(json.dumps({"exit": res.exit_code, "output": res.output,
                  "heavy": sorted(m for m in HEAVY if m in sys.modules)}))
""".replace("HEAVY", repr(HEAVY))


def _python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                          env={**os.environ, **(env or {})}, check=False)


def _probe(args: list[str], model: Path) -> dict:
    done = _python("-c", CLI_PROBE, *args, env={dm.MODEL_ENV: str(model)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def fake_model(tmp_path) -> Path:
    """A folder that reads as a complete student (student.json and friends) but holds no weights."""
    folder = tmp_path / "fake-student"
    (folder / "adapter").mkdir(parents=True)
    (folder / "student.json").write_text(json.dumps({
        "base_model": "embedded", "labels": LABELS, "label_set": "4class", "cot": True,
        "prompt": {"name": "student", "sha256": "0" * 64}}))
    (folder / "thresholds.json").write_text("{}")
    (folder / "prompt.json").write_text("{}")
    return folder


def _manifest(path: Path) -> Path:
    """Five rows: labelled, unlabelled, corpus code only (neutral), outside 4class, blank label."""
    rows = [Segment(key="a", path=str(ACTOR / "03-01-05-01-02-01-01.flac"), label="angry", text="Dogs"),
            Segment(key="b", path=str(ACTOR / "03-01-04-01-01-01-01.flac"), text="Kids"),
            Segment(key="c", path=str(ACTOR / "03-01-01-01-01-01-01.flac"), raw_label="01", corpus="ravdess",
                    text="Kids"),
            Segment(key="d", path=str(ACTOR / "03-01-02-01-01-01-01.flac"), label="calm", text="Kids"),
            Segment(key="e", path=str(ACTOR / "03-01-03-01-02-01-01.flac"), label="  ", text="Dogs")]
    write_manifest(path, rows)
    return path


# --- the module ---------------------------------------------------------------------------------
def test_every_name_resolves_to_the_layer_below():
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    for name in ("load_audio", "prepare", "write_manifest", "read_manifest", "speaker_kfold", "extract_cues",
                 "explain", "predict", "train", "run_experiment", "load_student", "default_model"):
        assert callable(getattr(api, name)), name
    # re-exported, not copied
    assert api.load_audio is audio.load_audio and api.prepare is data.prepare
    assert api.speaker_kfold is protocols.speaker_kfold and api.compute_metrics is protocols.compute_metrics
    assert api.extract_cues is features.cues.extract_file


def test_importing_the_api_imports_no_torch():
    done = _python("-c", f"import sys, spokenemo.api; print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [["--help"], ["explain", "--help"], ["predict", "--help"]])
def test_help_imports_neither_torch_nor_the_api(args):
    done = _python("-X", "importtime", "-m", "spokenemo", *args)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & {*HEAVY, "spokenemo.api"}, sorted(imported & {*HEAVY, "spokenemo.api"})


def test_default_model_lookup(tmp_path, monkeypatch, fake_model):
    monkeypatch.setenv(dm.MODEL_ENV, str(fake_model))
    assert api.default_model() == fake_model and api.check_model().labels == LABELS
    monkeypatch.setenv(dm.MODEL_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(Exception, match="no such model directory"):
        api.default_model()


# --- inputs are checked before a model is loaded -----------------------------------------------------
def test_explain_checks_the_file_before_the_model(tmp_path):
    with pytest.raises(AudioNotFoundError, match="no such audio file"):
        api.explain(tmp_path / "missing.wav", model=tmp_path / "no-model")
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(ConfigError, match="has no audio files"):
        api.explain(ACTOR / "03-01-01-01-01-01-01.flac", model=tmp_path / "no-model", reference=[empty])
    with pytest.raises(ConfigError, match="has no audio files"):
        api.explain(ACTOR / "03-01-01-01-01-01-01.flac", model=tmp_path / "no-model", reference=empty)
    with pytest.raises(AudioNotFoundError, match="no such reference clip"):
        api.explain(ACTOR / "03-01-01-01-01-01-01.flac", model=tmp_path / "no-model", reference=[tmp_path / "x.wav"])


def test_predict_checks_the_manifest_before_the_model(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": "a", "path": "x.wav"}\n{"key": "b", "labl": "sad"}\n')
    with pytest.raises(ManifestError, match=":2"):
        api.predict(tmp_path / "no-model", bad)
    with pytest.raises(ProtocolError, match="keys are not in the manifest"):
        api.predict(tmp_path / "no-model", _manifest(tmp_path / "m.jsonl"), keys=["a", "zz"])


def test_cli_explain_missing_file_fails_before_loading_the_model(tmp_path, fake_model):
    shown = _probe(["explain", str(tmp_path / "missing.wav")], fake_model)
    assert shown["exit"] == 2 and "no such audio file" in shown["output"]
    assert shown["heavy"] == []  # no model can load without torch
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are not samples\n")
    shown = _probe(["explain", str(not_audio)], fake_model)
    assert shown["exit"] == 2 and "notes.wav" in shown["output"] and shown["heavy"] == []


def test_cli_predict_bad_manifest_fails_before_loading_the_model(tmp_path, fake_model):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": "a"}\nnot json\n')
    shown = _probe(["predict", str(bad)], fake_model)
    assert shown["exit"] == 2 and "bad.jsonl:2" in shown["output"] and shown["heavy"] == []
    shown = _probe(["predict", str(_manifest(tmp_path / "m.jsonl")), "--folds", str(tmp_path), "--fold", "f9"],
                   fake_model)
    assert shown["exit"] == 2 and shown["heavy"] == []


# --- rows without a label ---------------------------------------------------------------------------
@pytest.fixture
def fake_student(monkeypatch, fake_model):
    """A student that reads no cues and answers 'neutral' (p 0.4) to everything."""
    def answer(student, inputs, **kw):
        probs = {"angry": 0.2, "happy": 0.1, "neutral": 0.4, "sad": 0.3}
        return [Prediction(key=x.key, label=x.label, predicted="neutral", probabilities=probs) for x in inputs]

    monkeypatch.setattr(inference, "predict", answer)
    student = SimpleNamespace(info=SimpleNamespace(cues={}, label_set="4class"), labels=LABELS, thresholds={},
                              model_dir=fake_model)
    monkeypatch.setattr(api, "load_student", lambda *a, **kw: student)
    return student


def test_unlabelled_rows_are_predicted_without_a_label_and_not_scored(tmp_path, fake_student):
    result = api.predict(fake_student, _manifest(tmp_path / "m.jsonl"), out=tmp_path / "p.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    # manifest order; the calm row is outside 4class; b and e have no label and get none
    assert [(r["key"], r["label"], r["predicted"]) for r in rows] == [
        ("a", "angry", "neutral"), ("b", None, "neutral"), ("c", "neutral", "neutral"), ("e", None, "neutral")]
    assert result.metrics.n == 2 and result.metrics.wa == pytest.approx(0.5)
    assert result.metrics.support == {"angry": 1, "happy": 0, "neutral": 1, "sad": 0}
    report = json.loads((tmp_path / "p.metrics.json").read_text())["report"]
    assert report["unlabelled"] == 2 and report["scored"] == 2 and report["predicted"] == 4
    assert sum(report["outside_label_set"].values()) == 1


def test_all_unlabelled_gives_no_metrics(tmp_path, fake_student):
    manifest = tmp_path / "m.jsonl"
    write_manifest(manifest, [Segment(key="x", path=str(ACTOR / "03-01-05-01-02-01-01.flac"), text="Dogs")])
    result = api.predict(fake_student, manifest)
    assert result.metrics is None and result.report["unlabelled"] == 1 and result.predictions[0].label is None


def test_cli_predict_shows_unlabelled_rows_without_a_label(tmp_path, monkeypatch, fake_student, fake_model):
    monkeypatch.setenv(dm.MODEL_ENV, str(fake_model))
    res = CliRunner().invoke(cli, ["predict", str(_manifest(tmp_path / "m.jsonl"))])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    row = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:4]] for line in lines
           if line.startswith("│") and line.split("│")[1].strip() in "abce"}
    assert row == {"a": ["angry", "neutral"], "b": ["", "neutral"], "c": ["neutral", "neutral"],
                   "e": ["", "neutral"]}
    assert "2 labelled utterances" in res.output
    assert "2 utterances have no label: predicted, not scored (left out of the metrics)" in res.output
    assert "4 predictions written to" in res.output


# --- a real (tiny) student through the API --------------------------------------------------------------
@pytest.mark.slow
def test_train_predict_explain_through_the_api(tmp_path, one_torch_thread):
    base = make_tiny_model_dir(tmp_path / "tiny")
    items = [StudentInput(lab, "Kids are talking by the door", "", lab) for lab in LABELS]
    sets = {"model.base": str(base), "optim.max_steps": 2, "optim.batch_size": 2, "runtime.precision": "fp32",
            "runtime.threads": 1, "cues.coarse": False, "cues.fine": False, "target.cot": False}
    out = api.train({}, tmp_path / "model", overrides=sets,
                    data=TrainingData(items=items, labels=LABELS, label_set="4class"))
    assert (out / "student.json").is_file() and api.check_model(out).labels == LABELS
    result = api.predict(out, _manifest(tmp_path / "m.jsonl"), out=tmp_path / "p.jsonl")
    assert [p.label for p in result.predictions] == ["angry", None, "neutral", None]
    assert result.metrics.n == 2 and result.report["unlabelled"] == 2
    assert all(sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-4) for p in result.predictions)
    shown = api.explain(ACTOR / "03-01-05-01-02-01-01.flac", out, text="Dogs are sitting by the door")
    assert shown.emotion in LABELS and shown.cue_text == "" and shown.explanation is None
