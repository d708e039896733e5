"""Faithfulness of the explanations an experiment's systems wrote (issue 15, item 4).

A system that explains its test predictions says so in its fold record: ``info["explanations"]``
= ``{"file": PATH, ...}``, a JSON-lines file (relative to the experiment's output folder, or
absolute) with one row per explained segment: ``key``, the explanation (``explanation``,
``reasoning``, ``why`` or ``text``) and ``cues`` / ``cue_text``, the cue text its input showed.
The AECoTD student writes one with ``student.explain: true``
(:mod:`spokenemo.systems.aecotd.fold_explanations`).

:func:`system_faithfulness` checks every explanation of a row, over all its folds, against the
cue text of its own input (:func:`spokenemo.features.evidence.check_faithfulness` on
:func:`~spokenemo.features.evidence.evidence_from_cue_text`): the share of verifiable claims that
agree, claims and verifiable claims per explanation, unverifiable claims, and explanations that
name no cue. The report prints it for every explaining system.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from spokenemo.features.evidence import check_faithfulness, evidence_from_cue_text
from spokenemo.features.evidence.scoring import FaithfulnessSummary, explanation_text

CUE_FIELDS = ("cues", "cue_text")


def explanation_file(out_dir: Path, record: Mapping[str, Any]) -> Path | None:
    """The explanations file a fold record points at (None when the system explained nothing)."""
    entry = (record.get("info") or {}).get("explanations")
    if not isinstance(entry, Mapping) or not entry.get("file"):
        return None
    path = Path(str(entry["file"]))
    return path if path.is_absolute() else out_dir / path


def check_rows(rows: Iterable[Mapping[str, Any]], summary: FaithfulnessSummary | None = None) -> FaithfulnessSummary:
    """Check each row's explanation against the cue text of the row (added to ``summary``)."""
    summary = summary if summary is not None else FaithfulnessSummary()
    for i, row in enumerate(rows):
        key = str(row.get("key", i))
        text = explanation_text(row)
        if text is None:
            summary.without_text += 1
            continue
        cue_text = next((row[f] for f in CUE_FIELDS if isinstance(row.get(f), str) and row[f].strip()), None)
        if cue_text is None:
            summary.failures[key] = "no cue text in the row"
            continue
        summary.add(check_faithfulness(text, evidence_from_cue_text(cue_text)))
    return summary


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def system_faithfulness(out_dir: Path, folds: Sequence[Mapping[str, Any]]) -> tuple[FaithfulnessSummary | None,
                                                                                      list[str]]:
    """Faithfulness over every fold's explanations of one row, and notes on files that could not be read.

    Returns ``(None, [])`` when no fold of the row has explanations.
    """
    files = [(rec.get("fold", "?"), explanation_file(out_dir, rec)) for rec in folds]
    files = [(fold, path) for fold, path in files if path is not None]
    if not files:
        return None, []
    summary, notes = FaithfulnessSummary(), []
    for fold, path in files:
        try:
            rows = _read_jsonl(path)
        except (OSError, json.JSONDecodeError) as err:
            notes.append(f"{fold}: explanations not readable ({path}: {err})")
            continue
        check_rows(rows, summary)
    return summary, notes
