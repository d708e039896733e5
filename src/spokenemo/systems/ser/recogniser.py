"""The shipped recogniser: a frozen speech encoder's pooled layers and two linear heads, one folder.

A :class:`Recogniser` answers "which emotion" for waveforms, with calibrated probabilities:

1. the encoder (``whisper-base`` by default, weights from its package) gives every layer's
   frames; each layer is pooled to its mean and standard deviation over frames and stored as
   float16 (exactly what the ``encoded`` feature store keeps, so training and inference see the
   same numbers), then flattened layer-major;
2. the row is z-scored: with the **speaker's own statistics** when the caller names speakers
   and a speaker has at least ``min_speaker_segments`` clips in the call (then the
   ``speaker`` head, trained on speaker-normalised features, answers), otherwise with the global
   training statistics (the ``global`` head answers). Each answer says which it used;
3. a multinomial logistic regression gives logits, divided by the head's temperature (fitted on
   held-out speakers' predictions) before the softmax.

Folder layout (a few hundred kB)::

    recogniser.json   classes, encoder and its fingerprint, layers, pooling, heads, temperatures,
                      training data and held-out-speaker metrics
    global.npz        mean, std, coef, intercept of the global head
    speaker.npz       the same for the speaker head (mean/std unused: each speaker brings their own)
    README.md         the model card

Training: :mod:`spokenemo.systems.ser.recogniser_fit`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from spokenemo.audio.io import RESAMPLE_QUALITY
from spokenemo.core.errors import ModelNotFoundError, SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.features.encoded.normalise import GLOBAL, SPEAKER, Standardiser
from spokenemo.features.encoded.provider import STATS, select_layers
from spokenemo.features.encoded.store import pool_hidden_states, to_float16
from spokenemo.protocols.calibration import UNCERTAIN_MARGIN, apply_temperature, uncertain_between
from spokenemo.systems.speech_encoders import speech_encoder

FORMAT = 1
META_FILE = "recogniser.json"
HEADS = (GLOBAL, SPEAKER)


@dataclass
class LinearHead:
    """Z-scoring statistics and a softmax-linear layer: ``softmax((z @ coef.T + intercept) / T)``."""

    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    temperature: float = 1.0

    def logits(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(Z, dtype=np.float64) @ self.coef.T + self.intercept

    def probabilities(self, Z: np.ndarray) -> np.ndarray:
        return apply_temperature(self.logits(Z), self.temperature, kind="logits")

    def save(self, path: Path) -> None:
        with atomic_write(path, "wb") as fh:
            np.savez(fh, mean=self.mean, std=self.std, coef=self.coef, intercept=self.intercept)

    @classmethod
    def load(cls, path: Path, temperature: float) -> LinearHead:
        try:
            data = np.load(path)
            return cls(data["mean"], data["std"], data["coef"], data["intercept"], float(temperature))
        except (OSError, KeyError, ValueError) as err:
            raise ModelNotFoundError(f"{path}: not a recogniser head ({err})",
                                     hint="train the recogniser again (spokenemo recogniser-train)") from None


@dataclass(frozen=True)
class Recognition:
    """The answer for one clip.

    Attributes
    ----------
    label : str
        The most probable class.
    probabilities : dict
        Class -> calibrated probability (sums to 1).
    normalisation : str
        ``"speaker"`` (the speaker's own statistics and the speaker head) or ``"global"``.
    uncertain_between : tuple of str or None
        The top two classes when they are closer than the margin.
    """

    label: str
    probabilities: dict[str, float]
    normalisation: str
    uncertain_between: tuple[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "probabilities": self.probabilities, "normalisation": self.normalisation,
                "uncertain_between": list(self.uncertain_between) if self.uncertain_between else None}


@dataclass
class Recogniser:
    """See the module docstring. Build with :meth:`load` (or the fitting module)."""

    classes: list[str]
    heads: dict[str, LinearHead]
    encoder_name: str = "whisper-base"
    layers: str | list[int] = "all"
    pooling: str = "mean+std"
    min_speaker_segments: int = 10
    meta: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None
    _encoder: Any = None

    @property
    def labels(self) -> list[str]:
        return list(self.classes)

    # --- features ---------------------------------------------------------------------------------
    def encoder(self) -> Any:
        """The speech encoder, built on first use (its weights come from its package)."""
        if self._encoder is None:
            self._encoder = speech_encoder(self.encoder_name)
        return self._encoder

    def pooled_row(self, pooled: np.ndarray) -> np.ndarray:
        """A ``(n_layers, 2, dim)`` pooled array as the flat row the heads read."""
        chosen = np.asarray(pooled, dtype=np.float64)[select_layers(pooled.shape[0], self.layers)]
        return chosen[:, list(STATS[self.pooling])].reshape(-1)

    def features(self, signals: Sequence[np.ndarray], sr: int = 16000) -> np.ndarray:
        """Flat pooled rows of ``signals`` (mono float arrays at ``sr``; resampled to 16 kHz)."""
        enc = self.encoder()
        rows = []
        for wave in signals:
            x = np.asarray(wave, dtype=np.float32)
            if sr != enc.sample_rate:
                x = soxr.resample(x, sr, enc.sample_rate, quality=RESAMPLE_QUALITY).astype(np.float32)
            pooled = to_float16(pool_hidden_states(enc.encode(x).hidden_states)).astype(np.float32)
            rows.append(self.pooled_row(pooled))
        return np.stack(rows) if rows else np.zeros((0, 0))

    # --- answers ----------------------------------------------------------------------------------
    def probabilities_from_features(self, X: np.ndarray, speakers: Sequence[str | None] | None = None
                                    ) -> tuple[np.ndarray, list[str]]:
        """``(n, n_classes)`` probabilities of flat rows and per row the normalisation used."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.heads[GLOBAL].mean.shape[0]:
            raise SpokenemoError(f"recogniser: expected rows of {self.heads[GLOBAL].mean.shape[0]} features, "
                                 f"got shape {X.shape}", hint="features must come from the same encoder and layers")
        names = [f"\0anonymous{i}" if s is None else str(s) for i, s in enumerate(speakers or [None] * len(X))]
        if len(names) != len(X):
            raise SpokenemoError(f"recogniser: {len(X)} clips but {len(names)} speakers")
        use_speaker = SPEAKER in self.heads
        rule = Standardiser(self.min_speaker_segments if use_speaker else None, mean=self.heads[GLOBAL].mean,
                            std=self.heads[GLOBAL].std)
        Z, used = rule.transform(X, names)
        probs = np.zeros((len(X), len(self.classes)))
        for how in HEADS:
            rows = [i for i, u in enumerate(used) if u == how]
            if rows:
                probs[rows] = self.heads[how].probabilities(Z[rows])
        return probs, used

    def predict_proba(self, signals: Sequence[np.ndarray], sr: int = 16000,
                      speakers: Sequence[str | None] | None = None) -> np.ndarray:
        """``(n, n_classes)`` calibrated probabilities (columns in :attr:`labels` order)."""
        return self.probabilities_from_features(self.features(signals, sr), speakers)[0]

    def recognise(self, signals: Sequence[np.ndarray], sr: int = 16000, speakers: Sequence[str | None] | None = None,
                  *, margin: float = UNCERTAIN_MARGIN) -> list[Recognition]:
        """One :class:`Recognition` per signal."""
        probs, used = self.probabilities_from_features(self.features(signals, sr), speakers)
        return [self.answer(p, how, margin=margin) for p, how in zip(probs, used, strict=True)]

    def answer(self, probs: np.ndarray, normalisation: str, *, margin: float = UNCERTAIN_MARGIN) -> Recognition:
        table = {c: round(float(p), 4) for c, p in zip(self.classes, probs, strict=True)}
        return Recognition(self.classes[int(np.argmax(probs))], table, normalisation,
                           uncertain_between(table, margin))

    # --- folder -----------------------------------------------------------------------------------
    def save(self, folder: str | Path, card: str | None = None) -> Path:
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        for how, head in self.heads.items():
            head.save(out / f"{how}.npz")
        meta = {**self.meta, "format": FORMAT, "classes": self.classes, "encoder": self.encoder_name,
                "layers": self.layers, "pooling": self.pooling, "min_speaker_segments": self.min_speaker_segments,
                "heads": {how: {"temperature": h.temperature} for how, h in self.heads.items()}}
        with atomic_write(out / META_FILE) as fh:
            json.dump(meta, fh, indent=1)
            fh.write("\n")
        if card is not None:
            with atomic_write(out / "README.md") as fh:
                fh.write(card)
        return out

    @classmethod
    def load(cls, folder: str | Path) -> Recogniser:
        """Read a recogniser folder; a :class:`ModelNotFoundError` naming the fix when it is not one."""
        root = Path(folder)
        meta = read_meta(root)
        heads = {how: LinearHead.load(root / f"{how}.npz", spec.get("temperature", 1.0))
                 for how, spec in meta["heads"].items()}
        if GLOBAL not in heads:
            raise ModelNotFoundError(f"{root}: the recogniser has no global head", hint="train it again")
        return cls(list(meta["classes"]), heads, meta.get("encoder", "whisper-base"), meta.get("layers", "all"),
                   meta.get("pooling", "mean+std"), int(meta.get("min_speaker_segments", 10)), meta, root)


def read_meta(folder: Path) -> dict[str, Any]:
    """``recogniser.json`` of ``folder``, checked."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"{folder}: no {META_FILE} here, so it is not a recogniser folder",
                                 hint="give the folder written by `spokenemo recogniser-train`, or leave the "
                                      "option out for the shipped default")
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ModelNotFoundError(f"{path}: unreadable ({err})", hint="train the recogniser again") from None
    if not isinstance(meta, Mapping) or meta.get("format") != FORMAT or "classes" not in meta or "heads" not in meta:
        raise ModelNotFoundError(f"{path}: not a format-{FORMAT} recogniser description",
                                 hint="train the recogniser again with this version of spokenemo")
    return dict(meta)


def is_recogniser_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a recogniser (``recogniser.json``)."""
    return (Path(folder) / META_FILE).is_file()
