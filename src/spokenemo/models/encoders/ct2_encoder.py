"""CTranslate2's Whisper encoder (inference only, last layer only) behind the same interface.

``whisper-base-ct2`` / ``whisper-tiny.en-ct2`` run ``ctranslate2.models.Whisper.encode`` on the
same unpadded log-mel as the PyTorch encoder (:mod:`~spokenemo.models.encoders.whisper`) and
return one layer: the encoder output after its final layer norm. It is the fast frozen baseline
(and the reference the PyTorch encoder is tested against). ``compute_type="float32"`` (the
default) computes with the float16 weights widened, as the PyTorch encoder does; ``"int8"``
quantises them (faster, and visibly different: the tests and the benchmark report by how much).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.lazy import optional_import
from spokenemo.models.encoders.base import EncoderOutput, SpeechEncoder, check_wave, file_identity
from spokenemo.models.encoders.logmel import HOP, MIN_SAMPLES, SAMPLE_RATE, whisper_log_mel
from spokenemo.models.encoders.whisper_ct2 import read_ct2_model
from spokenemo.models.encoders.whisper_files import whisper_model_dir

MAX_MEL_FRAMES = 3000


class Ct2WhisperEncoder(SpeechEncoder):
    """Last layer of a packaged Whisper encoder through CTranslate2.

    Parameters
    ----------
    model : ``"whisper-base"`` or ``"whisper-tiny.en"`` (registered with a ``-ct2`` suffix).
    model_dir : a CTranslate2 Whisper folder to use instead.
    compute_type : CTranslate2 compute type (``"float32"``, ``"int8"``, ...).
    threads : CTranslate2 intra-op threads (0 = its default).
    """

    frame_rate = SAMPLE_RATE / HOP / 2
    max_seconds = MAX_MEL_FRAMES * HOP / SAMPLE_RATE
    min_samples = MIN_SAMPLES
    n_layers = 1

    def __init__(self, model: str = "whisper-base", *, model_dir: str | Path | None = None,
                 compute_type: str = "float32", threads: int = 0, cache_dir: str | Path | None = None) -> None:
        self.ct2 = optional_import("ctranslate2", extra="encoders", purpose="the CTranslate2 Whisper encoder")
        self.name = f"{model}-ct2"
        self.compute_type = compute_type
        folder = Path(model_dir) if model_dir else whisper_model_dir(model, cache_dir=cache_dir)
        self.model_path = folder / "model.bin"
        header = read_ct2_model(self.model_path, prefix="encoder/conv1/")
        self.n_mels = int(header.get("encoder/conv1/weight").shape[1])
        self.dim = int(header.get("encoder/conv1/weight").shape[0])
        self.model = self.ct2.models.Whisper(str(folder), device="cpu", compute_type=compute_type,
                                             intra_threads=int(threads))

    def encode(self, wave: np.ndarray) -> EncoderOutput:
        wave = check_wave(wave, self.min_samples, self.sample_rate)
        return EncoderOutput(self.encode_mel(whisper_log_mel(wave, self.n_mels)), self.frame_rate)

    def encode_mel(self, mel: np.ndarray) -> np.ndarray:
        """``(1, ceil(frames / 2), dim)`` float32 for log-mel ``(n_mels, frames)``, 30 s at a time."""
        parts = []
        for start in range(0, mel.shape[1], MAX_MEL_FRAMES):
            chunk = np.ascontiguousarray(mel[None, :, start:start + MAX_MEL_FRAMES], dtype=np.float32)
            out = self.model.encode(self.ct2.StorageView.from_array(chunk), to_cpu=True)
            parts.append(np.asarray(out, dtype=np.float32)[0])
        return np.concatenate(parts, axis=0)[None]

    def _encode_chunk(self, wave: np.ndarray) -> np.ndarray:
        return self.encode_mel(whisper_log_mel(wave, self.n_mels))

    def _identity(self) -> dict[str, Any]:
        return {**file_identity(self.model_path), "compute_type": self.compute_type}
