"""Text encoders with every hidden state: the packaged sentence encoders and local folders.

``get_text_encoder("minilm")`` (all-MiniLM-L6-v2, 384-d, 7 layers with the embeddings),
``"mpnet"`` (all-mpnet-base-v2, 768-d; the ``mpnet`` extra) or ``"hf:/path"`` (any transformers
encoder or causal LM in a local folder: RoBERTa, BERT, Llama-style models; ``local_files_only``).
:meth:`TextEncoder.encode` returns every layer's token features and a pooled sentence vector
(the last layer's mean over real tokens, as sentence-transformers' mean pooling);
:meth:`TextEncoder.embed` adds the L2 normalisation sentence-transformers applies when the
folder's ``modules.json`` has a ``Normalize`` module, so it reproduces ``SentenceTransformer.encode``.
Sentences are stripped and truncated to ``max_seq_length`` from ``sentence_bert_config.json``
(else the tokenizer's limit, at most 512 tokens). This module needs torch and transformers; light
code reaches it through the registry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers

from spokenemo.core.errors import ModelNotFoundError
from spokenemo.models.encoders.base import TextEncoderOutput, masked_mean
from spokenemo.models.encoders.hf_local import local_model_dir, weights_identity

DEFAULT_MAX_TOKENS = 512


class TextEncoder:
    """A transformers text model from a local folder, every hidden state exposed.

    Parameters
    ----------
    path : the model folder.
    name : registry name (``"minilm"``, ``"hf:/path"``).
    device : torch device.
    batch_size : sentences per forward pass.
    max_length : token limit; default from ``sentence_bert_config.json`` or the tokenizer.
    """

    code_version = "1"

    def __init__(self, path: str | Path, *, name: str | None = None, device: str = "cpu", batch_size: int = 32,
                 max_length: int | None = None) -> None:
        self.name = name or f"hf:{path}"
        self.folder = local_model_dir(path, self.name)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(self.folder), local_files_only=True)
            self.model = transformers.AutoModel.from_pretrained(
                str(self.folder), local_files_only=True, output_hidden_states=True).to(device).eval()
        except (OSError, ValueError, KeyError) as err:
            raise ModelNotFoundError(f"{self.name}: cannot load a tokenizer and model from {self.folder} ({err})",
                                     hint="the folder needs what save_pretrained() writes for both") from err
        if self.tokenizer.pad_token is None:  # causal LMs: pad with EOS (masked out anyway)
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        st = _st_config(self.folder)
        self.max_length = int(max_length or st.get("max_seq_length")
                              or min(self.tokenizer.model_max_length, DEFAULT_MAX_TOKENS))
        self.normalizes = st.get("normalize", False)
        self.dim = int(self.model.config.hidden_size)
        self.n_layers = int(self.model.config.num_hidden_layers) + 1

    def encode(self, sentences: Sequence[str]) -> TextEncoderOutput:
        """Every layer's token features and the pooled vectors of ``sentences``."""
        texts = [str(s).strip() for s in sentences]
        batches = [self._forward(texts[i:i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        if not batches:
            return TextEncoderOutput(np.zeros((self.n_layers, 0, 0, self.dim), np.float32),
                                     np.zeros((0, 0), np.int64), np.zeros((0, self.dim), np.float32))
        width = max(mask.shape[1] for _, mask in batches)
        hidden = np.concatenate([np.pad(h, ((0, 0), (0, 0), (0, width - h.shape[2]), (0, 0))) for h, _ in batches],
                                axis=1)
        mask = np.concatenate([np.pad(m, ((0, 0), (0, width - m.shape[1]))) for _, m in batches], axis=0)
        return TextEncoderOutput(hidden, mask, masked_mean(hidden[-1], mask).astype(np.float32))

    def embed(self, sentences: Sequence[str], *, normalize: bool | None = None) -> np.ndarray:
        """``(n, dim)`` sentence vectors; L2-normalised when ``normalize`` (default: as the
        folder's sentence-transformers modules do)."""
        pooled = self.encode(sentences).pooled
        if self.normalizes if normalize is None else normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled

    def _forward(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(**{k: v.to(self.device) for k, v in batch.items()})
        hidden = torch.stack(list(out.hidden_states)).float().cpu().numpy()
        return hidden, batch["attention_mask"].cpu().numpy().astype(np.int64)

    def fingerprint(self) -> str:
        """Hash of name, weights identity, settings and code version (16 hex digits)."""
        payload = {"name": self.name, "code": self.code_version, "max_length": self.max_length,
                   **weights_identity(self.folder)}
        return _sha(json.dumps(payload, sort_keys=True, default=str))

    def torch_module(self) -> torch.nn.Module:
        return self.model

    def __repr__(self) -> str:
        return f"TextEncoder(name={self.name!r}, n_layers={self.n_layers}, dim={self.dim})"


def _st_config(folder: Path) -> dict[str, Any]:
    """``max_seq_length`` and whether sentence-transformers normalises, from the folder's files."""
    out: dict[str, Any] = {}
    cfg = folder / "sentence_bert_config.json"
    if cfg.is_file():
        out["max_seq_length"] = json.loads(cfg.read_text(encoding="utf-8")).get("max_seq_length")
    modules = folder / "modules.json"
    if modules.is_file():
        types = [m.get("type", "") for m in json.loads(modules.read_text(encoding="utf-8"))]
        out["normalize"] = any(t.endswith("Normalize") for t in types)
    return out


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
