"""HCAM (issue #19): attention equations, padding masks, loss, input checks, and the three stages
end to end on tiny random HuBERT / RoBERTa folders (the GPU configuration's code path)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from spokenemo.apps.cli import cli  # noqa: E402
from spokenemo.core.errors import LabelError, ProtocolError  # noqa: E402
from spokenemo.data.conversation import ConversationError  # noqa: E402
from spokenemo.data.manifest import Segment, write_manifest  # noqa: E402
from spokenemo.models.hcam import (  # noqa: E402
    AttentionBlock,
    CoAttentionFusion,
    ContextualGRU,
    TextUtteranceEncoder,
    hcam_loss,
)
from spokenemo.models.losses import supervised_contrastive_loss  # noqa: E402
from spokenemo.models.tiny import tiny_qwen2_tokenizer  # noqa: E402
from spokenemo.systems import get_system  # noqa: E402
from spokenemo.systems.hcam.bench import paired, summary  # noqa: E402
from spokenemo.systems.hcam.cache import HcamInputError  # noqa: E402
from spokenemo.systems.hcam.config import HcamConfig  # noqa: E402
from spokenemo.systems.registry import load_system  # noqa: E402

CLASSES = ["angry", "sad"]


# --- equations ------------------------------------------------------------------------------------
def test_attention_block_is_eqs_4_1_to_4_6():
    """One head, no dropout: O = LayerNorm(Q + softmax(QK^T/sqrt(d)) V) with the block's own projections."""
    torch.manual_seed(0)
    block = AttentionBlock(8, heads=1, dropout=0.0).eval()
    q, kv = torch.randn(1, 3, 8), torch.randn(1, 5, 8)
    w, b = block.attn.in_proj_weight, block.attn.in_proj_bias
    Q, K, V = q @ w[:8].T + b[:8], kv @ w[8:16].T + b[8:16], kv @ w[16:].T + b[16:]
    A = torch.softmax(Q @ K.transpose(1, 2) / math.sqrt(8), dim=-1) @ V
    A = block.attn.out_proj(A)
    expected = torch.nn.functional.layer_norm(q + A, (8,), block.norm.weight, block.norm.bias)
    assert torch.allclose(block(q, kv), expected, atol=1e-5)


def test_padded_turns_change_nothing():
    """A conversation's outputs are the same alone and padded in a batch beside a longer one (garbage in the padding)."""
    torch.manual_seed(0)
    model = ContextualGRU(6, 3, dim=8, heads=2, dropout=0.0).eval()
    short, long = torch.randn(1, 3, 6), torch.randn(1, 5, 6)
    alone, _ = model(short, torch.ones(1, 3, dtype=torch.bool))
    x = torch.cat([torch.cat([short, 100 * torch.randn(1, 2, 6)], 1), long])
    mask = torch.tensor([[True] * 3 + [False] * 2, [True] * 5])
    both, _ = model(x, mask)
    assert torch.allclose(both[0, :3], alone[0], atol=1e-5)
    fusion = CoAttentionFusion(8, 8, 3, dim=8, heads=2, dropout=0.0).eval()
    s, t = torch.randn(1, 3, 8), torch.randn(1, 3, 8)
    ref, _ = fusion(s, t, torch.ones(1, 3, dtype=torch.bool))
    pad = fusion(torch.cat([s, torch.randn(1, 2, 8)], 1), torch.cat([t, torch.randn(1, 2, 8)], 1), mask[:1])[0]
    assert torch.allclose(pad[0, :3], ref[0], atol=1e-5)


def test_text_encoder_embedding_is_final_states_of_both_directions():
    torch.manual_seed(0)
    model = TextUtteranceEncoder(4, 2, hidden=3, dropout=0.0).eval()
    x = torch.randn(1, 5, 4)
    out, h = model.gru(x)
    emb = model.embed(x, torch.ones(1, 5, dtype=torch.bool))
    assert torch.allclose(emb[0, :3], out[0, -1, :3], atol=1e-6)  # forward direction ends at the last token
    assert torch.allclose(emb[0, 3:], out[0, 0, 3:], atol=1e-6)  # backward direction ends at the first


def test_loss_is_eq_4_8():
    torch.manual_seed(0)
    logits, rep = torch.randn(2, 4, 3), torch.randn(2, 4, 5)
    y = torch.tensor([[0, 1, 0, -100], [2, 2, 1, 0]])
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, 3), y.reshape(-1), ignore_index=-100)
    keep = y.reshape(-1) != -100
    sc = supervised_contrastive_loss(rep.reshape(-1, 5)[keep], y.reshape(-1)[keep], temperature=0.1)
    assert torch.allclose(hcam_loss(logits, rep, y, beta=1.0)[0], ce, atol=1e-6)
    assert torch.allclose(hcam_loss(logits, rep, y, beta=0.0)[0], sc, atol=1e-6)
    assert torch.allclose(hcam_loss(logits, rep, y, beta=0.8)[0], 0.8 * ce + 0.2 * sc, atol=1e-6)
    with pytest.raises(ValueError, match="beta"):
        hcam_loss(logits, rep, y, beta=1.5)


# --- tiny local models and conversations ----------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hcam-models")
    torch.manual_seed(0)
    hubert = transformers.HubertConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=32, conv_dim=(8,) * 7, num_conv_pos_embeddings=16,
                                       num_conv_pos_embedding_groups=2)
    transformers.HubertModel(hubert).save_pretrained(root / "hubert")
    tok = tiny_qwen2_tokenizer()
    roberta = transformers.RobertaConfig(vocab_size=len(tok) + 2, hidden_size=16, num_hidden_layers=4,
                                         num_attention_heads=2, intermediate_size=32, pad_token_id=tok.pad_token_id)
    transformers.RobertaModel(roberta).save_pretrained(root / "roberta")
    tok.save_pretrained(root / "roberta")
    return root


def _conversations(folder: Path, n: int, split: str, *, turns: int = 4) -> list[Segment]:
    """Conversations whose label is carried by pitch (angry: 400 Hz, sad: 150 Hz) and by the words."""
    rng = np.random.default_rng(len(split))
    segs = []
    for c in range(n):
        for t in range(turns):
            label = CLASSES[(c + t // 2) % 2]
            wave = 0.3 * np.sin(2 * np.pi * (400 if label == "angry" else 150) * np.arange(8000) / 16000)
            path = folder / f"{split}{c}_{t}.wav"
            sf.write(path, (wave + 0.01 * rng.standard_normal(8000)).astype(np.float32), 16000)
            text = "you are speech emotion angry" if label == "angry" else "low pitch weak sad"
            segs.append(Segment(key=f"{split}/c{c}/t{t}", path=str(path), label=label, text=text, speaker=f"s{c}",
                                dialogue=f"{split}-c{c}", turn=t, corpus="toy", duration=0.5))
    return segs


def _context(tmp_path: Path, seed: int = 0) -> SimpleNamespace:
    return SimpleNamespace(labels=CLASSES, seed=seed, work_dir=tmp_path / "work")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hcam-audio")
    return {p: _conversations(folder, n, p) for p, n in (("train", 6), ("valid", 2), ("test", 2))}


def _gpu_config(tiny_dirs: Path, **over: object) -> HcamConfig:
    """The thesis (GPU) configuration with tiny folders: fine-tuned HuBERT and RoBERTa."""
    preset = get_system("hcam").presets["hcam-thesis-gpu"].options
    opts = {**preset, "speech_encoder": f"hf:{tiny_dirs / 'hubert'}", "text_encoder": f"hf:{tiny_dirs / 'roberta'}",
            "device": "cpu", "epochs": [1, 1, 1], "batch_utterances": 4, "batch_conversations": 2, **over}
    return HcamConfig(**opts)


@pytest.mark.slow
def test_thesis_configuration_trains_all_stages_and_reloads(tmp_path, tiny_dirs, toy):
    cfg = _gpu_config(tiny_dirs)
    system = get_system("hcam")(cfg)
    system.fit(toy["train"], toy["valid"], _context(tmp_path), levels=None)
    assert [s["name"] for s in system.info["stages"]] == ["speech-1", "text-1", "speech-2", "text-2", "fusion"]
    pred = system.predict(toy["test"])
    assert pred.probabilities.shape == (8, 2) and np.allclose(pred.probabilities.sum(1), 1.0)
    levels = system.predict_levels(list(reversed(toy["test"])))
    assert np.allclose(levels["fusion"].probabilities[::-1], pred.probabilities, atol=1e-5)  # order follows input
    system.save(tmp_path / "saved")
    again = load_system(tmp_path / "saved")
    assert np.allclose(again.predict(toy["test"]).probabilities, pred.probabilities, atol=1e-5)


@pytest.mark.slow
def test_non_hierarchical_variant_trains_jointly(tmp_path, tiny_dirs, toy):
    system = get_system("hcam")(_gpu_config(tiny_dirs, hierarchical=False))
    system.fit(toy["train"], [], _context(tmp_path))  # no validation part: a tenth of training selects
    assert [s["name"] for s in system.info["stages"]] == ["speech-1", "text-1", "joint"]
    assert system.info["n_conversations"] == {"train": 5, "select": 1}
    assert system.predict(toy["test"]).probabilities.shape == (8, 2)


def test_frozen_text_stages_learn_from_words(tmp_path, tiny_dirs, toy):
    """The CPU plan's code path (frozen encoder, cached tokens): stage I and II learn the toy words."""
    cfg = HcamConfig(modality="text", stage=2, text_encoder=f"hf:{tiny_dirs / 'roberta'}", cache_dir=str(tmp_path / "c"),
                     epochs=[15, 15, 1], batch_utterances=8, batch_conversations=2, patience=None, lr=3e-3)
    system = get_system("hcam")(cfg)
    system.fit(toy["train"], toy["valid"], _context(tmp_path))
    levels = system.predict_levels(toy["test"], ["text-1", "text-2"])
    truth = [s.label for s in toy["test"]]
    assert levels["text-1"].decisions() == truth
    assert len(list((tmp_path / "c").glob("text-*/*.npy"))) == 2  # two distinct sentences cached once each


# --- bad input ------------------------------------------------------------------------------------
def test_bad_input_is_a_typed_error(tmp_path, toy):
    system = get_system("hcam")(_gpu_config(tmp_path))  # the checks come before any model is loaded
    ctx = _context(tmp_path)
    one_turn = [s for s in toy["train"] if s.turn == 0]
    with pytest.raises(ConversationError, match="single turn"):
        system.fit(one_turn, [], ctx)
    with pytest.raises(LabelError, match="outside"):
        system.fit([*toy["train"][:-1], toy["train"][-1].model_copy(update={"label": "happy"})], [], ctx)
    with pytest.raises(HcamInputError, match="no text"):
        system.fit([*toy["train"][:-1], toy["train"][-1].model_copy(update={"text": " "})], [], ctx)
    with pytest.raises(HcamInputError, match="no audio"):
        system.fit([*toy["train"][:-1], toy["train"][-1].model_copy(update={"path": None})], [], ctx)
    with pytest.raises(ProtocolError, match="split across"):
        system.fit(toy["train"][:-1], toy["train"][-1:], ctx)
    with pytest.raises(HcamInputError, match="no conversation"):
        system.fit([*toy["train"], toy["test"][0].model_copy(update={"dialogue": None})], [], ctx)
    system.pipeline, system.context = "fitted", SimpleNamespace(fold=SimpleNamespace(train=(toy["train"][0].key,)),
                                                                segments=toy["train"])
    with pytest.raises(ProtocolError, match="split across"):  # predicting turns of a training dialogue
        system.predict_levels(toy["train"][1:3])
    with pytest.raises(Exception, match="stage 3"):
        HcamConfig(modality="text", stage=3)


def test_erc_cli_trains_and_labels_every_turn(tmp_path, tiny_dirs, toy):
    """`spokenemo erc-train` then `spokenemo erc` on a conversation manifest (frozen text, tiny RoBERTa)."""
    train = [s.model_copy(update={"split": "train"}) for s in toy["train"]]
    write_manifest(tmp_path / "train.jsonl", [*train, *(s.model_copy(update={"split": "dev"}) for s in toy["valid"])])
    write_manifest(tmp_path / "conv.jsonl", toy["test"])
    opts = ["--set", f'text_encoder="hf:{tiny_dirs / "roberta"}"', "--set", f'cache_dir="{tmp_path / "c"}"',
            "--set", "epochs=[2,2,1]"]
    runner = CliRunner()
    res = runner.invoke(cli, ["erc-train", str(tmp_path / "train.jsonl"), "-o", str(tmp_path / "m"),
                              "--preset", "hcam-text-2", *opts])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["erc", str(tmp_path / "conv.jsonl"), "-o", str(tmp_path / "out"),
                              "--model", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [r["key"] for r in rows] == [s.key for s in toy["test"]] and {r["label"] for r in rows} <= set(CLASSES)
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-3 for r in rows)
    res = runner.invoke(cli, ["erc", str(tmp_path / "conv.jsonl"), "-o", str(tmp_path / "o2"),
                              "--model", str(tmp_path / "none")])
    assert res.exit_code != 0 and "no ERC model" in res.output


def test_bench_summary_is_mean_std_and_paired_wins():
    rows = [{"text-1": {"weighted_f1": 50.0}, "text-2": {"weighted_f1": 53.0}},
            {"text-1": {"weighted_f1": 52.0}, "text-2": {"weighted_f1": 51.0}}]
    assert summary(rows) == {"test": {"text-1": "51.0 ± 1.0", "text-2": "52.0 ± 1.0"}}
    assert paired(rows, "text-1", "text-2") == "+1.0 ± 2.0 (1/2)"  # differences +3 and -1
