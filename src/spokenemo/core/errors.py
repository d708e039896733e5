"""Typed errors. Every error names the thing that is wrong and how to fix it.

All errors derive from :class:`SpokenemoError`, so callers (the CLI above all) can catch one
type, print ``str(err)`` and exit non-zero without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class SpokenemoError(Exception):
    """Base class. ``hint`` says what the user can do about it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\n  fix: {hint}" if hint else message)


# --- audio -----------------------------------------------------------------------------------
class AudioError(SpokenemoError):
    """Something is wrong with an audio file; ``path`` names it."""

    def __init__(self, path: str | Path, message: str, *, hint: str | None = None) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {message}", hint=hint)


class AudioNotFoundError(AudioError, FileNotFoundError):
    pass


class NotAudioError(AudioError):
    pass


class EmptyAudioError(AudioError):
    pass


class InvalidSamplesError(AudioError):
    """All samples are NaN/Inf (or the decoded signal is otherwise unusable)."""


class AudioTooShortError(AudioError):
    pass


# --- data ------------------------------------------------------------------------------------
class ManifestError(SpokenemoError):
    """A manifest line is malformed; ``path`` and ``line`` (1-based) locate it."""

    def __init__(self, path: str | Path, line: int | None, message: str, *, hint: str | None = None) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}", hint=hint)


class CorpusLayoutError(SpokenemoError):
    """A corpus root does not look like the release a recipe expects."""


class LabelError(SpokenemoError):
    """An unknown label or label set."""


class ProtocolError(SpokenemoError):
    """A fold/protocol cannot be built as asked (e.g. a speaker would be in train and test)."""


class ConfigError(SpokenemoError):
    """A YAML config is missing, malformed or invalid."""


# --- models / services -------------------------------------------------------------------------
class BackendError(SpokenemoError):
    """An LLM backend failed (server down, bad answer, model missing)."""


class AuthenticationError(BackendError):
    pass


class ModelNotFoundError(SpokenemoError):
    """Weights or a model directory are missing."""


class MissingDependencyError(SpokenemoError, ImportError):
    """An optional package is not installed; the hint names the extra that brings it.

    It is an :class:`ImportError` too, so code that skips a system when a module is missing
    keeps working.
    """
