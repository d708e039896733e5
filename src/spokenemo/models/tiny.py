"""A tiny random Qwen2 chat model built in memory, for tests, benchmarks and smoke runs.

:func:`tiny_qwen2_tokenizer` trains a small byte-level BPE (Qwen2 pre-tokenizer, ChatML
template with ``<|im_start|>``/``<|im_end|>``) on a few hundred words of emotion, cue and
reasoning text; :func:`make_tiny_model_dir` saves it with a randomly initialised
``Qwen2ForCausalLM`` (hidden size 32, 2 layers) as a normal transformers folder. Nothing is
downloaded; the same seed gives the same weights. The folder can stand in for
``Qwen/Qwen2.5-7B-Instruct`` as ``model.base`` to run the paper's code path in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spokenemo.core.lazy import optional_import

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = [
    "You are an expert in speech emotion recognition. Answer with one emotion label, then explain.",
    "Which emotion does the speaker express? Choose one of: angry, happy, neutral, sad, calm, fearful, "
    "disgust, surprised.",
    "Transcript: Kids are talking by the door. Dogs are sitting by the door.",
    "Pitch: high. Intensity: strong. Speech rate: fast. Articulation rate: slow.",
    "Pitch: low. Intensity: weak. Speech rate: slow. Articulation rate: fast.",
    "Pitch by segment: [0.12, 0.35, 0.80, 1.00, 0.64, 0.22, 0.00].",
    "Intensity by segment: [0.50, 0.41, 0.93, 0.77, 0.30, 0.05, 0.00].",
    "angry<think>The pitch is high and the intensity is strong, which suggests anger.</think>",
    "happy<think>A rising pitch contour and fast speech rate point to happiness.</think>",
    "neutral<think>Flat pitch and moderate intensity: the voice is calm and neutral.</think>",
    "sad<think>Low pitch, weak intensity and a slow rate indicate sadness.</think>",
]


def tiny_qwen2_tokenizer(vocab_size: int = 600) -> Any:
    """A small byte-level BPE wrapped in ``transformers.Qwen2Tokenizer`` with a ChatML template.

    Parameters
    ----------
    vocab_size : int
        Target vocabulary size of the BPE trainer (the result can be smaller).
    """
    tk = optional_import("tokenizers", extra="llm", purpose="the tiny test tokenizer")
    transformers = optional_import("transformers", purpose="the tiny test tokenizer")
    regex = optional_import("transformers.models.qwen2.tokenization_qwen2").PRETOKENIZE_REGEX
    decoders, pre_tokenizers = tk.decoders, tk.pre_tokenizers
    bpe = tk.Tokenizer(tk.models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tk.Regex(regex), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                     initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(_CORPUS * 20, trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tok = transformers.Qwen2Tokenizer(vocab=model["vocab"], merges=merges, eos_token="<|im_end|>",
                                      pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    tok.chat_template = CHATML_TEMPLATE
    return tok


def tiny_qwen2_model(vocab_size: int, *, seed: int = 0, hidden_size: int = 32, layers: int = 2) -> Any:
    """A randomly initialised ``Qwen2ForCausalLM`` (4 heads, 2 key/value heads), seeded."""
    torch = optional_import("torch", purpose="the tiny test model")
    transformers = optional_import("transformers", purpose="the tiny test model")
    config = transformers.Qwen2Config(vocab_size=vocab_size, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, tie_word_embeddings=False,
                         # a wide init lets the output layer reach confident logits, so a few LoRA
                         # steps visibly learn (with 0.02 the logits of a 32-wide model stay near 0)
                         initializer_range=0.5)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = transformers.Qwen2ForCausalLM(config)
    return model.eval()


def make_tiny_model_dir(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny tokenizer + model pair as a transformers folder and return its path."""
    path = Path(path)
    tok = tiny_qwen2_tokenizer()
    model = tiny_qwen2_model(len(tok), seed=seed)
    model.config.eos_token_id = tok.eos_token_id
    model.config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path
