"""Adapter to :mod:`spokenemo.features.cues`: cue tables, thresholds and the cue text of student prompts.

Training reads a cue table written by ``spokenemo cues --manifest M -o OUT`` and fits the
thresholds on the training keys; the model directory keeps the thresholds, the cue-text
settings and the extraction settings of the table, so that inference on new audio computes and
words the cues exactly as training did.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError
from spokenemo.systems.aecotd.config import CuesSection

log = logging.getLogger(__name__)


@dataclass
class CueTable:
    """Rows of a cue table by key, and the extraction settings it was computed with.

    Attributes
    ----------
    rows : dict
        Utterance key -> cue row (:meth:`spokenemo.features.cues.UtteranceCues.to_row` + metadata).
    options : dict
        ``{"path", "fingerprint", "extraction"}`` (the extraction settings; empty when the
        table has no settings file beside it).
    """

    rows: dict[str, dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)


def _settings_path(path: Path) -> Path:
    from spokenemo.features.cues import CueTablePaths

    if path.is_dir() or path.suffix == ".parquet":
        return CueTablePaths.for_output(path).settings
    return path.with_name(path.name[: -len(path.suffix)] + ".settings.json") if path.suffix else path


def read_cue_table(path: str | Path) -> CueTable:
    """Read a cue table (``.parquet``, ``.jsonl`` or its folder) and its extraction settings."""
    from spokenemo.features.cues import read_cue_table as read_rows

    path = Path(path)
    rows = {str(r["key"]): r for r in read_rows(path)}
    options: dict[str, Any] = {"path": str(path)}
    settings = _settings_path(path)
    if settings.is_file():
        saved = json.loads(settings.read_text(encoding="utf-8"))
        options.update(fingerprint=saved.get("fingerprint"), extraction=saved.get("config", {}))
    else:
        log.warning("%s: no extraction settings beside the cue table; inference on new audio will use the "
                    "default cue settings", path)
    return CueTable(rows=rows, options=options)


def text_config(cues: CuesSection | Mapping[str, Any]) -> Any:
    """The :class:`spokenemo.features.cues.CueTextConfig` of a config's ``cues`` section (or its JSON form)."""
    from spokenemo.features.cues import CueTextConfig

    data = cues.model_dump() if isinstance(cues, CuesSection) else dict(cues)
    keys = ("coarse", "fine", "extended", "n_segments", "decimals")
    return CueTextConfig(**{k: data[k] for k in keys if k in data})


def fit_thresholds(rows: Iterable[Mapping[str, Any]], cues: CuesSection, info: Mapping[str, Any] | None = None) -> Any:
    """:class:`spokenemo.features.cues.Thresholds` fitted on (training) rows, for the cues the text shows."""
    from spokenemo.features.cues import COARSE_CUES, EXTENDED_CUES, Thresholds

    names = list(COARSE_CUES) + (list(EXTENDED_CUES) if cues.extended else [])
    return Thresholds.fit(rows, cues=names, speaker_relative=cues.speaker_relative, info=info)


def thresholds_from_json(obj: Mapping[str, Any]) -> Any:
    from spokenemo.features.cues import Thresholds

    return Thresholds.from_json(dict(obj), source="student thresholds")


def render(row: Any, thresholds: Any, config: Any) -> str:
    """Cue text of one utterance (a cue-table row or :class:`~spokenemo.features.cues.UtteranceCues`)."""
    from spokenemo.features.cues import render_cue_text, speaker_of

    speaker = speaker_of(row) if isinstance(row, Mapping) else None
    return render_cue_text(row, thresholds, config, speaker=speaker)


def extraction_config(saved: Mapping[str, Any] | None, n_segments: int) -> Any:
    """Extraction settings for new audio: the training table's, with ``n_segments`` included."""
    from spokenemo.features.cues import CueExtractionConfig

    options = dict(saved or {})
    counts = set(options.get("n_segments") or ()) | {n_segments}
    options["n_segments"] = tuple(sorted(counts))
    try:
        return CueExtractionConfig(**options)
    except Exception as err:  # noqa: BLE001 - a model saved by another version: say so plainly
        raise ConfigError(f"the model's cue extraction settings are not valid here ({err})",
                          hint="retrain the student with this version of spokenemo") from None


def cues_of_file(path: str | Path, config: Any, *, start: float | None = None, end: float | None = None) -> Any:
    """:class:`spokenemo.features.cues.UtteranceCues` of an audio file (or segment)."""
    from spokenemo.features.cues import extract_file

    return extract_file(path, start=start, end=end, config=config)
