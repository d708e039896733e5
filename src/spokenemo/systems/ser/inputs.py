"""What the ``ser`` heads read: encoder features of segments, standardised, and the validation rule.

- :func:`pooled_streams`: per encoder ``(n, n_layers_chosen, F)`` from the ``encoded`` feature
  (``F = dim`` for ``pooling="mean"``, ``2 dim`` for ``"mean+std"``).
- :class:`Normaliser`: z-scores the streams with the global training statistics, or per speaker
  (:class:`~spokenemo.features.encoded.normalise.Standardiser`); frame-level streams are scored
  with frame statistics derived from the pooled ones (``E[x]`` = mean of the segment means,
  ``E[x^2]`` = mean of ``std^2 + mean^2``).
- :func:`selection_split`: where the epoch is chosen. The fold's validation part when it has one;
  otherwise ``ceil(valid_fraction x`` the training speakers``)`` (at least one, chosen by a seeded
  hash of the speaker id) are held out from the training part; with a single training speaker
  nothing is held out and the last epoch is kept. Test speakers are never looked at.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from spokenemo.core.sampling import seeded_rank
from spokenemo.core.speakers import speaker_of
from spokenemo.data.manifest import Segment
from spokenemo.features.encoded import Standardiser, select_layers
from spokenemo.features.encoded.normalise import GLOBAL

POOLING_STATS = {"mean": [0], "mean+std": [0, 1]}


def pooled_streams(provider: object, segments: Sequence[Segment], encoders: Sequence[str],
                   layers: str | Sequence[int], pooling: str) -> list[np.ndarray]:
    """Per encoder ``(n, n_layers_chosen, F)`` float64 (NaN rows where a segment failed)."""
    out = []
    for name in encoders:
        arr = provider.pooled(segments, name)  # type: ignore[attr-defined]
        chosen = arr[:, select_layers(arr.shape[1], layers)][:, :, POOLING_STATS[pooling]]
        n, n_layers, n_stats, dim = chosen.shape
        out.append(chosen.reshape(n, n_layers, n_stats * dim).astype(np.float64))
    return out


def frame_streams(provider: object, segments: Sequence[Segment], encoders: Sequence[str],
                  layers: str | Sequence[int]) -> list[list[np.ndarray | None]]:
    """Per encoder, per segment its chosen layers' frames ``(n_layers_chosen, n_frames, dim)`` or None."""
    out = []
    for name in encoders:
        frames = provider.frames(segments, name)  # type: ignore[attr-defined]
        n_layers = provider.encoder(name).n_layers  # type: ignore[attr-defined]
        idx = select_layers(n_layers, layers)
        out.append([None if f is None else f[idx] for f in frames])
    return out


def flatten(streams: Sequence[np.ndarray]) -> np.ndarray:
    """Streams ``(n, ...)`` as one flat row per segment."""
    return np.concatenate([s.reshape(len(s), -1) for s in streams], axis=1)


def frame_stats(P: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame mean and std ``(n_layers * dim,)`` from rows of flattened pooled ``(n_layers, 2, dim)``
    arrays: ``E[x]`` = mean of the segment means, ``E[x^2]`` = mean of ``std^2 + mean^2``."""
    B = P.reshape(len(P), -1, 2, dim)
    mean = B[:, :, 0].mean(axis=0)
    second = (B[:, :, 1] ** 2 + B[:, :, 0] ** 2).mean(axis=0)
    return mean.reshape(-1), np.sqrt(np.maximum(second - mean ** 2, 0.0)).reshape(-1)


@dataclass
class Normaliser:
    """Standardises each stream on its own (module docstring); fitted on the training rows.

    For frame streams, :meth:`fit` and :meth:`frames` take the pooled mean+std streams
    ``(n, n_layers, 2 dim)`` of the same segments: the frame statistics come from them.
    """

    speaker_min_segments: int | None
    frames_mode: bool = False
    standardisers: list[Standardiser] = field(default_factory=list)

    def fit(self, streams: Sequence[np.ndarray]) -> Normaliser:
        """``streams``: the training rows of each pooled stream, ``(n, n_layers, F)``."""
        self.standardisers = []
        for s in streams:
            stats_of = partial(frame_stats, dim=s.shape[2] // 2) if self.frames_mode else None
            std = Standardiser(self.speaker_min_segments, stats_of=stats_of)
            self.standardisers.append(std.fit(s.reshape(len(s), -1)))
        return self

    def pooled(self, streams: Sequence[np.ndarray], speakers: Sequence[str]) -> tuple[list[np.ndarray], list[str]]:
        """Standardised streams, and per row which statistics it used (of the first stream)."""
        out, used = [], []
        for std, s in zip(self.standardisers, streams, strict=True):
            Z, how = std.transform(s.reshape(len(s), -1), speakers)
            out.append(Z.reshape(s.shape))
            used = used or how
        return out, used

    def used(self, streams: Sequence[np.ndarray], speakers: Sequence[str]) -> list[str]:
        """Per row which statistics it is scored with (``"speaker"``/``"global"``; first stream)."""
        return self.standardisers[0].row_statistics(streams[0].reshape(len(streams[0]), -1), speakers)[2]

    def frames(self, frames: Sequence[Sequence[np.ndarray | None]], pooled: Sequence[np.ndarray],
               speakers: Sequence[str], rows: Sequence[int]) -> list[list[np.ndarray | None]]:
        """Standardised frames (float32) of each stream for ``rows``; ``frames[k][j]`` belongs to
        row ``rows[j]`` of ``pooled`` (the mean+std streams of every known segment) and ``speakers``
        (all rows: a speaker's statistics come from all of them)."""
        out = []
        for std, stream, p in zip(self.standardisers, frames, pooled, strict=True):
            means, stds, _ = std.row_statistics(p.reshape(len(p), -1), speakers)
            scored: list[np.ndarray | None] = []
            for i, f in zip(rows, stream, strict=True):
                if f is None:
                    scored.append(None)
                    continue
                shape = (f.shape[0], 1, f.shape[2])
                scored.append(((f.astype(np.float32) - means[i].reshape(shape)) / stds[i].reshape(shape))
                              .astype(np.float32))
            out.append(scored)
        return out

    def state(self) -> dict[str, np.ndarray]:
        """The global statistics of every stream (what :meth:`from_state` needs)."""
        out: dict[str, np.ndarray] = {}
        for i, std in enumerate(self.standardisers):
            out[f"mean{i}"], out[f"std{i}"] = std.mean, std.std
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], speaker_min_segments: int | None, frames_mode: bool,
                   dims: Sequence[int]) -> Normaliser:
        norm = cls(speaker_min_segments, frames_mode)
        for i, dim in enumerate(dims):
            stats_of = partial(frame_stats, dim=dim) if frames_mode else None
            norm.standardisers.append(Standardiser(speaker_min_segments, stats_of=stats_of,
                                                   mean=np.asarray(state[f"mean{i}"]),
                                                   std=np.asarray(state[f"std{i}"])))
        return norm


def fallback_keys(segments: Sequence[Segment], used: Sequence[str]) -> list[str]:
    return [u.key for u, how in zip(segments, used, strict=True) if how == GLOBAL]


def selection_split(train: Sequence[Segment], valid: Sequence[Segment], seed: int,
                    fraction: float) -> tuple[list[Segment], list[Segment], str]:
    """``(fit part, selection part, rule)``: see the module docstring."""
    if valid:
        return list(train), list(valid), "the fold's validation part"
    speakers = sorted({speaker_of(u) for u in train}, key=lambda s: seeded_rank(s, seed))
    if len(speakers) < 2:
        return list(train), [], "no validation speakers (one training speaker): last epoch"
    held = set(speakers[:max(1, math.ceil(fraction * len(speakers)))])
    fit = [u for u in train if speaker_of(u) not in held]
    select = [u for u in train if speaker_of(u) in held]
    return fit, select, f"{len(held)} of {len(speakers)} training speakers held out: {sorted(held)}"
