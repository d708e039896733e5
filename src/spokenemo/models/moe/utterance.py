"""Phase-1 utterance encoders of MiSTER-E (thesis Eqs. 4.9-4.10, Fig. 4.4a).

- :class:`UtteranceHead`: the 2-layer FC classifier the thesis puts on every encoder. Its first
  layer's output (after ReLU) is the utterance embedding ``e`` phase 2 reads. On its own it is
  the small CPU configuration's encoder: a head on *frozen* embeddings (MiniLM / mpnet sentences,
  Whisper-base pooled layers, eGeMAPS functionals), the thesis's "without LLM/SLLM" variant.
- :class:`LlmUtteranceEncoder`: a causal LM used as an encoder: its last layer's token states,
  mean-pooled over real tokens **(ours)**, feed an :class:`UtteranceHead` (hidden 2048); the LM is
  adapted with LoRA (thesis r 8, alpha 32, dropout 0.1). Offline default: the bundled
  SmolLM2-135M-Instruct; on a GPU LLaMA-3.1-8B or Qwen2.5-7B from a local folder, same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from spokenemo.models.causal_lm import EMBEDDED, LoraSettings, add_lora, load_base_model, load_tokenizer

#: LoRA of the thesis's encoders (r 8, alpha 32, dropout 0.1, every linear layer).
THESIS_LORA = LoraSettings(r=8, alpha=32, dropout=0.1, target_modules="all-linear")


class UtteranceHead(nn.Module):
    """``x -> e = ReLU(FC1(x)) -> FC2(dropout(e))``; returns ``(e, logits)``.

    Parameters
    ----------
    dim_in, n_classes : int
    hidden : int
        Embedding size (thesis 2048).
    dropout : float
    """

    def __init__(self, dim_in: int, n_classes: int, *, hidden: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim_in, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_classes)
        self.out_dim = hidden

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = torch.relu(self.fc1(x))
        return e, self.fc2(self.drop(e))


def masked_token_mean(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``states`` (B, L, D) over the tokens where ``attention_mask`` (B, L) is 1."""
    m = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


def backbone_of(lm: Any) -> Any:
    """The transformer body of a (peft-wrapped) causal LM, without the LM head (LoRA layers kept)."""
    model = lm.get_base_model() if hasattr(lm, "get_base_model") else lm
    return model.base_model


class LlmUtteranceEncoder(nn.Module):
    """Causal LM (+ LoRA) -> mean pooling -> :class:`UtteranceHead` (see the module docstring).

    Parameters
    ----------
    lm : transformers causal LM, usually wrapped by peft (:func:`from_base` builds one)
    n_classes : int
    hidden : int
        Head hidden size = embedding size (thesis 2048).
    dropout : float
    tokenizer : optional
        Kept for :meth:`tokenize`.
    """

    def __init__(self, lm: Any, n_classes: int, *, hidden: int = 2048, dropout: float = 0.1,
                 tokenizer: Any = None) -> None:
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer
        self.head = UtteranceHead(int(lm.config.hidden_size), n_classes, hidden=hidden, dropout=dropout)

    @classmethod
    def from_base(cls, n_classes: int, base: str = EMBEDDED, *, lora: LoraSettings | None = THESIS_LORA,
                  hidden: int = 2048, dropout: float = 0.1, device: Any = "cpu") -> LlmUtteranceEncoder:
        """Load ``base`` (``"embedded"``, a local folder or a cached hub name) and add LoRA."""
        lm = load_base_model(base, device=device)
        if lora is not None:
            lm = add_lora(lm, lora)
        return cls(lm, n_classes, hidden=hidden, dropout=dropout, tokenizer=load_tokenizer(base)).to(device)

    def tokenize(self, texts: Sequence[str], max_length: int = 128) -> dict[str, torch.Tensor]:
        """Token ids and attention mask of ``texts`` (padded, truncated to ``max_length``)."""
        if self.tokenizer is None:
            raise ValueError("this encoder was built without a tokenizer; pass tokenizer=")
        enc = self.tokenizer([t or " " for t in texts], return_tensors="pt", padding=True, truncation=True,
                             max_length=max_length)
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The last layer's token states averaged over real tokens (B, hidden_size)."""
        out = backbone_of(self.lm)(input_ids=input_ids, attention_mask=attention_mask)
        return masked_token_mean(out.last_hidden_state, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(e, logits)``: the utterance embedding (B, hidden) and class logits (B, C)."""
        return self.head(self.pooled(input_ids, attention_mask))
