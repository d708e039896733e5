"""Label scoring in one packed forward pass, generation, and parsing of free generation."""

from __future__ import annotations

import pytest
import torch

from spokenemo.models.tiny import tiny_qwen2_model, tiny_qwen2_tokenizer
from spokenemo.systems.aecotd.scoring import (
    common_prefix_length,
    generate,
    packed_batch,
    parse_generation,
    score_candidates,
)
from spokenemo.systems.aecotd.tokens import encode_head, end_of_turn_ids, prompt_ids

LABELS4 = ["angry", "happy", "neutral", "sad"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny():
    tok = tiny_qwen2_tokenizer()
    return tok, tiny_qwen2_model(len(tok), seed=5)


def _naive(model, prompt, cand):
    """Each candidate alone after the prompt, in its own forward pass."""
    with torch.no_grad():
        logp = model(input_ids=torch.tensor([list(prompt) + list(cand)])).logits.log_softmax(-1)[0]
    return sum(logp[len(prompt) - 1 + k, t].item() for k, t in enumerate(cand))


def _prompts(tok):
    texts = ["Pitch: high. Intensity: strong.", "Words: \"Dogs are sitting by the door\"\nCues: Pitch: low.", "x"]
    return [prompt_ids(tok, [{"role": "user", "content": t}]) for t in texts]


def test_packed_mask_isolates_candidates():
    batch = packed_batch([[1, 2, 3], [4]], [[7, 8], [9]], pad_id=0)
    assert batch["input_ids"].tolist() == [[1, 2, 3, 7, 8, 9], [0, 0, 4, 7, 8, 9]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 3], [0, 0, 0, 1, 2, 1]]
    m = batch["attention_mask"][:, 0]
    # row 0: the second candidate (column 5) sees the prompt and itself, not the first candidate
    assert m[0, 5].tolist() == [True, True, True, False, False, True]
    assert m[0, 4].tolist() == [True, True, True, True, True, False]
    # row 1: left padding is seen by nobody but itself
    assert m[1, 2].tolist() == [False, False, True, False, False, False]
    assert m[1, :, :2].sum() == 2
    additive = packed_batch([[1, 2, 3]], [[7, 8], [9]], pad_id=0, mask_dtype=torch.float32)["attention_mask"]
    assert (additive[0, 0] == 0).tolist() == m[0].tolist()


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("share_prefix", [True, False])
def test_packed_scores_equal_one_pass_per_candidate(tiny, attention, share_prefix):
    tok, model = tiny
    model.config._attn_implementation = attention
    eot = end_of_turn_ids(tok)
    heads = [encode_head(tok, lab, True, eot)[0] for lab in LABELS4 + ["surprised"]]
    prompts = _prompts(tok)
    assert common_prefix_length(prompts) > 10  # the chat template's system turn is shared
    got = score_candidates(model, prompts, heads, pad_id=tok.pad_token_id, share_prefix=share_prefix)
    want = torch.tensor([[_naive(model, p, h) for h in heads] for p in prompts])
    assert got.shape == (3, 5)
    assert torch.allclose(got, want, atol=1e-4)
    model.config._attn_implementation = "sdpa"


def test_prefix_columns_of_the_mask():
    assert common_prefix_length([[1, 2, 3], [1, 2, 4, 5]]) == 2
    assert common_prefix_length([[1, 2], [1, 2, 3]]) == 1  # every prompt keeps a token of its own
    batch = packed_batch([[3], [4, 5]], [[7]], pad_id=0, prefix_len=2)
    assert batch["attention_mask"].shape == (2, 1, 3, 5)
    assert batch["position_ids"].tolist() == [[0, 2, 3], [2, 3, 4]]  # (padding keeps position 0)
    assert batch["attention_mask"][:, 0, :, :2].all()


def test_bf16_scores_stay_close(tiny):
    tok, model = tiny
    heads = [encode_head(tok, lab, False, end_of_turn_ids(tok))[0] for lab in LABELS4]
    fp32 = score_candidates(model, _prompts(tok), heads, pad_id=tok.pad_token_id)
    bf16 = score_candidates(model, _prompts(tok), heads, pad_id=tok.pad_token_id, bf16=True)
    assert torch.allclose(fp32, bf16, atol=0.3)
    assert (fp32.argmax(1) == bf16.argmax(1)).all()


@pytest.mark.slow
def test_packed_scores_on_the_bundled_model():
    from spokenemo.models.causal_lm import load_base_model, load_tokenizer

    tok = load_tokenizer("embedded")
    model = load_base_model("embedded")
    heads = [encode_head(tok, lab, True, end_of_turn_ids(tok))[0] for lab in LABELS4]
    prompts = _prompts(tok)[:2]
    got = score_candidates(model, prompts, heads, pad_id=tok.pad_token_id)
    want = torch.tensor([[_naive(model, p, h) for h in heads] for p in prompts])
    assert torch.allclose(got, want, atol=2e-3)


def test_batched_generation_equals_one_by_one(tiny):
    tok, model = tiny
    prompts = _prompts(tok)
    batch = generate(model, tok, prompts, max_new_tokens=6)
    alone = [generate(model, tok, [p], max_new_tokens=6)[0] for p in prompts]
    assert batch == alone and all(len(x) == 6 for x in batch)
    stopped = generate(model, tok, prompts[:1], max_new_tokens=6, eos_ids=[batch[0][2]])
    assert stopped[0] == batch[0][:3]


def test_parse_generation():
    assert parse_generation("angry<think>High pitch.</think>", LABELS4) == ("angry", "High pitch.")
    assert parse_generation(" Sad <think>low", LABELS4) == ("sad", "low")
    assert parse_generation("**Happy**.<think></think>", LABELS4) == ("happy", "")
    assert parse_generation("I think angry<think>x</think>", LABELS4) == (None, "x")
    assert parse_generation("angry because the pitch is high", LABELS4) == (None, None)
    assert parse_generation("neutral", LABELS4, cot=False) == ("neutral", None)
    assert parse_generation("calm", LABELS4, cot=False) == (None, None)
