"""CARE's teacher targets, cached in the feature store.

- ``y_text``: the text teacher's pooled embedding of each transcript (the last layer's mean over
  tokens, as sentence-transformers pools, unnormalised), one ``.npy`` per utterance in an
  :class:`~spokenemo.core.cache.ArrayStore` named by the teacher's fingerprint; the transcript is
  the row's ``source``, so an edited transcript is embedded again.
- ``y_acoustic``: frame targets from a registered speech encoder (``egemaps-lld``: the 25 eGeMAPS
  v02 low-level descriptors at 100 Hz), stored whole per utterance by the ``encoded`` store's
  ``frames`` layout (:class:`~spokenemo.features.encoded.EncodedStore`, resumable, per-segment
  errors), brought to 50 Hz (mean of frame pairs) and z-scored per utterance with ``std + 1``
  (the authors' ``dataset_pase.py``) when read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.cache import ArrayStore, fingerprint
from spokenemo.core.errors import ConfigError
from spokenemo.data.manifest import Segment
from spokenemo.features.encoded import EncodedStore
from spokenemo.models.care.config import CareShapeError
from spokenemo.models.encoders import get_speech_encoder, get_text_encoder

log = logging.getLogger(__name__)
ACOUSTIC_ENCODERS = {"egemaps": "egemaps-lld", "pase": "pase"}


def target_encoder(name: str) -> Any:
    """Lookup for the feature store (module-level, so it travels to worker processes)."""
    return get_speech_encoder(name)


def acoustic_store(folder: Path, encoder_name: str) -> EncodedStore:
    """The frame store of the acoustic teacher (typed error when it is not registered)."""
    try:
        encoder = target_encoder(encoder_name)
    except ConfigError as err:
        raise ConfigError(f"acoustic target encoder {encoder_name!r} is not available ({err.message})",
                          hint="PASE+ is not packaged: register it as a speech encoder named 'pase' (256-d, 100 Hz) "
                               "or use acoustic_target: egemaps") from None
    return EncodedStore(folder, encoder, target_encoder, layout="frames")


def to_50hz(frames: np.ndarray, rate: float) -> np.ndarray:
    """``(T, A)`` frames at ``rate`` -> 50 Hz: the mean of each pair at 100 Hz (an odd last frame is
    dropped); frames already at 50 Hz are returned as they are."""
    if abs(rate - 50.0) < 1e-6:
        return frames
    if abs(rate - 100.0) > 1e-6:
        raise ConfigError(f"acoustic targets at {rate} Hz: only 50 or 100 Hz are supported")
    n = len(frames) // 2 * 2
    return frames[:n].reshape(-1, 2, frames.shape[1]).mean(axis=1)


def normalise_utterance(frames: np.ndarray) -> np.ndarray:
    """Per-utterance z-score with ``std + 1`` in the denominator (the authors' code)."""
    return (frames - frames.mean(axis=0)) / (frames.std(axis=0) + 1.0)


class Targets:
    """Both teachers' targets for a set of utterances (module docstring).

    Parameters
    ----------
    folder : the feature cache (``OUT/targets``).
    text_teacher : a text encoder name (``minilm``, ``mpnet``, ``hf:/path``).
    acoustic_encoder : a speech encoder name (``egemaps-lld``).
    text_dim : the semantic branch's width, which the teacher must match.
    norm : ``utterance`` or ``none``.
    """

    def __init__(self, folder: str | Path, text_teacher: str, acoustic_encoder: str, *, text_dim: int,
                 norm: str = "utterance") -> None:
        self.folder = Path(folder)
        self.text_teacher_name, self.norm = text_teacher, norm
        self.teacher = get_text_encoder(text_teacher)
        if self.teacher.dim != text_dim:
            raise CareShapeError(f"the text teacher {text_teacher!r} gives {self.teacher.dim}-d embeddings, but the "
                                 f"semantic branch is {text_dim}-d", hint="use the graph's own text model as teacher")
        self.text_store = ArrayStore.at(self.folder, "care-text", fingerprint(
            {"teacher": self.teacher.fingerprint(), "pool": "mean"}, version="care-text-1"))
        self.acoustic = acoustic_store(self.folder, acoustic_encoder)
        self.acoustic_rate = float(self.acoustic.encoder.frame_rate)

    def fingerprint(self) -> str:
        return fingerprint({"text": str(self.text_store.folder.name), "acoustic": self.acoustic.fingerprint,
                            "norm": self.norm})

    def compute(self, segments: Sequence[Segment], *, progress: bool = False, batch: int = 64) -> None:
        """Fill both stores for ``segments`` (what is cached is reused)."""
        todo = [u for u in segments if not self.text_store.has(u.key, u.text)]
        for at in range(0, len(todo), batch):
            part = todo[at:at + batch]
            pooled = self.teacher.encode([str(u.text) for u in part]).pooled
            for u, vec in zip(part, pooled, strict=True):
                self.text_store.put(u.key, vec.astype(np.float32), source=u.text)
        if todo:
            log.info("text targets: %d embedded with %s", len(todo), self.text_teacher_name)
        self.acoustic.compute(segments, progress=progress)

    def text(self, segment: Segment) -> np.ndarray | None:
        return self.text_store.get(segment.key, segment.text)

    def frames(self, segment: Segment) -> np.ndarray | None:
        """``(T, A)`` float32 at 50 Hz, normalised; None when the teacher failed on the segment."""
        arr = self.acoustic.get(segment)
        if arr is None:
            return None
        frames = to_50hz(np.asarray(arr[0], dtype=np.float32), self.acoustic_rate)
        return normalise_utterance(frames).astype(np.float32) if self.norm == "utterance" else frames
