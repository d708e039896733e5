"""How the features layer finds speech encoders: this system registers the models layer's lookup.

The ``encoded`` feature provider (:mod:`spokenemo.features.encoded`) sits below ``models`` and
may not import it; importing this module registers :func:`speech_encoder`, which reaches
:func:`spokenemo.models.encoders.get_speech_encoder` (torch) only when an encoder is asked for, as
the lookup ``"speech"``. The registry imports every system folder on its first lookup, so the
runner always has it.
"""

from __future__ import annotations

from typing import Any

from spokenemo.core.lazy import optional_import
from spokenemo.features.encoded import ENCODER_LOOKUPS

LOOKUP = "speech"


def speech_encoder(name: str) -> Any:
    """The registered speech encoder ``name`` (``spokenemo.models.encoders.get_speech_encoder``)."""
    encoders = optional_import("spokenemo.models.encoders", extra="llm", purpose="speech encoders")
    return encoders.get_speech_encoder(name)


if LOOKUP not in ENCODER_LOOKUPS:
    ENCODER_LOOKUPS.add(LOOKUP, speech_encoder)
