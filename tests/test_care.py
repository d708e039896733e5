"""CARE graph (issue #17): shapes on the tiny configurations, the downstream level layout, losses on
hand-computed values, which parameters each loss reaches, frozen parts, adapter-stride and width
errors, model folders and the encoder interface."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

from spokenemo.core.errors import AudioTooShortError, ConfigError
from spokenemo.models.care.config import CareShapeError, care_config, parse_care_name
from spokenemo.models.care.encoder import CareSpeechEncoder
from spokenemo.models.care.graph import build_care, fit_length
from spokenemo.models.care.io import load_care, save_care
from spokenemo.models.care.losses import acoustic_loss, care_loss, semantic_loss
from spokenemo.systems.care.config import pretrain_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SR = 16000


def _run(model, seconds: float = 1.0, batch: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    waves = [rng.normal(0, 0.1, int(seconds * SR)).astype(np.float32) for _ in range(batch)]
    inputs = torch.from_numpy(np.stack([model.speech.featurize(w) for w in waves]))
    return model(inputs)


@pytest.mark.parametrize("preset, frames", [("care-tiny-whisper", 50), ("care-tiny-wavlm", 49)])
def test_tiny_graph_shapes(preset, frames):
    model = build_care(care_config(preset))
    out = _run(model)
    ds, dt = 64, 48  # TinySizes defaults
    assert [tuple(h.shape) for h in out.common] == [(2, frames, ds)] * 3  # front end + 2 common layers
    assert [tuple(h.shape) for h in out.acoustic] == [(2, frames, ds)] * 2
    assert [tuple(h.shape) for h in out.semantic] == [(2, frames, dt)] * 2  # back to T after each up adapter
    assert tuple(out.pooled.shape) == (2, dt) and tuple(out.acoustic_pred.shape) == (2, frames, 25)
    assert out.mask.all()
    # equal depths (2 acoustic, 2 text layers): 1 + 2 common + 2 paired [semantic ; acoustic] levels
    levels = model.levels(out)
    assert tuple(levels.shape) == (5, 2, frames, dt + ds) and model.level_count() == 5
    assert torch.equal(levels[3, :, :, :dt], out.semantic[0]) and torch.equal(levels[3, :, :, dt:], out.acoustic[0])
    assert torch.count_nonzero(levels[1, :, :, :dt]) == 0  # widths differ: common levels' semantic slot is zero
    assert tuple(model.levels(out, "acoustic").shape) == (5, 2, frames, ds)
    assert tuple(model.levels(out, "semantic").shape) == (5, 2, frames, dt + ds)


def test_unpaired_depths_and_duplicated_equal_widths():
    cfg = care_config("care-tiny-whisper", text_layers=3, tiny={"text_dim": 64})
    model = build_care(cfg)
    out = _run(model, batch=1)
    levels = model.levels(out)
    assert model.level_count() == 1 + 2 + 2 + 3 == levels.shape[0]
    assert torch.equal(levels[1, :, :, :64], levels[1, :, :, 64:])  # equal widths: common levels duplicated
    assert torch.count_nonzero(levels[3, :, :, :64]) == 0  # an acoustic level: semantic slot empty
    assert torch.count_nonzero(levels[5, :, :, 64:]) == 0 and torch.equal(levels[5, :, :, :64], out.semantic[0])


def test_adapters_divide_then_restore_time():
    model = build_care(care_config("care-tiny-whisper"))
    x = torch.randn(1, 50, 64)
    down = model.down[0](x.transpose(1, 2)).transpose(1, 2)
    assert down.shape[1] == (50 - 5) // 3 + 1 == 16  # time / 3
    up = model.up[0](torch.randn(1, 48, 16)).transpose(1, 2)
    assert up.shape[1] == (16 - 1) * 3 + 5 + 1 == 51  # time x 3, then cropped to T
    assert fit_length(up, 50).shape[1] == 50 and fit_length(up[:, :40], 50)[:, 40:].abs().sum() == 0


def test_losses_on_hand_computed_values():
    pred, target = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    # squared errors: clip 1: 1 + 4 = 5, clip 2: 1 + 1 = 2
    assert semantic_loss(pred, target, "elements").item() == pytest.approx(7 / 4)
    assert semantic_loss(pred, target, "norm").item() == pytest.approx(7 / 2)
    ap = torch.zeros(1, 3, 2)
    at = torch.tensor([[[1.0, 1.0], [2.0, 0.0], [9.0, 9.0], [5.0, 5.0]]])  # 4 target frames, 3 predicted
    mask = torch.tensor([[True, True, False]])  # the third frame is padding
    # real frames: |(1,1)|^2 = 2, |(2,0)|^2 = 4 -> norm: 6 / 2 frames = 3; elements: 3 / 2 dims = 1.5
    assert acoustic_loss(ap, at, mask, "norm").item() == pytest.approx(3.0)
    assert acoustic_loss(ap, at, mask, "elements").item() == pytest.approx(1.5)
    total, parts = care_loss(pred, target, ap, at, mask, lam=2.0, reduction="norm")
    assert total.item() == pytest.approx(3.5 + 2 * 3.0) and parts == pytest.approx({"sem": 3.5, "acoust": 3.0})


def _grads(model, which: str) -> dict[str, bool]:
    model.zero_grad(set_to_none=True)
    out = _run(model, batch=1)
    loss = out.pooled.pow(2).sum() if which == "sem" else out.acoustic_pred.pow(2).sum()
    loss.backward()
    got = {}
    for part, module in {"common": model.speech.layers[0], "acoustic": model.speech.layers[2],
                         "adapters": model.down, "fc": model.acoustic_fc}.items():
        got[part] = any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    return got


def test_acoustic_loss_does_not_update_the_common_encoder():
    model = build_care(care_config("care-tiny-whisper"))
    assert _grads(model, "acoust") == {"common": False, "acoustic": True, "adapters": False, "fc": True}
    assert _grads(model, "sem") == {"common": True, "acoustic": False, "adapters": True, "fc": False}
    model = build_care(care_config("care-tiny-wavlm", acoustic_updates_common=True))
    assert _grads(model, "acoust")["common"] is True


def test_frozen_parts_and_ablation_flags():
    care = build_care(care_config("care-tiny-whisper"))
    assert not any(p.requires_grad for p in care.text.parameters())
    assert not any(p.requires_grad for p in care.speech.module.conv1.parameters())
    assert all(p.requires_grad for p in care.speech.layers.parameters())
    ft = build_care(care_config("care-tiny-whisper", semantic="ft"))
    assert all(p.requires_grad for p in ft.text.parameters()) and ft.down is not None
    trans = build_care(care_config("care-tiny-whisper", semantic="trans"))
    assert trans.down is None and trans.project is not None  # 64 -> 48 without adapters: a linear map
    assert all(p.requires_grad for p in trans.text.parameters())
    assert tuple(_run(trans).pooled.shape) == (2, 48)
    assert build_care(care_config("care-tiny-whisper", semantic="no-init")).min_frames == 1


def test_audio_shorter_than_one_adapter_window_is_a_typed_error():
    model = build_care(care_config("care-tiny-whisper"))
    enc = CareSpeechEncoder(model, branch="both")
    assert enc.min_samples == 1441  # 1441 // 160 = 9 mel frames -> 5 frames = one kernel-5 window
    assert enc.encode(np.zeros(1441, np.float32) + 0.01).hidden_states.shape == (5, 5, 112)
    with pytest.raises(AudioTooShortError, match="shorter than one frame"):
        enc.encode(np.zeros(1440, np.float32))
    with pytest.raises(AudioTooShortError, match="adapter window"):
        model(torch.from_numpy(model.speech.featurize(np.zeros(800, np.float32)))[None])


def test_text_width_that_does_not_fit_the_adapters():
    with pytest.raises(CareShapeError, match="hidden size 48") as err:
        build_care(care_config("care-tiny-whisper", adapter_dim=50))
    assert "adapter_dim" in err.value.hint
    with pytest.raises(CareShapeError, match="last 7"):
        build_care(care_config("care-tiny-whisper", text="minilm", text_layers=7))


def test_config_errors_and_names():
    with pytest.raises(ConfigError, match="not implemented"):
        care_config("care-tiny-whisper", semantic_target="text-frame")
    with pytest.raises(ConfigError, match="unknown CARE configuration"):
        care_config("care-huge")
    cfg = care_config({"preset": "care-whisper-base", "n_common": 2, "n_acoustic": 4})
    assert (cfg.speech, cfg.n_common, cfg.n_acoustic, cfg.text) == ("whisper-base", 2, 4, "minilm")
    assert parse_care_name("care-init:care-tiny-whisper") == ("init", "care-tiny-whisper", "both")
    with pytest.raises(ConfigError):
        parse_care_name("care:dir#bogus")


def test_model_folder_round_trip_and_mismatch(tmp_path):
    model = build_care(care_config("care-tiny-wavlm"), seed=3)
    with torch.no_grad():
        model.down[0].weight.add_(1.0)  # a trained part differs from a fresh build
    save_care(model, tmp_path / "m", seed=3)
    again = load_care(tmp_path / "m")
    assert torch.equal(again.down[0].weight, model.down[0].weight)
    enc = CareSpeechEncoder(tmp_path / "m", branch="acoustic")
    assert enc.n_layers == 5 and enc.dim == 64 and enc.frame_rate == 50.0
    meta = json.loads((tmp_path / "m" / "care.json").read_text())
    meta["model"]["tiny"]["text_dim"] = 32
    (tmp_path / "m" / "care.json").write_text(json.dumps(meta))
    with pytest.raises(CareShapeError, match="do not fit"):
        load_care(tmp_path / "m")


def test_thesis_graph_from_local_folders(tmp_path):
    """The thesis configuration's code path: WavLM and RoBERTa from local folders (tiny random ones)."""
    wavlm = transformers.WavLMConfig(hidden_size=32, num_attention_heads=2, intermediate_size=64, conv_dim=(16,) * 7,
                                     num_hidden_layers=2, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                                     num_buckets=32, max_bucket_distance=100)
    transformers.WavLMModel(wavlm).save_pretrained(tmp_path / "wavlm")
    roberta = transformers.RobertaConfig(vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                                         intermediate_size=64)
    transformers.RobertaModel(roberta).save_pretrained(tmp_path / "roberta")
    cfg = care_config("care-thesis", speech=f"hf:{tmp_path / 'wavlm'}", text=f"hf:{tmp_path / 'roberta'}",
                      n_common=1, n_acoustic=1, text_layers=1)
    model = build_care(cfg)
    out = _run(model, batch=1)
    assert len(out.common) == 2 and len(out.semantic) == 1 and tuple(out.pooled.shape) == (1, 32)
    levels = model.levels(out)  # equal widths and depths: the thesis layout, duplicated lower levels
    assert tuple(levels.shape[::3]) == (3, 64) and torch.equal(levels[1, ..., :32], levels[1, ..., 32:])
    with pytest.raises(CareShapeError, match="2 layers"):
        build_care(cfg.model_copy(update={"n_acoustic": 3}))


@pytest.mark.parametrize("name", ["care-offline-cpu", "care-thesis-gpu", "care-tiny"])
def test_pretraining_configs_parse(name):
    cfg = pretrain_config(Path(__file__).resolve().parents[1] / "configs" / f"{name}.yaml")
    assert cfg.data.crop_seconds == 5.0 and cfg.model.kernel == 5 and cfg.model.stride == 3
