"""Offline ASR backends (pocketsphinx bundled model; faster-whisper when installed)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from spokenemo.core.errors import AudioNotFoundError, ConfigError, ModelNotFoundError
from spokenemo.models.asr import BACKENDS, get_transcriber, resolve_backend, transcribe

HAS_WHISPER = importlib.util.find_spec("faster_whisper") is not None


def _overlap(hyp: str, ref: str) -> float:
    h, r = hyp.lower().split(), ref.lower().split()
    return sum(w in h for w in r) / len(r)


@pytest.mark.slow
def test_pocketsphinx_transcribes_ravdess_sentences(test_data):
    clips = {"Actor_01/03-01-04-01-01-01-01.flac": "kids are talking by the door",
             "Actor_01/03-01-03-01-02-01-01.flac": "dogs are sitting by the door"}
    for clip, ref in clips.items():
        hyp = transcribe(test_data / "ravdess" / clip, backend="pocketsphinx")
        assert _overlap(hyp, ref) >= 0.6, hyp
        assert "door" in hyp


def test_pocketsphinx_gives_nothing_for_silence():
    assert transcribe(np.zeros(16000, dtype=np.float32), backend="pocketsphinx") == ""


def test_none_backend_and_errors(test_data):
    assert transcribe(np.zeros(800, dtype=np.float32), backend="none") == ""
    assert get_transcriber("none").name == "none"
    with pytest.raises(ConfigError, match="unknown ASR backend 'whisperx'"):
        get_transcriber("whisperx")
    with pytest.raises(AudioNotFoundError):
        transcribe(test_data / "missing.flac", backend="none")
    assert set(BACKENDS) == {"auto", "pocketsphinx", "faster-whisper", "none"}


@pytest.mark.skipif(HAS_WHISPER, reason="faster-whisper is installed here")
def test_auto_falls_back_to_pocketsphinx_without_faster_whisper(tmp_path):
    assert resolve_backend("auto") == "pocketsphinx"
    with pytest.raises(ModelNotFoundError, match="faster-whisper"):
        get_transcriber("faster-whisper", tmp_path)


@pytest.mark.skipif(not HAS_WHISPER, reason="faster-whisper is not installed (optional)")
def test_faster_whisper_needs_a_model_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="model.bin"):
        get_transcriber("faster-whisper", tmp_path)
