"""What MiSTER-E reads per turn before phase 1: a speech vector and a text vector (or the text).

- speech: a speech encoder's pooled layers (the ``encoded`` feature, e.g. Whisper-base),
  eGeMAPSv02 functionals (``egemaps``), or ``random``;
- text: a frozen text encoder's sentence vector (``minilm``, ``mpnet``, ``hf:/folder``; cached in
  ``<experiment>/features/mister-e-text/``), the raw text (``llm``: phase 1 fine-tunes the LM), or
  ``random``.

``random`` streams are seeded Gaussian vectors per *source* segment (a pseudo-conversation turn
reads its source utterance, ``extra["source_key"]``), so they carry no information about the
label: the uninformative modality of the imbalance regimes. Features of pseudo turns are read
from their source segments too, so the feature caches are shared with the single-utterance
systems. A turn without usable input is a :class:`~spokenemo.models.moe.errors.MoeInputError`
naming it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.fileio import atomic_write
from spokenemo.core.lazy import optional_import
from spokenemo.data.manifest import Segment
from spokenemo.models.moe.errors import MoeInputError
from spokenemo.systems import speech_encoders  # noqa: F401 - registers the speech-encoder lookup
from spokenemo.systems.mister_e.config import EGEMAPS, FEATURE_PREFIX, LLM, RANDOM, MisterEConfig

TEXT_CACHE = "mister-e-text"
#: Sentences per text-encoder call.
CHUNK = 256


def source_key(segment: Segment) -> str:
    """The key of the utterance a turn was copied from (itself for a real conversation turn)."""
    return str(segment.extra.get("source_key", segment.key))


def source_segment(segment: Segment) -> Segment:
    """The turn as its source utterance (same audio, the source's key), for the feature caches."""
    key = source_key(segment)
    return segment if key == segment.key else segment.model_copy(update={"key": key})


def random_stream(segments: Sequence[Segment], dim: int, salt: str) -> np.ndarray:
    """``(n, dim)`` standard-normal rows seeded by ``salt`` and each segment's source key."""
    out = np.empty((len(segments), dim))
    for i, u in enumerate(segments):
        seed = int.from_bytes(hashlib.sha256(f"{salt}:{source_key(u)}".encode()).digest()[:8], "little")
        out[i] = np.random.default_rng(seed).standard_normal(dim)
    return out


def _check_rows(X: np.ndarray, segments: Sequence[Segment], what: str) -> np.ndarray:
    bad = [u.key for u, row in zip(segments, X, strict=True) if not np.isfinite(row).all()]
    if bad:
        raise MoeInputError(f"{len(bad)} turn(s) have no usable {what}: {bad[:5]}",
                            hint=f"check the {what} of these segments (audio readable, features computed), "
                                 "or leave their conversations out")
    return X


def feature_matrix(segments: Sequence[Segment], name: str, context: Any, what: str) -> np.ndarray:
    """A registered feature provider's rows for the turns' source segments."""
    X = context.features.matrix(name, [source_segment(u) for u in segments])
    return _check_rows(np.asarray(X, dtype=np.float64), segments, f"{what} ({name})")


def speech_matrix(segments: Sequence[Segment], cfg: MisterEConfig, context: Any) -> np.ndarray:
    """``(n, D)`` float64 speech vectors of ``segments`` (module docstring)."""
    if cfg.speech_input == RANDOM:
        return random_stream(segments, cfg.random_dim, "speech")
    if cfg.speech_input.startswith(FEATURE_PREFIX):
        return feature_matrix(segments, cfg.speech_input[len(FEATURE_PREFIX):], context, "speech features")
    missing = [u.key for u in segments if not u.path]
    if missing:
        raise MoeInputError(f"{len(missing)} turn(s) have no audio: {missing[:5]}",
                            hint="give every turn an audio path, or use speech_input: random")
    src = [source_segment(u) for u in segments]
    if cfg.speech_input == EGEMAPS:
        X = context.features.matrix(EGEMAPS, src)
    else:
        X = context.features.get("encoded").matrix(src, encoder=cfg.speech_input, layers=cfg.speech_layers,
                                                   stats=cfg.speech_pooling)
    return _check_rows(np.asarray(X, dtype=np.float64), segments, f"speech features ({cfg.speech_input})")


def turn_texts(segments: Sequence[Segment]) -> list[str]:
    """The text of every turn; a turn without text is a :class:`MoeInputError`."""
    missing = [u.key for u in segments if not (u.text or "").strip()]
    if missing:
        raise MoeInputError(f"{len(missing)} turn(s) have no text: {missing[:5]}",
                            hint="transcribe them (spokenemo's ASR) or use text_input: random")
    return [str(u.text).strip() for u in segments]


def _text_cache(context: Any, digest: str, cache_dir: Path | None) -> Path | None:
    """The cache file: in ``cache_dir`` when given (shared by runs), else ``<context.out_dir>/features``."""
    folder = cache_dir
    if folder is None and getattr(context, "out_dir", None) is not None:
        folder = Path(context.out_dir) / "features"
    return Path(folder) / TEXT_CACHE / f"{digest}.npz" if folder is not None else None


def text_matrix(segments: Sequence[Segment], cfg: MisterEConfig, context: Any,
                cache_dir: Path | None = None) -> np.ndarray:
    """``(n, D)`` float64 sentence vectors from the frozen text encoder ``cfg.text_input`` (cached)."""
    if cfg.text_input == RANDOM:
        return random_stream(segments, cfg.random_dim, "text")
    if cfg.text_input.startswith(FEATURE_PREFIX):
        return feature_matrix(segments, cfg.text_input[len(FEATURE_PREFIX):], context, "text features")
    if cfg.text_input == LLM:
        raise ValueError("the llm text input is encoded in phase 1, not here")
    texts = turn_texts(segments)
    unique = sorted(set(texts))
    digest = hashlib.sha256("\n".join([cfg.text_input, *unique]).encode()).hexdigest()[:16]
    path = _text_cache(context, digest, cache_dir)
    if path is not None and path.is_file():
        with np.load(path) as data:
            table = data["values"].astype(np.float64)
    else:
        encoders = optional_import("spokenemo.models.encoders", extra="llm", purpose="MiSTER-E text inputs")
        encoder = encoders.get_text_encoder(cfg.text_input)
        # in chunks: the encoder returns every layer's token states of a call (GBs for 10k sentences)
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))  # similar lengths: little padding
        parts = [np.asarray(encoder.embed([unique[i] for i in order[at:at + CHUNK]]), dtype=np.float64)
                 for at in range(0, len(order), CHUNK)]
        table = np.empty((len(unique), parts[0].shape[1]))
        table[order] = np.concatenate(parts)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, mode="wb") as fh:
                np.savez(fh, values=table.astype(np.float32))
    row = {t: i for i, t in enumerate(unique)}
    return _check_rows(table[[row[t] for t in texts]], segments, f"text vectors ({cfg.text_input})")


class Standardiser:
    """Z-scores with the training rows' mean and standard deviation (constant columns: std 1)."""

    def __init__(self, X: np.ndarray) -> None:
        self.mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.std = np.where(std > 1e-8, std, 1.0)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.std).astype(np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_state(cls, mean: np.ndarray, std: np.ndarray) -> Standardiser:
        out = cls.__new__(cls)
        out.mean, out.std = np.asarray(mean), np.asarray(std)
        return out
