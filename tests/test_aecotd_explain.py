"""``student.explain``: the AECoTD system explains its test predictions and the report checks them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spokenemo.core.errors import ConfigError
from spokenemo.experiment import RunOptions, config_from_dict, run_experiment
from spokenemo.features.providers import FeatureBank
from spokenemo.systems import RunContext
from spokenemo.systems.aecotd import system_report, system_setup

REPO = Path(__file__).resolve().parents[1]
FIXTURE_RAVDESS = REPO / "tests" / "data" / "ravdess"


def _config(base: str | Path, **student) -> dict:
    return {"name": "tiny-explain", "corpus": {"name": "ravdess", "root": str(FIXTURE_RAVDESS)},
            "label_set": "4class", "protocol": {"name": "speaker-kfold", "groups": [["01", "02"], ["03", "04"]]},
            "systems": ["aecotd"], "student": {"epochs": 1, "overrides": {"model.base": str(base)}, **student}}


def _run_context(cfg, tmp_path: Path) -> RunContext:
    return RunContext(experiment=cfg, options=RunOptions(), out_dir=tmp_path, config_path=None,
                      features=FeatureBank(tmp_path / "features", lambda name: {}), path_resolver=Path)


def test_explain_is_recorded_only_when_asked(tmp_path):
    plain = system_setup.run_settings(_run_context(config_from_dict(_config("m")), tmp_path))
    assert "explain" not in plain  # rows without explanations keep their fingerprints
    asked = system_setup.run_settings(_run_context(config_from_dict(_config("m", explain=True,
                                                                            explain_max_tokens=64)), tmp_path))
    assert asked["explain"] == {"max_tokens": 64}
    text = system_report.settings_text({"cot": True}, 0, asked, [])
    assert "test utterances explained (≤64 tokens)" in text
    with pytest.raises(ConfigError, match="explain_max_tokens"):
        config_from_dict(_config("m", explain=True, explain_max_tokens=0))


def test_a_loaded_student_without_an_experiment_does_not_explain(tmp_path):
    from spokenemo.systems.aecotd.system import AecotdConfig, AecotdStudent

    student = AecotdStudent(AecotdConfig())
    assert student._explain_settings() is None  # no context at all
    student.context = _run_context(None, tmp_path)  # a context without an experiment config
    assert student._explain_settings() is None
    student.context = _run_context(config_from_dict(_config("m", explain=True)), tmp_path)
    assert student._explain_settings() == 128


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    from spokenemo.systems.aecotd import make_tiny_model_dir

    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")


@pytest.mark.slow
def test_tiny_run_with_the_grounded_teacher_explains_and_reports_faithfulness(tmp_path, tiny_model):
    """The real path: grounded teacher fills the cache, the student trains, explains each test
    utterance into explanations.jsonl, and the report prints their faithfulness."""
    cfg = config_from_dict({**_config(tiny_model, explain=True, explain_max_tokens=12, max_train_utterances=6),
                            "teacher": {"run_missing": True, "options": {"backend": "grounded"}}})
    out = tmp_path / "out"
    res = run_experiment(cfg, out, RunOptions(folds=["fold1"]))
    r = res.get("4class", "aecotd")
    assert r.status == "done", r.note
    (rec,) = r.folds
    entry = rec["info"]["explanations"]
    assert entry["file"] == "runs/4class/aecotd/seed0/fold1/explanations.jsonl" and entry["n"] == 8
    rows = [json.loads(line) for line in (out / entry["file"]).read_text().splitlines()]
    assert [row["key"] for row in rows] == [p["key"] for p in rec["predictions"]]
    assert all(row["cues"].startswith("Pitch: ") and row["predicted"] == p["pred"]
               for row, p in zip(rows, rec["predictions"], strict=True))
    teacher = [json.loads(line) for line in (out / "teacher" / "4class.jsonl").read_text().splitlines()]
    assert len(teacher) == 6 and all(t["valid"] and t["model"] == "grounded-teacher-v1" for t in teacher)
    report = (out / "report.md").read_text()
    assert "### Faithfulness of the explanations" in report
    assert "test utterances explained (≤12 tokens)" in report
    data = json.loads((out / "results.json").read_text())["tasks"][0]["systems"][0]
    assert data["faithfulness"]["explanations"] + data["faithfulness"]["without_text"] == 8
