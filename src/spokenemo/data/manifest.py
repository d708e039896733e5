"""The one utterance manifest schema (JSONL, one utterance per line), validated on read.

Field meanings (lhotse-style "manifests as data"):

- ``key``: unique id within the manifest (``corpus/speaker/stem`` by convention).
- ``path``: the audio file (absolute, or relative to the manifest's folder); ``None`` for
  text-only corpora (MELD text without clips).
- ``start``/``end``: optional offsets in seconds inside ``path``.
- ``label``: canonical emotion (see :mod:`spokenemo.protocols.labels`), ``raw_label``: the
  corpus's own label string.
- ``speaker``, ``gender`` (``"F"``/``"M"``/``None``), ``session``, ``dialogue``, ``turn``.
- ``text``: transcript; ``corpus``; ``language`` (ISO 639-1); ``duration`` in seconds.
- ``split``: an official split name where the corpus has one (``train``/``dev``/``test``).
- ``extra``: anything else a recipe wants to keep (intensity, statement id, ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from spokenemo.core.errors import ManifestError
from spokenemo.core.fileio import atomic_write


class Utterance(BaseModel):
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
    turn: int | None = None
    text: str | None = None
    corpus: str | None = None
    language: str | None = None
    duration: float | None = Field(default=None, ge=0)
    split: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("gender")
    @classmethod
    def _gender(cls, v: str | None) -> str | None:
        if v is None:
            return None
        g = v.strip().upper()[:1]
        if g not in {"F", "M"}:
            raise ValueError(f"gender must be 'F', 'M' or null, got {v!r}")
        return g

    @model_validator(mode="after")
    def _offsets(self) -> Utterance:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self

    def audio_path(self, base: str | Path | None = None) -> Path | None:
        """The audio path, resolved against ``base`` (the manifest's folder) when relative."""
        if self.path is None:
            return None
        p = Path(self.path)
        return p if p.is_absolute() or base is None else Path(base) / p

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=False)


def _format_validation(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "line"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def parse_manifest_lines(lines: Iterable[str], source: str | Path = "<manifest>") -> list[Utterance]:
    """Validate JSONL lines into utterances; errors carry the 1-based line number."""
    out: list[Utterance] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ManifestError(source, i, f"not valid JSON ({e.msg} at column {e.colno})",
                                hint="each line must be one JSON object; regenerate with `spokenemo prepare`") from e
        if not isinstance(obj, dict):
            raise ManifestError(source, i, f"expected a JSON object, got {type(obj).__name__}")
        try:
            utt = Utterance.model_validate(obj)
        except ValidationError as e:
            raise ManifestError(source, i, _format_validation(e),
                                hint="see spokenemo.data.manifest.Utterance for the schema") from e
        if utt.key in seen:
            raise ManifestError(source, i, f"duplicate key {utt.key!r} (first on line {seen[utt.key]})",
                                hint="keys must be unique within a manifest")
        seen[utt.key] = i
        out.append(utt)
    return out


def read_manifest(path: str | Path) -> list[Utterance]:
    """Read and validate a JSONL manifest. Raises :class:`ManifestError` with line numbers."""
    path = Path(path)
    if not path.exists():
        raise ManifestError(path, None, "manifest not found",
                            hint="create one with `spokenemo prepare CORPUS ROOT -o manifest.jsonl`")
    with open(path, encoding="utf-8") as fh:
        utts = parse_manifest_lines(fh, source=path)
    if not utts:
        raise ManifestError(path, None, "manifest is empty", hint="check the corpus root given to `spokenemo prepare`")
    return utts


def write_manifest(path: str | Path, utterances: Iterable[Utterance]) -> int:
    """Write utterances atomically; returns how many were written."""
    n = 0
    with atomic_write(path) as fh:
        for u in utterances:
            fh.write(json.dumps(u.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n
