"""Analysis of one clip for S2S-ZEST: encoder frames, the 50 Hz F0 target, the speaker d-vector.

:class:`Analyser` runs the frozen speech encoder once and keeps the layers it is asked for (the unit
layer candidates and the emotion layer) as float16, computes the F0 target at the encoder's frame
rate, and the Resemblyzer d-vector. With a ``cache_dir`` and a key, each clip's analysis is stored
as one ``.npz`` under a fingerprint of the settings, so a rerun (or a killed run) reuses it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import AudioTooShortError
from spokenemo.models.encoders import get_speech_encoder
from spokenemo.models.speakers import SpeakerEncoder
from spokenemo.models.zest.pitch import NoVoicedFramesError, unit_f0

SAMPLE_RATE = 16000
#: Shortest clip the converter takes (seconds): a few units and one Resemblyzer partial.
MIN_SECONDS = 0.5
#: A clip whose peak is below this is silent.
SILENT_PEAK = 1e-4


@dataclass
class ClipAnalysis:
    """Encoder layers (``layer -> (T, D)`` float16), F0 (T,) in Hz and the d-vector (256,)."""

    layers: dict[int, np.ndarray]
    f0: np.ndarray
    dvector: np.ndarray

    @property
    def n_frames(self) -> int:
        return len(self.f0)


@functools.lru_cache(maxsize=2)
def _encoder(name: str) -> Any:
    return get_speech_encoder(name)


@functools.lru_cache(maxsize=1)
def _speaker_encoder() -> SpeakerEncoder:
    return SpeakerEncoder()


def check_clip(wave: np.ndarray, what: str) -> np.ndarray:
    """Mono float32, at least :data:`MIN_SECONDS` long (else :class:`AudioTooShortError`), not silent
    (else :class:`~spokenemo.models.zest.pitch.NoVoicedFramesError`)."""
    wave = np.asarray(wave, np.float32)
    if wave.ndim != 1:
        raise AudioTooShortError(what, f"expected a mono waveform, got shape {wave.shape}",
                                 hint="average the channels first")
    if len(wave) < MIN_SECONDS * SAMPLE_RATE:
        raise AudioTooShortError(what, f"{len(wave) / SAMPLE_RATE:.2f} s is too short for S2S-ZEST",
                                 hint=f"give at least {MIN_SECONDS} s of speech")
    if not np.isfinite(wave).all() or float(np.max(np.abs(wave))) < SILENT_PEAK:
        raise NoVoicedFramesError(f"{what}: silent or not finite (no voiced frame)",
                                  hint="give a clip with voiced speech")
    return wave


class Analyser:
    """Encoder frames, F0 and d-vector of clips (see the module docstring)."""

    def __init__(self, encoder: str, layers: Sequence[int], f0_method: str = "dio",
                 cache_dir: str | Path | None = None) -> None:
        self.encoder_name = encoder
        self.layers = sorted(set(layers))
        self.f0_method = f0_method
        tag = hashlib.sha256(json.dumps([encoder, self.layers, f0_method, 1]).encode()).hexdigest()[:12]
        self.cache = Path(cache_dir) / f"analysis-{tag}" if cache_dir else None

    def _resolve(self, layer: int, n_layers: int) -> int:
        return layer if layer >= 0 else n_layers + layer

    def analyse_many(self, waves: Sequence[np.ndarray], keys: Sequence[str | None] | None = None
                     ) -> list[ClipAnalysis]:
        """:class:`ClipAnalysis` of each wave (cached by key when a cache folder is set)."""
        keys = list(keys) if keys is not None else [None] * len(waves)
        out: list[ClipAnalysis | None] = [self._cached(k) for k in keys]
        todo = [i for i, a in enumerate(out) if a is None]
        if todo:
            dvecs = _speaker_encoder().embed([waves[i] for i in todo])
            for i, d in zip(todo, dvecs, strict=True):
                out[i] = self._analyse(waves[i], d)
                self._store(keys[i], out[i])
        return [a for a in out if a is not None]

    def analyse(self, wave: np.ndarray, what: str = "<waveform>") -> ClipAnalysis:
        """One clip, not cached."""
        return self.analyse_many([check_clip(wave, what)])[0]

    def _analyse(self, wave: np.ndarray, dvector: np.ndarray) -> ClipAnalysis:
        enc = _encoder(self.encoder_name)
        hidden = enc.encode(np.asarray(wave, np.float32)).hidden_states
        n = hidden.shape[1]
        layers = {layer: hidden[self._resolve(layer, hidden.shape[0])].astype(np.float16) for layer in self.layers}
        f0 = unit_f0(wave, SAMPLE_RATE, n, self.f0_method)
        return ClipAnalysis(layers, f0, np.asarray(dvector, np.float32))

    def _path(self, key: str) -> Path:
        assert self.cache is not None
        return self.cache / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".npz")

    def _cached(self, key: str | None) -> ClipAnalysis | None:
        if key is None or self.cache is None or not self._path(key).is_file():
            return None
        with np.load(self._path(key)) as z:
            layers = {layer: z[f"layer{layer}"] for layer in self.layers}
            return ClipAnalysis(layers, z["f0"], z["dvector"])

    def _store(self, key: str | None, a: ClipAnalysis | None) -> None:
        if key is None or self.cache is None or a is None:
            return
        self.cache.mkdir(parents=True, exist_ok=True)
        tmp = self._path(key).with_suffix(".tmp.npz")
        np.savez(tmp, f0=a.f0, dvector=a.dvector, **{f"layer{k}": v for k, v in a.layers.items()})
        tmp.replace(self._path(key))
