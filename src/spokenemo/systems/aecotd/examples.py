"""Training examples of the student: token ids with a per-token loss weight.

An example is ``prompt | label<think> | reasoning | </think> | end-of-turn`` (see
:mod:`spokenemo.systems.aecotd.tokens`) with weights

- ``label_weight`` (1.0) on the label span,
- ``other_weight`` (0.01) on every other target token (``<think>``, reasoning, ``</think>``,
  end of turn),
- 0 on the prompt and on padding.

Without chain of thought (``cot=False``) the target is ``label | end-of-turn``. When an
utterance has no reasoning (no teacher output), the target keeps the chain-of-thought layout
with an empty reasoning, ``label<think></think>``, so the label is still followed by the
same ``<think>`` that inference scores; the tokens after ``<think>`` then get weight 0: such
an example teaches the label, not an empty explanation (otherwise a cache that covers few
utterances teaches the student to close ``<think>`` at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from spokenemo.systems.aecotd.tokens import THINK_CLOSE, encode_head, encode_text, prompt_ids


@dataclass(frozen=True)
class Example:
    """One tokenised training example.

    Attributes
    ----------
    key : str
        Segment key.
    input_ids : tuple of int
    weights : tuple of float
        Loss weight of each token (aligned with ``input_ids``).
    label_mask : tuple of bool
        True on the label span.
    prompt_len : int
        Number of prompt tokens (weight 0).
    label : str
    reasoning_tokens : int
        Reasoning tokens kept (0 for label-only targets).
    truncated : bool
        Whether the reasoning was cut to fit ``max_length`` or ``max_reasoning_tokens``.
    """

    key: str
    input_ids: tuple[int, ...]
    weights: tuple[float, ...]
    label_mask: tuple[bool, ...]
    prompt_len: int
    label: str
    reasoning_tokens: int = 0
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass(frozen=True)
class WeightScheme:
    """Loss weights of the target tokens (prompt and padding are always 0)."""

    label: float = 1.0
    other: float = 0.01

    @classmethod
    def uniform(cls) -> WeightScheme:
        """Plain cross-entropy over the whole target (the "without emotion loss" ablation)."""
        return cls(1.0, 1.0)


@dataclass
class EncodeStats:
    """What happened while encoding a set of examples (reported with the model)."""

    encoded: int = 0
    too_long: list[str] = field(default_factory=list)
    truncated: int = 0
    label_only: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"encoded": self.encoded, "too_long": len(self.too_long), "too_long_keys": self.too_long[:20],
                "truncated": self.truncated, "label_only": self.label_only}


def encode_example(tokenizer: Any, messages: Sequence[dict[str, str]], label: str, reasoning: str | None, *,
                   key: str = "", cot: bool = True, weights: WeightScheme = WeightScheme(),
                   eot: Sequence[int], max_length: int | None = None,
                   max_reasoning_tokens: int | None = None) -> Example | None:
    """Tokenise one example and weight its tokens.

    Parameters
    ----------
    tokenizer : transformers tokenizer
    messages : list of dict
        The student prompt as chat messages (no label in it).
    label : str
        The emotion label (the first thing the student writes).
    reasoning : str or None
        The teacher's chain of thought; ``None`` or empty gives an empty ``<think></think>``
        (with ``cot=True``). Ignored when ``cot`` is False.
    key : str
        Segment key, kept on the example.
    cot : bool
        Target ``label<think>reasoning</think>`` (True) or ``label`` (False).
    weights : WeightScheme
        Label and other-token weights.
    eot : sequence of int
        End-of-turn ids (:func:`~spokenemo.systems.aecotd.tokens.end_of_turn_ids`).
    max_length : int, optional
        Bound on the total length; reasoning tokens are dropped from the end to fit.
    max_reasoning_tokens : int, optional
        Keep at most this many reasoning tokens.

    Returns
    -------
    Example, or None when the prompt, label and closing tokens alone exceed ``max_length``.
    """
    prompt = prompt_ids(tokenizer, messages)
    head, n_label = encode_head(tokenizer, label, cot, eot)
    reasoning_ids: list[int] = []
    tail: list[int] = []
    truncated = False
    if cot:
        text = (reasoning or "").strip()
        reasoning_ids = encode_text(tokenizer, text) if text else []
        if max_reasoning_tokens is not None and len(reasoning_ids) > max_reasoning_tokens:
            reasoning_ids, truncated = reasoning_ids[:max_reasoning_tokens], True
        tail = encode_text(tokenizer, THINK_CLOSE) + list(eot)
    fixed = len(prompt) + len(head) + len(tail)
    if max_length is not None:
        if fixed > max_length:
            return None
        room = max_length - fixed
        if len(reasoning_ids) > room:
            reasoning_ids, truncated = reasoning_ids[:room], True
    target = head + reasoning_ids + tail
    ids = prompt + target
    w = [0.0] * len(prompt) + [weights.label] * n_label + [weights.other] * (len(target) - n_label)
    if cot and not reasoning_ids:  # no explanation to learn: train the head only
        w[len(prompt) + len(head):] = [0.0] * len(tail)
    mask = [False] * len(prompt) + [True] * n_label + [False] * (len(target) - n_label)
    return Example(key=key, input_ids=tuple(ids), weights=tuple(w), label_mask=tuple(mask),
                   prompt_len=len(prompt), label=label, reasoning_tokens=len(reasoning_ids), truncated=truncated)


def collate(examples: Sequence[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch: ``input_ids``, ``attention_mask``, ``weights`` (0 on padding), ``label_mask``."""
    if not examples:
        raise ValueError("empty batch")
    n = max(len(e) for e in examples)
    ids = torch.full((len(examples), n), pad_id, dtype=torch.long)
    att = torch.zeros((len(examples), n), dtype=torch.long)
    w = torch.zeros((len(examples), n), dtype=torch.float32)
    lm = torch.zeros((len(examples), n), dtype=torch.bool)
    for i, e in enumerate(examples):
        k = len(e)
        ids[i, :k] = torch.tensor(e.input_ids)
        att[i, :k] = 1
        w[i, :k] = torch.tensor(e.weights)
        lm[i, :k] = torch.tensor(e.label_mask)
    return {"input_ids": ids, "attention_mask": att, "weights": w, "label_mask": lm}
