"""Encoder names for ABHINAYA's members: the features layer's ``speech`` lookup and CARE names.

The ``encoded`` feature store finds encoders through the lookup ``"speech"``
(:data:`spokenemo.features.encoded.ENCODER_LOOKUPS`); a system may not import another system, so
this module registers the same lookup when no other system has yet (both reach
:func:`spokenemo.models.encoders.get_speech_encoder`). :func:`register_speech_name` also makes a
CARE model name (``care:DIR[#branch]``, ``care-init:PRESET``) a registered speech encoder, so the
S2 stand-in can read a CARE model's features. Importing this module does not import torch.
"""

from __future__ import annotations

import functools
from typing import Any

from spokenemo.core.lazy import optional_import
from spokenemo.features.encoded import ENCODER_LOOKUPS
from spokenemo.models.care.config import parse_care_name
from spokenemo.models.encoders import SPEECH_ENCODERS

LOOKUP = "speech"


def speech_encoder(name: str) -> Any:
    """The registered speech encoder ``name`` (torch loaded here)."""
    encoders = optional_import("spokenemo.models.encoders", extra="llm", purpose="speech encoders")
    return encoders.get_speech_encoder(name)


def care_factory(name: str, **options: Any) -> Any:
    """Build the CARE encoder ``name`` (torch loaded here)."""
    module = optional_import("spokenemo.models.care.encoder", extra="llm", purpose="the CARE encoder")
    return module.care_encoder(name, **options)


def register_speech_name(name: str) -> str:
    """Make ``name`` usable by the ``encoded`` feature (CARE names registered on demand); returns it."""
    if name.startswith(("care:", "care-init:")):
        parse_care_name(name)
        if name not in SPEECH_ENCODERS:
            SPEECH_ENCODERS.add(name, functools.partial(care_factory, name))
    return name


if LOOKUP not in ENCODER_LOOKUPS:
    ENCODER_LOOKUPS.add(LOOKUP, speech_encoder)
