"""Features by name: a registry of feature providers and the bank an experiment asks them through.

A *feature provider* computes one kind of per-segment feature, caches it in the experiment's
``features/`` folder and serves it as rows or as a matrix. Systems never construct one: they ask
their context, ``context.features.matrix("egemaps", segments)``, and the bank creates the
provider on first use from the registry. Built-in providers:

``cues``
    The cue numbers the AECoTD student reads, one table per experiment
    (``features/cues-<fingerprint>/``): extracted once for every segment of the experiment, for
    every fine-segment count any system asks for (:func:`~spokenemo.features.cue_vectors.segment_counts`).
    Settings: the experiment config's ``cues`` section.
``egemaps``
    eGeMAPSv02 functionals (88, openSMILE), cached per segment in
    ``features/egemaps-<fingerprint>.jsonl``; unavailable (a note, not an error) without openSMILE.

A new provider subclasses :class:`FeatureProvider` and is registered with
``@register_feature("name")``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spokenemo.core.errors import ConfigError
from spokenemo.core.registry import Registry
from spokenemo.data.manifest import Segment
from spokenemo.features.cue_vectors import cue_vector, segment_counts
from spokenemo.features.cues import CueExtractionConfig, extract_manifest, read_cue_table
from spokenemo.features.egemaps import EgemapsExtractor, FeatureStore, egemaps_available

log = logging.getLogger(__name__)


class FeatureProvider:
    """Base class of a cached, per-segment feature (see the module docstring).

    Parameters
    ----------
    folder : Path
        The experiment's feature cache folder.
    settings : mapping
        The provider's settings from the experiment config (may be empty).
    """

    #: Registered name (set by :func:`register_feature`).
    name: ClassVar[str] = ""

    def __init__(self, folder: Path, settings: Mapping[str, Any]) -> None:
        self.folder = Path(folder)
        self.settings = dict(settings)
        #: Every segment of the experiment (providers that extract all at once use it).
        self.universe: list[Segment] = []
        #: Hash of the settings the cached numbers were computed with, once known (results.json meta).
        self.fingerprint: str | None = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether the provider's libraries import, and a note saying why not."""
        return True, ""

    def request(self, **options: Any) -> None:
        """Options a system needs computed (asked before extraction); none by default."""
        if options:
            raise ConfigError(f"feature {self.name!r} takes no request options, got {sorted(options)}")

    def prepare(self, segments: Sequence[Segment]) -> None:
        """Compute (or read from the cache) the features of ``segments``."""
        self.rows(segments)

    def rows(self, segments: Sequence[Segment]) -> dict[str, dict[str, Any] | None]:
        """Per key: the segment's features as a dict, or None where it has none (a failed file)."""
        raise NotImplementedError

    def matrix(self, segments: Sequence[Segment], **options: Any) -> np.ndarray:
        """One row per segment, NaN where it has no features."""
        raise NotImplementedError

    def fingerprint_part(self) -> Any:
        """What a fold result records about this feature (changes when the numbers may)."""
        return self.fingerprint


FEATURES: Registry[type[FeatureProvider]] = Registry("feature")


def register_feature(name: str) -> Callable[[type[FeatureProvider]], type[FeatureProvider]]:
    """Class decorator: register a :class:`FeatureProvider` under ``name``."""

    def deco(cls: type[FeatureProvider]) -> type[FeatureProvider]:
        cls.name = name
        return FEATURES.add(name, cls)

    return deco


class FeatureBank:
    """The feature providers of one experiment, created on first use.

    Parameters
    ----------
    folder : Path
        Cache folder (``OUTDIR/features``).
    settings : callable
        Feature name -> that provider's settings (the experiment config's section).
    """

    def __init__(self, folder: Path, settings: Callable[[str], Mapping[str, Any]]) -> None:
        self.folder = Path(folder)
        self._settings = settings
        self._providers: dict[str, FeatureProvider] = {}
        self._universe: list[Segment] = []

    def get(self, name: str) -> FeatureProvider:
        if name not in self._providers:
            provider = FEATURES.get(name)(self.folder, self._settings(name))
            provider.universe = list(self._universe)
            self._providers[name] = provider
        return self._providers[name]

    def set_universe(self, segments: Sequence[Segment]) -> None:
        """Every segment of the experiment (cue tables are extracted for all of them at once)."""
        self._universe = list(segments)
        for provider in self._providers.values():
            provider.universe = list(segments)

    def available(self, name: str) -> tuple[bool, str]:
        return FEATURES.get(name).available()

    def request(self, name: str, **options: Any) -> None:
        self.get(name).request(**options)

    def prepare(self, name: str, segments: Sequence[Segment]) -> None:
        self.get(name).prepare(segments)

    def matrix(self, name: str, segments: Sequence[Segment], **options: Any) -> np.ndarray:
        return self.get(name).matrix(segments, **options)

    def fingerprint_part(self, name: str) -> Any:
        return self.get(name).fingerprint_part()

    @property
    def fingerprints(self) -> dict[str, str]:
        """Name -> settings hash of every provider used so far (recorded in results.json)."""
        return {n: p.fingerprint for n, p in self._providers.items() if p.fingerprint is not None}


def progress_logger(what: str) -> Callable[[int, int], None]:
    """``progress(done, total)`` that logs at most every 30 s (and at the end)."""
    state = {"t": time.perf_counter()}

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - state["t"] > 30:
            state["t"] = now
            log.info("%s: %d/%d utterances", what, done, total)

    return report


# --- built-in providers -------------------------------------------------------------------------
@register_feature("cues")
class CueFeatures(FeatureProvider):
    """The AECoTD cue table of the experiment; settings: ``n_segments``, ``extended``, ``options``."""

    def __init__(self, folder: Path, settings: Mapping[str, Any]) -> None:
        super().__init__(folder, settings)
        self.n_segments = int(self.settings.get("n_segments", 7))
        #: segment counts asked for beyond the config's n and the sweep (systems with other n)
        self.extra_segments: set[int] = set()
        self._rows: dict[str, dict[str, Any]] = {}
        self._ready = False

    def request(self, *, n_segments: int | None = None) -> None:
        """Also extract fine cues with ``n_segments`` segments."""
        if n_segments:
            self.extra_segments.add(int(n_segments))

    def config(self) -> CueExtractionConfig:
        """The extraction settings (every segment count needed)."""
        config = CueExtractionConfig.from_options(
            self.settings.get("options") or {}, n_segments=segment_counts(self.n_segments, self.extra_segments),
            extended=bool(self.settings.get("extended", False)))
        self.fingerprint = config.fingerprint()
        return config

    def fingerprint_part(self) -> str:
        return self.config().fingerprint()  # settings + cue-code version

    def table_path(self) -> Path:
        """Folder of the cue table (``cues.parquet``, ``cues.jsonl``, settings, errors)."""
        return self.folder / f"cues-{self.config().fingerprint()}"

    def rows(self, segments: Sequence[Segment]) -> dict[str, dict[str, Any] | None]:
        """Per key: a cue row (:func:`spokenemo.features.cues.extract_manifest` table row) or None.

        The first call extracts the cues of every segment of the experiment (:attr:`universe`)
        into one resumable table (per-file failures recorded in ``cues.errors.jsonl``).
        """
        if not self._ready:
            every = {u.key: u for u in [*self.universe, *segments] if u.path}
            t0 = time.perf_counter()
            summary = extract_manifest(list(every.values()), self.table_path(), config=self.config(),
                                       progress=log.isEnabledFor(logging.INFO))
            if summary.computed:
                log.info("cues: %d utterances computed, %d reused, %d failed (%.1f s) -> %s", summary.computed,
                         summary.done - summary.computed, len(summary.errors), time.perf_counter() - t0,
                         summary.paths.parquet)
            for e in summary.errors:
                log.warning("cues: %s failed: %s", e.get("key"), e.get("message"))
            self._rows = {str(r["key"]): r for r in read_cue_table(summary.paths.jsonl)}
            self._ready = True
        return {u.key: self._rows.get(u.key) for u in segments}

    def matrix(self, segments: Sequence[Segment], *, n_segments: int | None = None, coarse: bool = True,
               fine: bool = True) -> np.ndarray:
        """4 coarse cue numbers (if ``coarse``) and 2 x n fine ones (if ``fine``) per segment."""
        n = int(n_segments or self.n_segments)
        feats = self.rows(segments)
        width = (4 if coarse else 0) + (2 * n if fine else 0)
        rows = [cue_vector(feats[u.key], coarse=coarse, fine=fine, n=n) if feats[u.key] is not None
                else [np.nan] * width for u in segments]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), width)


@register_feature("egemaps")
class EgemapsFeatures(FeatureProvider):
    """eGeMAPSv02 functionals per segment (openSMILE), cached as JSONL."""

    def __init__(self, folder: Path, settings: Mapping[str, Any]) -> None:
        super().__init__(folder, settings)
        self._extractor: EgemapsExtractor | None = None
        self._feats: dict[str, dict[str, Any] | None] = {}

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return egemaps_available()

    def extractor(self) -> EgemapsExtractor:
        if self._extractor is None:
            self._extractor = EgemapsExtractor()
            self.fingerprint = self._extractor.fingerprint
        return self._extractor

    def fingerprint_part(self) -> str | None:
        try:  # the library version: what today's fold results were fingerprinted with
            return metadata.version("opensmile")
        except metadata.PackageNotFoundError:
            return None

    def rows(self, segments: Sequence[Segment]) -> dict[str, dict[str, Any] | None]:
        extractor = self.extractor()
        missing = [u for u in segments if u.key not in self._feats]
        if missing:
            store = FeatureStore(self.folder, "egemaps", extractor.fingerprint)
            self._feats.update(store.compute(missing, extractor, progress=progress_logger("eGeMAPS")))
        return {u.key: self._feats[u.key] for u in segments}

    def matrix(self, segments: Sequence[Segment], **options: Any) -> np.ndarray:
        if options:
            raise ConfigError(f"feature 'egemaps' takes no options, got {sorted(options)}")
        feats = self.rows(segments)
        return self.extractor().matrix(feats[u.key] for u in segments)
