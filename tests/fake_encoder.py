"""A tiny deterministic speech encoder for tests of the encoded store, the heads and ``ser``.

``FakeEncoder`` cuts the waveform into 20 ms frames (50 per second) and gives, per layer ``l``,
``dim`` numbers per frame computed from the frame (log energy, mean absolute value, zero-crossing
rate, spectral tilt, ...) scaled by ``l + 1``: cheap, deterministic, with some acoustic meaning.
:func:`fake_lookup` serves names starting with ``fake`` and hands every other name to the real
lookup; the ``fake_encoders`` fixture (in each test module) installs it as the ``"speech"`` lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from spokenemo.core.cache import fingerprint
from spokenemo.features.encoded import ENCODER_LOOKUPS
from spokenemo.systems.speech_encoders import speech_encoder

#: Bumped by tests to simulate new weights (the fingerprint changes).
VERSION = {"value": 1}
#: Encode calls in this process, by encoder name.
CALLS: dict[str, int] = {}
#: name -> number of calls after which encode raises KeyboardInterrupt (a simulated kill).
EXPLODE_AFTER: dict[str, int] = {}


@dataclass(frozen=True)
class Output:
    hidden_states: np.ndarray
    frame_rate: float


class FakeEncoder:
    sample_rate = 16000
    frame_rate = 50.0
    max_seconds = None

    def __init__(self, name: str = "fake-enc", n_layers: int = 3, dim: int = 4) -> None:
        self.name, self.n_layers, self.dim = name, n_layers, dim
        self.min_samples = 320

    def fingerprint(self) -> str:
        return fingerprint({"name": self.name, "version": VERSION["value"], "layers": self.n_layers})

    def encode(self, wave: np.ndarray) -> Output:
        CALLS[self.name] = CALLS.get(self.name, 0) + 1
        if self.name in EXPLODE_AFTER and CALLS[self.name] > EXPLODE_AFTER[self.name]:
            raise KeyboardInterrupt("simulated kill")
        hop = self.sample_rate // int(self.frame_rate)
        n = len(wave) // hop
        frames = np.asarray(wave[:n * hop], dtype=np.float64).reshape(n, hop)
        base = np.stack([
            np.log(np.mean(frames ** 2, axis=1) + 1e-8),
            np.mean(np.abs(frames), axis=1) * 10,
            np.mean(np.abs(np.diff(np.sign(frames), axis=1)), axis=1),
            np.log(np.abs(np.fft.rfft(frames, axis=1))[:, 40:].mean(axis=1) + 1e-8)
            - np.log(np.abs(np.fft.rfft(frames, axis=1))[:, 1:40].mean(axis=1) + 1e-8),
        ], axis=1)
        base = np.tile(base, (1, int(np.ceil(self.dim / base.shape[1]))))[:, :self.dim]
        hidden = np.stack([base * (layer + 1) for layer in range(self.n_layers)])
        return Output(hidden.astype(np.float32), self.frame_rate)


def fake_lookup(name: str) -> FakeEncoder:
    """Fake encoders by name (``fake-*``); other names go to the real speech-encoder lookup."""
    if name.startswith("fake"):
        return FakeEncoder(name)
    return speech_encoder(name)


@pytest.fixture
def fake_encoders():
    """Install :func:`fake_lookup` as the ``"speech"`` encoder lookup for one test."""
    original = ENCODER_LOOKUPS.remove("speech") if "speech" in ENCODER_LOOKUPS else None
    ENCODER_LOOKUPS.add("speech", fake_lookup)
    CALLS.clear()
    EXPLODE_AFTER.clear()
    VERSION["value"] = 1
    yield
    ENCODER_LOOKUPS.remove("speech")
    if original is not None:
        ENCODER_LOOKUPS.add("speech", original)
