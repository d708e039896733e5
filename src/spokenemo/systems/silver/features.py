"""Frozen text features for the downstream head: every layer's mean over real tokens, cached.

:func:`layer_means` runs a :class:`~spokenemo.models.encoders.text.TextEncoder` over sentences
sorted by length (little padding), ``(n, n_layers, dim)`` float32. :class:`FeatureCache` keeps them
per encoder fingerprint in ``<experiment>/features/silver-text/`` as one ``.npz`` of keys and
float16 arrays, so every seed and system row of an experiment reads them once; texts are part of
the file's name hash, so edited transcripts are encoded again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.fileio import atomic_write

FEATURE_DIR = "silver-text"


def layer_means(encoder: Any, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """``(n, n_layers, dim)``: the mean over real tokens of every layer (an empty text: zeros)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), encoder.n_layers, encoder.dim), dtype=np.float32)
    for at in range(0, len(order), batch_size):
        rows = order[at:at + batch_size]
        enc = encoder.encode([texts[i] or "" for i in rows])
        mask = enc.attention_mask.astype(np.float32)  # (n, t)
        summed = np.einsum("lntd,nt->nld", enc.hidden_states, mask)
        out[rows] = summed / np.maximum(mask.sum(axis=1), 1.0)[:, None, None]
    return out


class FeatureCache:
    """Layer means by segment key for one encoder, on disk under ``folder``."""

    def __init__(self, folder: str | Path, encoder_fingerprint: str) -> None:
        self.folder = Path(folder) / FEATURE_DIR
        self.fingerprint = encoder_fingerprint
        self.rows: dict[str, int] = {}
        self.values: np.ndarray | None = None

    def _path(self, keys: Sequence[str], texts: Sequence[str]) -> Path:
        digest = hashlib.sha256("\n".join(f"{k}\t{t}" for k, t in zip(keys, texts, strict=True)).encode())
        return self.folder / f"{self.fingerprint}-{digest.hexdigest()[:12]}.npz"

    def load_or_compute(self, keys: Sequence[str], texts: Sequence[str], encoder_fn: Any,
                        batch_size: int = 64) -> np.ndarray:
        """The features of ``keys`` (computed with ``encoder_fn()`` only when not on disk)."""
        path = self._path(keys, texts)
        if path.is_file():
            with np.load(path) as data:
                values = data["values"].astype(np.float32)
        else:
            values = layer_means(encoder_fn(), texts, batch_size)
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, mode="wb") as fh:
                np.savez(fh, keys=np.array(list(keys)), values=values.astype(np.float16))
        self.rows = {k: i for i, k in enumerate(keys)}
        self.values = values
        return values

    def take(self, keys: Sequence[str]) -> np.ndarray:
        """Rows of ``keys`` (all must be in the cache)."""
        assert self.values is not None
        return self.values[[self.rows[k] for k in keys]]
