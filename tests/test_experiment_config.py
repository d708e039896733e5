"""Experiment configs: validation errors name file and field; shipped configs load; paths resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from spokenemo.core.errors import ConfigError
from spokenemo.experiment import config_from_dict, load_config, resolve_path, resolve_system
from spokenemo.experiment.systems import ablation_systems

REPO = Path(__file__).resolve().parents[1]

MINIMAL = {"name": "t", "corpus": {"name": "ravdess", "root": "x"}, "label_set": "4class",
           "protocol": {"name": "speaker-kfold", "k": 2}, "systems": ["cue-lr", "majority"]}


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_minimal_config_and_defaults():
    cfg = config_from_dict(MINIMAL)
    assert [c.name for c in cfg.corpora] == ["ravdess"] and cfg.label_sets == ["4class"]
    assert cfg.cues.n_segments == 7 and cfg.seeds == [0] and cfg.metric == "ua"
    assert [s.name for s in cfg.resolved_systems()] == ["cue-lr", "majority"]
    assert len(cfg.fingerprint()) == 16


EXPERIMENT_CONFIGS = ("ravdess-4class", "nemo", "cross-corpus-korean", "iemocap-loso", "meld-ood", "meld-text")


@pytest.mark.parametrize("name", EXPERIMENT_CONFIGS)
def test_shipped_configs_are_valid(name):
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    assert cfg.resolved_systems(ablations=True)
    if cfg.student.config is not None:  # the base student config exists and is valid for the student
        import yaml

        from spokenemo.systems.aecotd import config_from_dict as student_config

        base = resolve_path(cfg.student.config, REPO / "configs" / f"{name}.yaml")
        student_config(yaml.safe_load(base.read_text()), source=str(base))


def test_ravdess_config_is_the_reference_protocol():
    cfg = load_config(REPO / "configs" / "ravdess-4class.yaml")
    assert cfg.protocol.name == "speaker-kfold"
    assert cfg.protocol.groups == [[f"{a:02d}" for a in range(4 * k - 3, 4 * k + 1)] for k in range(1, 6)]
    assert cfg.corpora[0].speakers == [f"{a:02d}" for a in range(1, 21)]


def test_error_names_file_and_field(tmp_path):
    p = _write(tmp_path, "name: t\ncorpus: {name: ravdess, root: x}\nlabel_set: 4class\n"
                         "protocol: {name: speaker-kfold, k: lots}\nsystems: [cue-lr]\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert f"{p}: protocol.k:" in str(err.value) and "integer" in str(err.value)


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"protocol": {"name": "leave-one-out"}}, "protocol.name", "unknown protocol 'leave-one-out'"),
    ({"label_set": "5class"}, "label_sets", "unknown label set '5class'"),
    ({"systems": ["cue-lr", "bert"]}, "systems", "unknown system 'bert'"),
    ({"systems": [{"name": "x", "kind": "cue-lr", "speaker_zz": True}]}, "systems", "unknown option(s) ['speaker_zz']"),
    ({"systems": [{"name": "x", "kind": "cue-lr", "coarse": False, "fine": False}]}, "systems", "needs coarse or fine"),
    ({"systems": ["cue-lr", "cue-lr"]}, "systems", "system names repeat"),
    ({"corpus": {"name": "timit", "root": "x"}}, "corpora[0].name", "no recipe for corpus 'timit'"),
    ({"cues": {"n_segments": 0}}, "cues.n_segments", "greater than or equal to 1"),
    ({"metric": "accuracy"}, "metric", "'ua'"),
    ({"seeds": []}, "seeds", "at least 1"),
    ({"protocol": {"name": "cross-corpus", "train_corpora": ["ravdess"]}}, "protocol", "needs train_corpora and test_corpora"),
    ({"protocol": {"name": "cross-corpus", "train_corpora": ["ravdess"], "test_corpora": ["nemo"]}},
     "(top level)", "protocol.test_corpora: corpus 'nemo' is not in corpora"),
    ({"epochs": 3}, "epochs", "Extra inputs are not permitted"),
])
def test_invalid_fields(change, field, words):
    data = {**MINIMAL, **change}
    with pytest.raises(ConfigError) as err:
        config_from_dict(data, "cfg.yaml")
    text = str(err.value)
    assert f"cfg.yaml: {field}:" in text, text
    assert words in text, text


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"exp.yaml:2: not valid YAML"):
        load_config(_write(tmp_path, "name: t\n  bad: [indent\n"))
    with pytest.raises(ConfigError, match="must be a YAML mapping, got list"):
        load_config(_write(tmp_path, "- a\n- b\n"))


def test_yaml_integers_become_speaker_strings():
    cfg = config_from_dict({**MINIMAL, "corpus": {"name": "ravdess", "root": "x", "speakers": [1, 2, "03"]},
                            "protocol": {"name": "speaker-kfold", "groups": [[1, 2], ["03"]]}})
    assert cfg.corpora[0].speakers == ["01", "02", "03"]
    assert cfg.protocol.groups == [["01", "02"], ["03"]]


def test_resolve_path_prefers_config_folder_then_repo_root(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "configs").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("")
    (tmp_path / "shared" / "data" / "ravdess").mkdir(parents=True)
    (repo / "configs" / "local").mkdir()
    cfg_file = repo / "configs" / "x.yaml"
    monkeypatch.chdir(tmp_path)
    assert resolve_path("../shared/data/ravdess", cfg_file) == (tmp_path / "shared/data/ravdess").resolve()
    assert resolve_path("local", cfg_file) == (repo / "configs" / "local").resolve()
    assert resolve_path("/abs/path", cfg_file) == Path("/abs/path")
    # nothing exists: the repository root is named (where ../shared/data is expected)
    assert resolve_path("../shared/data/iemocap", cfg_file) == repo / "../shared/data/iemocap"


def test_ablation_set_matches_the_paper():
    names = [s.name for s in ablation_systems(7)]
    assert names == ["aecotd-no-cot", "aecotd-no-cot-no-fine", "aecotd-text-only", "aecotd-no-emotion-loss",
                     "aecotd-no-cot-n1", "aecotd-no-cot-n3", "aecotd-no-cot-n5", "aecotd-no-cot-n9"]
    text_only = resolve_system("aecotd-text-only")
    assert dict(text_only.options) == {"cot": False, "coarse": False, "fine": False, "emotion_loss": True,
                                       "n_segments": None}
    assert resolve_system("aecotd-no-emotion-loss").options["cot"] is True
    assert resolve_system("aecotd-no-cot-n11").options["n_segments"] == 11
    cfg = config_from_dict(MINIMAL)
    with_abl = [s.name for s in cfg.resolved_systems(ablations=True)]
    assert with_abl[:2] == ["cue-lr", "majority"] and "aecotd-no-cot-n3" in with_abl


def test_systems_filter():
    cfg = config_from_dict(MINIMAL)
    assert [s.name for s in cfg.resolved_systems(only=["majority"])] == ["majority"]
    # a preset that is not in the config can still be asked for by name
    assert [s.name for s in cfg.resolved_systems(only=["egemaps-svm"])] == ["egemaps-svm"]
    with pytest.raises(ConfigError, match="--systems nope: not configured"):
        cfg.resolved_systems(only=["nope"])


def test_preset_with_changed_options():
    spec = resolve_system({"name": "cue-lr", "speaker_z": True})
    assert spec.kind == "cue-lr" and spec.options["speaker_z"] is True and spec.options["fine"] is True


def test_system_sections_are_typed_fields_of_the_config():
    """AECoTD owns ``student`` and ``teacher``; the experiment layer only knows them through the registry."""
    from spokenemo.experiment.config import ExperimentConfig
    from spokenemo.systems.aecotd.sections import StudentSection

    assert "student" not in ExperimentConfig.model_fields
    cfg = config_from_dict({**MINIMAL, "student": {"epochs": 2, "overrides": {"optim.lr": 1e-4}}})
    assert isinstance(cfg.section("student"), StudentSection) and cfg.student.epochs == 2
    assert cfg.section("teacher").run_missing is False  # absent section: its defaults
    with pytest.raises(ConfigError, match=r"x.yaml: student.epochs: Input should be greater than 0"):
        config_from_dict({**MINIMAL, "student": {"epochs": -1}}, source="x.yaml")
    with pytest.raises(ConfigError, match=r"student.bogus: Extra inputs are not permitted"):
        config_from_dict({**MINIMAL, "student": {"bogus": 1}})
    with pytest.raises(ConfigError, match="no system section 'cues'"):
        cfg.section("cues")


def test_a_new_system_brings_its_own_config_section():
    from pydantic import BaseModel

    from spokenemo.systems import Predictions, System, SystemConfig, register_system, unregister_system

    class PoolSection(BaseModel):
        size: int = 3

    @register_system("sectioned-toy", SystemConfig)
    class Toy(System):
        config_sections = {"pool": PoolSection}

        def fit(self, train, valid, context):
            pass

        def predict(self, segments):
            return Predictions(classes=[], probabilities=None)

    try:
        cfg = config_from_dict({**MINIMAL, "pool": {"size": 5}})
        assert cfg.section("pool").size == 5
        with pytest.raises(ConfigError, match="pool.size: Input should be a valid integer"):
            config_from_dict({**MINIMAL, "pool": {"size": "many"}})
    finally:
        unregister_system("sectioned-toy")
    with pytest.raises(ConfigError, match="pool: Extra inputs are not permitted"):
        config_from_dict({**MINIMAL, "pool": {"size": 5}})
