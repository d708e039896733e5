"""ABHINAYA's members and vote through the platform: the experiment runner with the long-tail
``imbalance:`` section, on the fake speech encoder, a fake text encoder and the RAVDESS fixture
clips; save / load; losses reach the training; bad input (a class without a training example, a
vote with two members, a member that does not exist or fails to load)."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from fake_encoder import fake_encoders  # noqa: F401
from spokenemo.api.abhinaya import run_abhinaya_experiment, vote_results
from spokenemo.core.errors import ConfigError, LabelError, SpokenemoError
from spokenemo.data.manifest import Segment
from spokenemo.experiment import config_from_dict
from spokenemo.features.providers import FeatureBank
from spokenemo.models.encoders.base import TextEncoderOutput
from spokenemo.protocols import Fold
from spokenemo.systems import RunContext, get_system, load_system
from spokenemo.systems.abhinaya import texttokens
from spokenemo.systems.abhinaya.config import VoteConfig

REPO = Path(__file__).resolve().parents[1]
FIXTURE_RAVDESS = REPO / "tests" / "data" / "ravdess"
LABELS = {"01": "neutral", "03": "happy", "04": "sad", "05": "angry"}
pytestmark = pytest.mark.usefixtures("one_torch_thread", "fake_encoders", "fake_text")
TINY = {"epochs": 3, "batch_size": 4, "hidden": 8}


class FakeTextEncoder:
    """Token states from a hash of each word (4-d), one layer: deterministic and instant."""

    def encode(self, sentences):
        words = [s.split() or ["."] for s in sentences]
        width = max(len(w) for w in words)
        hidden = np.zeros((1, len(words), width, 4), np.float32)
        mask = np.zeros((len(words), width), np.int64)
        for i, ws in enumerate(words):
            for j, w in enumerate(ws):
                hidden[0, i, j] = np.random.default_rng(zlib.crc32(w.encode())).normal(size=4)
                mask[i, j] = 1
        return TextEncoderOutput(hidden, mask, hidden[-1].mean(axis=1))


@pytest.fixture
def fake_text():
    texttokens.clear()
    texttokens._ENCODERS["fake-text"] = FakeTextEncoder()
    yield
    texttokens.clear()


def _config(systems: list, **extra) -> dict:
    return {"name": "toy", "corpus": {"name": "ravdess", "root": str(FIXTURE_RAVDESS)}, "label_set": "4class",
            "protocol": {"name": "speaker-kfold", "groups": [["01", "02"], ["03", "04"]], "n_valid": 1},
            "systems": systems, "seeds": [0], "metric": "macro_f1", **extra}


MEMBERS = [
    {"name": "s1", "kind": "abhinaya-s1", "encoder": "fake-enc", "loss": "wfl", **TINY},
    {"name": "s2", "kind": "abhinaya-s2", "encoder": "fake-two", "loss": "wfl", **TINY},
    {"name": "st1", "kind": "abhinaya-st1", "encoder": "fake-enc", "text_encoder": "fake-text", "d_model": 8,
     "n_heads": 2, "loss": "vs", **TINY},
    {"name": "t2", "kind": "abhinaya-t2", "text_encoder": "fake-text", "loss": "vs", **TINY},
    {"name": "t1", "kind": "abhinaya-t1"},
]


def test_every_member_and_the_vote_run_through_the_runner(tmp_path):
    vote = {"name": "vote", "kind": "abhinaya", "tie_breaker": "s2",
            "members": [{**m, "name": m["name"].upper()} for m in MEMBERS[:3]]}
    cfg = config_from_dict(_config([*MEMBERS, {**vote, "tie_breaker": "S2"}],
                                   imbalance={"train_ratio": 2, "balance_test": True}))
    res = run_abhinaya_experiment(cfg, tmp_path / "out")
    for row in ("s1", "s2", "st1", "t2", "t1", "vote"):
        r = res.get("4class", row)
        assert r.status == "done", (row, r.note)
        for rec in r.folds:
            assert rec["protocol"] == "speaker-kfold+long-tail2+balanced-test"
            assert all(p["pred"] in LABELS.values() for p in rec["predictions"]), row
    info = res.get("4class", "s1").folds[0]["info"]
    assert info["loss"] == "wfl" and 1 <= info["best_epoch"] <= 3 and len(info["valid_curve"]) == 3
    assert info["member"].startswith("S1 (WavLM-large")
    counts = res.get("4class", "s1").folds[0]["fold_info"]["imbalance"]["train_counts"]
    assert max(counts.values()) / min(counts.values()) <= 2.0 + 1e-9
    # the vote of the rows already run agrees with the ensemble system's own vote
    voted = vote_results(tmp_path / "out", "4class", {"S1": "s1", "S2": "s2", "ST1": "st1"}, tie_breaker="S2")
    own = res.get("4class", "vote").folds
    assert voted["macro_f1"] == pytest.approx(np.mean([f["metrics"]["macro_f1"] for f in own]))
    assert set(voted["per_class_f1"]) == set(LABELS.values())


def _context(tmp_path: Path, segments: list[Segment], train: list[Segment], labels: list[str]):
    bank = FeatureBank(tmp_path / "features", lambda name: {})
    run = RunContext(experiment=None, options=None, out_dir=tmp_path, config_path=None, features=bank,
                     path_resolver=Path)
    task = run.for_task(task="4class", slug="4class", labels=labels, segments=segments, folds_dir=tmp_path)
    fold = Fold("f", [u.key for u in train], [u.key for u in segments if u not in train])
    return bank, task.for_fold(fold=fold, seed=0, system="x", work_dir=tmp_path / "work", fingerprint="fp")


def _segments() -> list[Segment]:
    out = []
    for p in sorted(FIXTURE_RAVDESS.rglob("*.flac")):
        emotion, actor = p.stem.split("-")[2], p.stem.split("-")[6]
        if emotion in LABELS:
            out.append(Segment(key=f"ravdess/{p.stem}", path=str(p), label=LABELS[emotion], speaker=actor,
                               corpus="ravdess", text=f"words {p.stem[-5:]} said"))
    return out


@pytest.mark.parametrize("kind", ["abhinaya-s1", "abhinaya-s2", "abhinaya-t2", "abhinaya-st1"])
def test_save_load_gives_the_same_probabilities(tmp_path, kind):
    segments = _segments()
    train = [u for u in segments if u.speaker in ("01", "02", "03")]
    bank, ctx = _context(tmp_path, segments, train, sorted(LABELS.values()))
    cls = get_system(kind)
    options = {**TINY, "encoder": "fake-enc", "text_encoder": "fake-text", "d_model": 8, "n_heads": 2}
    options = {k: v for k, v in options.items() if k in cls.config_cls.model_fields}
    system = cls(cls.config_cls(**options))
    bank.request("encoded", **cls.requirements(system.config).features.get("encoded", {"encoders": []}))
    system.fit(train, [], ctx)
    test = [u for u in segments if u not in train]
    before = system.predict(test)
    system.save(tmp_path / "saved")
    after = load_system(tmp_path / "saved", ctx).predict(test)
    assert np.allclose(before.probabilities, after.probabilities, atol=1e-6)
    assert np.allclose(before.probabilities.sum(axis=1), 1.0)


def test_a_class_without_training_example_is_an_error(tmp_path):
    segments = _segments()
    train = [u for u in segments if u.speaker in ("01", "02", "03") and u.label != "sad"]
    bank, ctx = _context(tmp_path, segments, train, sorted(LABELS.values()))
    cls = get_system("abhinaya-t2")
    with pytest.raises(LabelError, match=r"class\(es\) \['sad'\] have no training example"):
        cls(cls.config_cls(text_encoder="fake-text", **TINY)).fit(train, [], ctx)


def test_bad_votes_and_members(tmp_path):
    two = {"name": "v", "kind": "abhinaya", "members": MEMBERS[:2]}
    with pytest.raises(ConfigError, match="at least 3 members, got 2"):
        get_system("abhinaya")(VoteConfig(members=two["members"]))
    with pytest.raises(ConfigError, match="at least 3 members"):
        run_abhinaya_experiment(config_from_dict(_config([two])), tmp_path / "o")
    unknown = [*MEMBERS[:2], {"name": "S9", "kind": "salmonn-13b"}]
    with pytest.raises(ConfigError, match="vote member 'S9'.*salmonn-13b"):
        get_system("abhinaya").requirements(VoteConfig(members=unknown))
    wrong = [*MEMBERS[:2], {"name": "T2", "kind": "abhinaya-t2", "loss": "focal"}]
    with pytest.raises(ConfigError, match="vote member 'T2'.*bad options"):
        get_system("abhinaya").requirements(VoteConfig(members=wrong))
    with pytest.raises(Exception, match="give a mapping with 'name' and 'kind'"):
        VoteConfig(members=[{"kind": "abhinaya-t1"}])


def test_a_member_that_fails_to_load_names_itself(tmp_path):
    segments = _segments()
    train = [u for u in segments if u.speaker in ("01", "02", "03")]
    bank, ctx = _context(tmp_path, segments, train, sorted(LABELS.values()))
    members = [{**m, "name": m["name"].upper()} for m in (MEMBERS[3], MEMBERS[4], {**MEMBERS[3], "loss": "ce"})]
    members[2]["name"] = "T2-CE"
    vote = get_system("abhinaya")(VoteConfig(members=members, tie_breaker="T2"))
    vote.fit(train, [], ctx)
    assert len(vote.predict(segments)) == len(segments)
    vote.save(tmp_path / "v")
    (tmp_path / "v" / "T2-CE" / "member.pt").unlink()
    with pytest.raises(SpokenemoError, match="vote member 'T2-CE' failed to load"):
        load_system(tmp_path / "v", ctx)
    saved = json.loads((tmp_path / "v" / "members.json").read_text())
    assert saved["members"] == ["T2", "T1", "T2-CE"]


def _challenge_tree(root: Path) -> None:
    """A fake MSP-Podcast challenge release: 8 classes in Train (3 each, fear 1: a long tail) and
    Development (2 each), plus 'other' and 'no agreement' rows that must be dropped."""
    from fake_corpora import write_audio

    codes = ["A", "S", "H", "U", "F", "D", "C", "N"]
    rows = []
    for split, n in (("Train", 3), ("Development", 2)):
        for k, code in enumerate(codes):
            for i in range(1 if (split, code) == ("Train", "F") else n):
                rows.append((f"MSP-PODCAST_{k + 1:04d}_{i + (10 if split == 'Train' else 50):04d}.wav", code,
                             f"{k + 1}{i}" if split == "Train" else f"9{k}{i}", split))
    rows += [("MSP-PODCAST_0100_0001.wav", "O", "500", "Train"), ("MSP-PODCAST_0101_0001.wav", "X", "501", "Train")]
    lines = ["FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"]
    lines += [f"{name},{code},3.0,3.0,3.0,{spk},Female,{split}" for name, code, spk, split in rows]
    (root / "Labels").mkdir(parents=True)
    (root / "Labels" / "labels_consensus.csv").write_text("\n".join(lines) + "\n")
    (root / "Transcripts").mkdir()
    for i, (name, code, _, _) in enumerate(rows):
        write_audio(root / "Audios" / name, seconds=0.5, seed=i)
        (root / "Transcripts" / f"{name[:-4]}.txt").write_text(f"i feel {code} about episode {i}\n")


def test_the_challenge_config_runs_unchanged_with_tiny_models(tmp_path):
    import yaml

    _challenge_tree(tmp_path / "msp")
    raw = yaml.safe_load((REPO / "configs" / "abhinaya-msp-podcast.yaml").read_text())
    tiny = {"encoder": "fake-enc", "text_encoder": "fake-text", "epochs": 2, "batch_size": 4, "hidden": 8,
            "d_model": 8, "n_heads": 2}
    rows = []
    for row in raw["systems"]:
        fields = get_system(row["kind"]).config_cls.model_fields
        rows.append({**row, **{k: v for k, v in tiny.items() if k in fields}})
    raw.update(systems=rows, feature_cache=str(tmp_path / "features"),
               corpus={**raw["corpus"], "root": str(tmp_path / "msp")},
               imbalance={**raw["imbalance"], "test_per_class": 2})
    res = run_abhinaya_experiment(config_from_dict(raw), tmp_path / "out")
    for row in ("s1", "s2", "t1", "t2", "st1"):
        r = res.get("msp8", row)
        assert r.status == "done", (row, r.note)
        (fold,) = r.folds
        assert fold["n_test"] == 16 and fold["n_train"] == 22  # 8 x 2 dev; 7 x 3 + 1 fear train, O / X dropped
    voted = vote_results(tmp_path / "out", "msp8", {"S2": "s2", "S1": "s1", "T1": "t1", "T2": "t2", "ST1": "st1"},
                         tie_breaker="S2")
    assert 0.0 <= voted["macro_f1"] <= 1.0 and len(voted["per_class_f1"]) == 8


def test_t2_with_lora_on_a_tiny_llm(tmp_path):
    from spokenemo.models.tiny import make_tiny_model_dir

    base = make_tiny_model_dir(tmp_path / "tiny-llm")
    segments = _segments()
    train = [u for u in segments if u.speaker in ("01", "02", "03")]
    bank, ctx = _context(tmp_path, segments, train, sorted(LABELS.values()))
    cls = get_system("abhinaya-t2")
    system = cls(cls.config_cls(lora_base=str(base), epochs=2, batch_size=4, hidden=8))
    system.fit(train, [], ctx)
    trainable = [n for n, p in system.model.named_parameters() if p.requires_grad]
    assert any("lora_" in n for n in trainable) and any(n.startswith("head.") for n in trainable)
    assert not any("lora_" not in n and n.startswith("lm.") for n in trainable)  # the base stays frozen
    probs = system.predict(segments).probabilities
    assert probs.shape == (len(segments), 4) and np.allclose(probs.sum(axis=1), 1.0)


def test_t1_through_an_llm_backend(tmp_path, monkeypatch):
    from spokenemo.systems.abhinaya import prompt

    class Answer:
        def __init__(self, text):
            self.text = text

    class FakeBackend:
        asked: list = []

        def chat_batch(self, batch, **_):
            FakeBackend.asked.extend(batch)
            return [Answer("Sadness.") if "sad" in m[1]["content"] else RuntimeError("down") if "fail" in
                    m[1]["content"] else Answer("no idea") for m in batch]

        def close(self):
            pass

    monkeypatch.setattr(prompt, "backend_from_settings", lambda kind, settings: FakeBackend())
    segments = [Segment(key=f"k{i}", label="sad", text=t, corpus="c") for i, t in enumerate(["so sad", "fail", "hm"])]
    _, ctx = _context(tmp_path, segments, segments, ["angry", "happy", "neutral", "sad"])
    cls = get_system("abhinaya-t1")
    t1 = cls(cls.config_cls(backend="openai", backend_options={"model": "llama-3.3-70b"}))
    t1.fit(segments, [], ctx)
    assert t1.predict(segments).decisions() == ["sad", None, None] and t1.info["n_unparsed"] == 2
    assert "4 emotions: angry, happy, neutral, sad" in FakeBackend.asked[0][0]["content"]
