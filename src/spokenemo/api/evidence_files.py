"""Faithfulness of the explanations in a teacher cache or a predictions file: :func:`faithfulness_of_file`.

Rows are JSON lines (or one JSON list). The explanation is the first of ``reasoning``,
``explanation``, ``why``, ``text``. It is checked

- ``against="cues"``: against the cue text the row's prompt showed (``cues`` / ``cue_text``
  field; a teacher cache has it), i.e. does the text agree with the cue line printed beside it;
- ``against="audio"``: against cue evidence measured from the audio (``path``, ``start``,
  ``end`` in the row, or the row's ``key`` looked up in ``manifest``), with the speaker's other
  rows of the file as baseline (``baseline="speaker"``, leave one out) or the training medians.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spokenemo.api.evidence import measure
from spokenemo.core.errors import ConfigError
from spokenemo.data.manifest import json_lines, read_manifest
from spokenemo.features.evidence import Baseline, CueMeasures, compare, evidence_from_cue_text
from spokenemo.features.evidence import check_faithfulness as _check
from spokenemo.features.evidence.scoring import FaithfulnessSummary, explanation_text

AGAINST = ("cues", "audio")
CUE_FIELDS = ("cues", "cue_text")


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (or a JSON list / a JSON object with a ``rows`` or ``predictions`` list)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: not found", hint="give a teacher cache (cot.jsonl) or a predictions JSONL file")
    text = path.read_text()
    if text.lstrip().startswith("["):
        return [dict(r) for r in json.loads(text)]
    if text.lstrip().startswith("{") and "\n{" not in text.strip():
        data = json.loads(text)
        for key in ("rows", "predictions", "items"):
            if isinstance(data.get(key), list):
                return [dict(r) for r in data[key]]
    return [dict(v) for _, v in json_lines(text.splitlines(), path, hint="one JSON object per line")]


def _speaker(row: Mapping[str, Any]) -> str:
    return str(row.get("speaker") or row.get("key", "").rsplit("/", 1)[0] or "?")


def _audio_measures(rows: list[dict[str, Any]], manifest: str | Path | None) -> dict[int, CueMeasures | str]:
    segments = {s.key: s for s in read_manifest(manifest)} if manifest else {}
    out: dict[int, CueMeasures | str] = {}
    for i, row in enumerate(rows):
        seg = segments.get(str(row.get("key")))
        path = row.get("path") or (seg.path if seg else None)
        if not path:
            out[i] = "no audio path (give --manifest with the rows' keys)"
            continue
        start = row.get("start", seg.start if seg else None)
        end = row.get("end", seg.end if seg else None)
        if seg is not None and not row.get("speaker"):
            row["speaker"] = seg.speaker
        out[i] = measure(path, start=start, end=end)
    return out


def faithfulness_of_file(path: str | Path, *, against: str = "cues", manifest: str | Path | None = None,
                         baseline: str = "speaker", valid_only: bool = True) -> tuple[FaithfulnessSummary, list[dict]]:
    """Check every explanation of a teacher cache or predictions file.

    Returns
    -------
    (summary, per_row) : totals, and one dict per row (key, agreement, claims, verdicts).
    """
    if against not in AGAINST:
        raise ConfigError(f"unknown --against {against!r}", hint=f"use one of {AGAINST}")
    rows = [r for r in read_rows(path) if not valid_only or r.get("valid", True) is not False]
    summary = FaithfulnessSummary()
    measures = _audio_measures(rows, manifest) if against == "audio" else {}
    per_row: list[dict] = []
    for i, row in enumerate(rows):
        key = str(row.get("key", i))
        text = explanation_text(row)
        if text is None:
            summary.without_text += 1
            continue
        if against == "cues":
            cue_text = next((row[f] for f in CUE_FIELDS if isinstance(row.get(f), str)), None)
            if cue_text is None:
                summary.failures[key] = "no cue text in the row"
                continue
            evidence = evidence_from_cue_text(cue_text)
        else:
            m = measures[i]
            if isinstance(m, str):
                summary.failures[key] = m
                continue
            evidence = compare(m, _row_baseline(i, rows, measures, baseline))
        result = _check(text, evidence)
        summary.add(result)
        per_row.append({"key": key, **result.to_dict()})
    return summary, per_row


def _row_baseline(i: int, rows: list[dict[str, Any]], measures: Mapping[int, Any], baseline: str) -> Baseline:
    if baseline == "training":
        return Baseline.training()
    if baseline != "speaker":
        return Baseline.training(baseline)
    who = _speaker(rows[i])
    others = [m for j, m in measures.items() if j != i and isinstance(m, CueMeasures) and _speaker(rows[j]) == who]
    if not others:
        return Baseline.training()
    return Baseline.from_measures(others, source="speaker")
