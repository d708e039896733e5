"""The one segment manifest schema (JSONL, one segment per line), validated on read.

A :class:`Segment` is one labelled stretch of speech: a whole file (an acted utterance) or a
``start``/``end`` span inside a longer recording (a turn of a dialogue, a podcast segment).

Field meanings (lhotse-style "manifests as data"):

- ``key``: unique id within the manifest (``corpus/speaker/stem`` by convention).
- ``path``: the audio file (absolute, or relative to the manifest's folder); ``None`` for
  text-only corpora (MELD text without clips).
- ``start``/``end``: optional offsets in seconds inside ``path``.
- ``label``: canonical emotion (see :mod:`spokenemo.protocols.labels`), ``raw_label``: the
  corpus's own label string.
- ``speaker``, ``gender`` (``"F"``/``"M"``/``None``), ``session``.
- ``dialogue``: id of the conversation the segment belongs to (unique within its corpus);
  ``turn``: its place in that conversation, a whole number >= 0 that orders the turns (see
  :func:`spokenemo.data.conversation.conversations`). A turn needs a dialogue.
- ``text``: transcript; ``corpus``; ``language`` (ISO 639-1); ``duration`` in seconds.
- ``split``: an official split name where the corpus has one (``train``/``dev``/``test``).
- ``extra``: anything else a recipe wants to keep (intensity, statement id, ...).

Older manifests that wrote ``turn`` as a string of digits (``"3"``) or ``dialogue`` as a number
still read; they are written back as an int and a string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from spokenemo.core.errors import ManifestError
from spokenemo.core.fileio import atomic_write


class Segment(BaseModel):
    """One labelled segment of speech (or text): a manifest row. See the module docstring."""

    model_config = ConfigDict(extra="forbid", frozen=False)

    key: str = Field(min_length=1)
    path: str | None = None
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, gt=0)
    label: str | None = None
    raw_label: str | None = None
    speaker: str | None = None
    gender: str | None = None
    session: str | None = None
    dialogue: str | None = None
    turn: int | None = Field(default=None, ge=0)
    text: str | None = None
    corpus: str | None = None
    language: str | None = None
    duration: float | None = Field(default=None, ge=0)
    split: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    #: ``(file, line)`` the segment was read from; ``None`` for segments built in code.
    _origin: tuple[str, int] | None = PrivateAttr(default=None)

    @field_validator("gender")
    @classmethod
    def _gender(cls, v: str | None) -> str | None:
        if v is None:
            return None
        g = v.strip().upper()[:1]
        if g not in {"F", "M"}:
            raise ValueError(f"gender must be 'F', 'M' or null, got {v!r}")
        return g

    @field_validator("turn", mode="before")
    @classmethod
    def _turn(cls, v: Any) -> Any:
        if isinstance(v, bool) or (isinstance(v, str) and not v.strip().isdigit()):
            raise ValueError(f"turn must be a whole number >= 0 (the segment's place in its dialogue), got {v!r}")
        return v

    @field_validator("dialogue", mode="before")
    @classmethod
    def _dialogue(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)  # older manifests and CSVs wrote numeric dialogue ids
        if isinstance(v, str) and not v.strip():
            raise ValueError("dialogue must be a non-empty id or null")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Segment:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        if self.turn is not None and self.dialogue is None:
            raise ValueError(f"turn {self.turn} needs a dialogue (the conversation it is a turn of)")
        return self

    def __eq__(self, other: object) -> bool:
        # the same row read from a file or built in code is the same segment: origin does not count
        if not isinstance(other, Segment):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, as before

    @property
    def origin(self) -> str | None:
        """``"file:line"`` of the manifest row this segment was read from, else ``None``."""
        return None if self._origin is None else f"{self._origin[0]}:{self._origin[1]}"

    def audio_path(self, base: str | Path | None = None) -> Path | None:
        """The audio path, resolved against ``base`` (the manifest's folder) when relative."""
        if self.path is None:
            return None
        p = Path(self.path)
        return p if p.is_absolute() or base is None else Path(base) / p

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=False)


#: The former name of :class:`Segment` (kept for existing code).


def json_error_text(err: json.JSONDecodeError) -> str:
    """``"Expecting ',' delimiter at column 29"``: the decoder's message with its column, once.

    Some messages of :mod:`json` already end in "at" ("Invalid control character at"), so the
    position is appended without repeating it.
    """
    msg = err.msg[:-3] if err.msg.endswith(" at") else err.msg
    return f"{msg} at column {err.colno}"


def _format_validation(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)  # a check across fields has no field to name
    return "; ".join(parts)


def json_lines(lines: Iterable[str], source: str | Path, *, hint: str) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` of every non-blank JSONL line (1-based); a line that is not
    JSON raises :class:`ManifestError` naming ``source:line`` with ``hint``."""
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield i, json.loads(raw)
        except json.JSONDecodeError as e:
            raise ManifestError(source, i, f"not valid JSON ({json_error_text(e)})", hint=hint) from e


def parse_manifest_lines(lines: Iterable[str], source: str | Path = "<manifest>", *,
                         require_audio: bool = False) -> list[Segment]:
    """Validate JSONL lines into segments; every error names ``source:line`` (1-based).

    With ``require_audio`` a row without ``path`` is an error too (for commands that need audio).
    """
    out: list[Segment] = []
    seen: dict[str, int] = {}
    for i, obj in json_lines(lines, source,
                             hint="each line must be one JSON object; regenerate with `spokenemo prepare`"):
        if not isinstance(obj, dict):
            raise ManifestError(source, i, f"expected a JSON object, got {type(obj).__name__}")
        try:
            seg = Segment.model_validate(obj)
        except ValidationError as e:
            raise ManifestError(source, i, _format_validation(e),
                                hint="see spokenemo.data.manifest.Segment for the schema") from e
        if seg.key in seen:
            raise ManifestError(source, i, f"duplicate key {seg.key!r} (first on line {seen[seg.key]})",
                                hint="keys must be unique within a manifest")
        seen[seg.key] = i
        seg._origin = (str(source), i)
        out.append(seg)
    if require_audio:
        require_audio_paths(out, source=source)
    return out


def require_audio_paths(segments: Sequence[Segment], *, source: str | Path = "<manifest>",
                        purpose: str = "this step needs audio") -> None:
    """Raise :class:`ManifestError` at the ``file:line`` of the first segment without ``path``.

    The message counts every such segment; segments built in code are named by key.
    """
    missing = [s for s in segments if s.path is None]
    if not missing:
        return
    first = missing[0]
    where, line = (first._origin if first._origin is not None else (str(source), None))
    more = f" ({len(missing)} rows have none)" if len(missing) > 1 else ""
    raise ManifestError(where, line, f"row {first.key!r} has no audio 'path'{more}; {purpose}",
                        hint="give each row a path, or filter text-only rows out of the manifest")


def read_manifest(path: str | Path, *, require_audio: bool = False) -> list[Segment]:
    """Read and validate a JSONL manifest. Raises :class:`ManifestError` naming ``file:line``.

    With ``require_audio`` a row without ``path`` is an error (at its line).
    """
    path = Path(path)
    if not path.exists():
        raise ManifestError(path, None, "manifest not found",
                            hint="create one with `spokenemo prepare CORPUS ROOT -o manifest.jsonl`")
    with open(path, encoding="utf-8") as fh:
        segs = parse_manifest_lines(fh, source=path, require_audio=require_audio)
    if not segs:
        raise ManifestError(path, None, "manifest is empty", hint="check the corpus root given to `spokenemo prepare`")
    return segs


def write_manifest(path: str | Path, segments: Iterable[Segment]) -> int:
    """Write segments atomically; returns how many were written."""
    n = 0
    with atomic_write(path) as fh:
        for s in segments:
            fh.write(json.dumps(s.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n
