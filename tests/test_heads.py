"""models.heads and their training in ser (systems/ser/training.py): known answers on synthetic
features: separable problems learnt to 100 % on held-out data, layer weights that move to the
informative layer, attentive statistics that ignore padding, model selection and early stopping,
save and load."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from spokenemo.core.errors import ConfigError
from spokenemo.models.heads import (
    AttentiveStatsHead,
    SuperbHead,
    attentive_statistics,
    build_head,
    layer_weights,
)
from spokenemo.systems.ser.training import (
    HeadInputs,
    class_weights,
    load_head,
    probabilities,
    save_head,
    train_head,
    unweighted_accuracy,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def options(**kw):
    base = {"epochs": 30, "lr": 1e-2, "batch_size": 32, "hidden": 32, "dropout": 0.0, "weight_decay": 0.0,
            "patience": None, "device": "cpu"}
    return SimpleNamespace(**{**base, **kw})


def layered(n: int, seed: int, informative: int = 2, n_layers: int = 4, dim: int = 8):
    """Pooled features: only layer ``informative`` carries the class (3 classes, well apart)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.standard_normal((n, n_layers, dim))
    centres = np.zeros((3, dim))
    centres[np.arange(3), np.arange(3)] = 4.0
    X[:, informative] += centres[y]
    return HeadInputs([X], False), y


def test_superb_head_learns_a_separable_problem_and_weights_the_informative_layer(tmp_path):
    train, y = layered(240, 0)
    test, y_test = layered(120, 1)
    head = train_head("superb", (train, y), None, n_classes=3, options=options(), seed=0, work_dir=tmp_path)
    pred = probabilities(head.model, test).argmax(axis=1)
    assert unweighted_accuracy(y_test, pred) == 1.0
    weights = layer_weights(head.model)[0]
    assert int(np.argmax(weights)) == 2 and weights[2] > 0.4, weights  # uniform would be 0.25 each
    assert head.epochs == 30 and head.selection == []  # no selection part: the last epoch
    rows = [json.loads(line) for line in (tmp_path / "select" / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [float(e) for e in range(1, 31)]  # one logged row per epoch
    assert not (tmp_path / "select" / "checkpoints").exists()


def test_fused_streams_and_linear_probe_learn_too(tmp_path):
    (a, y), (b, _) = layered(200, 2, informative=0), layered(200, 2, informative=1, n_layers=2, dim=5)
    fused = HeadInputs([a.streams[0], b.streams[0]], False)
    (ta, yt), (tb, _) = layered(100, 3, informative=0), layered(100, 3, informative=1, n_layers=2, dim=5)
    test = HeadInputs([ta.streams[0], tb.streams[0]], False)
    for kind in ("superb", "linear"):
        head = train_head(kind, (fused, y), None, n_classes=3, options=options(epochs=20), seed=1,
                          work_dir=tmp_path / kind)
        assert unweighted_accuracy(yt, probabilities(head.model, test).argmax(axis=1)) == 1.0, kind
    assert len(layer_weights(head.model)) == 0 and head.shapes == [(4, 8), (2, 5)]


def frame_problem(n: int, seed: int):
    """Frames of 2 layers; in layer 1 a burst of 3 frames whose level says the class; lengths vary."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    items = []
    for label in y:
        t = int(rng.integers(8, 20))
        f = rng.standard_normal((2, t, 4)).astype(np.float32) * 0.5
        at = int(rng.integers(0, t - 3))
        f[1, at:at + 3, 0] += 6.0 if label else -6.0
        items.append(f)
    return HeadInputs([items], True), y


def test_attentive_statistics_head_learns_frame_level_input(tmp_path):
    train, y = frame_problem(200, 0)
    test, y_test = frame_problem(100, 1)
    head = train_head("asp", (train, y), None, n_classes=2, options=options(epochs=25), seed=0, work_dir=tmp_path)
    assert unweighted_accuracy(y_test, probabilities(head.model, test).argmax(axis=1)) == 1.0
    assert head.shapes == [(2, 4)]


def test_attentive_statistics_ignore_padded_frames():
    x = torch.tensor([[[1.0, 2.0], [3.0, 2.0], [5.0, 2.0], [100.0, -50.0], [7.0, 7.0]]])
    mask = torch.tensor([[True, True, True, False, False]])

    class Flat(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(*x.shape[:2], 1)

    out = attentive_statistics(x, mask, Flat())  # equal scores: plain mean and std of the 3 real frames
    assert torch.allclose(out, torch.tensor([[3.0, 2.0, (8 / 3) ** 0.5, 1e-3]]), atol=1e-4)
    head = AttentiveStatsHead([(1, 2)], 3)
    frames = torch.randn(2, 1, 6, 2)
    padded = torch.cat([frames, torch.full((2, 1, 4, 2), 1e3)], dim=2)
    m = torch.cat([torch.ones(2, 6, dtype=torch.bool), torch.zeros(2, 4, dtype=torch.bool)], dim=1)
    assert torch.allclose(head([frames]), head([padded], [m]), atol=1e-5)


def test_superb_head_mean_pooling_equals_time_mean_of_weighted_frames():
    torch.manual_seed(0)
    head = SuperbHead([(3, 4)], 2)
    with torch.no_grad():
        head.layer_weights[0].logits.copy_(torch.tensor([0.5, -1.0, 2.0]))
    frames = torch.randn(5, 3, 7, 4)  # batch, layers, frames, dim
    w = torch.softmax(torch.tensor([0.5, -1.0, 2.0]), 0)
    weighted_time_mean = (frames * w.view(1, 3, 1, 1)).sum(1).mean(1)
    assert torch.allclose(head([frames.mean(2)]), head.ffn(weighted_time_mean), atol=1e-6)


def test_model_selection_keeps_the_best_epoch_and_stops_with_patience(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 2, 6))
    y = rng.integers(0, 3, 120)  # no signal at all: validation UA wanders around chance
    fit_part = (HeadInputs([X[:80]], False), y[:80])
    select = (HeadInputs([X[80:]], False), y[80:])
    head = train_head("superb", fit_part, select, n_classes=3, options=options(epochs=200, lr=3e-2, patience=3),
                      seed=0, work_dir=tmp_path, rule="test rule")
    curve = [r["valid_ua"] for r in head.selection]
    assert len(curve) < 200 and len(curve) == head.epochs + 3  # stopped 3 epochs after the best
    best = max(head.selection, key=lambda r: (r["valid_ua"], -r["valid_loss"]))
    assert best["epoch"] == head.epochs
    again = unweighted_accuracy(select[1], probabilities(head.model, select[0]).argmax(axis=1))
    assert again == pytest.approx(best["valid_ua"])  # the returned weights are the best epoch's
    record = head.record()
    assert record["selection_rule"] == "test rule" and record["valid_ua"] == round(best["valid_ua"], 4)


def test_refit_trains_on_everything_for_the_chosen_epochs(tmp_path):
    train, y = layered(160, 4)
    select, y_sel = layered(60, 5)
    both = HeadInputs([np.concatenate([train.streams[0], select.streams[0]])], False)
    head = train_head("superb", (train, y), (select, y_sel), n_classes=3, options=options(epochs=8), seed=0,
                      work_dir=tmp_path, refit_on=(both, np.concatenate([y, y_sel])), rule="held out")
    assert 1 <= head.epochs <= 8 and head.rule == "held out; refit on the whole training part"
    rows = [json.loads(line) for line in (tmp_path / "refit" / "train_log.jsonl").read_text().splitlines()]
    assert rows[-1]["epoch"] == head.epochs and rows[-1]["step"] == head.epochs * 7  # 220 examples / 32


def test_save_and_load_give_the_same_probabilities(tmp_path):
    train, y = layered(60, 6)
    head = train_head("superb", (train, y), None, n_classes=3, options=options(epochs=3), seed=0, work_dir=tmp_path)
    save_head(head.model, tmp_path / "head.pt")
    again = load_head("superb", head.shapes, 3, options(), tmp_path / "head.pt")
    assert np.allclose(probabilities(again, train), probabilities(head.model, train))


def test_class_weights_and_unknown_heads():
    assert class_weights(np.array([0, 0, 0, 1]), 3).tolist() == pytest.approx([4 / 6, 2.0, 0.0])
    with pytest.raises(ConfigError, match="unknown head 'mlp'"):
        build_head("mlp", [(2, 3)], 2)
