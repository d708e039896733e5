"""Token layout of student examples: label span at the ``label<think>`` boundary, weights, truncation."""

from __future__ import annotations

import pytest

from spokenemo.models.tiny import tiny_qwen2_tokenizer
from spokenemo.protocols import LABEL_SETS
from spokenemo.systems.aecotd.examples import WeightScheme, collate, encode_example
from spokenemo.systems.aecotd.tokens import (
    THINK_OPEN,
    char_spans,
    encode_head,
    end_of_turn_ids,
    prompt_ids,
    render_prompt,
)
from spokenemo.train.runtime import epoch_order

LABELS = sorted({name for s in LABEL_SETS.values() for name in s.names})
MESSAGES = [{"role": "system", "content": "You are an expert in speech emotion."},
            {"role": "user", "content": "Transcript: Dogs are sitting by the door.\nPitch: low. Intensity: weak."}]


@pytest.fixture(scope="module")
def qwen2_tok():
    return tiny_qwen2_tokenizer()


@pytest.fixture(scope="module")
def bundled_tok():
    from transformers import AutoTokenizer

    from spokenemo.llm.embedded import embedded_model_dir

    return AutoTokenizer.from_pretrained(str(embedded_model_dir()))


@pytest.fixture(scope="module")
def merging_tok():
    """A character BPE whose merges cross the label boundary: "angry<" and "sad<" are single tokens."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set("angrysadhpyneutrl<>/think becaus"))
    merges = [("y", "<"), ("d", "<"), ("a", "n"), ("an", "g"), ("ang", "r"), ("angr", "y<"), ("s", "a"),
              ("sa", "d<"), ("t", "h"), ("th", "i"), ("thi", "n"), ("thin", "k")]
    vocab = {"<|end|>": 0, **{c: i + 1 for i, c in enumerate(chars)}}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    bpe.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|end|>", pad_token="<|end|>")


def _check_heads(tok, labels):
    eot = end_of_turn_ids(tok)
    for label in labels:
        ids, n = encode_head(tok, label, True, eot)
        assert tok.decode(ids) == label + THINK_OPEN
        assert tok.decode(ids[:n]).startswith(label), label
        # the span is minimal: without its last token the label is no longer covered
        assert not tok.decode(ids[: n - 1]).startswith(label), label
        ids_plain, n_plain = encode_head(tok, label, False, eot)
        assert ids_plain[-len(eot):] == eot and tok.decode(ids_plain[:n_plain]) == label


@pytest.mark.slow
def test_label_span_bundled_tokenizer(bundled_tok):
    _check_heads(bundled_tok, LABELS)
    ids, n = encode_head(bundled_tok, "angry", True, end_of_turn_ids(bundled_tok))
    assert bundled_tok.convert_ids_to_tokens(ids[:n]) == ["ang", "ry"]


def test_label_span_qwen2_tokenizer(qwen2_tok):
    _check_heads(qwen2_tok, LABELS)


def test_label_span_when_bpe_merges_across_the_boundary(merging_tok):
    eot = end_of_turn_ids(merging_tok)
    ids, n = encode_head(merging_tok, "angry", True, eot)
    assert merging_tok.convert_ids_to_tokens(ids) == ["angry<", "think", ">"]
    assert n == 1  # the merged "angry<" token is the label span
    ids, n = encode_head(merging_tok, "sad", True, eot)
    assert merging_tok.convert_ids_to_tokens(ids)[:n] == ["sad<"]
    ids, n = encode_head(merging_tok, "happy", True, eot)
    assert merging_tok.convert_ids_to_tokens(ids)[:n] == ["h", "a", "p", "p", "y<"]
    ids, n = encode_head(merging_tok, "neutral", True, eot)
    assert merging_tok.convert_ids_to_tokens(ids)[:n] == list("neutral")  # no merge: the span stops at "l"
    ex = encode_example(merging_tok, [{"role": "user", "content": "neutral"}], "angry", "because", eot=eot)
    target = merging_tok.convert_ids_to_tokens(list(ex.input_ids[ex.prompt_len:]))
    weights = ex.weights[ex.prompt_len:]
    assert target[0] == "angry<" and weights[0] == 1.0 and ex.label_mask[ex.prompt_len]
    assert set(weights[1:]) == {0.01} and sum(ex.label_mask) == 1


def test_char_spans_fallback_matches_offsets(qwen2_tok, merging_tok):
    for tok in (qwen2_tok, merging_tok):
        for text in ("angry<think>", "surprised<think>", "neutral"):
            ids, spans = char_spans(tok, text)
            ids2, spans2 = char_spans(tok, text, ids=ids)
            assert ids == ids2 and spans == spans2


def test_end_of_turn_tokens(qwen2_tok):
    assert qwen2_tok.convert_ids_to_tokens(end_of_turn_ids(qwen2_tok)) == ["<|im_end|>"]
    llama3 = tiny_qwen2_tokenizer()
    llama3.add_special_tokens({"additional_special_tokens": ["<|eot_id|>", "<|im_start|>"]})
    llama3.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|eot_id|>"
                            "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    assert llama3.convert_ids_to_tokens(end_of_turn_ids(llama3)) == ["<|eot_id|>"]
    llama3.chat_template = None
    assert end_of_turn_ids(llama3) == [llama3.eos_token_id]


def test_prompt_is_the_chat_template_with_generation_prompt(qwen2_tok):
    text = render_prompt(qwen2_tok, MESSAGES)
    assert text.endswith("<|im_start|>assistant\n") and "Dogs are sitting" in text
    assert qwen2_tok.decode(prompt_ids(qwen2_tok, MESSAGES)) == text


def test_example_layout_and_weights(qwen2_tok):
    eot = end_of_turn_ids(qwen2_tok)
    ex = encode_example(qwen2_tok, MESSAGES, "sad", "  Low pitch and weak intensity. ", eot=eot, key="k1")
    assert ex.key == "k1" and len(ex.input_ids) == len(ex.weights) == len(ex.label_mask)
    prompt = render_prompt(qwen2_tok, MESSAGES)
    assert qwen2_tok.decode(ex.input_ids[: ex.prompt_len]) == prompt
    assert qwen2_tok.decode(ex.input_ids[ex.prompt_len:]) == "sad<think>Low pitch and weak intensity.</think><|im_end|>"
    assert set(ex.weights[: ex.prompt_len]) == {0.0}
    n = sum(ex.label_mask)
    assert ex.weights[ex.prompt_len: ex.prompt_len + n] == (1.0,) * n
    assert set(ex.weights[ex.prompt_len + n:]) == {0.01}
    custom = encode_example(qwen2_tok, MESSAGES, "sad", "x", eot=eot, weights=WeightScheme(2.0, 0.5))
    assert set(custom.weights[custom.prompt_len:]) == {2.0, 0.5}


def test_no_cot_and_missing_reasoning(qwen2_tok):
    eot = end_of_turn_ids(qwen2_tok)
    plain = encode_example(qwen2_tok, MESSAGES, "happy", "ignored", eot=eot, cot=False)
    assert qwen2_tok.decode(plain.input_ids[plain.prompt_len:]) == "happy<|im_end|>"
    empty = encode_example(qwen2_tok, MESSAGES, "happy", None, eot=eot)
    assert qwen2_tok.decode(empty.input_ids[empty.prompt_len:]) == "happy<think></think><|im_end|>"
    assert empty.reasoning_tokens == 0
    # the label and <think> are trained; the missing explanation (</think>, end of turn) is not
    n_head = len(encode_head(qwen2_tok, "happy", True, eot)[0])
    n_label = sum(empty.label_mask)
    target_w = empty.weights[empty.prompt_len:]
    assert target_w[:n_label] == (1.0,) * n_label
    assert set(target_w[n_label:n_head]) == {0.01} and set(target_w[n_head:]) == {0.0}


def test_truncation_keeps_the_label(qwen2_tok):
    eot = end_of_turn_ids(qwen2_tok)
    reasoning = "The pitch is high and the intensity is strong, which suggests anger. " * 5
    full = encode_example(qwen2_tok, MESSAGES, "angry", reasoning, eot=eot)
    cut = encode_example(qwen2_tok, MESSAGES, "angry", reasoning, eot=eot, max_length=len(full) - 10)
    assert cut.truncated and len(cut) == len(full) - 10 and cut.reasoning_tokens == full.reasoning_tokens - 10
    assert qwen2_tok.decode(cut.input_ids[cut.prompt_len:]).startswith("angry<think>The pitch")
    assert qwen2_tok.decode(cut.input_ids).endswith("</think><|im_end|>")
    capped = encode_example(qwen2_tok, MESSAGES, "angry", reasoning, eot=eot, max_reasoning_tokens=3)
    assert capped.reasoning_tokens == 3 and capped.truncated
    assert encode_example(qwen2_tok, MESSAGES, "angry", reasoning, eot=eot, max_length=cut.prompt_len + 2) is None


def test_collate_pads_with_zero_weight(qwen2_tok):
    eot = end_of_turn_ids(qwen2_tok)
    a = encode_example(qwen2_tok, MESSAGES, "sad", "short", eot=eot)
    b = encode_example(qwen2_tok, MESSAGES, "sad", "a much longer reasoning than the other one", eot=eot)
    batch = collate([a, b], pad_id=qwen2_tok.pad_token_id)
    assert batch["input_ids"].shape == (2, len(b))
    assert batch["attention_mask"][0].sum() == len(a)
    assert batch["weights"][0, len(a):].abs().sum() == 0
    assert (batch["input_ids"][0, len(a):] == qwen2_tok.pad_token_id).all()


def test_epoch_order_is_a_seeded_permutation():
    a, b = epoch_order(10, 0, 1), epoch_order(10, 1, 1)
    assert sorted(a) == list(range(10)) and a != b
    assert epoch_order(10, 0, 1) == a and epoch_order(10, 0, 2) != a
