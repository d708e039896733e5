"""Speech encoders for every system's features: the ``speech`` lookup and CARE encoder names.

The ``encoded`` feature store (:mod:`spokenemo.features.encoded`) sits below ``models`` and may not
import it; importing this module registers :func:`speech_encoder` as its lookup ``"speech"``, which
reaches :func:`spokenemo.models.encoders.get_speech_encoder` (torch) only when an encoder is asked
for. The encoder registry (:data:`spokenemo.models.encoders.SPEECH_ENCODERS`) matches names exactly,
so :func:`register_care_encoder` adds each CARE name a system or a command asks for (a module-level
factory, importable by worker processes). Systems may not import each other, so this one module
serves them all (``ser``, ``care``, ``mister-e``, ``abhinaya-*``). Importing it does not import torch.
"""

from __future__ import annotations

import functools
from typing import Any

from spokenemo.core.lazy import optional_import
from spokenemo.features.encoded import ENCODER_LOOKUPS
from spokenemo.models.care.config import parse_care_name
from spokenemo.models.encoders import SPEECH_ENCODERS

LOOKUP = "speech"
CARE_PREFIXES = ("care:", "care-init:")


def speech_encoder(name: str) -> Any:
    """The registered speech encoder ``name`` (``spokenemo.models.encoders.get_speech_encoder``)."""
    encoders = optional_import("spokenemo.models.encoders", extra="llm", purpose="speech encoders")
    return encoders.get_speech_encoder(name)


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


def register_speech_name(name: str) -> str:
    """Make any speech encoder name usable by the ``encoded`` feature (CARE names registered on demand)."""
    return register_care_encoder(name) if name.startswith(CARE_PREFIXES) else name


if LOOKUP not in ENCODER_LOOKUPS:
    ENCODER_LOOKUPS.add(LOOKUP, speech_encoder)
