"""Speaker turns in a recording: Resemblyzer d-vectors of its speech segments, clustered.

**Embeddings.** :class:`SpeakerEncoder` runs the GE2E voice encoder shipped in the ``resemblyzer``
wheel (3-layer LSTM over 40 log-mel bands, 256-d L2-normed d-vectors; ``pip install
'spokenemo[speakers]'``). A segment is cut into 1.6 s partials at 1.3 partials per second, as
``VoiceEncoder.embed_utterance`` does, after Resemblyzer's volume normalisation (-30 dBFS, raise
only); the partials of many segments go through the network in one batch, and a segment's d-vector
is the L2-normed mean of its partials. Resemblyzer's own silence trimming (webrtcvad) is not used:
the segments come from the VAD already. (The ``webrtcvad`` 2.0.10 module imports ``pkg_resources``,
which current setuptools no longer has; it is only used by that trimming, so when it cannot be
imported a placeholder module stands in for it.)

**Clustering.** :func:`cluster_speakers` groups the L2-normed d-vectors by Ward agglomerative
clustering (average linkage on cosine distance split a two-speaker recording into one big cluster
and a few outliers: speaker purity 0.53 against 0.99 with Ward on held-out RAVDESS speakers).
With ``n_speakers`` given it makes that many clusters; otherwise it tries 2 to ``max_speakers``
clusters, keeps the counts whose cluster centroids are all less cosine-similar than
:data:`SAME_SPEAKER` (distinct voices), and takes the one with the best (cosine) silhouette among
them; one speaker when no count qualifies. When ``n_speakers`` is given but the estimate finds
fewer voices, a :class:`SpeakerCountWarning` is issued (or, with ``strict=True``, a
:class:`SpeakerCountError` raised): e.g. two speakers asked of a one-speaker recording. Speakers
are named ``S1``, ``S2``, ... in order of first appearance.
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import silhouette_score

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.lazy import optional_import

__all__ = ["SAME_SPEAKER", "SpeakerClusters", "SpeakerCountError", "SpeakerCountWarning", "SpeakerEncoder",
           "cluster_speakers"]

#: Two clusters whose centroid d-vectors are at least this cosine-similar are one voice. Measured with
#: Ward clustering on 20 VAD-trimmed RAVDESS clips per set, 8 sets each: one actor split in two gives
#: 0.76-0.90, two actors 0.59-0.78. The estimate was right for 7 of 8 one-speaker sets and 5 of 8
#: two-speaker sets (one said one voice, two said three): give the count when it is known.
SAME_SPEAKER = 0.78
#: Fewer segments than this: no estimate (one speaker).
MIN_SEGMENTS_TO_ESTIMATE = 4
RATE = 16000
_PARTIALS_PER_SECOND = 1.3
_BATCH = 64


class SpeakerCountError(SpokenemoError):
    """Fewer speakers were found than were asked for (with ``strict=True``)."""


class SpeakerCountWarning(UserWarning):
    """Fewer speakers were found than were asked for; the asked number of clusters was still made."""


def _import_resemblyzer() -> types.ModuleType:
    if "webrtcvad" not in sys.modules:
        try:
            importlib.import_module("webrtcvad")
        except ImportError:  # webrtcvad 2.0.10 needs pkg_resources; only silence trimming uses it
            sys.modules["webrtcvad"] = types.ModuleType("webrtcvad")
    return optional_import("resemblyzer", extra="speakers", purpose="speaker turns (Resemblyzer d-vectors)")


@functools.lru_cache(maxsize=1)
def _voice_encoder() -> object:
    resemblyzer = _import_resemblyzer()
    return resemblyzer.VoiceEncoder("cpu", verbose=False)


class SpeakerEncoder:
    """Resemblyzer d-vectors of speech segments (see the module docstring)."""

    dim = 256

    def __init__(self) -> None:
        self._encoder = _voice_encoder()
        self._audio = _import_resemblyzer().audio

    def _partials(self, wav: np.ndarray) -> list[np.ndarray]:
        enc = self._encoder
        wav = self._audio.normalize_volume(np.asarray(wav, np.float32), -30, increase_only=True)
        wav_slices, mel_slices = enc.compute_partial_slices(wav.size, _PARTIALS_PER_SECOND, 0.75)
        if wav_slices[-1].stop >= wav.size:
            wav = np.pad(wav, (0, wav_slices[-1].stop - wav.size))
        mel = self._audio.wav_to_mel_spectrogram(wav)
        return [mel[s] for s in mel_slices]

    def embed(self, signals: Sequence[np.ndarray], sr: int = RATE) -> np.ndarray:
        """One 256-d d-vector per signal (mono float32 at 16 kHz), shape ``(len(signals), 256)``."""
        if sr != RATE:
            raise ValueError(f"the speaker encoder needs {RATE} Hz audio, got {sr} Hz")
        torch = optional_import("torch", purpose="speaker turns")
        owner: list[int] = []
        mels: list[np.ndarray] = []
        for i, signal in enumerate(signals):
            parts = self._partials(signal)
            mels.extend(parts)
            owner.extend([i] * len(parts))
        out = np.zeros((len(signals), self.dim), np.float64)
        with torch.no_grad():
            for a in range(0, len(mels), _BATCH):
                batch = torch.from_numpy(np.stack(mels[a:a + _BATCH]).astype(np.float32))
                partial = self._encoder(batch).numpy()  # type: ignore[operator]
                np.add.at(out, owner[a:a + _BATCH], partial)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms > 0, norms, 1)).astype(np.float32)


@dataclass(frozen=True)
class SpeakerClusters:
    """Speaker of each segment and how the count was decided.

    Attributes
    ----------
    labels : list of str
        ``"S1"``, ``"S2"``, ... per segment, numbered by first appearance.
    n_speakers : int
        Clusters made.
    estimated : int
        Voices the centroid-similarity rule finds (equal to ``n_speakers`` when it was not given).
    closest : dict
        Per tried count, the highest centroid cosine similarity between two of its clusters.
    asked : int or None
        The number that was asked for.
    """

    labels: list[str]
    n_speakers: int
    estimated: int
    closest: dict[int, float]
    asked: int | None = None


def _agglomerative(x: np.ndarray, k: int) -> np.ndarray:
    """Ward clustering of the L2-normed d-vectors (Euclidean on the unit sphere follows cosine)."""
    if k <= 1 or x.shape[0] < 2:
        return np.zeros(x.shape[0], dtype=int)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(unit)


def _closest_centroids(x: np.ndarray, labels: np.ndarray) -> float:
    """Highest cosine similarity between the L2-normed centroids of two clusters."""
    ids = sorted(set(labels.tolist()))
    c = np.stack([x[labels == i].mean(axis=0) for i in ids])
    c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    sim = c @ c.T
    np.fill_diagonal(sim, -1.0)
    return float(sim.max())


def _estimate(x: np.ndarray, max_speakers: int) -> tuple[int, dict[int, float], dict[int, np.ndarray]]:
    """Among the counts whose clusters are all less centroid-similar than :data:`SAME_SPEAKER`, the one
    with the best silhouette; one speaker when there is none."""
    closest: dict[int, float] = {}
    found: dict[int, np.ndarray] = {}
    scores: dict[int, float] = {}
    if x.shape[0] < MIN_SEGMENTS_TO_ESTIMATE:
        return 1, closest, found
    for k in range(2, min(max_speakers, x.shape[0] - 1) + 1):
        labels = _agglomerative(x, k)
        if len(set(labels.tolist())) < k:
            break
        found[k] = labels
        closest[k] = _closest_centroids(x, labels)
        scores[k] = float(silhouette_score(x, labels, metric="cosine"))
    distinct = [k for k in scores if closest[k] < SAME_SPEAKER]
    return (max(distinct, key=lambda k: scores[k]) if distinct else 1), closest, found


def _names(labels: np.ndarray) -> list[str]:
    order: dict[int, str] = {}
    for lab in labels.tolist():
        order.setdefault(lab, f"S{len(order) + 1}")
    return [order[lab] for lab in labels.tolist()]


def cluster_speakers(embeddings: np.ndarray, *, n_speakers: int | None = None, max_speakers: int = 6,
                     strict: bool = False) -> SpeakerClusters:
    """Cluster d-vectors into speakers (see the module docstring).

    Parameters
    ----------
    embeddings : array, shape (n_segments, dim)
        One d-vector per segment, in time order.
    n_speakers : int, optional
        Speakers to find; estimated when ``None``.
    max_speakers : int
        Most speakers the estimate considers.
    strict : bool
        Raise :class:`SpeakerCountError` instead of warning when fewer voices are found than asked.

    Raises
    ------
    SpeakerCountError
        ``strict`` and fewer voices than ``n_speakers`` (or fewer segments than ``n_speakers``).
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if n_speakers is not None and n_speakers < 1:
        raise SpeakerCountError(f"n_speakers must be at least 1, got {n_speakers}", hint="give --speakers 1 or more")
    if x.ndim != 2 or x.shape[0] == 0:
        raise SpeakerCountError("no speech segments to assign to speakers", hint="check that the recording holds speech")
    estimated, scores, found = _estimate(x, max(max_speakers, n_speakers or 1))
    k = estimated if n_speakers is None else n_speakers
    if n_speakers is not None and (estimated < n_speakers or x.shape[0] < n_speakers):
        sims = ", ".join(f"{k}: {v:.2f}" for k, v in sorted(scores.items())) or "too few segments"
        message = (f"{n_speakers} speakers were asked for, but the voices of the {x.shape[0]} speech segment(s) "
                   f"sound like {estimated} (closest clusters per count, cosine: {sims}; {SAME_SPEAKER} or more "
                   "is one voice)")
        if strict:
            raise SpeakerCountError(message, hint="leave the speaker count out to estimate it, or check the recording")
        warnings.warn(message, SpeakerCountWarning, stacklevel=2)
        k = min(n_speakers, x.shape[0])
    labels = found[k] if k in found else _agglomerative(x, k)
    return SpeakerClusters(labels=_names(labels), n_speakers=len(set(labels.tolist())), estimated=estimated,
                           closest=scores, asked=n_speakers)
