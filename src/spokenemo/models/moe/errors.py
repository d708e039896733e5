"""Typed errors of MiSTER-E (no torch here, so light layers and the CLI can catch them)."""

from __future__ import annotations

from spokenemo.core.errors import SpokenemoError


class MoeInputError(SpokenemoError):
    """The conversations given to MiSTER-E are unusable (a turn without speech or text, a bad label...)."""


class ExpertOutputError(SpokenemoError):
    """An expert produced NaN or infinite logits during training or prediction."""


class GateCollapseError(SpokenemoError):
    """The gate put (almost) all of its weight on one expert: the mixture has collapsed."""
