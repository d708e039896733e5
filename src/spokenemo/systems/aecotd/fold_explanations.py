"""The student's explanations of a fold's test utterances, saved for the experiment report.

With ``student.explain: true`` in an experiment config, the AECoTD system generates the chain of
thought after each scored label (:func:`spokenemo.systems.aecotd.predict` with ``explain=True``) and
writes one JSON line per test utterance to ``explanations.jsonl`` in the fold's work folder:
``key``, ``speaker``, ``true``, ``predicted``, ``explanation`` and ``cues`` (the cue text the
prompt showed). The fold record's ``info["explanations"]`` points at the file (relative to the
experiment's output folder); the report checks every explanation for faithfulness against its
cue text (:mod:`spokenemo.features.evidence`), as ``spokenemo faithfulness`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spokenemo.core.fileio import write_jsonl
from spokenemo.data.manifest import Segment

#: File name of the explanations in a fold's work folder.
EXPLANATIONS_FILE = "explanations.jsonl"


def explanation_rows(segments: Sequence[Segment], cue_texts: Mapping[str, str],
                     predictions: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per segment that got a prediction (``predictions``: key -> student Prediction)."""
    rows: list[dict[str, Any]] = []
    for u in segments:
        p = predictions.get(u.key)
        if p is None:
            continue
        rows.append({"key": u.key, "speaker": u.speaker, "true": None if u.label is None else str(u.label),
                     "predicted": p.predicted, "explanation": p.explanation or "", "cues": cue_texts.get(u.key, "")})
    return rows


def save_explanations(rows: Sequence[Mapping[str, Any]], work_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Write ``rows`` to ``work_dir/explanations.jsonl``; the ``info["explanations"]`` entry for them.

    The file is named relative to ``out_dir`` when it lies inside it (so a copied output folder
    still finds it), else by its absolute path.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / EXPLANATIONS_FILE
    write_jsonl(path, list(rows))
    try:
        name = str(path.resolve().relative_to(out_dir.resolve()))
    except ValueError:
        name = str(path.resolve())
    empty = sum(not str(r.get("explanation") or "").strip() for r in rows)
    return {"file": name, "n": len(rows), "empty": empty, "against": "cue text of the prompt"}
