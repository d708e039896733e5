"""The encoder features of every segment a ``ser`` system knows, standardised for its head.

A :class:`FeatureView` holds the pooled streams (:func:`~spokenemo.systems.ser.inputs.pooled_streams`)
of *every* segment the system knows: the task's segments and the ones being predicted. Speaker
statistics need all of a speaker's segments (labels are never read), which is why the view is
wider than the rows a head trains on or predicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spokenemo.core.speakers import speaker_of
from spokenemo.data.manifest import Segment
from spokenemo.systems.ser.config import SerConfig
from spokenemo.systems.ser.inputs import Normaliser, flatten, frame_streams, pooled_streams


class FeatureView:
    """Pooled streams of ``segments`` (deduplicated by key, first occurrence kept).

    Parameters
    ----------
    provider : the ``encoded`` feature provider.
    config : the system's options (encoders, layers, pooling, head).
    segments : every segment to know.
    """

    def __init__(self, provider: Any, config: SerConfig, segments: Sequence[Segment]) -> None:
        self.provider, self.config = provider, config
        self.segments = list({u.key: u for u in segments}.values())
        self.row = {u.key: i for i, u in enumerate(self.segments)}
        self.speakers = [speaker_of(u) for u in self.segments]
        pooling = "mean+std" if config.needs_frames else config.pooling
        self.streams = pooled_streams(provider, self.segments, config.encoders, config.layers, pooling)
        self.ok = ~np.isnan(flatten(self.streams)).any(axis=1)
        self.normalised: list[np.ndarray] | None = None
        self.used: list[str] = []

    def rows(self, segments: Sequence[Segment]) -> list[int]:
        """Row of each segment (in order)."""
        return [self.row[u.key] for u in segments]

    def fit_normaliser(self, train_rows: Sequence[int]) -> Normaliser:
        """A normaliser fitted on the training rows with features (the config's speaker rule)."""
        rows = [r for r in train_rows if self.ok[r]]
        limit = self.config.min_speaker_segments if self.config.speaker_norm else None
        return Normaliser(limit, frames_mode=self.config.needs_frames).fit([s[rows] for s in self.streams])

    def apply(self, normaliser: Normaliser) -> None:
        """Standardise every row with ``normaliser`` (records which statistics each row used)."""
        if self.config.needs_frames:
            self.used = normaliser.used(self.streams, self.speakers)
            return
        self.normalised, self.used = normaliser.pooled(self.streams, self.speakers)

    def pooled(self, rows: Sequence[int]) -> list[np.ndarray]:
        """The standardised pooled streams of ``rows``."""
        if self.normalised is None:
            raise RuntimeError("apply() a normaliser first")
        return [s[list(rows)] for s in self.normalised]

    def flat(self, rows: Sequence[int]) -> np.ndarray:
        """The standardised pooled features of ``rows`` as one flat row each."""
        return flatten(self.pooled(rows))

    def frames(self, normaliser: Normaliser, rows: Sequence[int]) -> tuple[list[list[np.ndarray]], list[int]]:
        """Standardised frames of ``rows`` that have them, and which rows those are."""
        segments = [self.segments[r] for r in rows]
        raw = frame_streams(self.provider, segments, self.config.encoders, self.config.layers)
        keep = [j for j in range(len(rows)) if all(s[j] is not None for s in raw)]
        kept_rows = [rows[j] for j in keep]
        scored = normaliser.frames([[s[j] for j in keep] for s in raw], self.streams, self.speakers, kept_rows)
        return scored, kept_rows  # type: ignore[return-value]
