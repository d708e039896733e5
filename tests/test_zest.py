"""S2S-ZEST pieces on known answers: units, durations, F0, WORLD rendering, adversarial heads, predictors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spokenemo.core.errors import ConfigError
from spokenemo.models.zest.nets import SpeakerModule, grad_reverse
from spokenemo.models.zest.pitch import (
    NoVoicedFramesError,
    require_voiced,
    to_unit_rate,
    world_analyse,
    world_f0,
)
from spokenemo.models.zest.predictors import DurationPredictor, F0Predictor
from spokenemo.models.zest.style import StyleModel, StyleSizes, collate
from spokenemo.models.zest.units import UnitTokenizer, dedup, duplicate, unit_quality
from spokenemo.models.zest.world import render, warp_index
from spokenemo.systems.zest.transfer import clip_durations, relative_f0

SR = 16000


def harmonic(f0: float, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A voiced-like signal: the first 10 harmonics of ``f0`` with falling amplitude."""
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 11))).astype(np.float32)


def test_dedup_is_the_thesis_example_and_duplicate_inverts_it():
    units = np.array([1, 1, 1, 41, 41, 1, 1, 5, 5, 5, 5, 5])
    runs, durs = dedup(units)
    assert runs.tolist() == [1, 41, 1, 5] and durs.tolist() == [3, 2, 2, 5]
    assert duplicate(runs, durs).tolist() == units.tolist()
    assert dedup(np.array([], int))[0].size == 0
    with pytest.raises(ValueError, match="2 runs but 1 durations"):
        duplicate(np.array([1, 2]), np.array([3]))


def test_durations_are_clipped_to_40_percent_rounded_and_at_least_one():
    got = clip_durations(np.array([10.0, 1.0, 3.0, 0.0]), np.array([5, 2, 3, 1]), 0.4)
    assert got.tolist() == [7, 1, 3, 1]   # 10 -> 1.4*5; 1 -> 0.6*2=1.2 -> 1; 0 -> 0.6 -> 1
    with pytest.raises(ConfigError, match="duration clip"):
        clip_durations(np.ones(2), np.ones(2), 1.5)


def test_relative_f0_removes_the_predictor_bias_and_keeps_the_shape():
    own = np.array([0, 100, 100, 0.0])
    converted = np.array([0, 120, 150, 0.0])
    out = relative_f0(converted, own, np.array([0, 200, 200, 0.0]))
    assert np.allclose(out, [0, 240, 300, 0])


def test_unit_rate_f0_needs_two_voiced_quarters():
    f0 = np.array([100, 100, 0, 0, 0, 0, 0, 200, 150, 150, 150, 150.0])
    assert to_unit_rate(f0, 3).tolist() == [100.0, 0.0, 150.0]
    assert to_unit_rate(f0, 4)[3] == 0.0   # beyond the input: unvoiced
    with pytest.raises(NoVoicedFramesError, match="no voiced frame"):
        require_voiced(np.zeros(5), "source")
    with pytest.raises(NoVoicedFramesError, match="only 8 of 100"):
        require_voiced(np.r_[np.full(8, 120.0), np.zeros(92)], "reference")   # sporadic, as DIO on noise
    require_voiced(np.r_[np.full(20, 120.0), np.zeros(80)], "source")


def test_warp_index_keeps_identity_and_stretches_runs():
    assert warp_index(np.array([2, 1]), np.array([2, 1]), 100).tolist() == list(range(12))
    stretched = warp_index(np.array([1]), np.array([2]), 100)
    assert stretched.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert warp_index(np.array([3]), np.array([0]), 100).size == 0


def test_world_render_applies_the_new_f0_and_durations():
    y = harmonic(200.0)
    a = world_analyse(y, SR, "dio")
    n = len(a.f0) // 4
    src = np.ones(n, int)
    same = render(a, src, src, None)
    up = render(a, src, src, np.full(n, 300.0))
    slow = render(a, src, 2 * src, None)
    f_same, f_up = world_f0(same, SR, "dio"), world_f0(up, SR, "dio")
    assert abs(np.median(f_same[f_same > 0]) - 200) < 5
    assert abs(np.median(f_up[f_up > 0]) - 300) < 8
    assert abs(len(slow) / len(same) - 2.0) < 0.02


def test_tokenizer_finds_separated_clusters_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 0.0], [0.0, 5.0], [-5.0, -5.0]])
    frames = [centres[rng.integers(0, 3, 200)] + rng.normal(0, 0.1, (200, 2)) for _ in range(3)]
    tok = UnitTokenizer.fit(frames, k=3, layer=4, normalise="none", fraction=1.0)
    labels = tok.tokenize(np.array(centres))
    assert sorted(labels.tolist()) == [0, 1, 2]
    tok.save(tmp_path / "u.npz")
    again = UnitTokenizer.load(tmp_path / "u.npz")
    assert again.layer == 4 and np.array_equal(again.tokenize(frames[0]), tok.tokenize(frames[0]))
    with pytest.raises(ConfigError, match="at least 10 frames"):
        UnitTokenizer.fit([np.zeros((4, 2))], k=10, layer=1)
    with pytest.raises(ConfigError, match="unit normalisation"):
        UnitTokenizer(np.zeros((2, 2)), 1, normalise="cepstral").tokenize(np.zeros((3, 2)))


def test_unit_quality_rewards_content_and_penalises_speaker_units():
    sent = ["ab"[i % 2] for i in range(8)]
    spk = [str((i // 2) % 2) for i in range(8)]
    content = [np.array([1, 2, 3, 4] if s == "a" else [5, 6, 7, 8]) for s in sent]  # units follow the words
    good = unit_quality(content, sent, spk, 10)
    voice = [np.array([1, 2, 1, 2] if p == "0" else [7, 8, 7, 8]) for p in spk]  # units follow the voice
    bad = unit_quality(voice, sent, spk, 10)
    assert good["content"] == 1.0 and bad["speaker_leak"] == 1.0
    assert good["score"] > bad["score"]
    assert good["run_frames"] == 1.0


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.ones(3, requires_grad=True)
    (grad_reverse(x, 10.0) * 2).sum().backward()
    assert torch.allclose(x.grad, torch.full((3,), -20.0))
    y = torch.ones(3, requires_grad=True)
    assert not grad_reverse(y, 0.0).requires_grad


def test_speaker_module_fc_layers_see_the_emotion_loss_reversed():
    torch.manual_seed(0)
    batch = {"dvector": torch.randn(8, 16), "speaker": torch.randint(0, 3, (8,)), "emotion": torch.randint(0, 2, (8,))}
    grads = {}
    for w in (0.0, 1.0, 10.0):
        torch.manual_seed(1)
        m = SpeakerModule(3, 2, in_dim=16, dim=8, adv_weight=w)
        loss, parts = m.loss(batch)
        loss.backward()
        grads[w] = m.fc[0].weight.grad.clone()
        assert set(parts) == {"ce_spk", "ce_emo_adv"}
    emo_part = grads[1.0] - grads[0.0]   # the reversed emotion gradient at weight 1
    assert torch.allclose(grads[10.0] - grads[0.0], 10 * emo_part, atol=1e-5)
    assert emo_part.abs().sum() > 0


def test_predictors_shapes_masks_and_cross_clip_attention():
    f0 = F0Predictor(10, s_dim=4, e_dim=6, dim=8, heads=2)
    units = torch.randint(0, 10, (2, 7))
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    e = torch.randn(2, 5, 6)   # E from another clip: 5 frames
    out = f0(units, mask, torch.randn(2, 4), e, torch.ones(2, 5, dtype=torch.bool))
    assert out.shape == (2, 7) and torch.all(out[1, 4:] == 0)
    dur = DurationPredictor(10, s_dim=4, e_dim=6, dim=8, log_domain=True)
    d = dur(units, mask, torch.randn(2, 4), torch.randn(2, 6))
    assert d.shape == (2, 7) and torch.all(d[1, 4:] == 0)
    assert torch.allclose(dur.to_frames(dur.target(torch.tensor([3.0]))), torch.tensor([3.0]))


def _examples(n: int = 4) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        units = rng.integers(0, 10, 20)
        runs, durs = dedup(units)
        out.append({"frames": rng.normal(size=(20, 12)).astype(np.float32), "units": units,
                    "f0": np.where(rng.random(20) > 0.3, 150.0 + 50 * (i % 2), 0.0).astype(np.float32),
                    "runs": runs, "durations": durs, "s": rng.normal(size=6).astype(np.float32),
                    "emotion": i % 2, "speaker": i % 3})
    return out


def test_style_model_joint_loss_uses_the_thesis_weights_and_learns():
    torch.manual_seed(0)
    sizes = StyleSizes(n_units=10, n_emotions=2, n_speakers=3, frame_dim=12, s_dim=6, dim=8, heads=2, dropout=0.0)
    model = StyleModel(sizes)
    batch = collate(_examples())
    total, parts = model.loss(batch)
    expected = 1000 * (parts["ce_emo"] + parts["ce_spk_adv"]) + parts["l_f0"] + 10 * parts["l_dur"]
    assert total.item() == pytest.approx(expected, rel=1e-4)
    opt = torch.optim.AdamW(model.parameters(), 1e-2)
    first = parts["l_f0"]
    for _ in range(30):
        opt.zero_grad()
        loss, parts = model.loss(batch)
        loss.backward()
        opt.step()
    assert parts["l_f0"] < first


def test_vocoder_tiny_config_upsamples_320_and_trains_one_step():
    from spokenemo.models.zest.vocoder import VocoderConfig
    from spokenemo.systems.zest.vocoder_train import VocoderItem, VocoderTrainer

    cfg = VocoderConfig.tiny()
    assert cfg.hop == 320 and VocoderConfig.full().channels == 512
    tr = VocoderTrainer(cfg)
    rng = np.random.default_rng(0)
    items = [VocoderItem(rng.integers(0, 100, 20), np.full(20, 120.0, np.float32), np.zeros(8, np.float32),
                         np.zeros(8, np.float32), rng.normal(0, 0.1, 20 * 320).astype(np.float32))]
    rows = tr.fit(items, steps=1, batch_size=2, segment_frames=8)
    assert all(np.isfinite(v) for v in rows[0].values())
    y = tr.synthesise(items[0].units, items[0].f0, items[0].s, items[0].e_bar)
    assert y.shape == (20 * 320,) and np.abs(y).max() <= 1.0


class _PerfectF0:
    """A stand-in converter whose teacher-forced F0 is the target itself."""

    def emotion_frames(self, a):
        return None, None, None

    def speaker_vector(self, a):
        return None

    def units(self, a):
        return a

    def predict_f0(self, units, s, e, mask):
        return units.f0.copy()


def test_f0_l1_baselines_use_the_speakers_other_clips():
    from spokenemo.systems.zest.analysis import ClipAnalysis
    from spokenemo.systems.zest.probes import f0_l1

    clips = [ClipAnalysis({}, np.array(f, np.float32), np.zeros(2)) for f in
             ([100, 0, 100, 100], [200, 200, 0, 0], [150, 150, 150, 150])]
    got = f0_l1(_PerfectF0(), clips, ["a", "a", "b"])   # speaker b has no other clip: skipped
    assert got["clips"] == 2 and got["model"] == 0.0
    # clip 0: mean of clip 1 = 200 -> oracle voicing |200-100| on 3 voiced of 4 = 75; clip 1: mean 100 -> 50
    assert got["mean_oracle_voicing"] == pytest.approx((75 + 50) / 2)
    assert got["mean_everywhere"] == pytest.approx(((100 + 200 + 100 + 100) / 4 + (100 + 100 + 100 + 100) / 4) / 2)
    assert got["mean_voiced"] == pytest.approx(100.0)


def test_envelope_style_learns_a_linear_emotion_shift_and_applies_band_gains():
    from spokenemo.models.zest.envelope import EnvelopeStyle, band_log_power

    rng = np.random.default_rng(0)
    e, s = rng.normal(size=(60, 3)), rng.normal(size=(60, 2))
    w_e = rng.normal(size=(4, 3))
    bands = [w_e @ ei + 0.5 * si.sum() for ei, si in zip(e, s, strict=True)]
    env = EnvelopeStyle.fit(e, s, bands, alpha=1e-6)
    assert np.allclose(env.delta(e[0], e[1]), w_e @ (e[0] - e[1]), atol=1e-3)   # speaker part cancels
    sp = np.ones((5, 9))
    out = env.apply(sp, np.log(np.full(4, 2.0)), strength=1.0)
    assert np.allclose(out, 2.0) and np.allclose(env.apply(sp, np.ones(4), strength=0.0), 1.0)
    f0 = np.array([0, 100, 100, 0, 0.0])
    sp2 = np.vstack([np.full(9, 1.0), np.full((2, 9), np.e), np.full((2, 9), 5.0)])
    assert np.allclose(band_log_power(sp2, f0, 16000, 4), 1.0)   # voiced frames only
