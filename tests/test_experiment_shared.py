"""The runner reproduces docs/results.md on the real RAVDESS (../shared/data): the 4-class, 5-fold
cue-lr and eGeMAPS + linear SVM rows (and their speaker-z and coarse variants), fold by fold
(extracts cues and eGeMAPS for 560 clips: about two minutes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spokenemo.experiment import RunOptions, run_experiment
from spokenemo.experiment.report import mean_std

REPO = Path(__file__).resolve().parents[1]
RESULTS_DOC = REPO / "docs" / "results.md"


def _documented_ua_per_fold(system: str) -> list[float]:
    """The RAVDESS "UA per fold" row of ``system`` in docs/results.md."""
    text = RESULTS_DOC.read_text(encoding="utf-8")
    section = text[text.index("### RAVDESS, 4 classes"):]
    section = section[section.index("UA per fold:"):]
    row = re.search(rf"^\| {re.escape(system)} \|(.*)\|$", section, re.M)
    assert row is not None, f"no per-fold row for {system} in {RESULTS_DOC}"
    return [float(x) for x in row.group(1).split("|")]


#: docs/results.md, RAVDESS 4 classes: UA mean ± std of the baseline rows
DOCUMENTED = {"cue-lr": "54.1 ± 4.0", "egemaps-svm": "63.9 ± 9.1", "cue-lr-speaker-z": "59.2 ± 5.4",
              "cue-lr-coarse": "47.8 ± 4.9", "egemaps-svm-speaker-z": "68.9 ± 9.3"}


@pytest.mark.shared
@pytest.mark.slow
def test_ravdess_4class_baselines_match_docs_results(shared_data, tmp_path):
    pytest.importorskip("opensmile")
    root = shared_data / "ravdess"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    res = run_experiment(REPO / "configs" / "ravdess-4class.yaml", tmp_path / "out",
                         RunOptions(systems=list(DOCUMENTED), roots={"ravdess": str(root)}))
    task = res.tasks["4class"]
    assert len(task.utterances) == 560 and len(task.folds) == 5
    for system, summary in DOCUMENTED.items():
        r = res.get("4class", system)
        assert r.status == "done", r.note
        per_fold = [round(100 * rec["metrics"]["ua"], 1) for rec in r.folds]
        assert per_fold == pytest.approx(_documented_ua_per_fold(system), abs=0.1), system
        assert mean_std(r.aggregate, "ua") == summary
