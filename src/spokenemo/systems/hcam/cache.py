"""Frozen stage-I inputs, cached: a speech encoder's layer-summed frames and a text encoder's tokens.

On CPU HCAM's stage I runs on **frozen** encoders, so their outputs are computed once per
utterance and kept in :class:`~spokenemo.core.cache.ArrayStore` folders whose names hold the
encoder's fingerprint:

- speech: ``(n_frames, dim)`` float16, the transformer layers' outputs **summed** per frame
  (thesis 3.2; hidden state 0, the input to the first layer, is left out);
- text: ``(n_tokens, k * dim)`` float16, the last ``k`` (default 4) hidden layers **concatenated**
  per real token.

Speech is keyed by the audio it was cut from (path, start, end), text by the sentence, so the
turns of pseudo-conversations, which are copies of the same clips, share one entry.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.audio import load_audio
from spokenemo.core.cache import ArrayStore
from spokenemo.core.errors import SpokenemoError
from spokenemo.core.lazy import optional_import
from spokenemo.data.manifest import Segment

log = logging.getLogger(__name__)
FLOAT16_MAX = 65504.0
CACHE_VERSION = "hcam-cache-1"


class HcamInputError(SpokenemoError):
    """A turn lacks what an HCAM modality needs (audio or text)."""


def speech_key(segment: Segment) -> str:
    """Cache key of a segment's audio: the path and the span cut from it."""
    if not segment.path:
        raise HcamInputError(f"turn {segment.key!r} has no audio", hint="speech HCAM needs every turn's audio; "
                             "use modality='text', or drop turns without audio from the manifest")
    return f"{Path(segment.path).resolve()}|{segment.start}|{segment.end}"


def text_key(segment: Segment) -> str:
    """Cache key of a segment's text (its SHA-1)."""
    if segment.text is None or not str(segment.text).strip():
        raise HcamInputError(f"turn {segment.key!r} has no text", hint="text HCAM needs every turn's transcript; "
                             "transcribe the audio first (spokenemo.models.asr) or use modality='speech'")
    return "text:" + hashlib.sha1(str(segment.text).strip().encode("utf-8")).hexdigest()


def _f16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)


class FrozenInputs:
    """Cached frozen-encoder inputs of stage I (see the module docstring).

    Parameters
    ----------
    cache_dir : folder holding the stores.
    speech_encoder, text_encoder : registry names (``spokenemo.models.encoders``) or None.
    text_layers : how many of the last hidden layers are concatenated per token.
    device : torch device of the encoders.
    """

    def __init__(self, cache_dir: str | Path, *, speech_encoder: str | None = None, text_encoder: str | None = None,
                 text_layers: int = 4, device: str = "cpu") -> None:
        self.cache_dir = Path(cache_dir)
        self.speech_name, self.text_name = speech_encoder, text_encoder
        self.text_layers = int(text_layers)
        self.device = device
        self._speech: Any = None
        self._text: Any = None
        self._stores: dict[str, ArrayStore] = {}

    # --- encoders and stores --------------------------------------------------------------------
    def _encoders(self) -> Any:
        return optional_import("spokenemo.models.encoders", extra="encoders", purpose="HCAM stage-I inputs")

    def speech_encoder(self) -> Any:
        if self._speech is None:
            self._speech = self._encoders().get_speech_encoder(self.speech_name, device=self.device)
        return self._speech

    def text_encoder(self) -> Any:
        if self._text is None:
            self._text = self._encoders().get_text_encoder(self.text_name, device=self.device)
        return self._text

    def store(self, modality: str) -> ArrayStore:
        if modality not in self._stores:
            if modality == "speech":
                enc = self.speech_encoder()
                name, fp = f"speech-{_slug(self.speech_name)}-layersum", enc.fingerprint()
            else:
                enc = self.text_encoder()
                name, fp = f"text-{_slug(self.text_name)}-last{self.text_layers}", enc.fingerprint()
            digest = hashlib.sha256(f"{CACHE_VERSION}:{fp}".encode()).hexdigest()[:12]
            self._stores[modality] = ArrayStore.at(self.cache_dir, name, digest)
        return self._stores[modality]

    # --- filling --------------------------------------------------------------------------------
    def prepare(self, segments: Sequence[Segment], modality: str, *, batch_size: int = 64) -> int:
        """Compute what is missing for ``segments``; returns how many arrays were computed."""
        if modality == "speech":
            return self._prepare_speech(segments)
        return self._prepare_text(segments, batch_size)

    def _prepare_speech(self, segments: Sequence[Segment]) -> int:
        store, enc, done = self.store("speech"), None, 0
        todo = {speech_key(s): s for s in segments}
        for key, seg in todo.items():
            if store.has(key):
                continue
            enc = enc or self.speech_encoder()
            wave = load_audio(seg.path, start=seg.start, end=seg.end)  # type: ignore[arg-type]
            hidden = enc.encode(wave).hidden_states
            summed = hidden[1:].sum(axis=0) if hidden.shape[0] > 1 else hidden[0]
            store.put(key, _f16(summed))
            done += 1
            if done % 200 == 0:
                log.info("hcam speech cache: %d computed", done)
        return done

    def _prepare_text(self, segments: Sequence[Segment], batch_size: int) -> int:
        store = self.store("text")
        todo: dict[str, str] = {}
        for s in segments:
            key = text_key(s)
            if key not in todo and not store.has(key):
                todo[key] = str(s.text).strip()
        keys = list(todo)
        for i in range(0, len(keys), batch_size):
            part = keys[i:i + batch_size]
            out = self.text_encoder().encode([todo[k] for k in part])
            hidden = out.hidden_states[-self.text_layers:]  # (k, n, t, d)
            for j, key in enumerate(part):
                real = out.attention_mask[j].astype(bool)
                tokens = np.concatenate([h[j][real] for h in hidden], axis=-1)
                store.put(key, _f16(tokens))
        return len(keys)

    # --- reading --------------------------------------------------------------------------------
    def get(self, segment: Segment, modality: str) -> np.ndarray:
        """The cached array of one turn (float32); computed first when missing."""
        key = speech_key(segment) if modality == "speech" else text_key(segment)
        store = self.store(modality)
        arr = store.get(key)
        if arr is None:
            self.prepare([segment], modality)
            arr = store.get(key)
        if arr is None:  # pragma: no cover - prepare either stores or raises
            raise HcamInputError(f"no {modality} features for {segment.key!r}")
        return np.asarray(arr, dtype=np.float32)

    def dim(self, modality: str) -> int:
        if modality == "speech":
            return int(self.speech_encoder().dim)
        return int(self.text_encoder().dim) * self.text_layers


def _slug(name: str | None) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in str(name))[:40]
