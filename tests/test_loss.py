"""The emotion-focused loss (Eq. 5-6): hand-computed values, normalisations, zero-weight invariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spokenemo.models.tiny import tiny_qwen2_model, tiny_qwen2_tokenizer
from spokenemo.systems.aecotd.examples import WeightScheme, encode_example
from spokenemo.systems.aecotd.loss import token_nll, weighted_cross_entropy
from spokenemo.systems.aecotd.tokens import end_of_turn_ids


@pytest.fixture(scope="module")
def tiny():
    tok = tiny_qwen2_tokenizer()
    return tok, tiny_qwen2_model(len(tok), seed=3)


@pytest.fixture(scope="module")
def example(tiny):
    tok, _ = tiny
    messages = [{"role": "user", "content": "Transcript: Kids are talking by the door. Pitch: high."}]
    return encode_example(tok, messages, "angry", "The pitch is high, which suggests anger.",
                          eot=end_of_turn_ids(tok))


def _hand_loss(logits: np.ndarray, ids: list[int], weights: list[float], normalize: str) -> float:
    """Eq. 5 written out: position t-1 predicts token t, log-softmax in float64."""
    total, wsum, n = 0.0, 0.0, 0
    for t in range(1, len(ids)):
        if weights[t] == 0:
            continue
        row = logits[t - 1].astype(np.float64)
        logp = row[ids[t]] - (row.max() + math.log(np.exp(row - row.max()).sum()))
        total += -weights[t] * logp
        wsum += weights[t]
        n += 1
    return {"weight": total / wsum, "sum": total, "mean": total / n}[normalize]


def test_two_token_example_by_hand():
    # vocab of 2, logits 0 everywhere: -log p = log 2 for every token
    logits = torch.zeros(1, 3, 2)
    ids = torch.tensor([[0, 1, 0]])
    w = torch.tensor([[0.0, 1.0, 0.01]])
    assert weighted_cross_entropy(logits, ids, w, normalize="sum").item() == pytest.approx(1.01 * math.log(2))
    assert weighted_cross_entropy(logits, ids, w, normalize="weight").item() == pytest.approx(math.log(2))
    assert weighted_cross_entropy(logits, ids, w, normalize="mean").item() == pytest.approx(1.01 * math.log(2) / 2)
    # a confident right answer on the label token, a wrong one on the low-weight token
    logits = torch.tensor([[[0.0, 3.0], [5.0, 0.0], [0.0, 0.0]]])
    expected = -(1.0 * math.log(math.exp(3) / (1 + math.exp(3))) + 0.01 * math.log(math.exp(5) / (1 + math.exp(5))))
    assert weighted_cross_entropy(logits, ids, w, normalize="sum").item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("normalize", ["weight", "sum", "mean"])
def test_matches_hand_computation_on_tiny_qwen2(tiny, example, normalize):
    _, model = tiny
    ids = torch.tensor([example.input_ids])
    w = torch.tensor([example.weights])
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    got = weighted_cross_entropy(logits, ids, w, normalize=normalize).item()
    want = _hand_loss(logits[0].numpy(), list(example.input_ids), list(example.weights), normalize)
    assert got == pytest.approx(want, rel=1e-5)


def test_label_tokens_dominate(example):
    w = np.array(example.weights)
    assert w[: example.prompt_len].sum() == 0
    label = w[np.array(example.label_mask)]
    assert (label == 1.0).all() and len(label) >= 1
    assert set(np.round(w[example.prompt_len:][~np.array(example.label_mask)[example.prompt_len:]], 6)) == {0.01}


def _loss_and_grads(model, ids, labels, w):
    model.zero_grad(set_to_none=True)
    loss = weighted_cross_entropy(model(input_ids=ids).logits, labels, w)
    loss.backward()
    return loss.detach().clone(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_zero_weight_labels_change_nothing(tiny, example):
    _, model = tiny
    ids = torch.tensor([example.input_ids])
    w = torch.tensor([example.weights])
    loss_a, grads_a = _loss_and_grads(model, ids, ids, w)
    labels = ids.clone()
    zero = w == 0
    labels[zero] = torch.randint(0, model.config.vocab_size, (int(zero.sum()),), generator=torch.Generator().manual_seed(1))
    assert not torch.equal(labels, ids)
    loss_b, grads_b = _loss_and_grads(model, ids, labels, w)
    assert torch.equal(loss_a, loss_b)
    assert grads_a.keys() == grads_b.keys() and grads_a
    for name in grads_a:
        assert torch.equal(grads_a[name], grads_b[name]), name


def test_zero_weight_logits_change_nothing():
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 7, (2, 6), generator=gen)
    w = torch.tensor([[0, 0, 1.0, 0.01, 0.01, 0], [0, 1.0, 0.01, 0, 0, 0]])
    base = torch.randn(2, 6, 7, generator=gen)
    # logits[:, t] predict ids[:, t+1]; positions predicting a zero-weight token, and the last one, are unused
    unused = torch.ones(2, 6, dtype=torch.bool)
    unused[:, :-1] = w[:, 1:] == 0
    changed = base.clone()
    changed[unused] = torch.randn(int(unused.sum()), 7, generator=gen) * 50
    a, b = base.clone().requires_grad_(), changed.clone().requires_grad_()
    la, lb = weighted_cross_entropy(a, ids, w), weighted_cross_entropy(b, ids, w)
    la.backward()
    lb.backward()
    assert torch.equal(la, lb)
    assert torch.equal(a.grad, b.grad)
    assert torch.count_nonzero(a.grad[unused]) == 0
    assert torch.count_nonzero(a.grad[~unused]) > 0


def test_uniform_weights_are_plain_cross_entropy(tiny):
    tok, model = tiny
    messages = [{"role": "user", "content": "Pitch: low. Intensity: weak."}]
    ex = encode_example(tok, messages, "sad", "Low pitch and weak intensity.", eot=end_of_turn_ids(tok),
                        weights=WeightScheme.uniform())
    ids = torch.tensor([ex.input_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    labels = ids.clone()
    labels[:, : ex.prompt_len] = -100  # the usual "prompt not trained" masking
    want = torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:], ignore_index=-100)
    got = weighted_cross_entropy(logits, ids, torch.tensor([ex.weights]))
    assert got.item() == pytest.approx(want.item(), rel=1e-6)


def test_no_weight_gives_zero_and_bad_shapes_raise():
    logits = torch.randn(1, 4, 5, requires_grad=True)
    loss = weighted_cross_entropy(logits, torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4))
    assert loss.item() == 0.0 and loss.requires_grad
    with pytest.raises(ValueError, match="shapes"):
        weighted_cross_entropy(logits, torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="normalize"):
        weighted_cross_entropy(logits, torch.zeros(1, 4, dtype=torch.long), torch.ones(1, 4), normalize="max")


def test_token_nll_is_mean_over_mask():
    logits = torch.zeros(1, 3, 4)
    ids = torch.tensor([[0, 1, 2]])
    assert token_nll(logits, ids, torch.tensor([[False, True, True]])).item() == pytest.approx(math.log(4))
    assert math.isnan(token_nll(logits, ids, torch.tensor([[True, False, False]])).item())
