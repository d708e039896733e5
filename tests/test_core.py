"""The core layer: registry, speaker rule, sampling, config loader, lazy imports."""

from __future__ import annotations

import doctest
from types import SimpleNamespace

import pytest

from spokenemo.core import config as core_config
from spokenemo.core import lazy, registry, sampling, speakers
from spokenemo.core.config import load_yaml_config
from spokenemo.core.errors import ConfigError, MissingDependencyError
from spokenemo.core.lazy import optional_import
from spokenemo.core.registry import Registry
from spokenemo.core.sampling import balanced_subset, stratified_subset
from spokenemo.core.speakers import speaker_id, speaker_of, speaker_of_row


@pytest.mark.parametrize("module", [core_config, lazy, registry, sampling, speakers])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_registry_refuses_a_second_owner_and_lists_known_names():
    reg: Registry[int] = Registry("widget")
    reg.add("a", 1)
    reg.add("a", 1)  # the same object again is fine (module re-import)
    with pytest.raises(ConfigError, match="registered twice"):
        reg.add("a", 2)
    with pytest.raises(ConfigError, match="known: a"):
        reg.get("b")
    assert reg.remove("a") == 1 and "a" not in reg
    with pytest.raises(ConfigError, match="unknown widget 'a'"):
        reg.remove("a")


def test_one_speaker_rule_for_segments_and_rows():
    seg = SimpleNamespace(corpus="ravdess", speaker="01", key="k1")
    anon = SimpleNamespace(corpus="meld", speaker=None, key="k2")
    assert speaker_of(seg) == "ravdess/01"
    assert speaker_of(anon) == "meld/?k2"
    assert speaker_of_row({"corpus": "nemo", "speaker": "SB0"}) == "nemo/SB0"
    assert speaker_of_row({"corpus": "nemo", "speaker": float("nan")}) is None
    assert speaker_id(None, "x") == "x"


def _items(n_a: int, n_b: int):
    return [SimpleNamespace(key=f"a{i}", label="a") for i in range(n_a)] + \
        [SimpleNamespace(key=f"b{i}", label="b") for i in range(n_b)]


def test_stratified_subset_keeps_proportions_and_ignores_order():
    items = _items(30, 10)
    sub = stratified_subset(items, 8, seed=3)
    assert [x.label for x in sub].count("a") == 6 and len(sub) == 8
    assert {x.key for x in sub} == {x.key for x in stratified_subset(items[::-1], 8, seed=3)}
    assert {x.key for x in sub} != {x.key for x in stratified_subset(items, 8, seed=4)}
    assert stratified_subset(items, None, 0) == items


def test_balanced_subset_takes_classes_in_turn():
    sub = balanced_subset(_items(30, 3), 10, seed=0)
    assert [x.label for x in sub].count("b") == 3 and len(sub) == 10
    assert balanced_subset(_items(2, 2), 10, seed=0) == _items(2, 2)


def test_config_loader_names_file_line_and_field(tmp_path):
    from pydantic import BaseModel

    class Optim(BaseModel):
        lr: float = 1e-3
        epochs: int = 1

    class Cfg(BaseModel):
        optim: Optim = Optim()

    good = tmp_path / "good.yaml"
    good.write_text("optim:\n  lr: 0.5\n")
    cfg = load_yaml_config(Cfg, good, ["optim.epochs=3"])
    assert (cfg.optim.lr, cfg.optim.epochs) == (0.5, 3)
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  epochs: many\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: optim.epochs: Input should be a valid integer"):
        load_yaml_config(Cfg, bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("optim: [1,\n  2\nx: :\n")
    with pytest.raises(ConfigError, match=r"broken.yaml:\d+: not valid YAML"):
        load_yaml_config(Cfg, broken)
    with pytest.raises(ConfigError, match="config file not found"):
        load_yaml_config(Cfg, tmp_path / "missing.yaml")


def test_optional_import_names_the_extra():
    with pytest.raises(MissingDependencyError, match=r"spokenemo\[llm\]") as info:
        optional_import("torch.no_such_module_xyz")
    assert isinstance(info.value, ImportError)
