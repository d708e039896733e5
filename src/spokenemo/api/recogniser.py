"""The default answer to "which emotion": the shipped recogniser, from a path or an array to an answer.

>>> from spokenemo.api.recogniser import load_recogniser, recognise
>>> rec = load_recogniser()                                   # models/recogniser-4class  # doctest: +SKIP
>>> rec.labels                                                                          # doctest: +SKIP
['angry', 'happy', 'neutral', 'sad']
>>> recognise("clip.wav").label                                                        # doctest: +SKIP
'angry'
>>> [r.label for r in recognise(["a.wav", "b.wav"], speakers=["spk1", "spk1"])]     # doctest: +SKIP

Every input is checked for speech first (:mod:`spokenemo.audio.speech`): a silent, noisy or too
short one gets a :class:`ClipAnswer` with ``label=None`` and the reason, never an emotion.
The folder is found in this order: the ``path`` argument, ``$SPOKENEMO_RECOGNISER``, the
checkout's ``models/recogniser-4class`` (:func:`default_recogniser_path`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from spokenemo.audio import load_audio
from spokenemo.audio.io import RESAMPLE_QUALITY
from spokenemo.audio.speech import MIN_SPEECH_SECONDS, SpeechReport, detect_speech
from spokenemo.core.errors import ModelNotFoundError, SpokenemoError
from spokenemo.data.manifest import Segment
from spokenemo.protocols.calibration import UNCERTAIN_MARGIN
from spokenemo.systems.ser.recogniser import Recogniser, Recognition, is_recogniser_folder
from spokenemo.systems.ser.recogniser_train import train_recogniser

__all__ = ["ClipAnswer", "Recogniser", "Recognition", "default_recogniser_path", "is_recogniser_folder",
           "load_recogniser", "recognise", "train_recogniser"]

#: Environment variable naming another recogniser folder.
RECOGNISER_ENV = "SPOKENEMO_RECOGNISER"
#: The shipped recogniser of a source checkout.
DEFAULT_RECOGNISER_DIR = Path(__file__).resolve().parents[3] / "models" / "recogniser-4class"
SAMPLE_RATE = 16000


def default_recogniser_path() -> Path:
    """``$SPOKENEMO_RECOGNISER`` or the checkout's ``models/recogniser-4class``.

    Raises
    ------
    ModelNotFoundError
        The folder named does not exist.
    """
    env = os.environ.get(RECOGNISER_ENV, "").strip()
    path = Path(env).expanduser() if env else DEFAULT_RECOGNISER_DIR
    if not path.is_dir():
        where = f"{RECOGNISER_ENV}={env}" if env else str(path)
        raise ModelNotFoundError(f"no recogniser folder at {where}",
                                 hint="train one with `spokenemo recogniser-train` and point "
                                      f"{RECOGNISER_ENV} at it, or use a source checkout (it ships one)")
    return path


@functools.lru_cache(maxsize=4)
def _load(folder: str) -> Recogniser:
    return Recogniser.load(folder)


def load_recogniser(path: str | PathLike[str] | Recogniser | None = None) -> Recogniser:
    """A recogniser folder (default: :func:`default_recogniser_path`), loaded once per process."""
    if isinstance(path, Recogniser):
        return path
    folder = Path(path) if path is not None else default_recogniser_path()
    return _load(str(folder.resolve()))


@dataclass(frozen=True)
class ClipAnswer:
    """What one input is: its emotion (``label``, ``probabilities``) or why there is none.

    Attributes
    ----------
    source : str
        The path, or ``"<array i>"``.
    label : str or None
        None when the input holds no speech (then ``no_speech_reason`` says why).
    probabilities : dict
        Calibrated class probabilities (empty without speech).
    normalisation : str or None
        ``"speaker"`` or ``"global"`` statistics (see :class:`Recognition`).
    uncertain_between : tuple or None
        The two top classes when they are too close to call.
    speech : SpeechReport or None
        The speech check (None when it was skipped).
    """

    source: str
    label: str | None
    probabilities: dict[str, float]
    normalisation: str | None = None
    uncertain_between: tuple[str, str] | None = None
    speech: SpeechReport | None = None

    @property
    def no_speech_reason(self) -> str | None:
        return None if self.label is not None or self.speech is None else self.speech.reason

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "label": self.label, "probabilities": self.probabilities,
                "normalisation": self.normalisation,
                "uncertain_between": list(self.uncertain_between) if self.uncertain_between else None,
                "no_speech_reason": self.no_speech_reason,
                "speech_seconds": None if self.speech is None else self.speech.speech_seconds}


Input = str | PathLike[str] | np.ndarray | Segment


def _signal(item: Input, i: int, sr: int) -> tuple[str, np.ndarray]:
    if isinstance(item, np.ndarray):
        if item.ndim != 1:
            raise SpokenemoError(f"input {i}: expected a mono waveform (1-D array), got shape {item.shape}",
                                 hint="average the channels first: wave.mean(axis=1)")
        wave = item.astype(np.float32)
        if sr != SAMPLE_RATE:
            wave = soxr.resample(wave, sr, SAMPLE_RATE, quality=RESAMPLE_QUALITY).astype(np.float32)
        return f"<array {i}>", wave
    if isinstance(item, Segment):
        return item.key, load_audio(item.path, sr=SAMPLE_RATE, start=item.start, end=item.end)
    return str(item), load_audio(item, sr=SAMPLE_RATE)


def recognise(inputs: Input | Sequence[Input], *, recogniser: str | PathLike[str] | Recogniser | None = None,
              sr: int = SAMPLE_RATE, speakers: Sequence[str | None] | None = None,
              min_speech_seconds: float = MIN_SPEECH_SECONDS, vad: str = "auto",
              margin: float = UNCERTAIN_MARGIN) -> Any:
    """The emotion of one input (a :class:`ClipAnswer`) or of each of a list (a list of them).

    Parameters
    ----------
    inputs : path, array, Segment, or a list of them
        Arrays are mono float waveforms at ``sr``.
    speakers : list, optional
        A speaker name per input; a speaker with enough clips in the call is scored against their
        own statistics (see :class:`~spokenemo.systems.ser.recogniser.Recogniser`).
    min_speech_seconds, vad : the speech check; ``min_speech_seconds=0`` skips it.

    Raises
    ------
    AudioError
        A path is missing or not audio (before any model is loaded).
    """
    single = isinstance(inputs, (str, PathLike, np.ndarray, Segment))
    items = [inputs] if single else list(inputs)  # type: ignore[list-item]
    if speakers is not None and len(speakers) != len(items):
        raise SpokenemoError(f"{len(items)} inputs but {len(speakers)} speakers")
    decoded = [_signal(item, i, sr) for i, item in enumerate(items)]
    reports = [detect_speech(w, SAMPLE_RATE, min_speech_seconds=min_speech_seconds, backend=vad)
               if min_speech_seconds > 0 else None for _, w in decoded]
    keep = [i for i, r in enumerate(reports) if r is None or r.is_speech]
    answers: dict[int, Recognition] = {}
    if keep:
        model = load_recogniser(recogniser)
        who = None if speakers is None else [speakers[i] for i in keep]
        got = model.recognise([decoded[i][1] for i in keep], SAMPLE_RATE, who, margin=margin)
        answers = dict(zip(keep, got, strict=True))
    out = []
    for i, (source, _) in enumerate(decoded):
        r = answers.get(i)
        out.append(ClipAnswer(source, r.label if r else None, r.probabilities if r else {},
                              r.normalisation if r else None, r.uncertain_between if r else None, reports[i]))
    return out[0] if single else out


def require_recogniser(path: str | PathLike[str] | None) -> Path:
    """``path`` (or the default) checked to be a recogniser folder, before anything is decoded."""
    folder = Path(path) if path is not None else default_recogniser_path()
    if not is_recogniser_folder(folder):
        raise ModelNotFoundError(f"{folder}: not a recogniser folder (no recogniser.json)",
                                 hint="give a folder written by `spokenemo recogniser-train`")
    return folder
