"""Per-utterance features for the baselines, cached in the experiment's output folder.

A :class:`FeatureStore` keeps one extractor's results as an append-only JSONL file
(``OUTDIR/features/<extractor>-<fingerprint>.jsonl``): one line per utterance, written as soon
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

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.fileio import append_jsonl, read_jsonl_tolerant
from spokenemo.data.manifest import Utterance

log = logging.getLogger(__name__)


def _identity(u: Utterance) -> list[Any]:
    # what the cached numbers were computed from: a changed path or segment is recomputed
    return [str(u.path), u.start, u.end]


class FeatureStore:
    """Cache of one extractor's per-utterance feature dicts.

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
        self.path = Path(folder) / f"{name}-{fingerprint}.jsonl"
        self.name = name
        self._rows: dict[str, dict[str, Any]] = {}
        for row in read_jsonl_tolerant(self.path):
            self._rows[row["key"]] = row  # later lines win (a retried failure)

    def cached(self, u: Utterance) -> dict[str, Any] | None:
        row = self._rows.get(u.key)
        if row is not None and row.get("source") == _identity(u) and "features" in row:
            return row["features"]
        return None

    def failure(self, key: str) -> str | None:
        row = self._rows.get(key)
        return row.get("error") if row is not None and "features" not in row else None

    def compute(self, utterances: Sequence[Utterance], fn: Callable[[Utterance], dict[str, Any]], *,
                progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, Any] | None]:
        """Features of every utterance: cached ones read, the others computed and appended.

        Parameters
        ----------
        utterances : sequence of Utterance
        fn : callable
            Utterance -> JSON-serialisable dict of features. An exception raised by it (a typed
            :class:`~spokenemo.core.errors.AudioError` above all) is recorded as that utterance's
            failure and the run goes on.
        progress : callable, optional
            Called as ``progress(done, total)`` after each computed utterance.

        Returns
        -------
        dict
            Key -> features, or None for an utterance that failed.
        """
        out: dict[str, dict[str, Any] | None] = {}
        todo = []
        for u in utterances:
            feats = self.cached(u)
            if feats is None:
                todo.append(u)
            out[u.key] = feats
        if todo:
            log.info("%s: computing %d of %d utterances (%s)", self.name, len(todo), len(utterances), self.path)
        t0 = time.perf_counter()
        for i, u in enumerate(todo, 1):
            try:
                feats = fn(u)
                row: dict[str, Any] = {"key": u.key, "source": _identity(u), "features": feats}
            except KeyboardInterrupt:
                raise
            except Exception as err:  # noqa: BLE001 - one odd file must not end a long run; it is recorded
                feats = None
                row = {"key": u.key, "source": _identity(u), "error": f"{type(err).__name__}: {err}"}
                log.warning("%s: %s failed: %s: %s", self.name, u.key, type(err).__name__, err)
            append_jsonl(self.path, row)
            self._rows[u.key] = row
            out[u.key] = feats
            if progress is not None:
                progress(i, len(todo))
        if todo:
            log.info("%s: %d utterances in %.1f s", self.name, len(todo), time.perf_counter() - t0)
        return out


def _fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


# --- eGeMAPS ---------------------------------------------------------------------------------------
def egemaps_available() -> tuple[bool, str]:
    """Whether openSMILE imports, and a note saying why not (install hint, licence)."""
    try:
        import opensmile  # noqa: F401
    except Exception as err:  # ImportError, or its binary failing to load
        return False, (f"opensmile is not importable ({type(err).__name__}: {err}); eGeMAPS baselines skipped. "
                       "Install the optional extra `pip install spokenemo[opensmile]` (openSMILE's binary has a "
                       "research-only, non-commercial licence)")
    return True, ""


class EgemapsExtractor:
    """eGeMAPSv02 functionals (88 per utterance) of the 16 kHz mono signal."""

    name = "egemaps"

    def __init__(self) -> None:
        import opensmile

        self._smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                      feature_level=opensmile.FeatureLevel.Functionals)
        self.columns: list[str] = list(self._smile.feature_names)
        self.fingerprint = _fingerprint({"set": "eGeMAPSv02", "level": "functionals",
                                         "opensmile": opensmile.__version__, "sr": 16000})

    def __call__(self, u: Utterance) -> dict[str, Any]:
        from spokenemo.audio import load_audio

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
