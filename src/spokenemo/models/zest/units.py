"""Discrete content units: k-means (K = 100) on frame features, de-duplication and durations.

The thesis tokenises soft-HuBERT frames (50 Hz) with k-means fitted on a random 10 % of the training
data (Eq. context of Fig. 5.1). Offline, the frames are one Whisper-base encoder layer (also 50 Hz),
chosen by :func:`unit_quality`, optionally normalised per utterance (mean and std over its frames),
which removes much of the speaker and channel from the frames before clustering **(ours)**.

>>> dedup(np.array([1, 1, 1, 41, 41, 1, 1, 5, 5, 5, 5, 5]))
(array([ 1, 41,  1,  5]), array([3, 2, 2, 5]))
>>> duplicate(np.array([1, 41]), np.array([2, 1])).tolist()
[1, 1, 41]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.cluster import MiniBatchKMeans

from spokenemo.core.errors import ConfigError, SpokenemoError

NORMALISATIONS = ("utterance", "none")


class NoUnitsError(SpokenemoError):
    """An input gave no content unit (too short for one encoder frame)."""


def dedup(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal units and their lengths: ``1,1,1,41,41`` -> ``(1,41), (3,2)``."""
    units = np.asarray(units)
    if units.size == 0:
        return units.astype(np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]])
    lengths = np.diff(np.r_[starts, units.size])
    return units[starts].astype(np.int64), lengths.astype(np.int64)


def duplicate(runs: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """Inverse of :func:`dedup`: each run repeated its duration (durations below 0 count as 0)."""
    durations = np.maximum(np.asarray(durations, np.int64), 0)
    if len(runs) != len(durations):
        raise ValueError(f"{len(runs)} runs but {len(durations)} durations")
    return np.repeat(np.asarray(runs, np.int64), durations)


def normalise_frames(frames: np.ndarray, how: str) -> np.ndarray:
    """Frames ``(T, D)`` normalised per utterance (``"utterance"``) or unchanged (``"none"``)."""
    frames = np.asarray(frames, np.float32)
    if how == "none":
        return frames
    if how != "utterance":
        raise ConfigError(f"unit normalisation must be one of {NORMALISATIONS}, got {how!r}")
    return (frames - frames.mean(axis=0)) / (frames.std(axis=0) + 1e-5)


@dataclass
class UnitTokenizer:
    """k-means centres over normalised frames of one encoder layer.

    Attributes
    ----------
    centers : array (K, D)
    layer : int
        Encoder layer the frames come from (0 = the input to the first layer).
    encoder : str
        Encoder name (``"whisper-base"``).
    normalise : {"utterance", "none"}
    """

    centers: np.ndarray
    layer: int
    encoder: str = "whisper-base"
    normalise: str = "utterance"

    @property
    def k(self) -> int:
        return int(self.centers.shape[0])

    @classmethod
    def fit(cls, frames: Sequence[np.ndarray], *, k: int = 100, layer: int, encoder: str = "whisper-base",
            normalise: str = "utterance", fraction: float = 0.1, seed: int = 0) -> UnitTokenizer:
        """Fit k-means on a random ``fraction`` of all frames (at least ``20 k`` frames when there are)."""
        stacked = np.concatenate([normalise_frames(f, normalise) for f in frames if len(f)], axis=0)
        if stacked.shape[0] < k:
            raise ConfigError(f"k-means with K={k} needs at least {k} frames, got {stacked.shape[0]}",
                              hint="give more training utterances or a smaller K")
        rng = np.random.default_rng(seed)
        n = min(stacked.shape[0], max(int(fraction * stacked.shape[0]), 20 * k))
        sample = stacked[rng.choice(stacked.shape[0], size=n, replace=False)]
        km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=2048).fit(sample)
        return cls(km.cluster_centers_.astype(np.float32), layer, encoder, normalise)

    def tokenize(self, frames: np.ndarray) -> np.ndarray:
        """Nearest centre per frame, ``(T,)`` int64."""
        x = normalise_frames(frames, self.normalise)
        if x.shape[0] == 0:
            raise NoUnitsError("no encoder frame to tokenise", hint="give at least 0.04 s of speech")
        d = (x ** 2).sum(1, keepdims=True) - 2 * x @ self.centers.T + (self.centers ** 2).sum(1)
        return d.argmin(axis=1).astype(np.int64)

    def save(self, path: str | Path) -> None:
        np.savez(path, centers=self.centers, layer=self.layer, encoder=self.encoder, normalise=self.normalise)

    @classmethod
    def load(cls, path: str | Path) -> UnitTokenizer:
        with np.load(path) as z:
            return cls(z["centers"].astype(np.float32), int(z["layer"]), str(z["encoder"]), str(z["normalise"]))


def _histograms(units: Sequence[np.ndarray], k: int) -> np.ndarray:
    """L2-normed bigram histograms of the de-duplicated unit sequences."""
    out = np.zeros((len(units), k * k), np.float32)
    for i, u in enumerate(units):
        runs, _ = dedup(u)
        np.add.at(out[i], runs[:-1] * k + runs[1:], 1.0)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _nn_accuracy(sim: np.ndarray, target: np.ndarray, allowed: np.ndarray) -> float:
    """How often the most similar allowed other item has the same ``target``."""
    hits = []
    for i in range(sim.shape[0]):
        cand = np.flatnonzero(allowed[i])
        if cand.size:
            hits.append(target[cand[np.argmax(sim[i, cand])]] == target[i])
    return float(np.mean(hits)) if hits else float("nan")


def unit_quality(units: Sequence[np.ndarray], sentences: Sequence[str], speakers: Sequence[str], k: int) -> dict:
    """How well unit sequences carry the words and not the voice.

    ``content``: 1-nearest-neighbour accuracy of the sentence among *other speakers'* utterances
    (cosine of unit-bigram histograms); ``speaker_leak``: 1-NN accuracy of the speaker among utterances
    of *other sentences*; ``score = content - speaker_leak``; ``run_frames``: mean run length.
    """
    sent = np.asarray(sentences)
    spk = np.asarray(speakers)
    h = _histograms(units, k)
    sim = h @ h.T
    np.fill_diagonal(sim, -np.inf)
    content = _nn_accuracy(sim, sent, spk[:, None] != spk[None, :])
    leak = _nn_accuracy(sim, spk, sent[:, None] != sent[None, :])
    runs = np.mean([dedup(u)[1].mean() for u in units if len(u)])
    return {"content": content, "speaker_leak": leak, "score": content - leak, "run_frames": float(runs),
            "chance_speaker": 1.0 / max(len(set(speakers)), 1)}
