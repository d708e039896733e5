"""The ``mister-e`` system end to end on toy conversations, save / load, safeguards and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

import spokenemo.api.moe as moe  # noqa: E402
from spokenemo.api.moe_regimes import regime_evidence, regime_table  # noqa: E402
from spokenemo.apps.cli import cli  # noqa: E402
from spokenemo.data.manifest import Segment  # noqa: E402
from spokenemo.experiment import config_from_dict, run_experiment  # noqa: E402
from spokenemo.models.moe.errors import ExpertOutputError, GateCollapseError, MoeInputError  # noqa: E402
from spokenemo.systems import find_preset, get_system  # noqa: E402
from spokenemo.systems.mister_e import phase2  # noqa: E402
from spokenemo.systems.mister_e.config import MisterEConfig  # noqa: E402
from spokenemo.systems.mister_e.inputs import random_stream  # noqa: E402
from spokenemo.systems.mister_e.phase1 import weighted_f1  # noqa: E402

from fake_corpora import make_meld  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CLASSES = ["a", "b", "c"]
FAST = dict(can_hidden=16, can_layers=1, mm_hidden=16, mm_heads=2, mm_layers=1, fused=16, head_hidden=32,
            phase1_epochs=8, epochs=8, lr=3e-3, device="cpu")


def _conversations(prefix: str, n: int, rng: np.random.Generator) -> list[Segment]:
    segs = []
    for d in range(n):
        label = int(rng.integers(3))
        for t in range(int(rng.integers(3, 9))):
            if rng.random() > 0.7:
                label = int(rng.integers(3))
            segs.append(Segment(key=f"{prefix}{d}/{t}", dialogue=f"{prefix}{d}", turn=t, label=CLASSES[label],
                                text=f"turn {t}", corpus="toy", speaker="AB"[t % 2] + prefix))
    return segs


class ToyFeatures:
    """A feature source: ``speech`` holds the label (one-hot x 2 + noise), ``noise`` does not."""

    def __init__(self, segments: list[Segment]) -> None:
        rng = np.random.default_rng(1)
        self.table = {}
        for u in segments:
            v = rng.normal(size=6)
            v[CLASSES.index(str(u.label))] += 2.0
            self.table[("speech", u.key)] = v
            self.table[("noise", u.key)] = rng.normal(size=6)

    def matrix(self, name: str, segments) -> np.ndarray:
        return np.stack([self.table[(name, u.key)] for u in segments])

    def get(self, name: str) -> ToyFeatures:
        return self

    def fingerprint_part(self, name: str) -> str:
        return "toy"


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    train, valid, test = _conversations("tr", 50, rng), _conversations("va", 12, rng), _conversations("te", 15, rng)
    return train, valid, test, ToyFeatures(train + valid + test)


@pytest.fixture(scope="module")
def fitted(toy, tmp_path_factory):
    train, valid, test, feats = toy
    out = tmp_path_factory.mktemp("moe")
    system = moe.fit_mister_e(train, valid, classes=CLASSES, out_dir=out, features=feats, test=test,
                              speech_input="feature:speech", text_input="feature:noise", **FAST)
    return system, out


def test_mister_e_learns_from_the_informative_modality_and_its_gate_favours_it(fitted, toy):
    system, out = fitted
    test = toy[2]
    res = system.outputs(test)
    y = [CLASSES.index(str(u.label)) for u in test]
    wf1 = weighted_f1(y, res.probs.argmax(1), 3)
    assert wf1 > 0.7  # chance is about 0.33
    assert weighted_f1(y, res.experts["speech"].argmax(1), 3) > weighted_f1(y, res.experts["text"].argmax(1), 3) + 0.2
    np.testing.assert_allclose(res.gate.sum(axis=1), 1.0, atol=1e-5)
    assert set(res.unimodal) == {"speech", "text"}
    # the training log records the mean gate weight per expert; the phase-2 log the validation ones
    logs = out / "work" / "seed0" / "phase2"
    rows = [json.loads(line) for line in (logs / "train_log.jsonl").read_text().splitlines()]
    assert {"gate_speech", "gate_text", "gate_multimodal", "focal_moe", "kl", "contrastive"} <= set(rows[-1])
    epochs = [json.loads(line) for line in (logs / phase2.LOG_FILE).read_text().splitlines()]
    assert len(epochs) == FAST["epochs"] and "gate_speech" in epochs[0] and "wf1_multimodal" in epochs[0]
    assert system.info["phase2"]["epoch"] == 1 + int(np.argmax([r["wf1"] for r in epochs]))
    # the gate learns to favour the speech expert over the (noise) text expert
    assert epochs[-1]["gate_speech"] > epochs[0]["gate_speech"]
    assert epochs[-1]["gate_speech"] > 1.5 * epochs[-1]["gate_text"]


def test_save_and_load_give_the_same_predictions(fitted, toy, tmp_path):
    system, out = fitted
    test, feats = toy[2], toy[3]
    system.save(tmp_path / "model")
    again = moe.load_mister_e(tmp_path / "model", out_dir=out, features=feats)
    np.testing.assert_allclose(again.predict(test).probabilities, system.predict(test).probabilities, atol=1e-6)
    assert again.fitted.classes == CLASSES


def test_predictions_follow_the_order_of_the_segments_asked(fitted, toy):
    system, _ = fitted
    test = toy[2]
    forward = system.predict(test).probabilities
    backward = system.predict(test[::-1]).probabilities
    np.testing.assert_allclose(backward, forward[::-1], atol=1e-6)


def test_ablation_presets_and_options_are_registered():
    cls = get_system("mister-e")
    assert find_preset("mister-e-monolithic").options == {"variant": "monolithic"}
    assert find_preset("mister-e-no-loss").options == {"supervise_experts": False}
    assert find_preset("mister-e-alpha0").options == {"alpha": 0.0}
    assert find_preset("mister-e-lambda0").options == {"lam": 0.0}
    assert find_preset("mister-e-feat-moe").options == {"variant": "feat-moe"}
    req = cls.requirements(MisterEConfig(speech_input="whisper-base"))
    assert req.audio and req.features == {"encoded": {"encoders": ["whisper-base"]}}
    req = cls.requirements(MisterEConfig(speech_input="random", text_input="random"))
    assert not req.audio and not req.text and req.features == {}
    with pytest.raises(ValueError, match="divisible"):
        MisterEConfig(mm_hidden=10, mm_heads=4)
    with pytest.raises(ValueError, match="Extra inputs"):
        MisterEConfig(epoch=3)


def test_random_streams_are_fixed_per_source_utterance_and_independent_of_the_label():
    a = Segment(key="p/c0/t00", label="a", extra={"source_key": "ravdess/01/x"})
    b = Segment(key="p/c7/t03", label="b", extra={"source_key": "ravdess/01/x"})
    c = Segment(key="ravdess/01/y", label="a")
    X = random_stream([a, b, c], 8, "speech")
    np.testing.assert_array_equal(X[0], X[1])  # the same source utterance, whatever its turn
    assert not np.allclose(X[0], X[2])


@pytest.mark.parametrize("case", ["no-dialogue", "bad-label", "no-label", "split-dialogue", "no-text", "no-audio",
                                  "nan-features"])
def test_bad_input_is_a_typed_error_naming_the_turn(case, toy, tmp_path):
    train, valid, test, feats = toy
    opts = dict(FAST, speech_input="feature:speech", text_input="feature:noise", features=feats)
    first = train[0]
    if case == "no-dialogue":
        train = [first.model_copy(update={"dialogue": None}), *train[1:]]
    elif case == "bad-label":
        train = [first.model_copy(update={"label": "furious"}), *train[1:]]
    elif case == "no-label":
        valid = [valid[0].model_copy(update={"label": None}), *valid[1:]]
    elif case == "split-dialogue":
        valid = [*valid, first.model_copy(update={"key": "moved", "turn": 99})]
    elif case == "no-text":
        opts["text_input"] = "minilm"  # checked before any encoder is loaded
        train = [first.model_copy(update={"text": "  "}), *train[1:]]
    elif case == "no-audio":
        opts["speech_input"] = "whisper-base"
    elif case == "nan-features":
        feats = ToyFeatures(train + valid + test)
        feats.table[("speech", first.key)] = np.full(6, np.nan)
        opts["features"] = feats
    with pytest.raises(MoeInputError) as err:
        moe.fit_mister_e(train, valid, classes=CLASSES, out_dir=tmp_path, **opts)
    message = str(err.value)
    assert (first.key in message or valid[0].key in message or "moved" in message or "dialogue" in message)
    assert err.value.hint


def test_a_test_dialogue_seen_in_training_is_refused(fitted, toy):
    system, _ = fitted
    with pytest.raises(MoeInputError, match="split between training and test"):
        system.predict(toy[0][:3])


def _tiny_data(n: int = 6) -> phase2.Conversations:
    rng = np.random.default_rng(0)
    lengths = [3 + i % 3 for i in range(n)]
    return phase2.Conversations([f"c{i}" for i in range(n)], [rng.normal(size=(k, 4)) for k in lengths],
                                [rng.normal(size=(k, 4)) for k in lengths],
                                [list(rng.integers(0, 3, k)) for k in lengths])


def test_nan_logits_stop_training_with_a_typed_error_and_a_log_row(tmp_path):
    cfg = MisterEConfig(**FAST)
    model = phase2.build_model(cfg, 4, 4, 3)
    with torch.no_grad():
        model.can_text.head.bias.fill_(float("nan"))
    with pytest.raises(ExpertOutputError, match="text expert gave NaN"):
        phase2.train(model, _tiny_data(), _tiny_data(2), cfg, seed=0, work_dir=tmp_path, device="cpu")
    last = json.loads((tmp_path / phase2.LOG_FILE).read_text().splitlines()[-1])
    assert last["stopped"] == "non-finite logits"


def test_a_collapsed_gate_stops_training_with_a_typed_error_and_a_log_row(tmp_path):
    cfg = MisterEConfig(**{**FAST, "lr": 1e-6, "collapse_after": 1, "collapse_threshold": 0.99})
    model = phase2.build_model(cfg, 4, 4, 3)
    with torch.no_grad():
        model.gate.net.bias.copy_(torch.tensor([0.0, 0.0, 40.0]))  # everything on the multimodal expert
    with pytest.raises(GateCollapseError, match="multimodal expert"):
        phase2.train(model, _tiny_data(), _tiny_data(2), cfg, seed=0, work_dir=tmp_path, device="cpu")
    rows = [json.loads(line) for line in (tmp_path / phase2.LOG_FILE).read_text().splitlines()]
    assert rows[0]["gate_multimodal"] > 0.99 and rows[-1]["stopped"] == "gate collapse"
    # the same run with the check off trains to the end
    off = MisterEConfig(**{**FAST, "epochs": 2, "collapse_threshold": None})
    info = phase2.train(phase2.build_model(off, 4, 4, 3), _tiny_data(), _tiny_data(2), off, seed=0,
                        work_dir=tmp_path / "off", device="cpu")
    assert len(info["history"]) == 2


def test_no_loss_and_monolithic_variants_train_through_the_system(toy, tmp_path):
    train, valid, test, feats = toy
    for options in ({"variant": "monolithic"}, {"supervise_experts": False, "variant": "feat-moe"}):
        system = moe.fit_mister_e(train[:60], valid, classes=CLASSES, out_dir=tmp_path / str(len(options)),
                                  features=feats, speech_input="feature:speech", text_input="feature:noise",
                                  **{**FAST, "epochs": 2, "phase1_epochs": 2}, **options)
        probs = system.predict(test).probabilities
        assert probs.shape == (len(test), 3) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
        assert (system.outputs(test).gate is None) == (options.get("variant") == "monolithic")


def test_cli_regime_table_and_option_errors(tmp_path):
    results = tmp_path / "results.jsonl"
    rows = [{"row": "mister-e", "fold": "f", "seed": s, "wf1": 0.5 + 0.1 * s, "wf1_speech": 0.4, "wf1_text": 0.2,
             "wf1_multimodal": 0.3, "gate_speech": 0.7, "gate_text": 0.1} for s in range(3)]
    rows += [{"row": "monolithic", "fold": "f", "seed": s, "wf1": 0.65} for s in range(3)]
    rows += [{"row": "feat-moe", "fold": "f", "seed": 0, "stopped": "gate collapsed"}]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = CliRunner().invoke(cli, ["moe", "table", str(results), "--informative", "speech"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    assert "0.600 ± 0.082" in res.output and "3 seeds" in res.output
    assert "feat-moe: 1 run(s) stopped" in res.output and "gate collapsed" in res.output
    table = regime_table(results)
    assert table["mister-e"]["wf1"] == pytest.approx((0.6, float(np.std([0.5, 0.6, 0.7])), 3))
    evidence = {e["claim"]: e for e in regime_evidence(results, "speech")}
    best = evidence["MiSTER-E >= its best expert (speech)"]
    assert best["held"] and best["value"] == pytest.approx(0.2) and best["seeds"] == 3
    assert evidence["gate weight: speech expert > text expert"]["value"] == pytest.approx(0.6)
    mono = evidence["MiSTER-E > monolithic"]
    assert not mono["held"] and mono["value"] == pytest.approx(-0.05)
    assert "NOT held (-0.050" in res.output
    bad = CliRunner().invoke(cli, ["moe", "regimes", "-o", str(tmp_path), "--options", '{"epoch": 3}'])
    assert bad.exit_code == 2 and "epoch" in bad.output


def test_mister_e_runs_through_the_experiment_runner_on_a_meld_layout(tmp_path):
    make_meld(tmp_path / "meld", clips=False)
    tiny = {k: v for k, v in FAST.items() if k != "device"}
    cfg = config_from_dict({"name": "moe-toy", "corpus": {"name": "meld", "root": str(tmp_path / "meld")},
                            "label_set": "meld7", "protocol": {"name": "official"}, "metric": "weighted_f1",
                            "systems": [{"name": "moe", "kind": "mister-e", "text_input": "random",
                                         "speech_input": "random", **tiny, "epochs": 1, "phase1_epochs": 1}]})
    result = run_experiment(cfg, tmp_path / "out")
    row = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result is not None and "moe" in json.dumps(row)
