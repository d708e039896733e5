"""The student end to end on a tiny random Qwen2: data, training, resume, model directory,
prediction, explanation and the CLI, through the same code as the paper and CPU configs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from spokenemo.core.errors import AudioNotFoundError, ConfigError, ModelNotFoundError, ProtocolError
from spokenemo.data.manifest import Segment, write_manifest
from spokenemo.models.tiny import make_tiny_model_dir
from spokenemo.protocols import speaker_kfold, write_folds
from spokenemo.systems.aecotd import (
    StudentInput,
    TrainingData,
    build_training_data,
    config_from_dict,
    explain,
    load_config,
    load_student,
    predict,
    predict_manifest,
    read_info,
    train,
)
from spokenemo.systems.aecotd.training import encode_training_data

REPO = Path(__file__).resolve().parents[1]
EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
            "07": "disgust", "08": "surprised"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
REASONS = {"angry": "The intensity is strong and the pitch is high, which sounds angry.",
           "happy": "The pitch is high and rises, which sounds happy.",
           "neutral": "The pitch and intensity stay level: a neutral voice.",
           "sad": "The intensity is weak and the pitch falls: a sad voice."}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _utterances(root: Path) -> list[Segment]:
    utts = []
    for path in sorted(root.glob("Actor_*/*.flac")):
        parts = path.stem.split("-")
        utts.append(Segment(key=f"ravdess/{parts[6]}/{path.stem}", path=str(path), raw_label=parts[2],
                              label=EMOTIONS[parts[2]], speaker=parts[6], corpus="ravdess",
                              text=STATEMENTS[parts[4]]))
    return utts


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, test_data):
    """Manifest of the 20 fixture clips, folds (test = actor 01), a real cue table and a teacher cache."""
    from spokenemo.features.cues import extract_manifest

    ws = tmp_path_factory.mktemp("student")
    utts = _utterances(test_data / "ravdess")
    write_manifest(ws / "manifest.jsonl", utts)
    folds = speaker_kfold(utts, groups=[["01"], ["02"], ["03"], ["04"]])
    write_folds(folds, ws / "folds", utts)
    extract_manifest(ws / "manifest.jsonl", ws / "cues.parquet", progress=False)
    train_keys = [u.key for u in utts if u.speaker != "01" and u.label in REASONS]
    rows = []
    for i, key in enumerate(train_keys):
        label = next(u.label for u in utts if u.key == key)
        if i == 0:
            continue  # one training utterance without a teacher output
        rows.append({"key": key, "label": label, "predicted": label, "reasoning": REASONS[label], "raw": "x",
                     "model": "test", "prompt_sha256": "0" * 64, "mode": "label", "valid": i != 1,
                     "failure": None if i != 1 else "contradicts the cues"})
    with open(ws / "cot.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    make_tiny_model_dir(ws / "tiny")
    return ws


def _config(ws: Path, **overrides):
    base = {"model.base": str(ws / "tiny"), "data.manifest": str(ws / "manifest.jsonl"),
            "data.cues": str(ws / "cues.parquet"), "data.teacher": str(ws / "cot.jsonl"),
            "data.folds": str(ws / "folds"), "data.fold": "fold1", "optim.epochs": 1, "optim.lr": 5e-3,
            "runtime.precision": "fp32", "runtime.checkpoint_every": 2, "runtime.log_every": 1,
            "runtime.threads": 1, "target.on_missing_teacher": "label_only"}  # (the cpu config drops them)
    base.update(overrides)
    return load_config(REPO / "configs" / "aecotd-cpu.yaml", overrides=base)


# --- config ---------------------------------------------------------------------------------------
def test_repo_configs_hold_the_paper_and_cpu_settings():
    paper = load_config(REPO / "configs" / "aecotd-paper.yaml")
    assert paper.model.base == "Qwen/Qwen2.5-7B-Instruct"
    assert (paper.lora.r, paper.lora.alpha, paper.lora.dropout, paper.lora.target_modules) == (8, 32, 0.05, "all-linear")
    assert (paper.optim.lr, paper.optim.warmup_ratio, paper.optim.schedule) == (1e-4, 0.05, "cosine")
    assert (paper.optim.batch_size, paper.optim.epochs) == (1, 10)
    assert (paper.loss.label_weight, paper.loss.other_weight, paper.loss.normalize) == (1.0, 0.01, "weight")
    assert paper.cues.n_segments == 7 and paper.target.cot
    cpu = load_config(REPO / "configs" / "aecotd-cpu.yaml")
    assert cpu.model.base == "embedded" and cpu.optim.epochs < paper.optim.epochs
    assert cpu.lora.r == 8 and cpu.target.max_length <= 512


def test_config_errors_name_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lr: -1\nlora:\n  rank: 8\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    text = str(err.value)
    assert str(bad) in text and "optim.lr" in text and "lora.rank" in text
    bad.write_text("optim: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(REPO / "configs" / "aecotd-cpu.yaml", overrides=["optim.lr"])
    with pytest.raises(ConfigError, match="data.fold"):
        config_from_dict({"data": {"fold": "fold1"}}, source="x.yaml")
    cfg = load_config(REPO / "configs" / "aecotd-cpu.yaml", overrides=["optim.epochs=3", "target.cot=false"])
    assert cfg.optim.epochs == 3 and cfg.target.cot is False


# --- data -----------------------------------------------------------------------------------------
def test_training_data_fits_thresholds_on_training_keys_only(workspace):
    from spokenemo.features.cues import read_cue_table

    data = build_training_data(_config(workspace))
    rows = {r["key"]: r for r in read_cue_table(workspace / "cues.parquet")}
    train_rows = [rows[i.key] for i in data.items]
    assert len(data.items) == 12 and {i.key.split("/")[1] for i in data.items} == {"02", "03", "04"}
    for cue in ("pitch", "intensity", "speech_rate", "articulation_rate"):
        assert data.thresholds["medians"][cue] == pytest.approx(float(np.median([r[cue] for r in train_rows])))
    everyone = [r for r in rows.values() if r["label"] in REASONS]
    assert any(data.thresholds["medians"][c] != pytest.approx(float(np.median([r[c] for r in everyone])))
               for c in ("pitch", "intensity", "speech_rate", "articulation_rate"))
    assert data.counts["outside_label_set"] == 3  # fearful, disgust, surprised of actors 02-04
    assert data.counts["no_teacher"] == 2  # one absent, one invalid
    with_cot = [i for i in data.items if i.reasoning]
    assert len(with_cot) == 10 and all(i.reasoning == REASONS[i.label] for i in with_cot)
    assert all(i.cue_text.startswith("Pitch: ") and "Intensity by segment: [" in i.cue_text for i in data.items)
    dropped = build_training_data(_config(workspace, **{"target.on_missing_teacher": "drop"}))
    assert len(dropped.items) == 10 and all(i.reasoning for i in dropped.items)  # aecotd-cpu.yaml's setting
    relative = build_training_data(_config(workspace, **{"cues.speaker_relative": True}))
    assert relative.thresholds["speaker_relative"] is True
    assert sorted(relative.thresholds["speaker_medians"]) == ["ravdess/02", "ravdess/03", "ravdess/04"]


def test_training_data_ablations_and_errors(workspace):
    text_only = build_training_data(_config(workspace, **{"cues.coarse": False, "cues.fine": False,
                                                          "data.cues": None}))
    assert all(i.cue_text == "" for i in text_only.items) and text_only.thresholds == {}
    no_fine = build_training_data(_config(workspace, **{"cues.fine": False}))
    assert all("segment" not in i.cue_text and "Pitch:" in i.cue_text for i in no_fine.items)
    no_cot = build_training_data(_config(workspace, **{"target.cot": False, "data.teacher": None}))
    assert all(i.reasoning is None for i in no_cot.items)
    with pytest.raises(ConfigError, match="data.teacher"):
        build_training_data(_config(workspace, **{"data.teacher": None}))
    with pytest.raises(ConfigError, match="no fine cues with 5 segments"):
        build_training_data(_config(workspace, **{"cues.n_segments": 5}))
    with pytest.raises(ConfigError, match="no fold 'fold9'"):
        build_training_data(_config(workspace, **{"data.fold": "fold9"}))
    keys = workspace / "keys.txt"
    keys.write_text("ravdess/02/03-01-01-01-02-01-02\nnot/a/key\n")
    with pytest.raises(ProtocolError, match="not in"):
        build_training_data(_config(workspace, **{"data.folds": None, "data.fold": None, "data.train_keys": str(keys)}))


def test_ablation_weights(workspace):
    from spokenemo.models.causal_lm import load_tokenizer
    from spokenemo.systems.aecotd.inputs import load_prompt_template

    cfg = _config(workspace)
    tok = load_tokenizer(cfg.model.base)
    data = build_training_data(cfg)
    tpl = load_prompt_template("student")
    focused, stats = encode_training_data(tok, tpl, data, cfg)
    assert stats.encoded == 12 and stats.label_only == 2
    for e in focused:  # label-only items (no teacher output) do not train the empty explanation
        other = cfg.loss.other_weight  # the config's reasoning-token weight (the paper's 0.01 in aecotd-cpu.yaml)
        assert other < 1.0
        assert set(e.weights[e.prompt_len:]) == ({1.0, other} if e.reasoning_tokens else {1.0, other, 0.0})
    uniform, _ = encode_training_data(tok, tpl, data, _config(workspace, **{"loss.emotion_loss": False}))
    for e in uniform:
        assert set(e.weights[e.prompt_len:]) == ({1.0} if e.reasoning_tokens else {1.0, 0.0})
    plain, _ = encode_training_data(tok, tpl, data, _config(workspace, **{"target.cot": False}))
    for e in plain:
        assert tok.decode(e.input_ids[e.prompt_len:]) == f"{e.label}<|im_end|>"


# --- training, resume, model directory -----------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(workspace):
    """A tiny student trained through configs/aecotd-paper.yaml (base overridden by the tiny model)."""
    cfg = load_config(REPO / "configs" / "aecotd-paper.yaml", overrides={
        "model.base": str(workspace / "tiny"), "data.manifest": str(workspace / "manifest.jsonl"),
        "data.cues": str(workspace / "cues.parquet"), "data.teacher": str(workspace / "cot.jsonl"),
        "data.folds": str(workspace / "folds"), "data.fold": "fold1", "optim.epochs": 2, "optim.lr": 1e-2,
        "runtime.precision": "fp32", "runtime.threads": 1, "target.max_length": 512})
    out = train(cfg, workspace / "paper-model")
    return cfg, out


@pytest.mark.slow
def test_paper_config_trains_and_writes_a_model_directory(workspace, trained):
    from spokenemo.llm.prompts import load_template

    cfg, out = trained
    info = read_info(out)
    assert info.base_model == str(workspace / "tiny") and info.labels == ["angry", "happy", "neutral", "sad"]
    assert info.cot and info.label_set == "4class"
    assert info.prompt.sha256 == load_template("student").sha256
    assert (out / "adapter" / "adapter_config.json").is_file()
    adapter_cfg = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter_cfg["r"] == 8 and adapter_cfg["lora_alpha"] == 32
    thresholds = json.loads((out / "thresholds.json").read_text())
    assert thresholds["n_rows"] == 12
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 24 and metrics["examples"] == 12  # 2 epochs x 12 utterances, batch 1
    assert metrics["data"]["no_teacher"] == 2 and metrics["encoding"]["label_only"] == 2
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 24 and log[-1]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert (out / "config.yaml").is_file() and json.loads((out / "prompt.json").read_text())["text"]
    # running again returns the finished model; another setting in the same folder is refused
    assert train(cfg, out) == out
    other = cfg.model_copy(update={"optim": cfg.optim.model_copy(update={"lr": 2e-2})})
    with pytest.raises(ConfigError, match="other data or settings"):
        train(other, out)


def _adapter(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(out / "adapter" / "adapter_model.safetensors"))


@pytest.mark.slow
def test_resume_continues_identically(workspace, tmp_path):
    cfg = _config(workspace, **{"optim.max_steps": 6, "lora.dropout": 0.1})
    data = TrainingData(items=[StudentInput(f"k{i}", "Kids are talking by the door", f"Pitch: {w}.", lab, REASONS[lab])
                               for i, (w, lab) in enumerate([("high", "angry"), ("low", "sad"), ("high", "happy"),
                                                             ("low", "neutral")])],
                        labels=["angry", "happy", "neutral", "sad"], label_set="4class")
    straight = train(cfg, tmp_path / "straight", data=data)
    part = train(cfg, tmp_path / "resumed", data=data, stop_after_steps=3)
    assert not (part / "student.json").exists() and (part / "checkpoints" / "step-00000003").is_dir()
    with pytest.raises(ModelNotFoundError, match="resume"):
        load_student(part)
    resumed = train(cfg, part, data=data)
    a, b = _adapter(straight), _adapter(resumed)
    assert a.keys() == b.keys() and a
    for name in a:
        assert torch.equal(a[name], b[name]), name
    log_a = (straight / "train_log.jsonl").read_text().splitlines()
    log_b = (resumed / "train_log.jsonl").read_text().splitlines()
    strip = lambda rows: [{k: v for k, v in json.loads(r).items() if k != "tokens_per_s"} for r in rows]  # noqa: E731
    assert strip(log_a) == strip(log_b)
    assert json.loads((resumed / "metrics.json").read_text())["resumed_from"] == 3
    # another seed gives other weights (the comparison above can fail)
    other = train(cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"seed": 1})}), tmp_path / "seed1",
                  data=data)
    assert any(not torch.equal(a[n], _adapter(other)[n]) for n in a)
    shutil.rmtree(tmp_path)


# --- prediction ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_predict_manifest_writes_predictions_and_metrics(workspace, trained):
    _, out = trained
    student = load_student(out)
    preds_path = workspace / "preds.jsonl"
    result = predict_manifest(student, workspace / "manifest.jsonl", folds=workspace / "folds", fold="fold1",
                              out=preds_path, cues=workspace / "cues.parquet", protocol="speaker-kfold")
    rows = [json.loads(line) for line in preds_path.read_text().splitlines()]
    assert [r["key"].split("/")[1] for r in rows] == ["01"] * 4  # actor 01's 4-class clips
    for r in rows:
        assert set(r["probabilities"]) == {"angry", "happy", "neutral", "sad"}
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert r["predicted"] == max(r["probabilities"], key=r["probabilities"].get)
    saved = json.loads((workspace / "preds.metrics.json").read_text())
    assert saved["metrics"]["n"] == 4 and saved["metrics"]["fold"] == "fold1"
    assert saved["report"]["outside_label_set"] == {"calm": 1}
    assert result.metrics.wa == pytest.approx(sum(r["label"] == r["predicted"] for r in rows) / 4)
    # cues computed from the audio with the saved settings give the same predictions as the table
    again = predict_manifest(student, workspace / "manifest.jsonl", folds=workspace / "folds", fold="fold1")
    assert again.report["inputs"]["cues_computed"] == 4
    flat = lambda preds: [v for p in preds for v in p.probabilities.values()]  # noqa: E731
    assert flat(again.predictions) == pytest.approx(flat(result.predictions), abs=1e-5)


@pytest.mark.slow
def test_batching_does_not_change_predictions(trained):
    _, out = trained
    student = load_student(out)
    inputs = [StudentInput(f"u{i}", t, c) for i, (t, c) in enumerate([
        ("Kids are talking by the door", "Pitch: high. Intensity: strong."),
        ("Dogs", "Pitch: low."),
        ("Dogs are sitting by the door, said the speaker once more", "Pitch: low. Intensity: weak.")])]
    one = predict(student, inputs, batch_size=1)
    three = predict(student, inputs, batch_size=3)
    for a, b in zip(one, three, strict=True):
        assert a.predicted == b.predicted
        assert list(a.scores.values()) == pytest.approx(list(b.scores.values()), abs=1e-4)


@pytest.mark.slow
def test_explain_a_clip(workspace, trained, test_data):
    _, out = trained
    student = load_student(out)
    clip = test_data / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.flac"
    e = explain(student, clip, text="Dogs are sitting by the door", max_new_tokens=8)
    assert e.emotion in student.labels and sum(e.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert e.transcript_source == "given" and e.cue_text.startswith("Pitch: ")
    assert {"pitch", "intensity", "speech_rate", "articulation_rate", "pitch_seg_7"} <= set(e.cues)
    assert isinstance(e.explanation, str)
    with pytest.raises(AudioNotFoundError, match="no such audio file"):
        explain(student, workspace / "missing.wav", text="x")


@pytest.mark.slow
def test_cli_train_predict_explain(workspace, trained, test_data, tmp_path):
    from spokenemo.apps.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["train", str(REPO / "configs" / "aecotd-cpu.yaml"), "-o", str(tmp_path / "m"),
                              "--base-model", str(workspace / "tiny"), "--manifest", str(workspace / "manifest.jsonl"),
                              "--cues", str(workspace / "cues.parquet"), "--folds", str(workspace / "folds"),
                              "--fold", "fold1", "--no-cot", "--no-fine", "--set", "optim.max_steps=2",
                              "--set", "runtime.precision=fp32"])
    assert res.exit_code == 0, res.output
    info = read_info(tmp_path / "m")
    assert not info.cot and info.cues["text"]["fine"] is False
    _, out = trained
    res = runner.invoke(cli, ["predict", str(out), str(workspace / "manifest.jsonl"), "--folds",
                              str(workspace / "folds"), "--fold", "fold1", "--cues", str(workspace / "cues.parquet"),
                              "-o", str(tmp_path / "p.jsonl")])
    assert res.exit_code == 0, res.output
    assert "UA" in res.output and len((tmp_path / "p.jsonl").read_text().splitlines()) == 4
    clip = test_data / "ravdess" / "Actor_01" / "03-01-03-01-02-01-01.flac"
    res = runner.invoke(cli, ["explain", str(out), str(clip), "--text", "Dogs are sitting by the door",
                              "--max-new-tokens", "4", "--json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.output)
    assert shown["emotion"] in ("angry", "happy", "neutral", "sad") and shown["cue_text"].startswith("Pitch:")
    res = runner.invoke(cli, ["predict", str(tmp_path / "nothing"), str(workspace / "manifest.jsonl")])
    assert res.exit_code == 2 and "model directory not found" in res.output


@pytest.mark.slow
def test_free_generation_parity_with_scoring(workspace, tmp_path):
    """A student that learnt the answer format gives the same decision by generation and by scoring."""
    cues = {"angry": "Pitch: high. Intensity: strong.", "sad": "Pitch: low. Intensity: weak.",
            "happy": "Pitch: high. Intensity: weak.", "neutral": "Pitch: low. Intensity: strong."}
    items = [StudentInput(f"u{i}", "Kids are talking by the door", cues[lab], lab)
             for i, lab in enumerate(list(cues) * 4)]
    data = TrainingData(items=items, labels=["angry", "happy", "neutral", "sad"], label_set="4class")
    cfg = _config(workspace, **{"target.cot": False, "optim.epochs": 12, "optim.lr": 2e-2, "optim.batch_size": 4,
                                "optim.warmup_ratio": 0.0, "lora.r": 16, "runtime.checkpoint_every": 100})
    student = load_student(train(cfg, tmp_path / "m", data=data))
    scored = predict(student, items[:4])
    generated = predict(student, items[:4], mode="generate", max_new_tokens=8)
    assert all(g.valid for g in generated), [g.generated for g in generated]
    assert [g.predicted for g in generated] == [s.predicted for s in scored]


# --- speaker-relative students: reference clips of the same speaker ---------------------------------
@pytest.fixture(scope="module")
def relative_student(workspace):
    """A tiny student trained (2 steps) with speaker-relative cue words."""
    cfg = _config(workspace, **{"cues.speaker_relative": True, "optim.max_steps": 2})
    return load_student(train(cfg, workspace / "relative-model"))


def _coarse_words(cue_text: str) -> dict[str, str]:
    first = cue_text.split("Pitch by segment")[0]
    return {name.strip().lower(): word for name, word in
            (part.split(": ") for part in first.strip().rstrip(".").split(". "))}


@pytest.mark.slow
def test_reference_clips_set_the_medians_of_a_speaker_relative_student(relative_student, trained, test_data):
    from spokenemo.features.cues import extract_file
    from spokenemo.features.cues.vocabulary import word_for
    from spokenemo.systems.aecotd import speaker_reference, uses_speaker_medians

    student = relative_student
    assert uses_speaker_medians(student)
    actor = test_data / "ravdess" / "Actor_01"
    clip = actor / "03-01-05-01-02-01-01.flac"
    ref = speaker_reference(student, [actor])
    assert len(ref) == 5 and not ref.failed
    alone = explain(student, clip, text="Dogs are sitting by the door", max_new_tokens=2)
    own = explain(student, clip, text="Dogs are sitting by the door", max_new_tokens=2, reference=ref)
    assert alone.relative_to == "the training medians"
    assert own.relative_to == "this speaker's 5 reference clips"
    # the words are the clip's values against the medians of the five Actor_01 clips
    rows = [extract_file(p).to_row() for p in sorted(actor.glob("*.flac"))]
    words = _coarse_words(own.cue_text)
    for cue, name in (("pitch", "pitch"), ("intensity", "intensity"), ("speech_rate", "speech rate")):
        median = float(np.median([r[cue] for r in rows]))
        assert words[name] == word_for(cue, own.cues[cue], median), cue
    # against the training medians instead
    training = json.loads((Path(student.model_dir) / "thresholds.json").read_text())["medians"]
    assert _coarse_words(alone.cue_text)["pitch"] == word_for("pitch", alone.cues["pitch"], training["pitch"])
    # a student trained with fixed medians ignores the reference
    fixed = load_student(trained[1])
    assert not uses_speaker_medians(fixed)
    assert explain(fixed, clip, text="x", max_new_tokens=2, reference=ref).relative_to == "the training medians"


@pytest.mark.slow
def test_reference_errors_name_the_fix(relative_student, test_data, tmp_path):
    from spokenemo.systems.aecotd import speaker_reference

    one = test_data / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.flac"
    with pytest.raises(ConfigError, match="1 readable reference clips; a speaker's own medians need at least 2"):
        speaker_reference(relative_student, [one])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="has no audio files"):
        speaker_reference(relative_student, [tmp_path / "empty"])
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    ref = speaker_reference(relative_student, [one, tmp_path / "bad.wav", test_data / "ravdess" / "Actor_02"])
    assert len(ref) == 6 and list(ref.failed) == [str(tmp_path / "bad.wav")]


@pytest.mark.slow
def test_cli_explain_with_reference(relative_student, test_data):
    from spokenemo.apps.cli import cli

    actor = test_data / "ravdess" / "Actor_02"
    clip = next(iter(sorted(actor.glob("*.flac"))))
    runner = CliRunner()
    res = runner.invoke(cli, ["explain", str(relative_student.model_dir), str(clip), "--text", "Kids",
                              "--max-new-tokens", "2"])
    assert res.exit_code == 0, res.output
    assert "give other clips of this speaker with --reference" in " ".join(res.output.split())
    res = runner.invoke(cli, ["explain", str(relative_student.model_dir), str(clip), "--text", "Kids",
                              "--max-new-tokens", "2", "--reference", str(actor), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["relative_to"] == "this speaker's 5 reference clips"
