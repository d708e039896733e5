"""MiSTER-E building blocks (spokenemo.models.moe): context network, multimodal network, gate, loss."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spokenemo.models.losses import focal_loss, kl_to_reference  # noqa: E402
from spokenemo.models.moe.context import ContextAdditionNetwork  # noqa: E402
from spokenemo.models.moe.gate import Gate, mix  # noqa: E402
from spokenemo.models.moe.loss import MoeLossSettings, contrastive, gate_figures, moe_loss  # noqa: E402
from spokenemo.models.moe.mister_e import EXPERTS, MisterE, MoeOutput, MoeShape  # noqa: E402
from spokenemo.models.moe.multimodal import MultimodalNetwork  # noqa: E402
from spokenemo.models.turns import pad_turns  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = MoeShape(can_hidden=8, can_layers=1, mm_hidden=8, mm_heads=2, mm_layers=1, fused=8)


def _batch(lengths=(5, 3, 1), ds=6, dt=4, seed=0):
    rng = np.random.default_rng(seed)
    s = pad_turns([rng.normal(size=(n, ds)) for n in lengths], [list(rng.integers(0, 3, n)) for n in lengths])
    t = pad_turns([rng.normal(size=(n, dt)) for n in lengths])
    return s.x, t.x, s.mask, s.y


@pytest.mark.parametrize("variant", ["moe", "feat-moe", "monolithic"])
def test_a_conversation_gets_the_same_outputs_alone_or_padded_in_a_batch(variant):
    torch.manual_seed(0)
    model = MisterE(6, 4, 3, variant=variant, shape=SMALL).eval()
    xs, xt, mask, _ = _batch()
    with torch.no_grad():
        together = model(xs, xt, mask)
        for b, n in enumerate((5, 3, 1)):  # the one-turn conversation works too (no context)
            alone = model(xs[b:b + 1, :n], xt[b:b + 1, :n], mask[b:b + 1, :n])
            assert torch.allclose(alone.logits[0], together.logits[b, :n], atol=1e-5)
    assert together.logits.shape == (3, 5, 3)
    if variant == "monolithic":
        assert together.gate is None and together.experts == {}
    else:
        assert set(together.experts) == set(EXPERTS)
        assert torch.allclose(together.gate.sum(-1), torch.ones(3, 5))


def test_the_context_network_sees_neighbouring_turns_and_rejects_even_kernels():
    torch.manual_seed(0)
    can = ContextAdditionNetwork(4, 2, hidden=4, layers=1, dropout=0.0).eval()
    x = torch.zeros(1, 5, 4)
    mask = torch.ones(1, 5, dtype=torch.bool)
    y = x.clone()
    y[0, 4] = 3.0  # change only the last turn
    with torch.no_grad():
        a, b = can(x, mask)[1], can(y, mask)[1]
    assert not torch.allclose(a[0, 0], b[0, 0])  # the Bi-GRU carries it back to the first turn
    with pytest.raises(ValueError, match="odd"):
        ContextAdditionNetwork(4, 2, kernels=(1, 2))


def test_the_multimodal_network_needs_hidden_divisible_by_heads():
    with pytest.raises(ValueError, match="divisible"):
        MultimodalNetwork(4, 4, 2, hidden=10, heads=4)


def test_thesis_gate_is_a_softmax_of_one_linear_layer_and_mix_is_the_weighted_sum():
    gate = Gate(2, 3, kind="thesis")
    with torch.no_grad():
        gate.net.weight.zero_()
        gate.net.bias.copy_(torch.tensor([0.0, math.log(2.0), 0.0]))
    outs = [torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 4.0]]), torch.tensor([[2.0, 2.0]])]
    w = gate(outs)
    assert torch.allclose(w, torch.tensor([[0.25, 0.5, 0.25]]))
    assert torch.allclose(mix(outs, w), torch.tensor([[0.25 + 0.5, 2.0 + 0.5]]))


def test_mlp_gate_divides_by_temperature_two():
    gate = Gate(1, 3, kind="mlp")
    with torch.no_grad():
        for p in gate.net.parameters():
            p.zero_()
        gate.net[2].bias.copy_(torch.tensor([2 * math.log(3.0), 0.0, 0.0]))
    w = gate([torch.zeros(1, 1)] * 3)
    assert gate.temperature == 2.0
    assert torch.allclose(w, torch.tensor([[0.6, 0.2, 0.2]]))
    with pytest.raises(ValueError, match="gate"):
        Gate(2, kind="maxout")  # type: ignore[arg-type]


def _output(z_s, z_t, z_m, gate, m=None):
    experts = dict(zip(EXPERTS, (z_s, z_t, z_m), strict=True))
    return MoeOutput(logits=mix([z_s, z_t, z_m], gate), experts=experts, gate=gate, m_speech=m, m_text=m)


def test_the_loss_is_focal_on_the_mixture_and_every_expert_plus_alpha_kl_to_the_multimodal_expert():
    torch.manual_seed(0)
    z = [torch.randn(1, 4, 3) for _ in range(3)]
    gate = torch.softmax(torch.randn(1, 4, 3), -1)
    y = torch.tensor([[0, 1, 2, 1]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    out = _output(*z, gate)
    loss, figures = moe_loss(out, y, mask, MoeLossSettings(alpha=0.5, lam=0.0, gamma=2.0))
    flat = y[mask]
    want = focal_loss(out.logits[mask], flat) + sum(focal_loss(zz[mask], flat) for zz in z)
    want = want + 0.5 * (kl_to_reference(z[2][mask], z[0][mask]) + kl_to_reference(z[2][mask], z[1][mask]))
    assert torch.allclose(loss, want, atol=1e-6)
    assert figures["gate_speech"] == pytest.approx(float(gate[0, :, 0].mean()), abs=1e-6)
    no_loss, f2 = moe_loss(out, y, mask, MoeLossSettings(supervise_experts=False, alpha=0.5, lam=1.0))
    assert torch.allclose(no_loss, focal_loss(out.logits[mask], flat), atol=1e-6)  # No-Loss-MoE
    assert "kl" not in f2 and "focal_speech" not in f2


def test_kl_term_vanishes_when_the_experts_agree_and_the_symmetric_variant_too():
    z = torch.randn(1, 3, 4)
    out = _output(z, z.clone(), z.clone(), torch.full((1, 3, 3), 1 / 3))
    mask = torch.ones(1, 3, dtype=torch.bool)
    y = torch.tensor([[0, 1, 2]])
    for kl in ("directional", "symmetric"):
        _, figures = moe_loss(out, y, mask, MoeLossSettings(alpha=1.0, lam=0.0, kl=kl))
        assert figures["kl"] == pytest.approx(0.0, abs=1e-6)


def test_padding_turns_do_not_change_the_loss():
    torch.manual_seed(0)
    model = MisterE(6, 4, 3, shape=SMALL).eval()
    xs, xt, mask, y = _batch()
    settings = MoeLossSettings(alpha=0.1, lam=1.0)
    with torch.no_grad():
        padded, _ = moe_loss(model(xs, xt, mask), y, mask, settings)
        xs2, xt2 = xs.clone(), xt.clone()
        xs2[~mask], xt2[~mask] = 99.0, -99.0  # garbage on padded turns
        again, _ = moe_loss(model(xs2, xt2, mask), y, mask, settings)
    assert torch.allclose(padded, again, atol=1e-5)


def test_contrastive_term_is_per_conversation_and_skips_conversations_without_positives():
    m = torch.nn.functional.normalize(torch.randn(2, 3, 5), dim=-1)
    y = torch.tensor([[0, 1, 2], [0, 0, -100]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    # conversation 0 still has positives: each turn's speech and text vectors share its label
    both = contrastive(m, m, y, mask, tau=1.0)
    assert torch.isfinite(both) and float(both) > 0
    identical = contrastive(m, m, torch.tensor([[0, 0, 0], [0, 0, 0]]), torch.ones(2, 3, dtype=torch.bool), 1.0)
    assert float(identical) > 0
    assert gate_figures(MoeOutput(logits=torch.zeros(1, 1, 2)), mask[:1, :1]) == {}


def test_one_optimiser_step_lowers_the_loss_of_every_variant():
    for variant in ("moe", "feat-moe", "monolithic"):
        torch.manual_seed(1)
        model = MisterE(6, 4, 3, variant=variant, shape=SMALL)
        model.eval()  # no dropout: the same function before and after the step
        xs, xt, mask, y = _batch(seed=2)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        before, _ = moe_loss(model(xs, xt, mask), y, mask)
        before.backward()
        opt.step()
        after, _ = moe_loss(model(xs, xt, mask), y, mask)
        assert after.item() < before.item(), variant
