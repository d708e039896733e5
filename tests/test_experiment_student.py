"""The student inside the runner, through the real spokenemo.systems.aecotd code path with a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spokenemo.experiment import RunOptions, config_from_dict, run_experiment
from spokenemo.experiment.systems import resolve_system
from spokenemo.systems.aecotd import system_setup as student_mod

REPO = Path(__file__).resolve().parents[1]
FIXTURE_RAVDESS = REPO / "tests" / "data" / "ravdess"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    from spokenemo.systems.aecotd import make_tiny_model_dir

    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")


def _config(tiny: Path, systems: list, **student) -> dict:
    return {"name": "tiny-student", "corpus": {"name": "ravdess", "root": str(FIXTURE_RAVDESS)},
            "label_set": "4class", "protocol": {"name": "speaker-kfold", "groups": [["01", "02"], ["03", "04"]]},
            "systems": systems,
            "student": {"epochs": 1, "overrides": {"model.base": str(tiny)}, **student}}


def test_overrides_put_the_system_switches_last():
    from spokenemo.experiment.tasks import Task
    from spokenemo.protocols import Fold

    cfg = config_from_dict({**_config(Path("m"), ["aecotd"]), "cues": {"n_segments": 5, "speaker_relative": True}},
                           "x.yaml")
    cfg = cfg.model_copy(update={"student": cfg.student.model_copy(update={"overrides": {
        "target.cot": True, "optim.lr": 3e-4, "model.base": "m"}})})
    task = Task("4class", ["angry", "happy", "neutral", "sad"], [], [])  # type: ignore[arg-type]
    fold = Fold("fold1", ("a",), ("b",))
    o = student_mod.student_overrides(resolve_system("aecotd-no-cot-n3").options, task.name, fold.name, cfg,
                                      {"epochs": 2, "max_train_utterances": 50}, 7, manifest=Path("m.jsonl"),
                                      folds_dir=Path("folds"), cue_table=Path("cues.parquet"), teacher=None)
    assert o["target.cot"] is False  # the system wins over the user's override
    assert o["optim.lr"] == 3e-4 and o["model.base"] == "m"
    assert o["cues.n_segments"] == 3 and o["cues.speaker_relative"] is True
    assert (o["data.fold"], o["data.label_set"], o["data.max_utterances"]) == ("fold1", "4class", 50)
    assert (o["optim.epochs"], o["runtime.seed"], o["data.teacher"]) == (2, 7, None)
    text_only = student_mod.student_overrides(resolve_system("aecotd-text-only").options, task.name, fold.name, cfg,
                                              {}, 0,
                                              manifest=Path("m"), folds_dir=Path("f"), cue_table=None, teacher=None)
    assert (text_only["cues.coarse"], text_only["cues.fine"], text_only["data.cues"]) == (False, False, None)
    assert "optim.epochs" not in text_only


def test_cot_system_without_teacher_outputs_is_skipped_with_a_note(tmp_path):
    # skipped before any model is loaded: the base model is never read
    cfg = config_from_dict(_config(tmp_path / "no-model", ["aecotd", "majority"]))
    res = run_experiment(cfg, tmp_path / "out")
    r = res.get("4class", "aecotd")
    assert r.status == "skipped" and "teacher" in r.note and "run_missing" in r.note
    assert res.get("4class", "majority").status == "done"
    assert "AECoTD student (CoT + coarse + fine, emotion loss) | – |" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.slow
def test_student_trains_predicts_and_resumes(tmp_path, tiny_model, monkeypatch):
    """No-CoT and CoT students (teacher outputs from a cache) on fold1 of the fixture."""
    out = tmp_path / "out"
    cache = out / "teacher" / "4class.jsonl"
    cache.parent.mkdir(parents=True)
    # fold1 trains on actors 03 and 04: give the teacher cache one answer per training utterance
    rows = []
    for path in sorted(FIXTURE_RAVDESS.glob("Actor_0[34]/*.flac")):
        key = f"ravdess/{path.parent.name[-2:]}/{path.stem}"
        rows.append({"key": key, "model": "fake", "prompt_sha256": "x", "mode": "label", "raw": "r", "valid": True,
                     "reasoning": "The pitch contour rises and the intensity is strong in the middle segments."})
    cache.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = config_from_dict(_config(tiny_model, ["aecotd-no-cot", "aecotd"], max_train_utterances=6))
    res = run_experiment(cfg, out, RunOptions(folds=["fold1"], epochs=2))
    for name in ("aecotd-no-cot", "aecotd"):
        r = res.get("4class", name)
        assert r.status == "done", r.note
        (rec,) = r.folds
        assert rec["n_test"] == 8 and len(rec["predictions"]) == 8
        assert {p["pred"] for p in rec["predictions"]} <= {"angry", "happy", "neutral", "sad"}
        info = rec["info"]
        assert info["training"]["examples"] == 6 and info["training"]["steps"] >= 12  # 6 examples x 2 epochs
        sc = info["student_config"]
        assert sc["optim"]["epochs"] == 2 and sc["data"]["max_utterances"] == 6 and sc["data"]["fold"] == "fold1"
        assert sc["target"]["cot"] is (name == "aecotd")
        assert r.settings["epochs"] == 2 and r.settings["max_train_utterances"] == 6
    cov = res.get("4class", "aecotd").folds[0]["info"]["teacher_coverage"]
    assert cov == {"train": 8, "with_cot": 8, "cache": str(cache)}
    report = (out / "report.md").read_text()
    assert "seed 0, epochs 2, ≤6 train utts/fold" in report
    assert "6 training items from 6 utterances, 0 without a valid teacher CoT" in report

    # rerun: both folds' results are read back, nothing is trained again
    def no_training(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr("spokenemo.systems.aecotd.training.train", no_training)
    res2 = run_experiment(cfg, out, RunOptions(folds=["fold1"], epochs=2))
    assert all(r.folds[0].get("resumed") for r in res2.results["4class"])


@pytest.mark.slow
def test_teacher_is_asked_for_missing_training_utterances(tmp_path, tiny_model, monkeypatch):
    """teacher.run_missing: the runner asks the teacher (via run_teacher) about the training part
    only, with cue texts rendered from thresholds fitted on it."""
    calls = []

    def fake_run_teacher(utterances, cue_texts, output, **kwargs):
        from spokenemo.core.fileio import append_jsonl

        calls.append(([u.key for u in utterances], dict(cue_texts), kwargs.get("labels")))
        for u in utterances:
            append_jsonl(output, {"key": u.key, "model": "fake", "prompt_sha256": "p", "mode": "label", "raw": "r",
                                  "valid": True, "reasoning": "The intensity is strong and the pitch is high."})

        class Summary:
            todo = len(utterances)
            valid = valid_total = len(utterances)
            seconds = 0.0

        return Summary()

    monkeypatch.setattr("spokenemo.systems.aecotd.teacher.run_teacher", fake_run_teacher)
    monkeypatch.setattr("spokenemo.llm.factory.get_backend", lambda kind, **o: object())
    cfg = config_from_dict({**_config(tiny_model, ["aecotd"]), "teacher": {"run_missing": True}})
    res = run_experiment(cfg, tmp_path / "out", RunOptions(folds=["fold2"]))
    r = res.get("4class", "aecotd")
    assert r.status == "done", r.note
    (keys, texts, labels), = calls
    assert sorted({k.split("/")[1] for k in keys}) == ["01", "02"]  # fold2 trains on actors 01 and 02
    assert set(texts) == set(keys) and all(t.startswith("Pitch: ") for t in texts.values())
    assert labels == ["angry", "happy", "neutral", "sad"]
    assert r.folds[0]["info"]["teacher_coverage"]["with_cot"] == 8
