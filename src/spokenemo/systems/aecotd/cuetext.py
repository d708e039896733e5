"""Adapter to :mod:`spokenemo.features.cues`: cue tables, thresholds and the cue text of student prompts.

Training reads a cue table written by ``spokenemo cues --manifest M -o OUT`` and fits the
thresholds on the training keys; the model directory keeps the thresholds, the cue-text
settings and the extraction settings of the table, so that inference on new audio computes and
words the cues exactly as training did.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError
from spokenemo.core.speakers import speaker_of_row
from spokenemo.features.cues import (
    COARSE_CUES,
    EXTENDED_CUES,
    CueExtractionConfig,
    CueTextConfig,
    Thresholds,
    UtteranceCues,
    extract_file,
    render_cue_text,
)
from spokenemo.features.cues import read_cue_table as read_cue_rows
from spokenemo.features.cues.batch import read_cue_settings
from spokenemo.systems.aecotd.config import CuesSection

log = logging.getLogger(__name__)


@dataclass
class CueTable:
    """Rows of a cue table by key, and the extraction settings it was computed with.

    Attributes
    ----------
    rows : dict
        Segment key -> cue row (:meth:`spokenemo.features.cues.UtteranceCues.to_row` + metadata).
    options : dict
        ``{"path", "fingerprint", "extraction"}`` (the extraction settings; empty when the
        table has no settings file beside it).
    """

    rows: dict[str, dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)


def read_cue_table(path: str | Path) -> CueTable:
    """A cue table by key (:func:`spokenemo.features.cues.read_cue_table`) with its extraction settings.

    The settings are the ``*.settings.json`` beside the table (:class:`~spokenemo.features.cues.CueTablePaths`).
    """
    path = Path(path)
    rows = {str(r["key"]): r for r in read_cue_rows(path)}
    options: dict[str, Any] = {"path": str(path)}
    saved = read_cue_settings(path)
    if saved is not None:
        options.update(fingerprint=saved.get("fingerprint"), extraction=saved.get("config", {}))
    else:
        log.warning("%s: no extraction settings beside the cue table; inference on new audio will use the "
                    "default cue settings", path)
    return CueTable(rows=rows, options=options)


def text_config(cues: CuesSection | Mapping[str, Any]) -> CueTextConfig:
    """The :class:`spokenemo.features.cues.CueTextConfig` of a config's ``cues`` section (or its JSON form)."""
    data = cues.model_dump() if isinstance(cues, CuesSection) else dict(cues)
    keys = ("coarse", "fine", "extended", "n_segments", "decimals")
    return CueTextConfig(**{k: data[k] for k in keys if k in data})


def fit_thresholds(rows: Iterable[Mapping[str, Any]], cues: CuesSection,
                   info: Mapping[str, Any] | None = None) -> Thresholds:
    """:class:`spokenemo.features.cues.Thresholds` fitted on (training) rows, for the cues the text shows."""
    names = list(COARSE_CUES) + (list(EXTENDED_CUES) if cues.extended else [])
    return Thresholds.fit(rows, cues=names, speaker_relative=cues.speaker_relative, info=info)


def thresholds_from_json(obj: Mapping[str, Any]) -> Thresholds:
    """Thresholds saved with a student (``thresholds.json``)."""
    return Thresholds.from_json(dict(obj), source="student thresholds")


def render(row: Mapping[str, Any] | UtteranceCues, thresholds: Thresholds, config: CueTextConfig | None) -> str:
    """Cue text of one utterance (a cue-table row or :class:`~spokenemo.features.cues.UtteranceCues`)."""
    speaker = speaker_of_row(row) if isinstance(row, Mapping) else None
    return render_cue_text(row, thresholds, config, speaker=speaker)


def extraction_config(saved: Mapping[str, Any] | None, n_segments: int) -> CueExtractionConfig:
    """Extraction settings for new audio: the training table's, with ``n_segments`` included."""
    options = dict(saved or {})
    counts = set(options.get("n_segments") or ()) | {n_segments}
    options["n_segments"] = tuple(sorted(counts))
    try:
        return CueExtractionConfig(**options)
    except Exception as err:  # noqa: BLE001 - a model saved by another version: say so plainly
        raise ConfigError(f"the model's cue extraction settings are not valid here ({err})",
                          hint="retrain the student with this version of spokenemo") from None


def cues_of_file(path: str | Path, config: CueExtractionConfig | None, *, start: float | None = None,
                 end: float | None = None) -> UtteranceCues:
    """:class:`spokenemo.features.cues.UtteranceCues` of an audio file (or segment)."""
    return extract_file(path, start=start, end=end, config=config)
