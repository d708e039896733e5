"""Silver labels end to end on a tiny random BERT: the silver stage (stopped and resumed), the
registered encoder, and the ``silver-text`` system frozen and fine-tuned on a few texts."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from click.testing import CliRunner  # noqa: E402

from spokenemo.apps.cli import cli  # noqa: E402
from spokenemo.data.manifest import Segment, write_manifest  # noqa: E402
from spokenemo.models.encoders import TEXT_ENCODERS, get_text_encoder  # noqa: E402
from spokenemo.systems.base import SystemUnavailable  # noqa: E402
from spokenemo.systems.registry import get_system  # noqa: E402
from spokenemo.systems.silver import encoders as silver_encoders  # noqa: E402
from spokenemo.systems.silver.student import StudentSettings, read_state, train_student  # noqa: E402

WORDS = sorted({w for t in ["i love this great day awful terrible hate it", "the meeting starts at nine so happy sad bad good"]
                for w in t.split()})
TEXTS = ["i love this great day", "awful terrible day", "the meeting starts at nine", "i hate it",
         "so happy good day", "sad bad day", "it starts at nine", "good great day"]
SILVER = ["positive", "negative", "neutral", "negative", "positive", "negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, one_torch_thread) -> Path:
    folder = tmp_path_factory.mktemp("bert")
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.post_processor = tokenizers.processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                                  special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                         cls_token="[CLS]", sep_token="[SEP]").save_pretrained(folder)
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=24)
    transformers.BertModel(cfg).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_silver_stage_resumes_and_registers(tiny_bert, tmp_path):
    labels = {f"k{i}": s for i, s in enumerate(SILVER)}
    texts = {f"k{i}": t for i, t in enumerate(TEXTS)}
    settings = StudentSettings(epochs=4, lr=5e-3, batch_size=4, checkpoint_every=1, device="cpu")
    out = tmp_path / "tiny-toy"
    first = train_student(labels, texts, f"hf:{tiny_bert}", out, settings, progress=False, stop_after_steps=3)
    assert not first.finished and first.steps == 3 and not (out / "silver.json").exists()
    second = train_student(labels, texts, f"hf:{tiny_bert}", out, settings, record={"labeller_model": "toy"},
                           progress=False)
    assert second.finished and second.resumed_from == 3 and second.steps == second.total_steps == 8
    log = [json.loads(line) for line in (out / "train" / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["loss"] < log[0]["loss"]
    state = read_state(out)
    assert state["n_examples"] == 8 and state["labeller_model"] == "toy" and state["classes"][0] == "negative"
    assert not (out / "train" / "checkpoints").exists()
    base = get_text_encoder(f"hf:{tiny_bert}").encode(["i love this"]).pooled
    name = silver_encoders.register_silver_encoder("tiny-toy", out)
    try:
        enc = get_text_encoder(name)
        assert enc.name == "silver-tiny-toy" and (enc.n_layers, enc.dim) == (3, 16)
        assert not np.allclose(enc.encode(["i love this"]).pooled, base)   # the weights did change
    finally:
        TEXT_ENCODERS.remove(name)
        silver_encoders._REGISTERED.pop(name, None)


def _context(tmp_path, segments, seed=0):
    return SimpleNamespace(out_dir=tmp_path, segments=segments, labels=["happy", "sad", "neutral"], seed=seed,
                           work_dir=tmp_path / f"work{seed}", fingerprint="t", options=None)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["frozen", "finetune"])
def test_silver_text_system_fits_and_predicts(tiny_bert, tmp_path, mode):
    emotion = {"positive": "happy", "negative": "sad", "neutral": "neutral"}
    segs = [Segment(key=f"s{i}", text=t, label=emotion[s], split="train") for i, (t, s) in
            enumerate(zip(TEXTS, SILVER, strict=True))]
    cls = get_system("silver-text")
    config_cls = cls.config_cls
    system = cls(config_cls(encoder=f"hf:{tiny_bert}", mode=mode, epochs=30, ft_epochs=3, lr=1e-2, ft_lr=1e-3,
                            batch_size=4, dropout=0.0, device="cpu"))
    system.fit(segs[:6], segs[6:], _context(tmp_path, segs))
    probs = system.predict(segs).probabilities
    assert probs.shape == (8, 3) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    assert len(system.info["valid_wf1_curve"]) >= 1 and system.info["epoch"] >= 1
    if mode == "frozen":
        train_acc = np.mean(probs[:6].argmax(1) == [system.classes.index(u.label) for u in segs[:6]])
        assert train_acc >= 5 / 6   # 6 texts, 30 epochs: the head fits them
        assert len(list((tmp_path / "features" / "silver-text").glob("*.npz"))) == 1
        system.save(tmp_path / "saved")
        again = cls.load(tmp_path / "saved", context=_context(tmp_path, segs))
        np.testing.assert_allclose(again.predict(segs).probabilities, probs, atol=1e-6)


def test_an_untrained_silver_encoder_skips_the_row(tmp_path):
    cls = get_system("silver-text")
    config_cls = cls.config_cls
    system = cls(config_cls(encoder="silver-never-trained"))
    seg = Segment(key="a", text="hi", label="happy", split="train")
    with pytest.raises(SystemUnavailable, match="spokenemo silver train --name never-trained"):
        system.fit([seg], [], _context(tmp_path, [seg]))


@pytest.mark.slow
def test_cli_label_then_train(tiny_bert, tmp_path):
    manifest = tmp_path / "m.jsonl"
    write_manifest(manifest, [Segment(key=f"k{i}", text=t, label="happy", split="train") for i, t in enumerate(TEXTS)])
    labels, root = tmp_path / "labels.jsonl", tmp_path / "encoders"
    runner = CliRunner()
    out = runner.invoke(cli, ["silver", "label", "--labeller", "vader", "--manifest", str(manifest), "-o", str(labels),
                              "--no-progress", "--meld-root", str(tmp_path / "none")])
    assert out.exit_code == 0, out.output
    args = ["silver", "train", "--labels", str(labels), "--name", "tiny-cli", "--base", f"hf:{tiny_bert}",
            "--out-root", str(root), "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--no-progress",
            "--meld-root", str(tmp_path / "none")]
    try:
        done = runner.invoke(cli, args)
        assert done.exit_code == 0, done.output
        assert "silver-tiny-cli: finished, 2/2 steps on 8 texts" in done.output
        assert read_state(root / "tiny-cli")["labeller_model"].startswith("vader-")
        assert "silver-tiny-cli" in TEXT_ENCODERS
    finally:
        if "silver-tiny-cli" in TEXT_ENCODERS:
            TEXT_ENCODERS.remove("silver-tiny-cli")
        silver_encoders._REGISTERED.pop("silver-tiny-cli", None)
