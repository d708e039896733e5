"""Token layout of a student example: prompt, ``label<think>``, reasoning, ``</think>``, end of turn.

The same functions serve training and inference, so that the tokens scored at inference are
exactly the tokens trained:

- the prompt is the student template's chat messages passed through the tokenizer's chat
  template with ``add_generation_prompt=True`` and tokenised on its own;
- the *head* ``f"{label}<think>"`` is tokenised as one string; the label span is every head
  token whose character span overlaps the label's characters (from the tokenizer's offsets,
  or from incremental decoding when it has none), so a BPE merge across the ``label<think>``
  boundary puts the merged token into the label span instead of breaking it;
- the reasoning and ``</think>`` follow as separate pieces, then the end-of-turn token(s).

Tokenising the head apart from the reasoning keeps the head's tokens independent of the
reasoning (a Qwen2-style pre-tokenizer would otherwise glue ``>`` to the reasoning's first
word), which is what lets the label be scored at inference with no reasoning in sight.
Without chain of thought the head is the label alone and the end of turn closes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def render_prompt(tokenizer: Any, messages: Sequence[dict[str, str]]) -> str:
    """The prompt text: ``messages`` through the chat template, ending with the assistant turn's start.

    A tokenizer without a chat template (a base model) gets a plain ``role: content`` layout
    ending with ``assistant:``.
    """
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nassistant:"


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` with no special tokens added (the chat template already holds them)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def prompt_ids(tokenizer: Any, messages: Sequence[dict[str, str]]) -> list[int]:
    """Token ids of :func:`render_prompt`."""
    return encode_text(tokenizer, render_prompt(tokenizer, messages))


def end_of_turn_ids(tokenizer: Any) -> list[int]:
    """The token(s) that close an assistant turn in this tokenizer's chat template.

    Found by rendering a one-turn conversation with a sentinel answer and reading what the
    template puts after it (``<|im_end|>`` for ChatML models such as SmolLM2 and Qwen2.5,
    ``<|eot_id|>`` for Llama 3), trailing whitespace dropped. Falls back to the EOS token.
    """
    sentinel = "SPOKENEMO_SENTINEL_ANSWER"
    ids: list[int] = []
    if getattr(tokenizer, "chat_template", None):
        try:
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": "x"}, {"role": "assistant", "content": sentinel}], tokenize=False)
        except Exception:  # a template that refuses this shape: use EOS
            text = ""
        at = text.rfind(sentinel)
        if at >= 0:
            suffix = text[at + len(sentinel):].strip()
            if suffix:
                ids = encode_text(tokenizer, suffix)
    if not ids:
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has neither a chat template end-of-turn marker nor an EOS token")
        ids = [int(tokenizer.eos_token_id)]
    return ids


def char_spans(tokenizer: Any, text: str, ids: Sequence[int] | None = None) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of ``text`` and the character span ``(start, end)`` of each token.

    Uses the offsets of a fast tokenizer; otherwise decodes growing prefixes of the ids, so the
    end of token ``i`` is the length of the decoded text up to it.
    """
    if ids is None and getattr(tokenizer, "is_fast", False):
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return list(enc["input_ids"]), [(int(a), int(b)) for a, b in enc["offset_mapping"]]
    ids = list(ids) if ids is not None else encode_text(tokenizer, text)
    spans, prev = [], 0
    for i in range(len(ids)):
        end = len(tokenizer.decode(ids[: i + 1], skip_special_tokens=False, clean_up_tokenization_spaces=False))
        spans.append((prev, max(prev, end)))
        prev = max(prev, end)
    return ids, spans


def head_text(label: str, cot: bool) -> str:
    """``"angry<think>"`` with chain of thought, ``"angry"`` without."""
    return f"{label}{THINK_OPEN}" if cot else label


def encode_head(tokenizer: Any, label: str, cot: bool, eot: Sequence[int]) -> tuple[list[int], int]:
    """Token ids of the answer's head and how many of them belong to the label span.

    With ``cot`` the head is ``label<think>``; without, it is the label followed by ``eot``
    (the end of turn terminates the label, so a label that is a prefix of another one is
    not favoured). The label span is always a prefix of the head.

    Returns
    -------
    ids : list of int
    n_label : int
        The first ``n_label`` ids are the label span (tokens overlapping ``label``'s characters).
    """
    if not label:
        raise ValueError("empty label")
    text = head_text(label, cot)
    ids, spans = char_spans(tokenizer, text)
    n_label = 0
    for i, (start, end) in enumerate(spans):
        if start < len(label) and end > start:
            n_label = i + 1
        elif start >= len(label):
            break
    if n_label == 0:
        raise ValueError(f"label {label!r} maps to no token of {text!r}")
    if not cot:
        ids = ids + list(eot)
    return ids, n_label
