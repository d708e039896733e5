"""The ``encoded`` feature provider: a speech encoder's per-layer features by segment.

Systems ask for it through their requirements, ``{"encoded": {"encoders": ["whisper-base"],
"frames": False}}``; the runner calls :meth:`EncodedFeatures.request` with those options and,
before the folds, :meth:`EncodedFeatures.prepare` on every segment of the task, which fills one
:class:`~spokenemo.features.encoded.store.EncodedStore` per (encoder, layout) in the experiment's
``features/`` folder. A system then reads

- :meth:`EncodedFeatures.pooled`: ``(n, n_layers, 2, dim)`` float32, mean and std per layer;
- :meth:`EncodedFeatures.frames`: per segment the ``(n_layers, n_frames, dim)`` hidden states;
- :meth:`EncodedFeatures.matrix`: the pooled features of chosen layers flattened to one row,

with NaN rows (``None`` for frames) where a segment failed (its error is in the store's index).

Settings (the provider's section of the experiment config, when the config passes one): ``lookup``
(default ``"speech"``, see :data:`~spokenemo.features.encoded.store.ENCODER_LOOKUPS`),
``workers``, ``executor`` (``process`` or ``dask``), ``scheduler``, ``chunk_size``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.cache import fingerprint
from spokenemo.core.errors import ConfigError
from spokenemo.data.manifest import Segment
from spokenemo.features.encoded.store import EncodedStore, FrameEncoder, get_encoder_lookup
from spokenemo.features.providers import FeatureProvider, register_feature

log = logging.getLogger(__name__)

STATS = {"mean": (0,), "std": (1,), "mean+std": (0, 1)}


def select_layers(n_layers: int, layers: str | Sequence[int]) -> list[int]:
    """Layer indices from ``"all"``, ``"last"`` or a list (negative indices count from the end).

    Raises
    ------
    ConfigError
        An index outside ``0 .. n_layers - 1`` (or ``-n_layers .. -1``), or an empty list.
    """
    if layers == "all":
        return list(range(n_layers))
    if layers == "last":
        return [n_layers - 1]
    if isinstance(layers, str) or not list(layers):
        raise ConfigError(f"layers must be 'all', 'last' or a list of indices, got {layers!r}")
    out = []
    for i in layers:
        if not -n_layers <= int(i) < n_layers:
            raise ConfigError(f"layer {i} does not exist: the encoder has layers 0 .. {n_layers - 1}")
        out.append(int(i) % n_layers)
    return out


@register_feature("encoded")
class EncodedFeatures(FeatureProvider):
    """Per-layer speech-encoder features (see the module docstring)."""

    def __init__(self, folder: Path, settings: Mapping[str, Any]) -> None:
        super().__init__(folder, settings)
        self.requested: dict[str, set[str]] = {}  # encoder -> layouts
        self._encoders: dict[str, FrameEncoder] = {}
        self._stores: dict[tuple[str, str], EncodedStore] = {}
        self._cache: dict[tuple[str, str, str], np.ndarray | None] = {}

    def request(self, *, encoders: Sequence[str] = (), frames: bool = False) -> None:
        """Compute ``encoders``' pooled features (and their frames too when ``frames``)."""
        for name in [encoders] if isinstance(encoders, str) else encoders:
            layouts = self.requested.setdefault(str(name), {"pooled"})
            if frames:
                layouts.add("frames")

    # --- encoders and stores ----------------------------------------------------------------------
    def encoder(self, name: str) -> FrameEncoder:
        """The encoder ``name`` (built once, through the registered lookup)."""
        if name not in self._encoders:
            self._encoders[name] = get_encoder_lookup(self.settings.get("lookup", "speech"))(name)
        return self._encoders[name]

    def store(self, name: str, layout: str = "pooled") -> EncodedStore:
        if (name, layout) not in self._stores:
            lookup = get_encoder_lookup(self.settings.get("lookup", "speech"))
            self._stores[(name, layout)] = EncodedStore(self.folder, self.encoder(name), lookup, layout=layout)
            self._update_fingerprint()
        return self._stores[(name, layout)]

    def encoder_fingerprint(self, name: str, layout: str = "pooled") -> str:
        """The fingerprint of ``name``'s store in ``layout`` (what a fold result depends on)."""
        return self.store(name, layout).fingerprint

    def fingerprint_part(self) -> dict[str, str]:
        return {f"{n}/{lay}": self.encoder_fingerprint(n, lay) for n in sorted(self.requested)
                for lay in sorted(self.requested[n])}

    def _update_fingerprint(self) -> None:
        self.fingerprint = fingerprint({f"{n}/{lay}": s.fingerprint for (n, lay), s in sorted(self._stores.items())})

    # --- computing --------------------------------------------------------------------------------
    def compute(self, segments: Sequence[Segment], name: str, layout: str = "pooled") -> None:
        """Fill ``name``'s store for ``segments`` (each segment tried once per provider)."""
        todo = [u for u in segments if (name, layout, u.key) not in self._cache]
        if not todo:
            return
        store = self.store(name, layout)
        store.compute(todo, workers=int(self.settings.get("workers", 1)),
                      executor=self.settings.get("executor", "process"), scheduler=self.settings.get("scheduler"),
                      chunk_size=int(self.settings.get("chunk_size", 4)))
        for u in todo:
            self._cache[(name, layout, u.key)] = store.get(u)

    def prepare(self, segments: Sequence[Segment]) -> None:
        for name, layouts in sorted(self.requested.items()):
            for layout in sorted(layouts):
                self.compute(segments, name, layout)

    def rows(self, segments: Sequence[Segment]) -> dict[str, dict[str, Any] | None]:
        """Per key: ``{encoder: pooled array}`` of every requested encoder, or None if one failed."""
        arrays = {n: self.pooled(segments, n) for n in sorted(self.requested)}
        out: dict[str, dict[str, Any] | None] = {}
        for i, u in enumerate(segments):
            row = {n: a[i] for n, a in arrays.items()}
            out[u.key] = None if any(np.isnan(a).all() for a in row.values()) else row
        return out

    # --- reading ----------------------------------------------------------------------------------
    def pooled(self, segments: Sequence[Segment], encoder: str) -> np.ndarray:
        """``(n, n_layers, 2, dim)`` float32: per layer the mean and std over frames; NaN rows where
        a segment failed."""
        self.compute(segments, encoder, "pooled")
        enc = self.encoder(encoder)
        out = np.full((len(segments), enc.n_layers, 2, enc.dim), np.nan, dtype=np.float32)
        for i, u in enumerate(segments):
            arr = self._cache[(encoder, "pooled", u.key)]
            if arr is not None:
                out[i] = arr
        return out

    def frames(self, segments: Sequence[Segment], encoder: str) -> list[np.ndarray | None]:
        """Per segment its float16 hidden states ``(n_layers, n_frames, dim)``, None where it failed."""
        self.compute(segments, encoder, "frames")
        return [self._cache[(encoder, "frames", u.key)] for u in segments]

    def failures(self, segments: Sequence[Segment], encoder: str, layout: str = "pooled") -> dict[str, Any]:
        """Key -> recorded error of the segments that have no features."""
        store = self.store(encoder, layout)
        return {u.key: store.failure(u.key) for u in segments if self._cache.get((encoder, layout, u.key)) is None}

    def matrix(self, segments: Sequence[Segment], *, encoder: str | None = None, layers: str | Sequence[int] = "all",
               stats: str = "mean+std") -> np.ndarray:
        """One row per segment: the ``stats`` (``mean``, ``std`` or ``mean+std``) of ``layers``,
        flattened (layer-major); ``encoder`` may be omitted when only one was requested."""
        if encoder is None:
            if len(self.requested) != 1:
                raise ConfigError(f"feature 'encoded': name the encoder (requested: {sorted(self.requested)})")
            encoder = next(iter(self.requested))
        if stats not in STATS:
            raise ConfigError(f"stats must be one of {sorted(STATS)}, got {stats!r}")
        arr = self.pooled(segments, encoder)
        chosen = arr[:, select_layers(arr.shape[1], layers)][:, :, list(STATS[stats])]
        return chosen.reshape(len(segments), -1).astype(np.float64)
