"""eGeMAPS v02 low-level descriptors (openSMILE) as a one-layer "encoder".

The 25 descriptors (loudness, spectral slopes and ratios, MFCC 1-4, F0, jitter, shimmer, HNR,
formants) every 10 ms, as ``(1, frames, 25)`` at 100 frames per second. Needs the ``opensmile``
extra (its bundled binary is under audEERING's research licence). Clips shorter than openSMILE's
longest window (60 ms) raise :class:`~spokenemo.core.errors.AudioTooShortError` instead of the
NaN-filled frame openSMILE returns for them.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from spokenemo.core.lazy import optional_import
from spokenemo.models.encoders.base import SpeechEncoder

#: The longest analysis window of eGeMAPS v02 (60 ms at 16 kHz).
MIN_SAMPLES = 960
N_DESCRIPTORS = 25


class EgemapsLldEncoder(SpeechEncoder):
    """eGeMAPS v02 low-level descriptors, ``(1, frames, 25)`` at 100 fps."""

    name = "egemaps-lld"
    dim = N_DESCRIPTORS
    n_layers = 1
    frame_rate = 100.0
    max_seconds = None
    min_samples = MIN_SAMPLES

    def __init__(self) -> None:
        opensmile = optional_import("opensmile", extra="opensmile", purpose="the eGeMAPS low-level descriptors")
        self.version = getattr(opensmile, "__version__", "?")
        self.smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                     feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
        self.columns: list[str] = list(self.smile.feature_names)

    def _encode_chunk(self, wave: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            frame = self.smile.process_signal(wave, self.sample_rate)
        values = np.nan_to_num(frame.to_numpy(dtype=np.float32), nan=0.0)
        return values[None]

    def _identity(self) -> dict[str, Any]:
        return {"opensmile": self.version, "feature_set": "eGeMAPSv02", "level": "lld"}
