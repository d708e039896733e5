"""Language identification before transcription: a transcript only where the ASR model covers it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from spokenemo.audio import load_audio
from spokenemo.models.language import LanguageGuess, identify_language, transcribe_checked

needs_whisper = pytest.mark.skipif(importlib.util.find_spec("faster_whisper") is None,
                                   reason="faster-whisper is not installed (extra 'encoders')")


def test_silence_and_no_backend_need_no_model():
    silent = transcribe_checked(np.zeros(16000, dtype=np.float32))
    assert silent.text == "" and silent.reason == "silent"
    none = transcribe_checked(np.ones(16000, dtype=np.float32) * 0.1, backend="none")
    assert none.text == "" and none.source == "none"


@needs_whisper
def test_a_language_the_english_model_does_not_cover_gets_no_transcript():
    noise = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    told = transcribe_checked(noise, backend="faster-whisper", language="ko")
    assert told.text == "" and "Korean" in told.reason and "does not cover" in told.reason
    unclear = transcribe_checked(noise, backend="faster-whisper", language=LanguageGuess("en", 0.2))
    assert unclear.text == "" and "unclear" in unclear.reason


@needs_whisper
@pytest.mark.slow
def test_real_clips_english_polish_korean(shared_data: Path):
    clips = {"en": next((shared_data / "ravdess").rglob("03-01-05-01-01-01-*.flac")),
             "pl": next((shared_data / "nemo").rglob("*anger_1.*")),
             "ko": sorted((shared_data / "korean_emotiontts").rglob("*.opus"))[0]}
    for code, path in clips.items():
        audio = load_audio(path)
        guess = identify_language(audio)
        assert guess.code == code and guess.probability > 0.8, (path, guess)
        heard = transcribe_checked(audio, backend="faster-whisper", language=guess)
        if code == "en":
            assert heard.reason is None and len(heard.text.split()) >= 3  # "Kids are talking by the door."
        else:
            assert heard.text == "" and guess.name in heard.reason
