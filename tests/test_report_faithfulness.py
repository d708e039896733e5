"""The experiment report's faithfulness table: explanations saved by a system, checked against their cue text."""

from __future__ import annotations

import json
from pathlib import Path

from spokenemo.data.manifest import Segment
from spokenemo.experiment import config_from_dict, resolve_system
from spokenemo.experiment.explanations import check_rows, explanation_file, system_faithfulness
from spokenemo.experiment.report import render_report, results_json
from spokenemo.experiment.results import ExperimentResult, SystemResult
from spokenemo.experiment.tasks import Task
from spokenemo.protocols import (
    ClassificationResult,
    Fold,
    LabelledUtterances,
    aggregate_metrics,
    compute_metrics,
    get_label_set,
)
from spokenemo.systems.aecotd.fold_explanations import EXPLANATIONS_FILE, explanation_rows, save_explanations
from spokenemo.systems.aecotd.prediction import Prediction

LABELS = ["angry", "happy", "neutral", "sad"]
CUES = "Pitch: high. Intensity: strong. Speech rate: slow. Articulation rate: fast."

#: (explanation, agree, contradict, not supported/unverifiable) against CUES
ROWS = [
    ("The pitch is high and the voice is loud, so angry.", 2, 0),          # 2 agree
    ("The speech is fast and the voice is quiet.", 0, 2),                  # speech rate slow, loud: 2 contradict
    ("Kids are talking by the door.", 0, 0),                               # no cue named
]


def _task() -> Task:
    utts = [Segment(key=f"ravdess/{s}/{i}", label=lab, speaker=s, corpus="ravdess")
            for s in ("01", "02") for i, lab in enumerate(LABELS)]
    folds = [Fold(f"fold{k}", train=[u.key for u in utts if u.speaker != s], test=[u.key for u in utts if u.speaker == s],
                  protocol="speaker-kfold", info={"test_speakers": [s]}) for k, s in ((1, "01"), (2, "02"))]
    return Task("4class", LABELS, LabelledUtterances(utts, get_label_set("4class"), {}), folds)


def _write(path: Path, texts: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"key": f"k{i}", "explanation": t, "cues": CUES}) + "\n"
                            for i, t in enumerate(texts)))


def _experiment(out: Path, files: dict[str, str | None]) -> ExperimentResult:
    task = _task()
    config = config_from_dict({"name": "explain-toy", "corpus": {"name": "ravdess", "root": "x"}, "label_set": "4class",
                               "protocol": {"name": "speaker-kfold"}, "systems": ["majority"]})
    results = []
    for name, file in files.items():
        records = []
        for fold in task.folds:
            m = compute_metrics(LABELS, LABELS, LABELS, protocol=fold.protocol, fold=fold.name)
            info = {"explanations": {"file": file.format(fold=fold.name)}} if file else {}
            records.append({"fold": fold.name, "metrics": m.to_dict(), "info": info})
        agg = aggregate_metrics([ClassificationResult.from_dict(r["metrics"]) for r in records])
        results.append(SystemResult(resolve_system(name), 0, records, agg, {"seed": 0}))
    meta = {"config_hash": config.fingerprint(), "config_path": "x.yaml", "seeds": [0], "wall_seconds": 1.0,
            "package_versions": {}, "options": {"test_limit": None}}
    return ExperimentResult(config, out, {"4class": task}, {"4class": results}, meta)


def test_check_rows_counts_agreeing_contradicting_and_silent_explanations():
    rows = [{"key": str(i), "explanation": t, "cues": CUES} for i, (t, _, _) in enumerate(ROWS)]
    rows.append({"key": "x", "explanation": "The pitch is high."})  # no cue text
    rows.append({"key": "y", "cues": CUES})  # no explanation
    d = check_rows(rows).to_dict()
    assert d["explanations"] == 3 and d["without_claims"] == 1 and d["without_text"] == 1
    assert d["agree"] == 2 and d["contradict"] == 2 and d["verifiable"] == 4
    assert d["agreement"] == 0.5 and d["failures"] == {"x": "no cue text in the row"}


def test_report_prints_faithfulness_of_explaining_systems_only(tmp_path):
    rel = "runs/4class/aecotd/seed0/{fold}/explanations.jsonl"
    _write(tmp_path / rel.format(fold="fold1"), [ROWS[0][0], ROWS[2][0]])
    _write(tmp_path / rel.format(fold="fold2"), [ROWS[1][0], ""])  # an empty explanation
    res = _experiment(tmp_path, {"aecotd": rel, "majority": None})
    text = render_report(res)
    assert "### Faithfulness of the explanations" in text
    assert "Claims pooled over the folds, percent." in text
    row = next(line for line in text.splitlines() if line.startswith("| AECoTD student") and "| 4 |" in line)
    # 4 test utterances, one empty; 2 agree of 4 verifiable claims over both folds; 4/3 claims per
    # non-empty explanation, 4/4 per utterance; one names no cue
    assert row.endswith(" | 4 | 1 | 50.0 | 50.0 | 1.33 | 1.33 | 1.00 | 2 | 0 | 0 | 1 |")
    assert not any(line.startswith("| majority class") and "1.33" in line for line in text.splitlines())
    data = results_json(res)["tasks"][0]["systems"]
    assert data[0]["faithfulness"]["agree"] == 2 and "faithfulness" not in data[1]


def test_report_without_explanations_has_no_table_and_a_missing_file_is_noted(tmp_path):
    assert "Faithfulness" not in render_report(_experiment(tmp_path, {"majority": None}))
    res = _experiment(tmp_path, {"aecotd": "gone/{fold}.jsonl"})
    text = render_report(res)
    assert "emotion loss) | 0 | 0 | – | – | 0.00 | 0.00 | – | 0 | 0 | 0 | 0 |" in text
    assert "Notes on explanations: AECoTD student (CoT + coarse + fine, emotion loss): fold1: explanations not readable" in text
    summary, notes = system_faithfulness(tmp_path, res.results["4class"][0].folds)
    assert summary is not None and summary.explanations == 0 and len(notes) == 2


def test_explanation_file_relative_or_absolute(tmp_path):
    assert explanation_file(tmp_path, {"info": {}}) is None
    assert explanation_file(tmp_path, {"info": {"explanations": {"file": "a/b.jsonl"}}}) == tmp_path / "a/b.jsonl"
    assert explanation_file(tmp_path, {"info": {"explanations": {"file": "/abs/b.jsonl"}}}) == Path("/abs/b.jsonl")


def test_aecotd_fold_explanations_round_trip_into_the_report(tmp_path):
    segs = [Segment(key="ravdess/01/a", label="angry", speaker="01", corpus="ravdess"),
            Segment(key="ravdess/01/b", label="sad", speaker="01", corpus="ravdess")]
    preds = {"ravdess/01/a": Prediction("ravdess/01/a", "angry", "angry", explanation=ROWS[0][0])}
    rows = explanation_rows(segs, {"ravdess/01/a": CUES}, preds)
    assert rows == [{"key": "ravdess/01/a", "speaker": "01", "true": "angry", "predicted": "angry",
                     "explanation": ROWS[0][0], "cues": CUES}]  # b has no prediction: left out
    work = tmp_path / "runs" / "4class" / "aecotd" / "seed0" / "fold1"
    entry = save_explanations(rows, work, tmp_path)
    assert entry == {"file": f"runs/4class/aecotd/seed0/fold1/{EXPLANATIONS_FILE}", "n": 1, "empty": 0,
                     "against": "cue text of the prompt"}
    summary, notes = system_faithfulness(tmp_path, [{"fold": "fold1", "info": {"explanations": entry}}])
    assert notes == [] and summary is not None and summary.agreement == 1.0 and summary.claims == 2
