"""The registered ``ser`` system: options, presets, the validation-speaker rule, speaker
normalisation records, save/load, and an end-to-end run of the experiment runner on the fake
encoder over the RAVDESS fixture clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fake_encoder import fake_encoders  # noqa: F401
from spokenemo.core.errors import ConfigError
from spokenemo.data.manifest import Segment
from spokenemo.experiment import config_from_dict, run_experiment
from spokenemo.features.providers import FeatureBank
from spokenemo.protocols import Fold
from spokenemo.systems import RunContext, find_preset, get_system, load_system
from spokenemo.systems.ser.config import SerConfig
from spokenemo.systems.ser.inputs import selection_split

REPO = Path(__file__).resolve().parents[1]
FIXTURE_RAVDESS = REPO / "tests" / "data" / "ravdess"
LABELS = {"01": "neutral", "03": "happy", "04": "sad", "05": "angry"}
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(systems: list) -> dict:
    return {"name": "toy", "corpus": {"name": "ravdess", "root": str(FIXTURE_RAVDESS)}, "label_set": "4class",
            "protocol": {"name": "speaker-kfold", "groups": [["01", "02"], ["03", "04"]]}, "systems": systems}


def test_registration_presets_and_options():
    cls = get_system("ser")
    assert cls.seeded and cls.needs_audio
    probe = find_preset("probe-whisper-base")
    assert probe.kind == "ser" and dict(probe.options) == {"head": "probe", "layers": "last", "pooling": "mean+std",
                                                           "C": 0.1}
    assert find_preset("ser-whisper-base-speaker-norm").options == {"speaker_norm": True, "lr": 1e-3,
                                                                     "dropout": 0.2}
    # the probe is deterministic: run on the first seed only; the torch heads on every seed
    assert not cls.is_seeded(SerConfig(**probe.options)) and cls.is_seeded(SerConfig())
    needs = cls.requirements(SerConfig(encoder=["whisper-base", "logmel"], head="asp"))
    assert needs.audio and dict(needs.features) == {"encoded": {"encoders": ["whisper-base", "logmel"],
                                                                "frames": True}}
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['heads'\]"):
        config_from_dict(_config([{"name": "x", "kind": "ser", "heads": "superb"}]), "cfg.yaml")
    with pytest.raises(ConfigError, match="head: Input should be 'superb', 'asp', 'linear' or 'probe'"):
        config_from_dict(_config([{"name": "x", "kind": "ser", "head": "mlp"}]), "cfg.yaml")
    with pytest.raises(ConfigError, match="an encoder is listed twice"):
        config_from_dict(_config([{"name": "x", "kind": "ser", "encoder": ["a", "a"]}]), "cfg.yaml")


def _seg(key: str, speaker: str, label: str = "happy") -> Segment:
    return Segment(key=key, path=f"/a/{key}.wav", label=label, speaker=speaker, corpus="c")


def test_validation_speakers_rule():
    train = [_seg(f"{s}-{i}", f"s{s:02d}") for s in range(16) for i in range(3)]
    fit, select, rule = selection_split(train, [], seed=0, fraction=0.2)
    held = {u.speaker for u in select}
    assert len(held) == 4 and not held & {u.speaker for u in fit} and len(fit) + len(select) == 48
    assert rule.startswith("4 of 16 training speakers held out")
    assert {u.speaker for u in selection_split(train, [], seed=1, fraction=0.2)[1]} != held  # seeded choice
    valid = [_seg("v", "s99")]
    assert selection_split(train, valid, 0, 0.2) == (train, valid, "the fold's validation part")
    lone = train[:3]
    assert selection_split(lone, [], 0, 0.2) == (lone, [], "no validation speakers (one training speaker): last epoch")


@pytest.mark.usefixtures("fake_encoders")
def test_runner_end_to_end_on_the_fake_encoder(tmp_path):
    rows = [{"name": "ser-fake", "kind": "ser", "encoder": "fake-enc", "epochs": 4, "batch_size": 4, "hidden": 16,
             "lr": 1e-2},
            {"name": "ser-fake-norm", "kind": "ser", "encoder": "fake-enc", "epochs": 4, "batch_size": 4,
             "speaker_norm": True, "min_speaker_segments": 2, "pooling": "mean+std", "refit": False},
            {"name": "probe-fake", "kind": "ser", "encoder": ["fake-enc", "fake-two"], "head": "probe",
             "layers": "last", "pooling": "mean+std"},
            {"name": "asp-fake", "kind": "ser", "encoder": "fake-enc", "head": "asp", "epochs": 2, "batch_size": 8,
             "refit": False}]
    cfg = config_from_dict({**_config(rows), "seeds": [0]})
    res = run_experiment(cfg, tmp_path / "out")
    for name in ("ser-fake", "ser-fake-norm", "probe-fake", "asp-fake"):
        r = res.get("4class", name)
        assert r.status == "done" and [f["fold"] for f in r.folds] == ["fold1", "fold2"], (name, r.note)
        for rec in r.folds:
            assert rec["n_test"] == 8 and rec["info"]["n_train_without_features"] == 0
            assert all(p["pred"] in LABELS.values() for p in rec["predictions"])
    head = res.get("4class", "ser-fake").folds[0]["info"]["head"]
    assert head["selection_rule"].startswith("1 of 2 training speakers held out")
    assert head["selection_rule"].endswith("; refit on the whole training part")
    assert 1 <= head["epochs"] <= 4 and len(head["layer_weights"][0]) == 3
    assert abs(sum(head["layer_weights"][0]) - 1) < 1e-3
    norm = res.get("4class", "ser-fake-norm").folds[0]["info"]
    assert norm["speaker_norm_test"] == {"speaker_stats": 8, "global_stats": 0, "fell_back": [],
                                         "fell_back_truncated": False}
    features = {p.name.rsplit("-", 1)[0] for p in (tmp_path / "out" / "features").iterdir()}
    assert features == {"encoded-fake-enc-pooled", "encoded-fake-two-pooled", "encoded-fake-enc-frames"}
    assert "refit" not in norm["head"]["selection_rule"]
    again = run_experiment(cfg, tmp_path / "out")
    assert all(rec.get("resumed") for rec in again.get("4class", "ser-fake").folds)


def _context(tmp_path: Path, segments: list[Segment], train: list[Segment]):
    bank = FeatureBank(tmp_path / "features", lambda name: {})
    run = RunContext(experiment=None, options=None, out_dir=tmp_path, config_path=None, features=bank,
                     path_resolver=Path)
    task = run.for_task(task="4class", slug="4class", labels=["angry", "happy", "neutral", "sad"],
                        segments=segments, folds_dir=tmp_path)
    fold = Fold("f", [u.key for u in train], [u.key for u in segments if u not in train])
    return bank, task.for_fold(fold=fold, seed=0, system="ser", work_dir=tmp_path / "work", fingerprint="fp")


def _fixture_segments() -> list[Segment]:
    out = []
    for p in sorted(FIXTURE_RAVDESS.rglob("*.flac")):
        emotion, actor = p.stem.split("-")[2], p.stem.split("-")[6]
        if emotion in LABELS:
            out.append(Segment(key=f"ravdess/{p.stem}", path=str(p), label=LABELS[emotion], speaker=actor,
                               corpus="ravdess"))
    return out


@pytest.mark.parametrize("head", ["superb", "probe"])
@pytest.mark.usefixtures("fake_encoders")
def test_save_load_and_the_lone_clip_that_falls_back(tmp_path, head):
    segments = _fixture_segments()
    train = [u for u in segments if u.speaker in ("01", "02", "03")]
    bank, ctx = _context(tmp_path, segments, train)
    bank.request("encoded", encoders=["fake-enc"])
    cls = get_system("ser")
    system = cls(SerConfig(encoder="fake-enc", head=head, speaker_norm=True, min_speaker_segments=4, epochs=3,
                           batch_size=4))
    system.fit(train, [], ctx)
    assert system.info["speaker_norm_train"]["speaker_stats"] == 12  # 3 actors x 4 clips, each >= 4
    lone = Segment(key="lone", path=segments[0].path, speaker="99", corpus="other", label="happy")
    test = [u for u in segments if u not in train] + [lone]
    pred = system.predict(test)
    assert pred.classes == ["angry", "happy", "neutral", "sad"] and np.allclose(pred.probabilities.sum(axis=1), 1)
    assert system.info["speaker_norm_test"] == {"speaker_stats": 4, "global_stats": 1, "fell_back": ["lone"],
                                                "fell_back_truncated": False}
    system.save(tmp_path / "saved")
    state = json.loads((tmp_path / "saved" / "ser.json").read_text())
    assert state["classes"] == pred.classes and state["encoders"] == {
        "fake-enc": bank.get("encoded").encoder_fingerprint("fake-enc")}
    loaded = load_system(tmp_path / "saved", context=ctx)
    assert type(loaded) is cls and loaded.config.head == head
    assert np.allclose(loaded.predict(test).probabilities, pred.probabilities)
