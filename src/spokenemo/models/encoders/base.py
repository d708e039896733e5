"""The speech-encoder interface: waveform in, every layer's frame features out.

An encoder turns a mono float32 waveform (16 kHz) into :class:`EncoderOutput`: a stack of
per-layer frame features ``(n_layers, n_frames, dim)`` and their frame rate. Index 0 is the input
to the first transformer layer (front end + positions), index ``L`` layer ``L``'s output (the last
one after the final layer norm, as CTranslate2's ``encode`` returns it). Feature-only "encoders"
(log-mel, eGeMAPS low-level descriptors) have one layer.

Inputs longer than :attr:`SpeechEncoder.max_seconds` are cut into consecutive chunks inside
:meth:`SpeechEncoder.encode` and the chunks' frames concatenated; a clip shorter than one
analysis window raises :class:`~spokenemo.core.errors.AudioTooShortError`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import AudioTooShortError, InvalidSamplesError

#: Name used for in-memory waveforms in error messages (they have no path).
WAVEFORM = "<waveform>"


@dataclass(frozen=True)
class EncoderOutput:
    """Per-layer frame features of one clip.

    Attributes
    ----------
    hidden_states : np.ndarray
        float32, ``(n_layers, n_frames, dim)``; index 0 = the input to the first layer,
        index ``L`` = layer ``L``'s output.
    frame_rate : float
        Frames per second of ``hidden_states`` (Whisper: 50.0).
    """

    hidden_states: np.ndarray
    frame_rate: float

    @property
    def n_layers(self) -> int:
        return int(self.hidden_states.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.hidden_states.shape[1])

    def layer(self, index: int) -> np.ndarray:
        """``(n_frames, dim)`` features of one layer (negative indices count from the last)."""
        return self.hidden_states[index]


class SpeechEncoder(ABC):
    """Base class of every speech encoder (see the module docstring).

    Subclasses set ``name``, ``dim``, ``n_layers``, ``frame_rate``, ``max_seconds`` and
    ``min_samples`` and implement :meth:`_encode_chunk` (one chunk no longer than
    ``max_seconds``) and :meth:`_identity` (what :meth:`fingerprint` hashes).
    """

    name: str = ""
    sample_rate: int = 16000
    dim: int = 0
    n_layers: int = 0
    frame_rate: float = 0.0
    #: Longest input one pass takes; longer input is chunked inside :meth:`encode`.
    max_seconds: float | None = None
    #: Shortest input that gives one frame (one analysis window).
    min_samples: int = 1
    #: Bump when the numbers an encoder computes change (part of :meth:`fingerprint`).
    code_version: str = "1"

    @abstractmethod
    def _encode_chunk(self, wave: np.ndarray) -> np.ndarray:
        """``(n_layers, n_frames, dim)`` float32 for a checked chunk of at most ``max_seconds``."""

    @abstractmethod
    def _identity(self) -> dict[str, Any]:
        """Weights identity and settings (JSON-serialisable) for :meth:`fingerprint`."""

    def fingerprint(self) -> str:
        """Hash of name, weights identity, settings and code version (16 hex digits)."""
        payload = {"name": self.name, "code": self.code_version, "class": type(self).__name__,
                   **self._identity()}
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def encode(self, wave: np.ndarray) -> EncoderOutput:
        """Every layer's frames for one mono waveform at :attr:`sample_rate`.

        Raises
        ------
        AudioTooShortError
            Fewer samples than one analysis window (:attr:`min_samples`).
        InvalidSamplesError
            Not a 1-D array of finite samples.
        """
        wave = check_wave(wave, self.min_samples, self.sample_rate)
        parts = [self._encode_chunk(chunk) for chunk in self.chunks(wave)]
        hidden = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return EncoderOutput(np.ascontiguousarray(hidden, dtype=np.float32), float(self.frame_rate))

    def encode_batch(self, waves: Sequence[np.ndarray]) -> list[EncoderOutput]:
        """:meth:`encode` for each waveform (subclasses may batch)."""
        return [self.encode(w) for w in waves]

    def chunks(self, wave: np.ndarray) -> Iterable[np.ndarray]:
        """Consecutive pieces of at most ``max_seconds``; a last piece shorter than one window
        (:attr:`min_samples`) would give no frame and is dropped."""
        if self.max_seconds is None:
            return [wave]
        step = int(round(self.max_seconds * self.sample_rate))
        pieces = [wave[i:i + step] for i in range(0, len(wave), step)]
        if len(pieces) > 1 and len(pieces[-1]) < self.min_samples:
            pieces.pop()
        return pieces

    def torch_module(self) -> Any:
        """The trainable ``torch.nn.Module`` behind the encoder, or None (feature encoders)."""
        return None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, n_layers={self.n_layers}, dim={self.dim}, "
                f"frame_rate={self.frame_rate})")


def check_wave(wave: np.ndarray, min_samples: int, sample_rate: int, *, what: str = WAVEFORM) -> np.ndarray:
    """``wave`` as a 1-D float32 array, or a typed error naming its length and the minimum."""
    x = np.asarray(wave)
    if x.ndim != 1:
        raise InvalidSamplesError(what, f"expected a mono 1-D waveform, got shape {x.shape}",
                                  hint="mix down to mono first (spokenemo.audio.load_audio does)")
    x = x.astype(np.float32, copy=False)
    if len(x) < min_samples:
        raise AudioTooShortError(
            what, f"{len(x)} samples ({len(x) / sample_rate * 1000:.1f} ms) is shorter than one frame "
                  f"of the encoder ({min_samples} samples, {min_samples / sample_rate * 1000:.1f} ms)",
            hint="give a longer clip")
    if not np.isfinite(x).all():
        raise InvalidSamplesError(what, "the waveform has NaN or Inf samples",
                                  hint="load it with spokenemo.audio.load_audio, which repairs or rejects them")
    return x


def file_identity(path: str | Path) -> dict[str, Any]:
    """Identity of a weights file: its name, size and content sha256 (hashed once per process)."""
    p = Path(path).resolve()
    st = p.stat()
    return {"file": p.name, "size": st.st_size, "sha256": _sha256(str(p), st.st_size, st.st_mtime_ns)}


@functools.lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class TextEncoderOutput:
    """Every layer's token features of a batch of sentences, padded to the longest.

    Attributes
    ----------
    hidden_states : np.ndarray
        float32 ``(n_layers, n_sentences, n_tokens, dim)``; index 0 = the embeddings.
    attention_mask : np.ndarray
        int64 ``(n_sentences, n_tokens)``, 1 on real tokens, 0 on padding.
    pooled : np.ndarray
        float32 ``(n_sentences, dim)``: the last layer's mean over real tokens (sentence-transformers'
        mean pooling, before any normalisation).
    """

    hidden_states: np.ndarray
    attention_mask: np.ndarray
    pooled: np.ndarray

    @property
    def n_layers(self) -> int:
        return int(self.hidden_states.shape[0])


def masked_mean(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over real tokens: ``tokens`` ``(..., n, t, d)``, ``mask`` ``(n, t)`` -> ``(..., n, d)``."""
    m = mask.astype(np.float32)[..., None]
    return (tokens * m).sum(axis=-2) / np.maximum(m.sum(axis=-2), 1e-9)
