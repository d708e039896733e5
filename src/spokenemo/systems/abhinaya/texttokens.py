"""Last-layer token states of transcripts from a frozen text encoder, computed once per process.

The T2 stand-in and ST1 read, per transcript, the ``(n_tokens, dim)`` token features of the last
layer of a frozen text encoder (``minilm`` offline). They are computed in chunks the first time a
text is asked for and kept in memory (float16) for every later fold and seed of the process; the
thesis's T2 instead fine-tunes LLaMA-3.1-8B with LoRA (``lora_base`` in :mod:`.config`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spokenemo.models.encoders import get_text_encoder

_ENCODERS: dict[str, object] = {}
_MEMO: dict[tuple[str, str], np.ndarray] = {}
CHUNK = 256


def _encoder(name: str) -> object:
    if name not in _ENCODERS:
        _ENCODERS[name] = get_text_encoder(name)
    return _ENCODERS[name]


def token_states(name: str, texts: Sequence[str | None], max_tokens: int = 64) -> list[np.ndarray | None]:
    """Per text its last-layer token states ``(n_tokens, dim)`` float16 (None for an empty text)."""
    # by length, so each chunk pads little (a quarter of the work on MELD-like text)
    todo = sorted({t.strip() for t in texts if t and t.strip() and (name, t.strip()) not in _MEMO},
                  key=lambda t: (len(t), t))
    if todo:
        encoder = _encoder(name)
        for i in range(0, len(todo), CHUNK):
            chunk = todo[i:i + CHUNK]
            out = encoder.encode(chunk)  # type: ignore[attr-defined]
            last, mask = out.hidden_states[-1], out.attention_mask
            for j, text in enumerate(chunk):
                _MEMO[(name, text)] = last[j, : int(mask[j].sum())].astype(np.float16)
    return [None if not (t and t.strip()) else _MEMO[(name, t.strip())][:max_tokens] for t in texts]


def clear() -> None:
    """Forget the cached states and encoders (tests)."""
    _ENCODERS.clear()
    _MEMO.clear()
