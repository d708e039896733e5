"""The backend interface, the factory, and the transformers backend on a tiny local model."""

from __future__ import annotations

from pathlib import Path

import pytest

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.llm import ChatResult, get_backend, split_reasoning
from spokenemo.llm.base import check_messages, cut_at_stop

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = ["the", "pitch", "is", "high", "low", "loud", "quiet", "fast", "slow", "voice", "angry", "sad", "happy",
         "calm", "emotion", "and", "very", "a", "user", "assistant", "system", "hello", "say", "one", "word"]
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}")


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer Llama with random weights and a word-level tokenizer, saved as a local folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<|im_start|>", "<|im_end|>"]
    vocab = {t: i for i, t in enumerate(specials + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<|im_start|>",
                                   eos_token="<|im_end|>", pad_token="<|im_end|>")
    fast.add_special_tokens({"additional_special_tokens": specials[1:]})
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=1, eos_token_id=2, pad_token_id=2, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return get_backend("transformers", model=str(tiny_model_dir), batch_size=3)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# --- helpers of the interface ---------------------------------------------------------------------
def test_split_reasoning():
    assert split_reasoning("<think> low and slow </think>\nEmotion: sad") == ("Emotion: sad", "low and slow")
    assert split_reasoning("Emotion: sad", "api reasoning") == ("Emotion: sad", "api reasoning")
    assert split_reasoning("<think>cut off while thinking") == ("", "cut off while thinking")
    assert split_reasoning("plain answer") == ("plain answer", None)
    assert split_reasoning("angry<think>loud</think>") == ("angry", "loud")


def test_check_messages_names_the_bad_message():
    assert check_messages(user("hi")) == [{"role": "user", "content": "hi"}]
    with pytest.raises(ValueError, match="non-empty list"):
        check_messages("hi")
    with pytest.raises(ValueError, match="message 1 has role 'robot'"):
        check_messages(user("a") + [{"role": "robot", "content": "b"}])
    with pytest.raises(ValueError, match="message 0 content must be a string"):
        check_messages([{"role": "user", "content": 3}])


def test_cut_at_stop():
    assert cut_at_stop("a. b\n\nc", ["\n\n", "b"]) == ("a. ", True)
    assert cut_at_stop("abc", ["x"]) == ("abc", False)
    assert cut_at_stop("abc", None) == ("abc", False)


def test_chat_result_usage():
    r = ChatResult(text="x", prompt_tokens=3, completion_tokens=4)
    assert r.usage() == {"prompt_tokens": 3, "completion_tokens": 4}


def test_factory_errors():
    with pytest.raises(ConfigError, match="unknown LLM backend 'gpt'"):
        get_backend("gpt")
    with pytest.raises(ConfigError, match="needs a model"):
        get_backend("transformers")
    with pytest.raises(ConfigError, match="takes no model"):
        get_backend("embedded", model="x")


# --- transformers backend ---------------------------------------------------------------------------
def test_loads_local_folder_on_cpu_in_float32(tiny, tiny_model_dir):
    assert tiny.name == "transformers"
    assert tiny.model_name == tiny_model_dir.name
    assert tiny.device == "cpu" and tiny.dtype == torch.float32
    assert tiny.tokenizer.padding_side == "left"
    assert tiny.format_prompt(user("hello")) == "<|im_start|> user hello <|im_end|> <|im_start|> assistant "


def test_batched_generation_equals_one_by_one(tiny):
    prompts = [user("hello"), user("say one word about the very loud and fast voice"), user("the pitch is low")]
    batched = tiny.chat_batch(prompts, max_tokens=6)
    single = [tiny.chat(p, max_tokens=6) for p in prompts]
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.prompt_tokens for r in batched] == [6, 15, 9]  # real tokens, padding excluded
    for r in batched:
        assert r.completion_tokens <= 6
        assert r.finish_reason in ("stop", "length")
        assert (r.finish_reason == "length") == (r.completion_tokens == 6)


def test_generation_is_deterministic_at_temperature_zero(tiny):
    a = tiny.chat(user("the voice is"), max_tokens=5)
    b = tiny.chat(user("the voice is"), max_tokens=5)
    assert a.text == b.text and a.text  # random weights still give words


def test_seeded_sampling_is_reproducible_and_leaves_the_global_rng_alone(tiny):
    prompt = user("say one word about the very loud and fast voice")
    state = torch.get_rng_state()
    a = tiny.chat(prompt, max_tokens=8, temperature=1.5, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # sampled on a forked RNG
    assert tiny.chat(prompt, max_tokens=8, temperature=1.5, seed=3).text == a.text
    assert len({tiny.chat(prompt, max_tokens=8, temperature=1.5, seed=s).text for s in range(6)}) > 1
    batch = [prompt, user("the pitch is low"), user("hello")]
    first = [r.text for r in tiny.chat_batch(batch, max_tokens=6, temperature=1.5, seed=11)]
    assert [r.text for r in tiny.chat_batch(batch, max_tokens=6, temperature=1.5, seed=11)] == first
    streamed = dict(tiny.iter_chat(batch, max_tokens=6, temperature=1.5, seed=11))  # one chunk of 3
    assert [streamed[i].text for i in range(3)] == first
    greedy = tiny.chat(prompt, max_tokens=8)
    assert tiny.chat(prompt, max_tokens=8, seed=99).text == greedy.text  # a seed changes nothing when greedy


def test_seed_only_for_backends_that_support_it():
    from spokenemo.llm.base import LLMBackend

    class Echo(LLMBackend):
        name = "echo"

        def chat_batch(self, batch, *, max_tokens=256, temperature=0.0, stop=None, return_exceptions=False):
            return [ChatResult(text="hi") for _ in batch]

    assert not Echo.supports_seed and Echo().chat(user("x")).text == "hi"
    with pytest.raises(ValueError, match="cannot seed"):
        Echo().chat(user("x"), temperature=0.5, seed=1)
    with pytest.raises(ValueError, match="cannot seed"):
        list(Echo().iter_chat([user("x")], seed=1))


def test_llamacpp_passes_a_seed_per_conversation():
    """llama.cpp samples each conversation with ``seed + its index`` (checked on a stand-in model)."""
    from spokenemo.llm.llamacpp_backend import LlamaCppBackend

    seen = []

    class FakeLlama:
        def create_chat_completion(self, **kwargs):
            seen.append(kwargs["seed"])
            return {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}], "usage": {}}

    backend = object.__new__(LlamaCppBackend)  # no GGUF loaded
    backend.llm, backend.model_name = FakeLlama(), "fake"
    assert LlamaCppBackend.supports_seed
    assert [r.text for r in backend.chat_batch([user("a"), user("b")], temperature=0.7, seed=2**32 - 1)] == ["ok"] * 2
    assert seen == [2**32 - 1, 0]  # llama.cpp seeds are 32-bit
    assert [i for i, _ in backend.iter_chat([user("a"), user("b"), user("c")], temperature=0.7, seed=5)] == [0, 1, 2]
    assert seen[2:] == [5, 6, 7]
    backend.chat(user("a"))
    assert seen[-1] is None  # unseeded: llama.cpp's own seed


def test_stop_string_cuts_the_answer(tiny):
    full = tiny.chat(user("hello"), max_tokens=8)
    words = full.text.split()
    assert len(words) >= 3, full.text
    stopped = tiny.chat(user("hello"), max_tokens=8, stop=[words[2]])
    assert full.text.startswith(stopped.text) and words[2] not in stopped.text.split()
    assert stopped.finish_reason == "stop"


def test_score_matches_a_plain_forward_pass(tiny):
    prompt = user("the pitch is")
    conts = ["high", "low and quiet", "very very fast"]
    scores = tiny.score(prompt, conts)
    prompt_ids = tiny.tokenizer(tiny.format_prompt(prompt), add_special_tokens=False)["input_ids"]
    for cont, score in zip(conts, scores, strict=True):
        ids = tiny.tokenizer(cont, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = tiny.model(torch.tensor([prompt_ids + ids])).logits[0]
        logp = torch.log_softmax(logits, -1)
        expected = sum(float(logp[len(prompt_ids) - 1 + i, t]) for i, t in enumerate(ids))
        assert score == pytest.approx(expected, abs=1e-4)
    assert all(s < 0 for s in scores)
    assert tiny.score(prompt, []) == []


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"(?s)cannot load the model 'no-such-org/no-such-model'.*"
                                                 r"--allow-download"):
        get_backend("transformers", model="no-such-org/no-such-model")
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(ModelNotFoundError, match="--backend llamacpp"):
        get_backend("transformers", model=str(gguf))


def test_dtype_choice():
    from spokenemo.llm.transformers_backend import pick_device, pick_dtype

    assert pick_dtype("cpu") == torch.float32
    assert pick_dtype("cpu", cpu_bf16=True) == torch.bfloat16
    assert pick_dtype("cpu", "float16") == torch.float16
    assert pick_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="unknown dtype"):
        pick_dtype("cpu", "float7")


def test_llamacpp_backend_says_how_to_install(monkeypatch):
    import spokenemo.llm.llamacpp_backend as lc
    from spokenemo.core.errors import BackendError

    monkeypatch.setattr(lc, "llama_cpp_available", lambda: False)
    with pytest.raises(BackendError, match="pip install llama-cpp-python"):
        get_backend("llamacpp")


def test_teach_cli_with_a_local_transformers_model(tiny_model_dir, tmp_path):
    """Random weights write no "Emotion:" line: every answer is kept, marked invalid, with the reason."""
    import json

    from click.testing import CliRunner

    from spokenemo.apps.cli import cli
    from spokenemo.data.manifest import Segment, write_manifest

    utts = [Segment(key=f"k{i}", label=["angry", "sad", "happy"][i], text="the voice is loud") for i in range(3)]
    write_manifest(tmp_path / "m.jsonl", utts)
    (tmp_path / "cues.jsonl").write_text(
        "".join(json.dumps({"key": u.key, "cue_text": "Pitch: high. Intensity: strong."}) + "\n" for u in utts))
    out = tmp_path / "cot.jsonl"
    args = ["teach", "--manifest", str(tmp_path / "m.jsonl"), "--cues", str(tmp_path / "cues.jsonl"),
            "--backend", "transformers", "--model", str(tiny_model_dir), "--batch-size", "2", "--max-tokens", "5",
            "--dtype", "float32", "-o", str(out)]
    dry = CliRunner().invoke(cli, args + ["--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "3 requests to send" in dry.output and "prompt tokens ~" not in dry.output  # exact: the tokenizer
    result = CliRunner().invoke(cli, args + ["--no-progress"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["key"] for r in rows] == ["k0", "k1", "k2"]
    for row in rows:
        assert row["backend"] == "transformers" and row["model"] == tiny_model_dir.name
        assert row["raw"] and row["valid"] is False and "cut off at max_tokens" in row["failure"]
        assert row["usage"]["completion_tokens"] <= 5
    assert "invalid: cut off at max_tokens" in result.output
