"""The per-layer store of a speech encoder's outputs: one float16 array per segment, resumable.

A speech encoder (``spokenemo.models.encoders``, interface in docs/architecture.md) turns a
waveform into hidden states of shape ``(n_layers, n_frames, dim)``. :class:`EncodedStore` keeps,
per segment, either

- ``pooled`` (the default): ``(n_layers, 2, dim)``, the mean (``[:, 0]``) and the population
  standard deviation (``[:, 1]``) of every layer over the segment's frames; or
- ``frames`` (on request): the hidden states themselves, ``(n_layers, n_frames, dim)``,

as float16 ``.npy`` files in an :class:`~spokenemo.core.cache.ArrayStore` whose folder name holds
a fingerprint of the encoder (its own :meth:`fingerprint`: name, weights, settings, code) and
of the layout, so another encoder or changed weights never reuse stale arrays. Each array's
index row records what it was computed from: the audio file's path, size and modification
time, and the segment's start and end, so an edited file is encoded again. Arrays are filled by
:func:`spokenemo.features.executor.run_items` (in this process, a process pool or Dask): every
result is saved as soon as it is computed, a killed run resumes where it stopped, and an
exception for one segment (unreadable audio, a clip shorter than one encoder frame) becomes that
segment's recorded error and is tried again by the next run.

The features layer sits below ``models``, so it never imports an encoder: the layer that holds
the encoders registers a *lookup* (``name -> encoder``) in :data:`ENCODER_LOOKUPS` (the ``ser``
system registers ``spokenemo.models.encoders.get_speech_encoder`` as ``"speech"``). The lookup
function itself travels to worker processes, so it must be a module-level function.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from spokenemo.audio import load_audio
from spokenemo.core.cache import ArrayStore, fingerprint
from spokenemo.core.errors import AudioTooShortError, ConfigError
from spokenemo.core.fileio import atomic_write
from spokenemo.core.registry import Registry
from spokenemo.data.manifest import Segment
from spokenemo.features.executor import Executor, RunSummary, run_items

log = logging.getLogger(__name__)

#: Version of the stored layout and pooling code (part of every store's fingerprint).
STORE_VERSION = "encoded-1"
#: Largest finite float16: values beyond it are clipped before they are stored.
FLOAT16_MAX = 65504.0
LAYOUTS = ("pooled", "frames")


class FrameEncoder(Protocol):
    """What the store needs of a speech encoder (``spokenemo.models.encoders.SpeechEncoder``)."""

    name: str
    sample_rate: int
    n_layers: int
    dim: int
    frame_rate: float

    def fingerprint(self) -> str: ...

    def encode(self, wave: np.ndarray) -> Any: ...  # ``.hidden_states``: (n_layers, n_frames, dim)


EncoderLookup = Callable[[str], FrameEncoder]

#: Encoder lookups by name, registered by the layer that holds encoders (see the module docstring).
ENCODER_LOOKUPS: Registry[EncoderLookup] = Registry("speech encoder lookup")


def get_encoder_lookup(name: str = "speech") -> EncoderLookup:
    """The registered lookup ``name``; a :class:`ConfigError` naming the fix when there is none."""
    if name not in ENCODER_LOOKUPS:
        raise ConfigError(f"no speech encoder lookup {name!r} is registered",
                          hint="import spokenemo.systems.ser (it registers spokenemo.models.encoders)")
    return ENCODER_LOOKUPS.get(name)


def file_identity(segment: Segment) -> list[Any]:
    """What a segment's arrays are computed from: path, file size and mtime (ns), start, end."""
    try:
        st = os.stat(str(segment.path))
        size, mtime = st.st_size, st.st_mtime_ns
    except (OSError, TypeError):
        size = mtime = None  # a missing file: encoding fails and is recorded (and retried later)
    return [str(segment.path), size, mtime, segment.start, segment.end]


def pool_hidden_states(hidden: np.ndarray) -> np.ndarray:
    """``(n_layers, n_frames, dim)`` -> ``(n_layers, 2, dim)``: mean and population std over frames."""
    h = np.asarray(hidden, dtype=np.float64)
    return np.stack([h.mean(axis=1), h.std(axis=1)], axis=1)


def to_float16(x: np.ndarray) -> np.ndarray:
    """``x`` as float16, clipped to the finite float16 range."""
    return np.clip(np.asarray(x, dtype=np.float64), -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)


def min_samples(encoder: FrameEncoder) -> int:
    """Samples of one encoder frame (or of its analysis window, when that is longer)."""
    return max(int(np.ceil(encoder.sample_rate / float(encoder.frame_rate))), int(getattr(encoder, "min_samples", 1)))


def check_length(wave: np.ndarray, encoder: FrameEncoder, path: str, what: str) -> None:
    """Raise :class:`AudioTooShortError` when ``wave`` is shorter than one encoder frame."""
    need = min_samples(encoder)
    if len(wave) < need:
        raise AudioTooShortError(
            path, f"{what}: {len(wave) / encoder.sample_rate:.4f} s of audio is shorter than one frame of "
                  f"{encoder.name} ({need / encoder.sample_rate:.4f} s)",
            hint="drop the segment from the manifest or widen its start/end")


_WORKER_ENCODERS: dict[tuple[Any, str], FrameEncoder] = {}


def _encoder_in_worker(lookup: EncoderLookup, name: str) -> FrameEncoder:
    """The encoder of this process (built once per process and name)."""
    if (lookup, name) not in _WORKER_ENCODERS:
        _WORKER_ENCODERS[(lookup, name)] = lookup(name)
    return _WORKER_ENCODERS[(lookup, name)]


def encode_segment(job: tuple[str, str, float | None, float | None], lookup: EncoderLookup, name: str,
                   layout: str) -> np.ndarray:
    """Worker function: load one segment's audio, encode it and pool (or keep) its frames.

    ``job`` is ``(key, path, start, end)``; returns a float16 array (see the module docstring).
    """
    key, path, start, end = job
    encoder = _encoder_in_worker(lookup, name)
    wave = load_audio(path, start=start, end=end, sr=int(encoder.sample_rate))
    check_length(wave, encoder, path, key)
    hidden = np.asarray(encoder.encode(wave).hidden_states)
    if hidden.ndim != 3 or hidden.shape[0] != encoder.n_layers or hidden.shape[1] == 0:
        raise ConfigError(f"{key}: {name} returned hidden states of shape {hidden.shape}, "
                          f"expected ({encoder.n_layers}, n_frames > 0, {encoder.dim})")
    return to_float16(pool_hidden_states(hidden) if layout == "pooled" else hidden)


def _error_record(job: Any, err: Exception) -> dict[str, str]:
    return {"error": type(err).__name__, "message": str(err)}


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "encoder"


class EncodedStore:
    """The stored outputs of one encoder in one layout (see the module docstring).

    Parameters
    ----------
    folder : path
        The feature cache folder (``OUTDIR/features``); the store is
        ``FOLDER/encoded-<encoder>-<layout>-<fingerprint>/``.
    encoder : FrameEncoder
        The encoder (its fingerprint names the store).
    lookup : callable
        ``name -> encoder``, a module-level function (it is sent to worker processes).
    layout : {"pooled", "frames"}
    """

    def __init__(self, folder: str | Path, encoder: FrameEncoder, lookup: EncoderLookup, *,
                 layout: str = "pooled") -> None:
        if layout not in LAYOUTS:
            raise ConfigError(f"unknown encoded layout {layout!r}", hint="use 'pooled' or 'frames'")
        self.encoder, self.lookup, self.layout = encoder, lookup, layout
        self.settings = {"encoder": encoder.name, "encoder_fingerprint": encoder.fingerprint(), "layout": layout,
                         "dtype": "float16", "n_layers": int(encoder.n_layers), "dim": int(encoder.dim),
                         "frame_rate": float(encoder.frame_rate)}
        self.fingerprint = fingerprint(self.settings, version=STORE_VERSION)
        self.arrays = ArrayStore.at(folder, f"encoded-{_slug(encoder.name)}-{layout}", self.fingerprint)
        self.folder = self.arrays.folder

    def _write_settings(self) -> None:
        path = self.folder / "settings.json"
        if not path.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as fh:
                fh.write(json_text({"fingerprint": self.fingerprint, "version": STORE_VERSION, **self.settings}))

    def has(self, segment: Segment) -> bool:
        return self.arrays.has(segment.key, file_identity(segment))

    def get(self, segment: Segment) -> np.ndarray | None:
        """The stored array of ``segment`` (computed from its current file), or None."""
        return self.arrays.get(segment.key, file_identity(segment))

    def failure(self, key: str) -> Any:
        """The recorded error of ``key`` when its last attempt failed, else None."""
        return self.arrays.failure(key)

    def compute(self, segments: Sequence[Segment], *, workers: int = 1, executor: Executor = "process",
                scheduler: Any = None, chunk_size: int = 4, progress: bool = False) -> RunSummary:
        """Encode every segment the store lacks (failures of earlier runs included).

        Parameters
        ----------
        segments : the segments (each with an audio ``path``).
        workers, executor, scheduler, chunk_size : as in :func:`~spokenemo.features.executor.run_items`.
        progress : show a progress bar.

        Raises
        ------
        Interrupted
            SIGINT/SIGTERM; what was computed before is saved.
        """
        self._write_settings()
        if workers == 1 and executor == "process":  # in this process: reuse the loaded encoder
            _WORKER_ENCODERS[(self.lookup, self.encoder.name)] = self.encoder
        unique = list({u.key: u for u in segments}.values())
        summary = run_items(unique, encode_segment, self.arrays, key=lambda u: u.key, source=file_identity,
                            job=lambda u: (u.key, str(u.path), u.start, u.end),
                            args=(self.lookup, self.encoder.name, self.layout), workers=workers,
                            executor=executor, scheduler=scheduler, chunk_size=chunk_size,
                            on_error=_error_record, progress=progress, desc=f"encoding ({self.encoder.name})",
                            unit="segment")
        for err in summary.errors:
            log.warning("%s: %s", self.encoder.name, err.get("message"))
        if summary.computed or summary.errors:
            log.info("%s %s: %d segments computed, %d reused, %d failed -> %s", self.encoder.name, self.layout,
                     summary.computed, summary.cached, len(summary.errors), self.folder)
        return summary


def json_text(obj: Any) -> str:
    """``obj`` as indented JSON with a final newline."""
    return json.dumps(obj, indent=1, sort_keys=True) + "\n"
