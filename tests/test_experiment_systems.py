"""The System protocol and registry: declared needs, presets, predictions, the baselines as systems
(same numbers as their estimators), save/load, and a runner that only talks to the protocol."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.data.manifest import Segment
from spokenemo.experiment import config_from_dict, resolve_system, run_experiment
from spokenemo.protocols import Fold
from spokenemo.systems import (
    Predictions,
    RunContext,
    System,
    SystemConfig,
    get_system,
    load_system,
    register_system,
    system_names,
    unregister_system,
)
from spokenemo.systems.baselines.estimators import fit_predict, speaker_zscore

REPO = Path(__file__).resolve().parents[1]
FIXTURE_RAVDESS = REPO / "tests" / "data" / "ravdess"


def test_builtin_systems_and_their_declared_needs():
    assert {"aecotd", "cue-lr", "egemaps-svm", "majority", "tfidf-lr"} <= set(system_names())
    assert get_system("student") is get_system("aecotd")  # older configs' kind
    assert get_system("aecotd").seeded and not get_system("cue-lr").seeded
    cue = resolve_system({"name": "c", "kind": "cue-lr", "n_segments": 11}).requirements()
    assert cue.audio and not cue.text and dict(cue.features) == {"cues": {"n_segments": 11}}
    assert dict(resolve_system("egemaps-svm").requirements().features) == {"egemaps": {}}
    assert resolve_system("tfidf-lr").requirements().text
    assert not resolve_system("majority").requirements().audio
    text_only = resolve_system("aecotd-text-only").requirements()
    assert not text_only.audio and not text_only.features  # no cues: a text-only corpus is fine
    assert resolve_system("aecotd").requirements().audio


def test_kind_aliases_and_errors():
    spec = resolve_system({"name": "s", "kind": "student", "cot": False})
    assert spec.kind == "aecotd" and spec.options["cot"] is False and spec.seeded
    with pytest.raises(ValueError, match=r"unknown kind 'bert'; kinds: ") as err:
        resolve_system({"name": "x", "kind": "bert"})
    kinds = str(err.value).split("kinds: ")[1].split(", ")
    assert kinds == sorted(kinds) and {"aecotd", "cue-lr", "ser", "hcam"} <= set(kinds)
    with pytest.raises(ValueError, match=r"system 'x': C: Input should be a valid number"):
        resolve_system({"name": "x", "kind": "egemaps-svm", "C": "lots"})
    with pytest.raises(ConfigError, match="unknown system 'nope'"):
        get_system("nope")


def test_registering_a_taken_name_fails():
    class Cfg(SystemConfig):
        pass

    with pytest.raises(ConfigError, match="system 'majority' is registered twice"):
        @register_system("majority", Cfg)
        class Other(System):
            def fit(self, train, valid, context): ...

            def predict(self, segments): ...


def test_predictions_one_hot_and_decisions():
    p = Predictions.one_hot(["sad", None, "angry"], ["angry", "sad"])
    assert p.probabilities[0].tolist() == [0.0, 1.0] and np.isnan(p.probabilities[1]).all()
    assert p.decisions() == ["sad", None, "angry"]
    soft = Predictions(["a", "b"], [[0.2, 0.8], [np.nan, np.nan], [0.6, 0.4]])
    assert soft.decisions() == ["b", None, "a"] and len(soft) == 3
    with pytest.raises(SpokenemoError, match="2 labels for 3 rows"):
        Predictions(["a"], [[1.0], [1.0], [1.0]], ["a", "a"])
    with pytest.raises(SpokenemoError, match=r"shape \(1, 1\) for 2 classes"):
        Predictions(["a", "b"], [[1.0]])
    assert Predictions.one_hot([None, None]).decisions() == [None, None]


# --- the baselines through the protocol, on synthetic features ----------------------------------
def _segments() -> list[Segment]:
    rng = np.random.default_rng(1)
    out = []
    for i in range(40):
        label = ["low", "high"][i % 2]
        speaker = f"s{i % 4}"
        out.append(Segment(key=f"c/{speaker}/{i}", path=f"/a/{i}.wav", label=label, speaker=speaker, corpus="c",
                           text=f"{label} words {rng.integers(3)}"))
    return out


class _FakeFeatures:
    """A feature source: 5 numbers per segment, class signal on the first, a speaker offset on all."""

    def __init__(self, segments):
        rng = np.random.default_rng(0)
        self.X = {u.key: rng.standard_normal(5) + (1.5 if u.label == "high" else 0.0) + int(u.speaker[1:]) * 3.0
                  for u in segments}
        for i in (5, 35):  # failed files (one in training, one in test)
            self.X[segments[i].key] = np.full(5, np.nan)

    def matrix(self, name, segments, **options):
        return np.array([self.X[u.key] for u in segments])

    def fingerprint_part(self, name):
        return "fake"


def _context(tmp_path, segments, train, test, seed=0):
    run = RunContext(experiment=None, options=None, out_dir=tmp_path, config_path=None,
                     features=_FakeFeatures(segments), path_resolver=Path)
    task = run.for_task(task="t", slug="t", labels=["high", "low"], segments=segments, folds_dir=tmp_path)
    fold = Fold("f", [u.key for u in train], [u.key for u in test])
    return task.for_fold(fold=fold, seed=seed, system="row", work_dir=tmp_path / "w", fingerprint="fp")


@pytest.mark.parametrize("speaker_z", [False, True])
def test_egemaps_svm_system_equals_its_estimator_and_round_trips(tmp_path, speaker_z):
    segs = _segments()
    train, test = segs[:30], segs[30:]
    ctx = _context(tmp_path, segs, train, test)
    spec = resolve_system({"name": "e", "kind": "egemaps-svm", "speaker_z": speaker_z})
    system = spec.build()
    system.fit(train, [], ctx)
    pred = system.predict(test)
    # the same numbers by hand: features of every task segment, per-speaker z, failed rows out
    X = ctx.features.matrix("egemaps", segs)
    if speaker_z:
        X = speaker_zscore(X, [f"c/{u.speaker}" for u in segs])
    tr = [i for i in range(30) if i != 5]
    expected = fit_predict("egemaps-svm", dict(spec.options), X[tr], [segs[i].label for i in tr], X[30:])
    expected[5] = None  # segs[35] has no features
    assert pred.decisions() == expected
    assert np.isnan(pred.probabilities[5]).all() and set(pred.probabilities[0]) == {0.0, 1.0}  # one-hot
    assert system.info == {"n_train_without_features": 1, "n_test_without_features": 1}
    system.save(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "system.json").read_text())["system"] == "egemaps-svm"
    loaded = load_system(tmp_path / "saved", context=ctx)
    assert loaded.predict(test).decisions() == pred.decisions()


def test_cue_lr_and_tfidf_give_probabilities_with_the_estimators_decisions(tmp_path):
    segs = _segments()
    train, test = segs[:30], segs[30:]
    ctx = _context(tmp_path, segs, train, test)
    tfidf = resolve_system({"name": "t", "kind": "tfidf-lr", "C": 10.0}).build()
    tfidf.fit(train, [], ctx)
    p = tfidf.predict(test)
    assert p.decisions() == fit_predict("tfidf-lr", {"C": 10.0}, [u.text for u in train], [u.label for u in train],
                                        [u.text for u in test])
    assert np.allclose(p.probabilities.sum(axis=1), 1.0) and tfidf.info == {"n_without_text": 0}
    cue = resolve_system("cue-lr").build()
    with pytest.raises(SpokenemoError, match="has no context"):
        cue.predict(test)


def test_majority_and_an_empty_training_part(tmp_path):
    segs = _segments()
    ctx = _context(tmp_path, segs, segs[:3], segs[3:])
    m = resolve_system("majority").build()
    m.fit(segs[:3], [], ctx)  # low, high, low
    assert m.predict(segs[3:6]).decisions() == ["low"] * 3
    m.save(tmp_path / "m")
    assert load_system(tmp_path / "m").predict(segs[:2]).decisions() == ["low", "low"]
    with pytest.raises(SpokenemoError, match="majority: no training utterances"):
        resolve_system("majority").build().fit([], [], ctx)
    with pytest.raises(ConfigError, match="holds system 'majority', not 'tfidf-lr'"):
        get_system("tfidf-lr").load(tmp_path / "m")


# --- the runner only talks to the protocol --------------------------------------------------------
def test_runner_has_no_system_kind_branches():
    text = (REPO / "src" / "spokenemo" / "experiment" / "runner.py").read_text()
    assert not re.search(r"kind ==|is_student|AUDIO_KINDS|egemaps|cue-lr|student|from spokenemo\.systems\.", text)
    assert len(text.splitlines()) < 400


def test_a_seeded_toy_system_runs_on_every_seed_with_its_fingerprint_parts(tmp_path):
    """A registered toy: seeded (every seed), text-only needs, its own fingerprint part and settings."""

    class EchoConfig(SystemConfig):
        answer: str = "angry"

    calls: list[tuple[str, int]] = []

    @register_system("echo-toy", EchoConfig)
    class Echo(System):
        seeded = True
        version = "1"

        @classmethod
        def fingerprint_parts(cls, config, context):
            return {"echo": cls.version}

        @classmethod
        def run_settings(cls, context):
            return {"echo_version": cls.version}

        def fit(self, train, valid, context):
            calls.append((context.fold.name, context.seed))
            assert len(context.segments) == 16 and context.labels == ["angry", "happy", "neutral", "sad"]
            self.info["work_dir"] = context.work_dir.name

        def predict(self, segments):
            return Predictions.one_hot([self.config.answer] * len(segments), ["angry", "happy", "neutral", "sad"])

    try:
        cfg = config_from_dict({"name": "toy", "corpus": {"name": "ravdess", "root": str(FIXTURE_RAVDESS)},
                                "label_set": "4class", "seeds": [0, 1], "systems": [
                                    {"name": "echo", "kind": "echo-toy"}, "majority"],
                                "protocol": {"name": "speaker-kfold", "groups": [["01", "02"], ["03", "04"]]}})
        res = run_experiment(cfg, tmp_path / "out")
        assert sorted(calls) == [("fold1", 0), ("fold1", 1), ("fold2", 0), ("fold2", 1)]
        assert [r.seed for r in res.results["4class"] if r.system.name == "echo"] == [0, 1]
        assert [r.seed for r in res.results["4class"] if r.system.name == "majority"] == [0]
        r = res.get("4class", "echo", seed=1)
        assert r.settings["echo_version"] == "1" and r.folds[0]["info"] == {"work_dir": "fold1"}
        assert r.aggregate.mean["ua"] == 0.25
        calls.clear()
        run_experiment(cfg, tmp_path / "out")
        assert calls == []  # every fold reused
        Echo.version = "2"  # a changed fingerprint part recomputes
        run_experiment(cfg, tmp_path / "out")
        assert len(calls) == 4
    finally:
        unregister_system("echo-toy")
    assert "echo-toy" not in system_names()
