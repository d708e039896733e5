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

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import spokenemo.api as api
from spokenemo import audio, data, features, protocols
from spokenemo.apps.cli import cli
from spokenemo.core.errors import (
    AudioNotFoundError,
    ConfigError,
    ManifestError,
    ModelNotFoundError,
    ProtocolError,
)
from spokenemo.data.manifest import Segment, write_manifest
from spokenemo.models.tiny import make_tiny_model_dir
from spokenemo.systems.aecotd import StudentInput, TrainingData, explanation
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


# --- no emotion without speech -------------------------------------------------------------------------
def _no_speech_wavs(folder: Path) -> dict[str, Path]:
    """3 s of digital silence, 10 s of white noise, and 0.1 s of a real clip (too short)."""
    folder.mkdir(parents=True, exist_ok=True)
    clip, sr = sf.read(ACTOR / "03-01-05-01-02-01-01.flac")
    waves = {"silence": np.zeros(3 * 16000), "noise": 0.1 * np.random.default_rng(0).standard_normal(10 * 16000),
             "short": clip[sr : sr + sr // 10]}
    paths = {}
    for name, wave in waves.items():
        paths[name] = folder / f"{name}.wav"
        sf.write(paths[name], wave, sr if name == "short" else 16000)
    return paths


NO_SPEECH = {"silence": "no speech: silent", "noise": "no speech: no speech detected", "short": "no speech: too short"}


def test_cli_explain_says_no_speech_with_exit_3_and_loads_no_model(tmp_path, fake_model):
    for name, wav in _no_speech_wavs(tmp_path).items():
        shown = _probe(["explain", str(wav)], fake_model)
        assert shown["exit"] == 3, shown["output"]
        assert shown["output"].startswith(NO_SPEECH[name]) and "emotion:" not in shown["output"]
        assert shown["heavy"] == []  # the student (torch) was never loaded
    shown = _probe(["explain", "--json", str(tmp_path / "silence.wav")], fake_model)
    answer = json.JSONDecoder().raw_decode(shown["output"])[0]  # (a QuietAudioWarning may follow on stderr)
    assert shown["exit"] == 3 and answer["emotion"] is None and answer["no_speech_reason"] == "silent"
    assert answer["probabilities"] == {} and answer["speech"]["is_speech"] is False
    # the exit codes are documented
    done = _python("-m", "spokenemo", "explain", "--help")
    assert "3  no speech in FILE" in done.stdout and "--min-speech" in done.stdout


def test_api_explain_answers_no_speech_without_loading_a_student(tmp_path, fake_model, monkeypatch):
    def never(*a, **kw):
        raise AssertionError("a student was loaded for a clip without speech")

    monkeypatch.setattr(api, "load_student", never)
    wavs = _no_speech_wavs(tmp_path)
    for name, wav in wavs.items():
        answer = api.explain(wav, fake_model)
        assert answer.emotion is None and not answer.is_speech and answer.probabilities == {}
        assert answer.verdict.startswith(NO_SPEECH[name]) and answer.no_speech_reason == answer.speech.reason
    assert api.explain(wavs["short"], fake_model).speech.detail == "0.10 s clip; at least 0.3 s of speech is needed"
    # a wrong model folder is still reported first
    with pytest.raises(ModelNotFoundError):
        api.explain(wavs["silence"], tmp_path / "no-model")


def _manifest_with_no_speech(tmp_path: Path) -> Path:
    wavs = _no_speech_wavs(tmp_path / "wavs")
    rows = [Segment(key="a", path=str(ACTOR / "03-01-05-01-02-01-01.flac"), label="angry", text="Dogs"),
            Segment(key="silence", path=str(wavs["silence"]), label="sad", text="Kids"),
            Segment(key="b", path=str(ACTOR / "03-01-01-01-01-01-01.flac"), label="neutral", text="Kids"),
            Segment(key="noise", path=str(wavs["noise"]), label="happy", text="Kids"),
            Segment(key="short", path=str(wavs["short"]), text="Kids"),
            Segment(key="c", path=str(ACTOR / "03-01-05-01-02-01-01.flac"), start=1.0, end=1.1, label="angry",
                    text="Dogs")]  # 0.1 s of a real clip: too short
    write_manifest(tmp_path / "m.jsonl", rows)
    return tmp_path / "m.jsonl"


def test_predict_leaves_rows_without_speech_unasked_and_unscored(tmp_path, fake_student, monkeypatch):
    asked: list[str] = []
    answer = inference.predict
    monkeypatch.setattr(inference, "predict", lambda s, inputs, **kw: asked.extend(x.key for x in inputs)
                        or answer(s, inputs, **kw))
    result = api.predict(fake_student, _manifest_with_no_speech(tmp_path), out=tmp_path / "p.jsonl")
    assert asked == ["a", "b"]  # the model was not even asked about the others
    assert set(result.no_speech) == {"silence", "noise", "short", "c"}
    assert result.report["no_speech"] == 4 and result.report["scored"] == 2 and result.metrics.n == 2
    assert result.report["unlabelled"] == 0  # the unlabelled row had no speech: not predicted
    check = result.report["speech_check"]
    assert check["checked"] == 6 and check["rows"]["silence"].startswith("no speech: silent")
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [(r["key"], r["predicted"], r.get("no_speech")) for r in rows] == [
        ("a", "neutral", None), ("silence", None, "silent"), ("b", "neutral", None),
        ("noise", None, "no speech detected"), ("short", None, "too short"), ("c", None, "too short")]
    assert rows[1]["label"] == "sad" and rows[4]["label"] is None
    saved = json.loads((tmp_path / "p.metrics.json").read_text())
    assert saved["metrics"]["n"] == 2 and saved["report"]["no_speech"] == 4
    # min_speech_seconds=0 turns the check off: every row is asked
    asked.clear()
    again = api.predict(fake_student, _manifest_with_no_speech(tmp_path), min_speech_seconds=0)
    assert len(asked) == 6 and again.report["no_speech"] == 0


def test_cli_predict_counts_rows_without_speech(tmp_path, monkeypatch, fake_student, fake_model):
    monkeypatch.setenv(dm.MODEL_ENV, str(fake_model))
    res = CliRunner().invoke(cli, ["predict", str(_manifest_with_no_speech(tmp_path))])
    assert res.exit_code == 0, res.output
    assert "4 utterances have no speech: not predicted, not scored" in res.output
    assert "silence: no speech: silent" in res.output and "2 labelled utterances" in res.output


# --- uncertain, calibrated ---------------------------------------------------------------------------
def test_explain_flags_uncertain_between_the_top_two(monkeypatch, fake_student, fake_model):
    close = {"angry": 0.22, "happy": 0.26, "neutral": 0.24, "sad": 0.28}

    def answer(student, inputs, **kw):
        return [Prediction(key=x.key, label=None, predicted="sad", probabilities=close) for x in inputs]

    monkeypatch.setattr(explanation, "predict", answer)
    fake_student.cot = False
    clip = ACTOR / "03-01-05-01-02-01-01.flac"
    result = api.explain(clip, fake_student, text="Dogs")
    assert result.emotion == "sad" and result.uncertain_between == ("sad", "happy")
    assert result.verdict == "uncertain between sad and happy" and result.speech.is_speech
    assert result.to_json()["uncertain_between"] == ["sad", "happy"]
    assert api.explain(clip, fake_student, text="Dogs", uncertain_margin=0.01).uncertain_between is None
    monkeypatch.setenv(dm.MODEL_ENV, str(fake_model))
    res = CliRunner().invoke(cli, ["explain", str(clip), "--text", "Dogs"])
    assert res.exit_code == 0, res.output
    assert "emotion: sad" in res.output and "uncertain between sad and happy (p 0.280 vs 0.260)" in res.output
    assert "speech: " in res.output and "s of speech in" in res.output


def test_calibrate_fits_a_known_temperature_and_predict_applies_it(tmp_path, monkeypatch, fake_student):
    sharp = {"angry": 0.97, "happy": 0.01, "neutral": 0.01, "sad": 0.01}
    monkeypatch.setattr(inference, "predict", lambda s, inputs, **kw: [
        Prediction(key=x.key, label=x.label, predicted="angry", probabilities=dict(sharp)) for x in inputs])
    clips = sorted((TEST_DATA / "ravdess").glob("Actor_*/*.flac"))
    manifest = tmp_path / "valid.jsonl"
    write_manifest(manifest, [Segment(key=f"k{i}", path=str(p), label=("angry", "neutral")[i % 2], text="Kids")
                              for i, p in enumerate(clips)])
    fitted = api.calibrate(fake_student, manifest)
    # half angry, half neutral, always "angry 0.97": NLL is least when p(angry) = 3 p(neutral), i.e.
    # exp(log(97) / T) = 3, so T = log 97 / log 3
    assert fitted.n == 20 and fitted.temperature == pytest.approx(np.log(97) / np.log(3), rel=1e-3)
    assert fitted.nll_after < fitted.nll_before and fitted.ece_after < fitted.ece_before
    assert json.loads((fake_student.model_dir / "calibration.json").read_text())["fitted_on"]["rows"] == 20
    result = api.predict(fake_student, manifest)
    assert result.report["temperature"] == pytest.approx(fitted.temperature)
    assert result.predictions[0].probabilities["angry"] == pytest.approx(0.5, abs=1e-3)
    assert result.metrics.extra["ece"] == pytest.approx(0.0, abs=1e-3)  # 0.5 confident, right half the time
    with pytest.raises(ConfigError, match="at least 20 are needed"):
        api.calibrate(fake_student, manifest, keys=["k0", "k1"])


# --- the shipped default student on speech and non-speech ----------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not (dm.DEFAULT_MODEL_DIR / "adapter").is_dir(), reason="no shipped model")
def test_shipped_model_through_the_cli_speech_and_no_speech(tmp_path, one_torch_thread):
    runner = CliRunner()
    res = runner.invoke(cli, ["explain", str(ACTOR / "03-01-05-01-02-01-01.flac"), "--text", "Dogs", "--json",
                              "--max-new-tokens", "1", "--model", str(dm.DEFAULT_MODEL_DIR)])
    assert res.exit_code == 0, res.output
    answer = json.loads(res.output)
    assert answer["emotion"] in LABELS and answer["no_speech_reason"] is None and answer["speech"]["is_speech"]
    manifest = _manifest_with_no_speech(tmp_path)
    res = runner.invoke(cli, ["predict", str(dm.DEFAULT_MODEL_DIR), str(manifest), "-o", str(tmp_path / "p.jsonl")])
    assert res.exit_code == 0, res.output
    rows = {r["key"]: r for r in map(json.loads, (tmp_path / "p.jsonl").read_text().splitlines())}
    assert rows["a"]["predicted"] in LABELS and rows["silence"]["predicted"] is None
    assert rows["noise"]["no_speech"] == "no speech detected" and "4 utterances have no speech" in res.output
