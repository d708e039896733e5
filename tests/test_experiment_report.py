"""Report layout: captions, student rows first, paper tables, notes; from synthetic fold results."""

from __future__ import annotations

from pathlib import Path

from spokenemo.data.manifest import Segment
from spokenemo.experiment import config_from_dict, resolve_system
from spokenemo.experiment.report import render_report, results_json
from spokenemo.experiment.results import ExperimentResult, SystemResult
from spokenemo.experiment.tasks import Task
from spokenemo.protocols import Fold, LabelledUtterances, aggregate_metrics, compute_metrics, get_label_set

LABELS = ["angry", "happy", "neutral", "sad"]


def _task() -> Task:
    utts = [Segment(key=f"iemocap/S{s}/{i}", label=lab, speaker=f"S{s}", corpus="iemocap", session=f"Ses0{s}")
            for s in (1, 2) for i, lab in enumerate(LABELS)]
    folds = [Fold(f"session-Ses0{s}", train=[u.key for u in utts if u.session != f"Ses0{s}"],
                  test=[u.key for u in utts if u.session == f"Ses0{s}"], protocol="loso-session",
                  info={"test_session": f"Ses0{s}"}) for s in (1, 2)]
    return Task("4class", LABELS, LabelledUtterances(utts, get_label_set("4class"), {}), folds)


def _result(name: str, n_right: int, task: Task) -> SystemResult:
    """A system that gets ``n_right`` of the 4 test utterances of each fold right."""
    records = []
    for fold in task.folds:
        preds = LABELS[:n_right] + ["sad" if lab != "sad" else "angry" for lab in LABELS[n_right:]]
        m = compute_metrics(LABELS, preds, LABELS, protocol=fold.protocol, fold=fold.name)
        records.append({"fold": fold.name, "metrics": m.to_dict()})
    from spokenemo.protocols import ClassificationResult

    agg = aggregate_metrics([ClassificationResult.from_dict(r["metrics"]) for r in records])
    spec = resolve_system(name)
    settings = {"seed": 0, "epochs": 1, "max_train_utterances": 200, "overrides": {}} if spec.seeded else {}
    return SystemResult(spec, 0, records, agg, settings)


def _experiment(systems: dict[str, int], **cfg) -> ExperimentResult:
    task = _task()
    config = config_from_dict({"name": "iemocap-loso", "corpus": {"name": "iemocap", "root": "x"}, "label_set": "4class",
                               "protocol": {"name": "loso-session"}, "systems": ["majority"], **cfg})
    results = [_result(n, k, task) for n, k in systems.items()]
    results.append(SystemResult(resolve_system("egemaps-svm"), 0, [], None, {}, status="skipped",
                                note="opensmile is not importable\n  fix: pip install spokenemo[opensmile]"))
    meta = {"config_hash": config.fingerprint(), "config_path": "configs/iemocap-loso.yaml", "seeds": [0],
            "wall_seconds": 1.0, "package_versions": {"numpy": "2"}, "options": {"test_limit": None}}
    return ExperimentResult(config, Path("/nowhere"), {"4class": task}, {"4class": results}, meta)


def test_main_table_student_rows_first_with_settings_and_caption():
    res = _experiment({"majority": 1, "aecotd": 4, "cue-lr": 2})
    text = render_report(res)
    assert ("*iemocap-loso, 4class. Protocol: loso-session, 2 folds; classes (4): angry, happy, neutral, sad; "
            "data: iemocap (8); 8 utterances, 2 speakers.") in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "±" in line][:3]
    assert rows[0].startswith("| AECoTD student") and "| 100.0 ± 0.0 |" in rows[0]
    assert "seed 0, epochs 1, ≤200 train utts/fold" in rows[0]
    assert rows[1].startswith("| majority class | 25.0 ± 0.0 |")  # baselines keep the config's order
    assert rows[2].startswith("| cue numbers + logistic regression | 50.0 ± 0.0 |")
    # the skipped system keeps its row and note, on one line
    assert "| eGeMAPS functionals + linear SVM | – | – | – | – | skipped: opensmile is not importable fix:" in text
    assert "| session-Ses01 | 4 | 4 | Ses01 |" in text


def test_paper_tables_when_the_config_asks_for_them():
    systems = {"aecotd": 4, "aecotd-no-cot": 3, "aecotd-no-cot-no-fine": 2, "aecotd-text-only": 1,
               "aecotd-no-cot-n1": 2, "aecotd-no-cot-n3": 3}
    text = render_report(_experiment(systems, paper_reference="iemocap-ua"))
    assert "### Ablations (paper Table 1)" in text
    assert "| w/o CoT | 75.0 ± 0.0 | 70.84 |" in text
    assert "### Fine-cue segments n, without CoT (paper Table 4)" in text
    assert "| 1 | 50.0 ± 0.0 | 68.78 |" in text and "| 7 | 75.0 ± 0.0 | 70.84 |" in text
    plain = render_report(_experiment(systems))
    assert "### Ablations (paper Table 1)" in plain and "70.84" not in plain


def test_results_json_has_every_fold_and_metric():
    data = results_json(_experiment({"majority": 1, "cue-lr": 2}))
    assert data["protocol"] == "loso-session" and data["seeds"] == [0]
    (task,) = data["tasks"]
    assert task["classes"] == LABELS and task["n_folds"] == 2 and task["class_counts"]["sad"] == 2
    cue = next(s for s in task["systems"] if s["name"] == "cue-lr")
    assert [f["fold"] for f in cue["per_fold"]] == ["session-Ses01", "session-Ses02"]
    assert cue["mean"]["ua"] == 0.5 and cue["per_fold"][0]["metrics"]["confusion"][3] == [1, 0, 0, 0]
    skipped = next(s for s in task["systems"] if s["name"] == "egemaps-svm")
    assert skipped["status"] == "skipped" and skipped["per_fold"] == []
