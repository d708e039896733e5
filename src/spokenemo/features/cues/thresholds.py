"""Thresholds that turn utterance-level cue values into words (docs/methods/aecotd.md, Eq. 1).

``Threshold_f = median over the training fold of f``; a value strictly above it gets the first
word (high/strong/fast, ...). :meth:`Thresholds.fit` fits them on the training rows only;
:meth:`Thresholds.save`/:meth:`Thresholds.load` keep them with a model for inference.

Speaker-relative thresholds (ours, an option; off in the paper config): each speaker gets the
medians of that speaker's own utterances (no labels are used). At training time these come from
the training rows; at inference, call :meth:`Thresholds.with_speakers` on the (unlabelled)
utterances of the new speakers first. A speaker with fewer than ``min_speaker_utterances``
utterances (one, by default) falls back to the global medians of the fold.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import ConfigError
from spokenemo.core.fileio import atomic_write
from spokenemo.core.speakers import speaker_of_row
from spokenemo.features.cues.vocabulary import COARSE_CUES, WORDS, word_for

FORMAT = "spokenemo-cue-thresholds"
FORMAT_VERSION = 1



def _value(row: Mapping[str, Any], cue: str) -> float | None:
    v = row.get(cue)
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _medians(rows: Sequence[Mapping[str, Any]], cues: Sequence[str]) -> dict[str, float]:
    out = {}
    for cue in cues:
        values = [v for v in (_value(r, cue) for r in rows) if v is not None]
        if values:
            out[cue] = float(np.median(values))
    return out


@dataclass(frozen=True)
class Thresholds:
    """Median thresholds per cue, globally and (optionally) per speaker.

    Attributes
    ----------
    medians : dict
        Global (training-fold) median per cue name.
    speaker_medians : dict
        ``{speaker: {cue: median}}``; used only when ``speaker_relative``.
    speaker_relative : bool
        Whether words compare with the speaker's own medians.
    min_speaker_utterances : int
        Utterances a speaker needs for own medians (else the global ones are used).
    n_rows : int
        Rows the global medians were fitted on.
    info : dict
        Free description (fold name, source file), saved with the thresholds.
    """

    medians: dict[str, float]
    speaker_medians: dict[str, dict[str, float]] = field(default_factory=dict)
    speaker_relative: bool = False
    min_speaker_utterances: int = 2
    n_rows: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    # --- fitting ----------------------------------------------------------------------------
    @classmethod
    def fit(cls, rows: Iterable[Mapping[str, Any]], *, cues: Sequence[str] | None = None,
            speaker_relative: bool = False, min_speaker_utterances: int = 2,
            info: Mapping[str, Any] | None = None) -> Thresholds:
        """Fit the medians on training rows.

        Parameters
        ----------
        rows : iterable of mapping
            Cue rows (:meth:`spokenemo.features.cues.UtteranceCues.to_row` plus ``speaker``/``corpus``),
            e.g. from :func:`spokenemo.features.cues.read_cue_table`. Labels are never read.
        cues : sequence of str, optional
            Cue names to fit; default: every known cue present in the rows.
        speaker_relative : bool
            Also fit per-speaker medians.
        min_speaker_utterances : int
            Fewest utterances for a speaker's own medians.
        info : mapping, optional
            Saved with the thresholds.

        Raises
        ------
        ConfigError
            No rows, or a requested cue is absent from every row.
        """
        rows = list(rows)
        if not rows:
            raise ConfigError("cannot fit cue thresholds on zero rows",
                              hint="check the training keys / fold: none of them is in the cue table")
        if cues is None:
            cues = [c for c in WORDS if any(_value(r, c) is not None for r in rows)]
        unknown = [c for c in cues if c not in WORDS]
        if unknown:
            raise ConfigError(f"unknown cue(s) {unknown}", hint=f"known cues: {', '.join(WORDS)}")
        medians = _medians(rows, cues)
        missing = [c for c in cues if c not in medians]
        if missing:
            raise ConfigError(f"no value for cue(s) {missing} in the {len(rows)} rows",
                              hint="extract the cue table with these cues (e.g. --extended)")
        fitted = cls(medians=medians, speaker_relative=speaker_relative,
                     min_speaker_utterances=min_speaker_utterances, n_rows=len(rows), info=dict(info or {}))
        return fitted.with_speakers(rows) if speaker_relative else fitted

    def with_speakers(self, rows: Iterable[Mapping[str, Any]]) -> Thresholds:
        """A copy with per-speaker medians from (unlabelled) rows added or replaced.

        Speakers with fewer than ``min_speaker_utterances`` rows get no own medians (the global
        ones apply). Rows without a speaker are ignored.
        """
        by_speaker: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in rows:
            spk = speaker_of_row(row)
            if spk is not None:
                by_speaker[spk].append(row)
        merged = dict(self.speaker_medians)
        for spk, spk_rows in by_speaker.items():
            if len(spk_rows) >= self.min_speaker_utterances:
                merged[spk] = _medians(spk_rows, list(self.medians))
        return replace(self, speaker_medians=merged)

    # --- applying ---------------------------------------------------------------------------
    @property
    def cues(self) -> tuple[str, ...]:
        return tuple(self.medians)

    def for_speaker(self, speaker: str | None = None) -> dict[str, float]:
        """The thresholds that apply to ``speaker`` (global ones unless speaker-relative and known)."""
        if self.speaker_relative and speaker is not None and speaker in self.speaker_medians:
            return {**self.medians, **self.speaker_medians[speaker]}
        return dict(self.medians)

    def words(self, values: Mapping[str, float], speaker: str | None = None) -> dict[str, str]:
        """Words for every cue that has both a value and a threshold."""
        limits = self.for_speaker(speaker)
        return {cue: word_for(cue, float(values[cue]), limits[cue])
                for cue in limits if values.get(cue) is not None}

    def word(self, cue: str, value: float, speaker: str | None = None) -> str:
        """The word for one cue value (strictly above the threshold -> first word)."""
        limits = self.for_speaker(speaker)
        if cue not in limits:
            raise ConfigError(f"no threshold for cue {cue!r}", hint=f"these thresholds cover {', '.join(limits)}")
        return word_for(cue, float(value), limits[cue])

    def covers_coarse(self) -> bool:
        return all(c in self.medians for c in COARSE_CUES)

    # --- files ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "medians": self.medians,
                "speaker_relative": self.speaker_relative, "min_speaker_utterances": self.min_speaker_utterances,
                "speaker_medians": self.speaker_medians, "n_rows": self.n_rows, "info": self.info}

    @classmethod
    def from_json(cls, obj: Any, source: str = "<thresholds>") -> Thresholds:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise ConfigError(f"{source}: not a cue thresholds file",
                              hint="fit one with `spokenemo thresholds fit CUES.parquet -o T.json`")
        if obj.get("version", 0) > FORMAT_VERSION:
            raise ConfigError(f"{source}: thresholds format version {obj['version']} is newer than this "
                              f"spokenemo understands ({FORMAT_VERSION})", hint="upgrade spokenemo")
        try:
            medians = {str(k): float(v) for k, v in obj["medians"].items()}
            speakers = {str(s): {str(k): float(v) for k, v in m.items()}
                        for s, m in (obj.get("speaker_medians") or {}).items()}
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ConfigError(f"{source}: malformed thresholds ({err})",
                              hint="refit with `spokenemo thresholds fit`") from None
        unknown = [c for c in medians if c not in WORDS]
        if unknown:
            raise ConfigError(f"{source}: unknown cue(s) {unknown}", hint="refit with this version of spokenemo")
        return cls(medians=medians, speaker_medians=speakers,
                   speaker_relative=bool(obj.get("speaker_relative", False)),
                   min_speaker_utterances=int(obj.get("min_speaker_utterances", 2)),
                   n_rows=int(obj.get("n_rows", 0)), info=dict(obj.get("info") or {}))

    def save(self, path: str | Path) -> Path:
        """Write the thresholds as JSON, atomically."""
        path = Path(path)
        with atomic_write(path) as fh:
            json.dump(self.to_json(), fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Thresholds:
        """Read thresholds written by :meth:`save` (typed :class:`ConfigError` on a bad file)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: thresholds file not found",
                              hint="fit one with `spokenemo thresholds fit CUES.parquet -o T.json`")
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: not valid JSON ({err})",
                              hint="refit with `spokenemo thresholds fit`") from None
        return cls.from_json(obj, source=str(path))
