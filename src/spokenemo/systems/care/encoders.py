"""CARE encoder names for the feature store: ``care:DIR[#branch]`` and ``care-init:PRESET[#branch]``.

The encoder registry (:data:`spokenemo.models.encoders.SPEECH_ENCODERS`) matches names exactly, so
:func:`register_care_encoder` adds each CARE name a system or a command asks for (a module-level
factory, importable by worker processes). After that, ``get_speech_encoder(name)`` — and so the
``ser`` system's ``encoder:`` option and the ``encoded`` feature — give the CARE model's levels.
Importing this module does not import torch.
"""

from __future__ import annotations

import functools
from typing import Any

from spokenemo.core.lazy import optional_import
from spokenemo.models.care.config import parse_care_name
from spokenemo.models.encoders import SPEECH_ENCODERS


def care_factory(name: str, **options: Any) -> Any:
    """Build the CARE encoder ``name`` (torch loaded here)."""
    module = optional_import("spokenemo.models.care.encoder", extra="llm", purpose="the CARE encoder")
    return module.care_encoder(name, **options)


def register_care_encoder(name: str) -> str:
    """Make ``name`` (``care:DIR[#branch]`` / ``care-init:PRESET[#branch]``) a registered speech
    encoder; returns it. Bad names are a :class:`~spokenemo.core.errors.ConfigError`."""
    parse_care_name(name)
    if name not in SPEECH_ENCODERS:
        SPEECH_ENCODERS.add(name, functools.partial(care_factory, name))
    return name
