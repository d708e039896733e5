"""Per-utterance features for the baselines, cached in the experiment's output folder.

A :class:`FeatureStore` keeps one extractor's results as an append-only JSONL file
(``OUTDIR/features/<extractor>-<fingerprint>.jsonl``, a :class:`spokenemo.core.cache.ResultStore`
filled by :func:`spokenemo.features.executor.run_items`): one line per utterance, written as soon
as it is computed, so an interrupted run loses at most one line and a rerun computes only what
is missing. The fingerprint hashes the extractor's settings (and library version), so changed
settings never reuse stale numbers. An utterance whose audio fails is recorded with its error
(and retried on the next run); callers treat it as missing.

Extractors
----------
:class:`EgemapsExtractor`
    eGeMAPSv02 functionals from openSMILE (88 numbers). openSMILE's binary has a research-only
    licence, so it is an optional extra: :func:`egemaps_available` says whether it imports.
:class:`CueExtractor`
    The cue numbers the student reads (4 coarse + 2 x n fine, for every n asked), computed by
    :mod:`spokenemo.features.cues` from one set of frame tracks per utterance.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.audio import load_audio
from spokenemo.core.cache import ResultStore, fingerprint
from spokenemo.core.errors import MissingDependencyError, SpokenemoError
from spokenemo.core.lazy import optional_import
from spokenemo.data.manifest import Segment
from spokenemo.features.executor import Outcome, run_items

log = logging.getLogger(__name__)


def _identity(u: Segment) -> list[Any]:
    # what the cached numbers were computed from: a changed path or segment is recomputed
    return [str(u.path), u.start, u.end]


def _error_text(u: Segment, err: Exception) -> str:
    return f"{type(err).__name__}: {err}"


class FeatureStore:
    """Cache of one extractor's per-utterance feature dicts (a :class:`~spokenemo.core.cache.ResultStore`).

    Parameters
    ----------
    folder : path
        Where the JSONL file lives (created on first write).
    name : str
        Extractor name (``"egemaps"``, ``"cues"``).
    fingerprint : str
        Hash of the extractor settings; part of the file name.
    """

    def __init__(self, folder: str | Path, name: str, fingerprint: str) -> None:
        self._store = ResultStore.at(folder, name, fingerprint, value_field="features", what=f"{name} feature cache")
        self.path = self._store.path
        self.name = name

    def cached(self, u: Segment) -> dict[str, Any] | None:
        return self._store.get(u.key, _identity(u))

    def failure(self, key: str) -> str | None:
        return self._store.failure(key)

    # the ItemStore protocol, so the executor fills this store (and the failures are logged)
    def has(self, key: str, source: Any = None) -> bool:
        return self._store.has(key, source)

    def put(self, key: str, value: Any, *, source: Any = None) -> None:
        self._store.put(key, value, source=source)

    def put_error(self, key: str, error: Any, *, source: Any = None) -> None:
        log.warning("%s: %s failed: %s", self.name, key, error)
        self._store.put_error(key, error, source=source)

    def compute(self, utterances: Sequence[Segment], fn: Callable[[Segment], dict[str, Any]], *,
                progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, Any] | None]:
        """Features of every utterance: cached ones read, the others computed and appended.

        Parameters
        ----------
        utterances : sequence of Segment
        fn : callable
            Segment -> JSON-serialisable dict of features. An exception raised by it (a typed
            :class:`~spokenemo.core.errors.AudioError` above all) is recorded as that utterance's
            failure and the run goes on.
        progress : callable, optional
            Called as ``progress(done, total)`` after each computed utterance.

        Returns
        -------
        dict
            Key -> features, or None for an utterance that failed.
        """
        todo = sum(not self.has(u.key, _identity(u)) for u in utterances)
        if todo:
            log.info("%s: computing %d of %d utterances (%s)", self.name, todo, len(utterances), self.path)
        count = {"done": 0}

        def step(u: Segment, outcome: Outcome) -> None:
            count["done"] += 1
            if progress is not None:
                progress(count["done"], todo)

        t0 = time.perf_counter()
        run_items(utterances, fn, self, key=lambda u: u.key, source=_identity, on_error=_error_text,
                  on_result=step)
        if todo:
            log.info("%s: %d utterances in %.1f s", self.name, todo, time.perf_counter() - t0)
        return {u.key: self.cached(u) for u in utterances}


# --- eGeMAPS ---------------------------------------------------------------------------------------
def egemaps_available() -> tuple[bool, str]:
    """Whether openSMILE imports, and a note saying why not (install hint, licence)."""
    try:
        optional_import("opensmile", purpose="the eGeMAPS baselines")
    except Exception as err:  # ImportError, or its binary failing to load
        cause = err.__cause__ if isinstance(err, MissingDependencyError) and err.__cause__ else err
        return False, (f"opensmile is not importable ({type(cause).__name__}: {cause}); eGeMAPS baselines skipped. "
                       "Install the optional extra `pip install spokenemo[opensmile]` (openSMILE's binary has a "
                       "research-only, non-commercial licence)")
    return True, ""


class EgemapsExtractor:
    """eGeMAPSv02 functionals (88 per utterance) of the 16 kHz mono signal."""

    name = "egemaps"

    def __init__(self) -> None:
        opensmile = optional_import("opensmile", purpose="the eGeMAPS baselines")
        self._smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                      feature_level=opensmile.FeatureLevel.Functionals)
        self.columns: list[str] = list(self._smile.feature_names)
        self.fingerprint = fingerprint({"set": "eGeMAPSv02", "level": "functionals",
                                        "opensmile": opensmile.__version__, "sr": 16000})

    def __call__(self, u: Segment) -> dict[str, Any]:
        if u.path is None:
            raise SpokenemoError(f"{u.key}: no audio path")
        x = load_audio(u.path, start=u.start, end=u.end, sr=16000)
        row = self._smile.process_signal(x, 16000).iloc[0]
        return {c: float(row[c]) for c in self.columns}

    def matrix(self, feats: Iterable[dict[str, Any] | None]) -> np.ndarray:
        """Rows in ``self.columns`` order; a missing utterance is a row of NaN."""
        rows = [[f.get(c, np.nan) for c in self.columns] if f is not None else [np.nan] * len(self.columns)
                for f in feats]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self.columns))
