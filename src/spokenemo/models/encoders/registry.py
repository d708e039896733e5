"""Speech and text encoders by name.

Speech (:func:`get_speech_encoder`):

- ``"whisper-base"``, ``"whisper-tiny.en"``: the packaged Whisper encoders in PyTorch, every layer
  (7 and 5 layers with the input; 512- and 384-d; 50 fps);
- ``"whisper-base-ct2"``, ``"whisper-tiny.en-ct2"``: the same through CTranslate2, last layer only;
- ``"logmel"``: Whisper's 80-bin log-mel (one layer, 100 fps); ``"egemaps-lld"``: eGeMAPS v02
  low-level descriptors (one layer, 25-d, 100 fps; the ``opensmile`` extra);
- ``"hf:/path/to/folder"``: a local wav2vec 2.0 / HuBERT / WavLM / data2vec-audio checkpoint.

Text (:func:`get_text_encoder`): ``"minilm"``, ``"mpnet"`` (the ``mpnet`` extra) and
``"hf:/path/to/folder"``.

This module imports neither torch nor transformers: the encoders that need them are imported
when asked for, through :func:`~spokenemo.core.lazy.optional_import` (a missing package is a
:class:`~spokenemo.core.errors.MissingDependencyError` naming the ``encoders`` extra).

>>> enc = get_speech_encoder("logmel")
>>> enc.n_layers, enc.dim, enc.frame_rate
(1, 80, 100.0)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from spokenemo.core.errors import ConfigError
from spokenemo.core.lazy import optional_import
from spokenemo.core.registry import Registry
from spokenemo.models.encoders.base import SpeechEncoder
from spokenemo.models.encoders.ct2_encoder import Ct2WhisperEncoder
from spokenemo.models.encoders.egemaps_lld import EgemapsLldEncoder
from spokenemo.models.encoders.logmel import LogMelEncoder
from spokenemo.models.encoders.text_files import minilm_dir, mpnet_dir

EXTRA = "encoders"
LOCAL_PREFIX = "hf:"

SpeechFactory = Callable[..., SpeechEncoder]
SPEECH_ENCODERS: Registry[SpeechFactory] = Registry("speech encoder")
TEXT_ENCODERS: Registry[Callable[..., Any]] = Registry("text encoder")


def register_speech_encoder(name: str) -> Callable[[SpeechFactory], SpeechFactory]:
    """Decorator registering a speech encoder class or factory under ``name``."""
    return SPEECH_ENCODERS.register(name)


def _heavy(module: str, purpose: str, needs: tuple[str, ...] = ("torch", "transformers")) -> Any:
    """Import one of this package's torch modules, naming the extra when a package is missing."""
    for package in needs:
        optional_import(package, extra=EXTRA, purpose=purpose)
    return optional_import(f"spokenemo.models.encoders.{module}", extra=EXTRA, purpose=purpose)


def _whisper(model: str, **options: Any) -> SpeechEncoder:
    return _heavy("whisper", f"the {model} encoder", ("torch",)).WhisperSpeechEncoder(model, **options)


def _hf_local(path: str, **options: Any) -> SpeechEncoder:
    return _heavy("hf_local", "local transformers speech encoders").HFLocalSpeechEncoder(path, **options)


SPEECH_ENCODERS.add("logmel", LogMelEncoder)
SPEECH_ENCODERS.add("egemaps-lld", EgemapsLldEncoder)
for _model in ("whisper-base", "whisper-tiny.en"):
    SPEECH_ENCODERS.add(_model, functools.partial(_whisper, _model))
    SPEECH_ENCODERS.add(f"{_model}-ct2", functools.partial(Ct2WhisperEncoder, _model))
# CARE (issue #17): get_speech_encoder("care", checkpoint=DIR or preset=NAME, branch="both"); the names
# care:DIR[#branch] and care-init:PRESET[#branch] are added by spokenemo.systems.speech_encoders.
SPEECH_ENCODERS.add("care", lambda **options: optional_import(
    "spokenemo.models.care.encoder", extra=EXTRA, purpose="the CARE encoder").from_options(**options))


def _lookup(registry: Registry[Any], name: str) -> Any:
    try:
        return registry.get(name)
    except ConfigError as err:
        raise ConfigError(err.message, hint=f"{err.hint}; or {LOCAL_PREFIX}/path/to/a/local/model/folder") from None


def get_speech_encoder(name: str, **options: Any) -> SpeechEncoder:
    """A speech encoder by registry name or ``"hf:/local/folder"``; ``options`` go to its constructor.

    Raises
    ------
    ConfigError
        Unknown name (the message lists the known ones).
    MissingDependencyError
        torch / transformers / ctranslate2 missing (install ``spokenemo[encoders]``).
    ModelNotFoundError
        The weights (package or folder) are missing or truncated.
    """
    if name.startswith(LOCAL_PREFIX):
        return _hf_local(name[len(LOCAL_PREFIX):], **options)
    return _lookup(SPEECH_ENCODERS, name)(**options)


def _text(path_fn: Callable[[], Any], name: str, **options: Any) -> Any:
    module = _heavy("text", f"the {name} text encoder")
    return module.TextEncoder(path_fn(), name=name, **options)


TEXT_ENCODERS.add("minilm", functools.partial(_text, minilm_dir, "minilm"))
TEXT_ENCODERS.add("mpnet", functools.partial(_text, mpnet_dir, "mpnet"))


def get_text_encoder(name: str, **options: Any) -> Any:
    """A :class:`~spokenemo.models.encoders.text.TextEncoder` by name or ``"hf:/local/folder"``."""
    if name.startswith(LOCAL_PREFIX):
        path = name[len(LOCAL_PREFIX):]
        return _heavy("text", "local transformers text encoders").TextEncoder(path, name=name, **options)
    return _lookup(TEXT_ENCODERS, name)(**options)
