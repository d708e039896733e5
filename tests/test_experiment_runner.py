"""The experiment runner end to end with baselines: outputs, resuming, fake IEMOCAP/MELD trees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spokenemo.core.errors import ConfigError
from spokenemo.experiment import RunOptions, config_from_dict, run_experiment
from spokenemo.experiment import runner as runner_mod
from spokenemo.features.providers import CueFeatures, EgemapsFeatures

from fake_corpora import make_iemocap, make_meld

REPO = Path(__file__).resolve().parents[1]
FIXTURE_RAVDESS = REPO / "tests" / "data" / "ravdess"


def _tiny_config(**changes) -> dict:
    cfg = {"name": "tiny", "corpus": {"name": "ravdess", "root": str(FIXTURE_RAVDESS)}, "label_set": "4class",
           "protocol": {"name": "speaker-kfold", "groups": [["01", "02"], ["03", "04"]]},
           "systems": ["majority", "tfidf-lr"]}
    cfg.update(changes)
    return cfg


def test_baselines_end_to_end_outputs(tmp_path):
    cfg = config_from_dict(_tiny_config())
    res = run_experiment(cfg, tmp_path / "out")
    task = res.tasks["4class"]
    # 4 actors x (neutral, happy, sad, angry) in the fixture; the 5th clip of each actor is dropped
    assert len(task.utterances) == 16 and [f.name for f in task.folds] == ["fold1", "fold2"]
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["protocol"] == "speaker-kfold" and data["seeds"] == [0]
    assert data["config_hash"] == cfg.fingerprint()
    assert "scikit-learn" in data["meta"]["package_versions"]
    (t,) = data["tasks"]
    assert t["classes"] == ["angry", "happy", "neutral", "sad"] and t["n_folds"] == 2
    maj = next(s for s in t["systems"] if s["name"] == "majority")
    # every class has 4 training utterances: the tie goes to the first class in sorted order
    assert [f["metrics"]["ua"] for f in maj["per_fold"]] == [0.25, 0.25]
    assert maj["mean"]["wa"] == pytest.approx(0.25) and maj["pooled"]["confusion"] == [[4, 0, 0, 0]] * 4
    for f in maj["per_fold"]:
        assert set(f["metrics"]) >= {"ua", "wa", "macro_f1", "weighted_f1", "confusion", "recall"}
    # the two RAVDESS sentences say nothing about emotion: TF-IDF cannot beat chance by much
    tfidf = next(s for s in t["systems"] if s["name"] == "tfidf-lr")
    assert tfidf["status"] == "done" and 0.0 <= tfidf["mean"]["ua"] <= 0.5
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Protocol: speaker-kfold, 2 folds; classes (4): angry, happy, neutral, sad" in report
    assert "| majority class | 25.0 ± 0.0 | 25.0 ± 0.0 |" in report
    assert "| system | fold1 | fold2 | mean ± std |" in report
    png = tmp_path / "out" / "confusion" / "4class" / "majority-seed0.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fold_file = tmp_path / "out" / "runs" / "4class" / "majority" / "seed0" / "fold1.json"
    record = json.loads(fold_file.read_text())
    assert len(record["predictions"]) == 8 and {p["pred"] for p in record["predictions"]} == {"angry"}
    assert (tmp_path / "out" / "folds" / "4class" / "index.json").is_file()


def test_egemaps_baseline_learns_on_real_clips(tmp_path):
    pytest.importorskip("opensmile")
    cfg = config_from_dict(_tiny_config(systems=["egemaps-svm", "egemaps-svm-speaker-z"]))
    res = run_experiment(cfg, tmp_path / "out")
    feats = list((tmp_path / "out" / "features").glob("egemaps-*.jsonl"))
    assert len(feats) == 1 and len(feats[0].read_text().splitlines()) == 16
    row = json.loads(feats[0].read_text().splitlines()[0])
    assert len(row["features"]) == 88
    for name in ("egemaps-svm", "egemaps-svm-speaker-z"):
        r = res.get("4class", name)
        assert r.status == "done" and len(r.folds) == 2
        assert r.aggregate.mean["ua"] > 0.25  # acted anger/sadness are audible with 8 training clips
    # second run: features come from the cache, folds from their files
    res2 = run_experiment(cfg, tmp_path / "out")
    assert all(rec.get("resumed") for rec in res2.get("4class", "egemaps-svm").folds)


def test_resume_skips_finished_folds(tmp_path, monkeypatch):
    cfg = config_from_dict(_tiny_config(systems=["majority"]))
    calls: list[str] = []
    real = runner_mod.fit_predict_fold

    def crash_on_fold2(spec, context, *args, **kwargs):
        calls.append(context.fold.name)
        if context.fold.name == "fold2":
            raise KeyboardInterrupt  # the run is killed while fold2 is computed
        return real(spec, context, *args, **kwargs)

    monkeypatch.setattr(runner_mod, "fit_predict_fold", crash_on_fold2)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path / "out")
    runs = tmp_path / "out" / "runs" / "4class" / "majority" / "seed0"
    assert calls == ["fold1", "fold2"]
    assert sorted(p.name for p in runs.iterdir()) == ["fold1.json"]  # no half-written fold2
    fold1_before = (runs / "fold1.json").read_text()

    calls.clear()
    monkeypatch.setattr(runner_mod, "fit_predict_fold",
                        lambda *a, **k: (calls.append(a[1].fold.name), real(*a, **k))[1])
    res = run_experiment(cfg, tmp_path / "out")
    assert calls == ["fold2"]  # fold1 was not recomputed
    assert (runs / "fold1.json").read_text() == fold1_before
    assert [r["fold"] for r in res.get("4class", "majority").folds] == ["fold1", "fold2"]

    # changed settings (another test subset) invalidate the finished folds
    calls.clear()
    run_experiment(cfg, tmp_path / "out", RunOptions(test_limit=4))
    assert calls == ["fold1", "fold2"]


def test_test_limit_is_stratified_and_reported(tmp_path):
    cfg = config_from_dict(_tiny_config(systems=["majority"]))
    res = run_experiment(cfg, tmp_path / "out", RunOptions(test_limit=4))
    rec = res.get("4class", "majority").folds[0]
    assert rec["n_test"] == 4 and rec["n_test_in_fold"] == 8
    assert sorted(p["true"] for p in rec["predictions"]) == ["angry", "happy", "neutral", "sad"]
    assert "Test parts subsampled to ≤4 utterances per fold" in (tmp_path / "out" / "report.md").read_text()


def test_missing_root_and_bad_options(tmp_path):
    cfg = config_from_dict(_tiny_config(corpus={"name": "ravdess", "root": str(tmp_path / "nowhere")}))
    with pytest.raises(ConfigError, match=r"corpus 'ravdess': root .*nowhere does not exist") as err:
        run_experiment(cfg, tmp_path / "out")
    assert "--root ravdess=" in str(err.value)
    cfg = config_from_dict(_tiny_config())
    with pytest.raises(ConfigError, match="--folds fold9: no such fold"):
        run_experiment(cfg, tmp_path / "out", RunOptions(folds=["fold9"]))
    with pytest.raises(ConfigError, match="--root given for \\['nemo'\\]"):
        run_experiment(cfg, tmp_path / "out", RunOptions(roots={"nemo": "/x"}))


def test_text_only_corpus_skips_audio_systems_with_a_note(tmp_path):
    make_meld(tmp_path / "meld", clips=False)
    cfg = config_from_dict({"name": "m", "corpus": {"name": "meld", "root": str(tmp_path / "meld")},
                            "label_set": "4class", "protocol": {"name": "official"},
                            "systems": ["majority", "egemaps-svm", "cue-lr"]})
    res = run_experiment(cfg, tmp_path / "out")
    for name in ("egemaps-svm", "cue-lr"):
        r = res.get("4class", name)
        assert r.status == "skipped" and "have no audio" in r.note
    assert res.get("4class", "majority").status == "done"
    assert "cue numbers + logistic regression: skipped" in (tmp_path / "out" / "report.md").read_text()


def test_iemocap_loso_config_on_a_fake_tree(tmp_path):
    facts = make_iemocap(tmp_path / "IEMOCAP", sessions=(1, 2, 3, 4, 5))
    assert facts["per_session"] == 6
    cfg_path = REPO / "configs" / "iemocap-loso.yaml"
    res = run_experiment(cfg_path, tmp_path / "out",
                         RunOptions(systems=["majority", "tfidf-lr"], roots={"iemocap": str(tmp_path / "IEMOCAP")}))
    task = res.tasks["4class"]
    # per session: neu, exc (-> happy), sad, ang kept; fru and xxx dropped
    assert len(task.utterances) == 20
    assert [f.name for f in task.folds] == [f"session-Ses0{s}" for s in range(1, 6)]
    assert task.utterances.counts() == {"angry": 5, "happy": 5, "neutral": 5, "sad": 5}
    for f in task.folds:
        assert {u.session for u in task.utterances if u.key in set(f.test)} == {f.info["test_session"]}
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["tasks"][0]["protocol"] == "loso-session" and data["tasks"][0]["n_folds"] == 5
    assert data["metric"] == "ua"


def test_meld_ood_config_on_fake_trees(tmp_path):
    make_iemocap(tmp_path / "IEMOCAP", sessions=(1, 2, 3, 4, 5))
    make_meld(tmp_path / "MELD.Raw", clips=True)
    res = run_experiment(REPO / "configs" / "meld-ood.yaml", tmp_path / "out",
                         RunOptions(systems=["majority"], roots={"iemocap": str(tmp_path / "IEMOCAP"),
                                                                 "meld": str(tmp_path / "MELD.Raw")}))
    task = res.tasks["4class"]
    (fold,) = task.folds
    assert fold.protocol == "meld4-test-full" and fold.speaker_independent
    assert fold.test == ("meld/test/dia0_utt1",)  # the fake test split: surprise (dropped), anger
    assert all(k.startswith("iemocap/") for k in fold.train) and len(fold.train) == 20
    assert res.config.metric == "wa"


def test_cli_prints_table_and_writes_report(tmp_path):
    import yaml

    from spokenemo.apps.cli import cli

    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text(yaml.safe_dump(_tiny_config()))
    result = CliRunner().invoke(cli, ["experiment", str(cfg_file), "-o", str(tmp_path / "out"),
                                      "--systems", "majority"])
    assert result.exit_code == 0, result.output
    assert "majority" in result.output and "25.0 ± 0.0" in result.output
    assert (tmp_path / "out" / "report.md").is_file()
    bad = CliRunner().invoke(cli, ["experiment", str(cfg_file), "-o", str(tmp_path / "o2"), "--root", "ravdess"])
    assert bad.exit_code == 2 and "expected CORPUS=PATH" in bad.output


def test_speaker_z_uses_every_utterance_of_the_speaker(tmp_path, monkeypatch):
    """cue-lr with speaker_z standardises with the statistics of all of a speaker's utterances
    (train and test), so adding a constant per speaker does not change any prediction."""
    cfg = config_from_dict(_tiny_config(systems=[{"name": "z", "kind": "cue-lr", "speaker_z": True}]))
    rng = np.random.default_rng(0)
    offsets = {"01": 0.0, "02": 5.0, "03": -3.0, "04": 40.0}
    signal = {"angry": 2.0, "happy": 1.0, "neutral": -1.0, "sad": -2.0}
    base: dict[str, np.ndarray] = {}

    def fake_matrix(self, utts, *, n_segments=None, coarse=True, fine=True, shift=True):
        rows = []
        for u in utts:
            if u.key not in base:
                base[u.key] = rng.standard_normal(3) * 0.2 + signal[u.label]
            rows.append(base[u.key] + (offsets[u.speaker] if shift else 0.0))
        return np.array(rows)

    monkeypatch.setattr(CueFeatures, "matrix", fake_matrix)
    monkeypatch.setattr(CueFeatures, "prepare", lambda self, utts: None)
    shifted = run_experiment(cfg, tmp_path / "a").get("4class", "z")
    monkeypatch.setattr(CueFeatures, "matrix", lambda self, utts, **kw: fake_matrix(self, utts, shift=False, **kw))
    plain = run_experiment(cfg, tmp_path / "b").get("4class", "z")
    preds = lambda r: [p["pred"] for rec in r.folds for p in rec["predictions"]]  # noqa: E731
    assert preds(shifted) == preds(plain)
    assert shifted.aggregate.mean["ua"] == 1.0


def test_unreadable_clip_is_recorded_and_counted_wrong(tmp_path):
    """A clip that cannot be decoded: training goes on without it, its test prediction is missing
    (scored as wrong), and the failure is recorded with the features."""
    import shutil

    root = tmp_path / "ravdess"
    shutil.copytree(FIXTURE_RAVDESS, root)
    bad = root / "Actor_01" / "03-01-05-01-02-01-01.flac"  # angry, actor 01 (fold1 test)
    bad.write_bytes(b"not audio at all")
    systems = ["cue-lr"] + (["egemaps-svm"] if egemaps_ok() else [])
    cfg = config_from_dict(_tiny_config(corpus={"name": "ravdess", "root": str(root),
                                                "options": {"with_duration": False}}, systems=systems))
    res = run_experiment(cfg, tmp_path / "out")
    for name in systems:
        fold1 = res.get("4class", name).folds[0]
        assert fold1["info"]["n_test_without_features"] == 1
        pred = next(p for p in fold1["predictions"] if p["key"] == "ravdess/01/03-01-05-01-02-01-01")
        assert pred["pred"] is None
        assert fold1["metrics"]["n_invalid"] == 1 and fold1["metrics"]["support"]["angry"] == 2
    errors = list((tmp_path / "out" / "features").glob("cues-*/cues.errors.jsonl"))
    assert "03-01-05-01-02-01-01" in errors[0].read_text()


def egemaps_ok() -> bool:
    from spokenemo.features.egemaps import egemaps_available

    return egemaps_available()[0]


def test_egemaps_skipped_with_a_note_when_opensmile_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(EgemapsFeatures, "available",
                        classmethod(lambda cls: (False, "opensmile is not importable; install spokenemo[opensmile]")))
    cfg = config_from_dict(_tiny_config(systems=["egemaps-svm", "majority"]))
    res = run_experiment(cfg, tmp_path / "out")
    r = res.get("4class", "egemaps-svm")
    assert r.status == "skipped" and "spokenemo[opensmile]" in r.note
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    row = next(s for s in data["tasks"][0]["systems"] if s["name"] == "egemaps-svm")
    assert row["status"] == "skipped" and row["mean"] is None


def test_running_some_folds_says_so_in_the_captions(tmp_path):
    cfg = config_from_dict(_tiny_config(systems=["majority"]))
    run_experiment(cfg, tmp_path / "out", RunOptions(folds=["fold2"]))
    assert "Protocol: speaker-kfold, 1 of its 2 folds (fold2);" in (tmp_path / "out" / "report.md").read_text()
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert (data["tasks"][0]["n_folds"], data["tasks"][0]["n_protocol_folds"]) == (1, 2)


def test_report_includes_systems_finished_by_an_earlier_run(tmp_path):
    cfg = config_from_dict(_tiny_config(systems=["majority", "tfidf-lr"]))
    run_experiment(cfg, tmp_path / "out", RunOptions(systems=["tfidf-lr"]))
    res = run_experiment(cfg, tmp_path / "out", RunOptions(systems=["majority"]))
    names = [r.system.name for r in res.results["4class"]]
    assert names == ["majority", "tfidf-lr"]
    assert res.get("4class", "tfidf-lr").note == "read from an earlier run"
    assert "| transcript TF-IDF + logistic regression |" in (tmp_path / "out" / "report.md").read_text()
    # results of other settings are not mixed in
    res = run_experiment(cfg, tmp_path / "out", RunOptions(systems=["majority"], test_limit=4))
    assert [r.system.name for r in res.results["4class"]] == ["majority"]
