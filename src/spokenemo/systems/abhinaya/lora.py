"""T2 with a causal LM fine-tuned by LoRA: last hidden layer -> ASP -> classifier (thesis.md 5.2).

``lora_base`` names the LM: ``embedded`` (SmolLM2-135M-Instruct, offline), a local folder
(LLaMA-3.1-8B on a GPU) or a tiny random model folder in tests
(:func:`spokenemo.models.tiny.make_tiny_model_dir`). LoRA r 8, alpha 32, dropout 0.1 on every
linear layer (thesis); the base weights stay frozen, the adapter, ASP and classifier train.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from spokenemo.models.causal_lm import LoraSettings, add_lora, load_base_model, load_tokenizer
from spokenemo.models.heads import AttentiveStatsHead

#: The thesis's LoRA settings for T2 and ST1.
THESIS_LORA = LoraSettings(r=8, alpha=32, dropout=0.1, target_modules="all-linear")


class LoraTextClassifier(nn.Module):
    """A causal LM with LoRA, its last hidden layer pooled by ASP, and a classifier."""

    def __init__(self, base: str, n_classes: int, *, hidden: int = 256, dropout: float = 0.1,
                 max_tokens: int = 64) -> None:
        super().__init__()
        self.tokenizer = load_tokenizer(base)
        self.lm = add_lora(load_base_model(base), THESIS_LORA)
        dim = int(self.lm.config.hidden_size)
        self.head = AttentiveStatsHead([(1, dim)], n_classes, hidden=hidden, dropout=dropout)
        self.max_tokens = int(max_tokens)

    def tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_tokens,
                               return_tensors="pt")
        return batch["input_ids"], batch["attention_mask"]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        last = out.hidden_states[-1].float()
        mask = attention_mask.bool()
        return self.head([last[:, None]], [mask])
