"""docs/adding-a-system.md works: its example system, taken verbatim from the page, registers and runs
through the experiment runner next to a built-in baseline, with presets, config errors and save/load."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from spokenemo.core.errors import ConfigError
from spokenemo.experiment import config_from_dict, run_experiment
from spokenemo.systems import get_system, load_system, unregister_system

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "adding-a-system.md"
FIXTURE_RAVDESS = REPO / "tests" / "data" / "ravdess"


@pytest.fixture(scope="module")
def centroid(tmp_path_factory):
    """The doc's first Python block, imported as a module (this registers ``nearest-centroid``)."""
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)[0]
    path = tmp_path_factory.mktemp("doc") / "centroid_system.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("centroid_system", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["centroid_system"] = module
    spec.loader.exec_module(module)
    yield module
    unregister_system("nearest-centroid")
    sys.modules.pop("centroid_system", None)


def _config(systems: list) -> dict:
    return {"name": "toy", "corpus": {"name": "ravdess", "root": str(FIXTURE_RAVDESS)}, "label_set": "4class",
            "protocol": {"name": "speaker-kfold", "groups": [["01", "02"], ["03", "04"]]}, "systems": systems}


def test_registration_presets_and_option_errors(centroid):
    cls = get_system("nearest-centroid")
    assert cls is centroid.NearestCentroid and not cls.seeded and cls.features == ("egemaps",)
    cfg = config_from_dict(_config(["egemaps-centroid", {"name": "sharp", "kind": "nearest-centroid",
                                                         "temperature": 0.25}]))
    specs = cfg.resolved_systems()
    assert [(s.name, s.kind, dict(s.options)) for s in specs] == [
        ("egemaps-centroid", "nearest-centroid", {"temperature": 1.0}),
        ("sharp", "nearest-centroid", {"temperature": 0.25})]
    assert specs[0].label == "eGeMAPS functionals + nearest class centroid"
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['temp'\]; options: temperature"):
        config_from_dict(_config([{"name": "x", "kind": "nearest-centroid", "temp": 1}]), "cfg.yaml")
    with pytest.raises(ConfigError, match="temperature: Input should be greater than 0"):
        config_from_dict(_config([{"name": "x", "kind": "nearest-centroid", "temperature": 0}]), "cfg.yaml")


def test_the_doc_example_runs_through_the_runner(centroid, tmp_path):
    pytest.importorskip("opensmile")
    cfg = config_from_dict(_config(["egemaps-centroid", "egemaps-svm", "majority"]))
    res = run_experiment(cfg, tmp_path / "out")
    r = res.get("4class", "egemaps-centroid")
    assert r.status == "done" and [f["fold"] for f in r.folds] == ["fold1", "fold2"]
    assert all(rec["n_test"] == 8 and rec["info"] == {"n_train_without_features": 0} for rec in r.folds)
    # acted anger and sadness are audible with 8 training clips: better than chance on both folds
    assert all(rec["metrics"]["ua"] > 0.25 for rec in r.folds), [rec["metrics"]["ua"] for rec in r.folds]
    # one eGeMAPS cache serves both eGeMAPS rows; the fold files sit where every system's do
    assert len(list((tmp_path / "out" / "features").glob("egemaps-*.jsonl"))) == 1
    record = json.loads((tmp_path / "out" / "runs" / "4class" / "egemaps-centroid" / "seed0" / "fold1.json").read_text())
    assert record["system"] == {"name": "egemaps-centroid", "kind": "nearest-centroid",
                                "options": {"temperature": 1.0}, "label": "eGeMAPS functionals + nearest class centroid"}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| eGeMAPS functionals + nearest class centroid |" in report
    # a rerun reuses every finished fold
    again = run_experiment(cfg, tmp_path / "out")
    assert all(rec.get("resumed") for rec in again.get("4class", "egemaps-centroid").folds)


def test_the_doc_example_saves_and_loads(centroid, tmp_path):
    """fit / predict / save / load on a fake feature source: probabilities, decisions, round trip."""
    from spokenemo.data.manifest import Segment
    from spokenemo.protocols import Fold
    from spokenemo.systems import RunContext

    rng = np.random.default_rng(0)
    segs = [Segment(key=f"c/s{i % 2}/{i}", path=f"/a/{i}.wav", label="low" if i < 10 else "high",
                    speaker=f"s{i % 2}", corpus="c") for i in range(20)]
    X = {u.key: rng.standard_normal(3) + (0.0 if u.label == "low" else 4.0) for u in segs}
    X[segs[-1].key] = np.full(3, np.nan)  # its features failed

    class Features:
        def matrix(self, name, segments, **options):
            assert name == "egemaps"
            return np.array([X[u.key] for u in segments])

    run = RunContext(experiment=None, options=None, out_dir=tmp_path, config_path=None, features=Features(),
                     path_resolver=Path)
    ctx = run.for_task(task="t", slug="t", labels=["high", "low"], segments=segs, folds_dir=tmp_path).for_fold(
        fold=Fold("f", [u.key for u in segs[:16]], [u.key for u in segs[16:]]), seed=0, system="c",
        work_dir=tmp_path / "w", fingerprint="x")
    system = centroid.NearestCentroid(centroid.CentroidConfig(temperature=0.5))
    system.fit(segs[2:18], [], ctx)
    pred = system.predict(segs)
    assert pred.classes == ["high", "low"] and pred.probabilities.shape == (20, 2)
    assert pred.decisions()[:19] == [u.label for u in segs[:19]] and pred.decisions()[19] is None
    assert np.allclose(pred.probabilities[:19].sum(axis=1), 1.0)
    system.save(tmp_path / "saved")
    loaded = load_system(tmp_path / "saved", context=ctx)
    assert type(loaded) is centroid.NearestCentroid and loaded.config.temperature == 0.5
    again = loaded.predict(segs)
    assert again.decisions() == pred.decisions()
    assert np.allclose(again.probabilities, pred.probabilities, equal_nan=True)
