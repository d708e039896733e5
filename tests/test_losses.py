"""Shared losses (models/losses.py) and turn padding (models/turns.py) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spokenemo.models.losses import (
    balanced_class_weights,
    focal_loss,
    kl_to_reference,
    supervised_contrastive_loss,
    vs_adjusted_logits,
    vs_loss,
    weighted_cross_entropy,
)
from spokenemo.models.turns import pad_turns

LOGITS = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
TARGETS = torch.tensor([0, 2, 1])


def _p(row: list[float], c: int) -> float:
    e = [math.exp(v) for v in row]
    return e[c] / sum(e)


def test_balanced_weights_follow_n_over_nc_times_c_and_zero_absent_classes():
    w = balanced_class_weights([6, 2, 0, 4])  # N = 12, C present = 3
    assert w.tolist() == pytest.approx([12 / 18, 12 / 6, 0.0, 12 / 12])
    with pytest.raises(ValueError, match="at least one class"):
        balanced_class_weights([0, 0])


def test_cross_entropy_and_weighted_cross_entropy_by_hand():
    ps = [_p([2, 0, 0], 0), _p([0, 1, 0], 2), _p([0, 0, 0], 1)]
    assert float(weighted_cross_entropy(LOGITS, TARGETS)) == pytest.approx(-sum(map(math.log, ps)) / 3, rel=1e-6)
    w = torch.tensor([1.0, 2.0, 3.0])
    expected = -(1 * math.log(ps[0]) + 3 * math.log(ps[1]) + 2 * math.log(ps[2])) / 3  # mean over samples
    assert float(weighted_cross_entropy(LOGITS, TARGETS, weight=w)) == pytest.approx(expected, rel=1e-6)


def test_focal_loss_down_weights_easy_items_by_hand():
    ps = [_p([2, 0, 0], 0), _p([0, 1, 0], 2), _p([0, 0, 0], 1)]
    expected = -sum((1 - p) ** 2 * math.log(p) for p in ps) / 3
    assert float(focal_loss(LOGITS, TARGETS, gamma=2.0)) == pytest.approx(expected, rel=1e-6)
    assert float(focal_loss(LOGITS, TARGETS, gamma=2.0)) < float(weighted_cross_entropy(LOGITS, TARGETS))


def test_ignored_targets_are_left_out_and_all_padding_gives_zero_not_nan():
    padded = torch.cat([LOGITS, torch.randn(2, 3)])
    targets = torch.cat([TARGETS, torch.tensor([-100, -100])])
    assert float(focal_loss(padded, targets)) == pytest.approx(float(focal_loss(LOGITS, TARGETS)))
    assert float(weighted_cross_entropy(LOGITS, torch.full((3,), -100))) == 0.0


def test_vs_adjustment_and_loss_by_hand():
    counts = [8, 2, 0]
    z = torch.tensor([[1.0, 1.0, 1.0]])
    adj = vs_adjusted_logits(z, counts, gamma=0.5, tau=1.0)[0].tolist()
    assert adj[0] == pytest.approx(1.0 + math.log(0.8))
    assert adj[1] == pytest.approx(0.5 + math.log(0.2))
    assert adj[2] < -20  # an absent class is never a competitor
    row = [1.0 + math.log(0.8), 0.5 + math.log(0.2)]
    expected = -math.log(math.exp(row[1]) / sum(map(math.exp, row)))
    assert float(vs_loss(z, torch.tensor([1]), counts, gamma=0.5, tau=1.0)) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="classes"):
        vs_adjusted_logits(z, [1, 2])


def test_supervised_contrastive_by_hand_on_orthogonal_vectors():
    # items 0 and 1 share a label and a direction; item 2 is orthogonal with its own label (no positive)
    x = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 0, 1])
    tau = 0.5
    # anchor 0: positives {1}: sim 1/tau; denominator (self excluded): exp(1/tau) + exp(0)
    per_anchor = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 1))
    assert float(supervised_contrastive_loss(x, y, temperature=tau)) == pytest.approx(per_anchor, rel=1e-6)
    with_self = -math.log(math.exp(1 / tau) / (2 * math.exp(1 / tau) + 1))
    assert float(supervised_contrastive_loss(x, y, temperature=tau, exclude_self=False)) == pytest.approx(
        with_self, rel=1e-6)
    # same labels pulled together scores lower than the same labels pushed apart
    apart = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    assert float(supervised_contrastive_loss(apart, y, temperature=tau)) > per_anchor


def test_supervised_contrastive_ignores_padding_and_survives_no_positive():
    x = torch.randn(4, 3, requires_grad=True)
    assert float(supervised_contrastive_loss(x, torch.tensor([0, 1, 2, -100])).detach()) == 0.0
    loss = supervised_contrastive_loss(x, torch.tensor([0, 0, 1, -100]))
    loss.backward()
    assert torch.isfinite(x.grad).all() and float(x.grad[3].abs().sum()) == 0.0


def test_kl_to_reference_is_zero_for_equal_and_directional_by_hand():
    a, b = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]])  # p_a = (.5, .5), p_b = (.75, .25)
    assert float(kl_to_reference(a, a)) == pytest.approx(0.0, abs=1e-7)
    expected = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert float(kl_to_reference(a, b)) == pytest.approx(expected, rel=1e-6)
    ref, student = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    kl_to_reference(ref, student, detach_reference=True).backward()
    assert ref.grad is None and student.grad is not None


def test_pad_turns_pads_masks_and_checks_shapes():
    b = pad_turns([np.arange(6).reshape(3, 2), np.ones((1, 2))], labels=[[1, 2, 3], [4]])
    assert b.x.shape == (2, 3, 2) and b.x[1, 1:].abs().sum() == 0
    assert b.flat_targets().tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="one label per turn"):
        pad_turns([np.ones((2, 2))], labels=[[1]])
    with pytest.raises(ValueError, match="non-empty"):
        pad_turns([np.ones((2, 2)), np.ones((2, 3))])
    with pytest.raises(ValueError, match="at least one"):
        pad_turns([])
