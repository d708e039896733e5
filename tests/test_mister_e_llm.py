"""MiSTER-E's LLM utterance encoder (causal LM + LoRA + mean pooling + FC head) on a tiny random Llama.

The same class loads LLaMA-3.1-8B or the bundled SmolLM2-135M on a GPU; only the folder changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

import spokenemo.api.moe as moe  # noqa: E402
from spokenemo.core.config import read_yaml_mapping  # noqa: E402
from spokenemo.data.manifest import Segment  # noqa: E402
from spokenemo.experiment.config import load_config  # noqa: E402
from spokenemo.models.causal_lm import LoraSettings  # noqa: E402
from spokenemo.models.moe.speech_llm import FrameProjector, SpeechLlmStandIn  # noqa: E402
from spokenemo.models.moe.utterance import LlmUtteranceEncoder, masked_token_mean  # noqa: E402
from spokenemo.models.tiny import tiny_qwen2_tokenizer  # noqa: E402
from spokenemo.systems.mister_e.config import MisterEConfig  # noqa: E402
from spokenemo.systems.mister_e.phase1 import llm_outputs, train_llm  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPO = Path(__file__).resolve().parents[1]
LORA = LoraSettings(r=4, alpha=8, dropout=0.0, target_modules="all-linear")


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """A tiny random LlamaForCausalLM + a small BPE tokenizer, saved as a local model folder."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    tok = tiny_qwen2_tokenizer()
    config = transformers.LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_masked_token_mean_ignores_padding():
    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert torch.allclose(masked_token_mean(states, torch.tensor([[1, 1, 0]])), torch.tensor([[2.0, 3.0]]))


def test_llm_encoder_trains_only_lora_and_head_and_pools_real_tokens(tiny_llama):
    enc = LlmUtteranceEncoder.from_base(3, str(tiny_llama), lora=LORA, hidden=16)
    trainable = {n for n, p in enc.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    assert any(n.startswith("head.") for n in trainable)
    enc.eval()
    batch = enc.tokenize(["hello there, how are you today?", "hi"])
    alone = enc.tokenize(["hi"])
    with torch.no_grad():
        e, logits = enc(**batch)
        e1, _ = enc(**alone)
    assert e.shape == (2, 16) and logits.shape == (2, 3)
    assert torch.allclose(e[1], e1[0], atol=1e-5)  # padding does not change a sentence's embedding


def test_phase1_fine_tunes_the_llm_encoder_on_labelled_text(tiny_llama, tmp_path):
    cfg = MisterEConfig(text_input="llm", llm_base=str(tiny_llama), head_hidden=16, phase1_epochs=12, phase1_lr=1e-2,
                        phase1_batch_size=8, llm_lora_r=4, llm_lora_alpha=8)
    texts = [f"{w} {w} {w} number {i}" for i in range(12) for w in ("sad", "happy")]
    y = np.array([i % 2 for i in range(len(texts))])
    enc = LlmUtteranceEncoder.from_base(2, str(tiny_llama), lora=LORA, hidden=16)
    base_before = {n: p.detach().clone() for n, p in enc.named_parameters() if not p.requires_grad}
    before = (llm_outputs(enc, texts, 32)[1].argmax(1) == y).mean()
    train_llm(enc, texts, y, texts[:6], y[:6], 2, cfg, seed=0, work_dir=tmp_path, device="cpu")
    emb, logits = llm_outputs(enc, texts, 32)
    assert emb.shape == (len(texts), 16)
    assert (logits.argmax(1) == y).mean() == 1.0 > before - 1e-9
    for n, p in enc.named_parameters():  # the base model stays frozen
        if n in base_before:
            assert torch.equal(p, base_before[n])


def test_mister_e_with_the_llm_text_encoder_fits_saves_and_loads(tiny_llama, tmp_path):
    segs = []
    for d in range(10):
        for t in range(4):
            label = ["happy", "sad"][(d + t // 2) % 2]
            segs.append(Segment(key=f"d{d}/{t}", dialogue=f"d{d}", turn=t, label=label, corpus="toy",
                                text=f"i feel {label} {label} today"))
    train, valid, test = segs[:24], segs[24:32], segs[32:]
    opts = dict(text_input="llm", llm_base=str(tiny_llama), speech_input="random", head_hidden=16, phase1_epochs=6,
                phase1_lr=1e-2, llm_lora_r=4, llm_lora_alpha=8, can_hidden=8, can_layers=1, mm_hidden=8, mm_heads=2,
                mm_layers=1, fused=8, epochs=4, lr=3e-3, device="cpu")
    system = moe.fit_mister_e(train, valid, classes=["happy", "sad"], out_dir=tmp_path, test=test, **opts)
    probs = system.predict(test).probabilities
    system.save(tmp_path / "model")
    files = {p.name for p in (tmp_path / "model").iterdir()}
    assert {"system.json", "phase1-text.pt", "phase1-speech.pt", "phase2.pt"} <= files
    assert (tmp_path / "model" / "phase1-text.pt").stat().st_size < 2_000_000  # LoRA + head only
    again = moe.load_mister_e(tmp_path / "model", out_dir=tmp_path)
    np.testing.assert_allclose(again.predict(test).probabilities, probs, atol=1e-5)


def test_the_speech_llm_stand_in_pools_projected_frames_and_learns(tiny_llama):
    proj = FrameProjector(3, 8, stack=2)
    out, mask = proj(torch.ones(1, 5, 3), torch.tensor([[True, True, True, False, False]]))
    assert out.shape == (1, 3, 8) and mask.tolist() == [[True, True, False]]
    torch.manual_seed(0)
    model = SpeechLlmStandIn.from_base(2, frame_dim=6, base=str(tiny_llama), lora=LORA, stack=2, hidden=8)
    assert "stand-in" in model.label
    frames = torch.randn(8, 10, 6)
    frames[:4, :, 0] += 3.0  # class 0 frames carry a marker
    y = torch.tensor([0] * 4 + [1] * 4)
    mask = torch.ones(8, 10, dtype=torch.bool)
    mask[::2, 7:] = False  # shorter clips
    params = [p for p in model.parameters() if p.requires_grad]
    assert all(p.requires_grad == ("lora_" in n or not n.startswith("lm.")) for n, p in model.named_parameters())
    opt = torch.optim.AdamW(params, lr=1e-2)
    model.eval()  # no dropout
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(frames, mask)[1], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        e, logits = model(frames, mask)
    assert e.shape == (8, 8) and (logits.argmax(1) == y).all()


def test_the_mister_e_configs_validate():
    for path in sorted(REPO.glob("configs/mister-e-*.yaml")):
        if path.name == "mister-e-regimes.yaml":
            MisterEConfig(**read_yaml_mapping(path))
            continue
        cfg = load_config(path)
        for row in cfg.systems:
            assert row["kind"] == "mister-e"
            MisterEConfig(**{k: v for k, v in row.items() if k not in ("name", "kind")})


def test_the_thesis_gpu_row_runs_unchanged_with_a_tiny_model(tiny_llama, tmp_path):
    """The GPU row's options, with only the backbone folder, sizes, epochs and device made tiny."""
    row = next(r for r in load_config(REPO / "configs" / "mister-e-thesis-gpu.yaml").systems
               if r["name"] == "mister-e-thesis")
    options = {k: v for k, v in row.items() if k not in ("name", "kind")}
    options.update(llm_base=str(tiny_llama), speech_input="random", head_hidden=16, can_hidden=8, mm_hidden=8,
                   mm_heads=2, fused=8, phase1_epochs=1, epochs=1, device="cpu")
    assert options["text_input"] == "llm" and options["can_layers"] == 3 and options["mm_layers"] == 4
    segs = [Segment(key=f"d{d}/{t}", dialogue=f"d{d}", turn=t, label=["happy", "sad"][(d + t) % 2], corpus="toy",
                    text=f"turn {t} of {d}") for d in range(6) for t in range(3)]
    system = moe.fit_mister_e(segs[:12], segs[12:15], classes=["happy", "sad"], out_dir=tmp_path, **options)
    assert system.predict(segs[15:]).probabilities.shape == (3, 2)
