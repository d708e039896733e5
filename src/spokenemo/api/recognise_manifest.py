"""The recogniser over a manifest: predictions as JSON lines, resumable, scored on labelled rows.

Rows are recognised in batches; each finished row is appended to the output at once, so a
killed run resumes where it stopped (rows already in the output are not recognised again).
Speakers come from the manifest, so a speaker with enough segments is scored against their own
statistics (:class:`~spokenemo.systems.ser.recogniser.Recogniser`). A row without speech gets
``"predicted": null`` and the reason; an unreadable one ``"error"``; neither is scored. A labelled
row whose label is not one of the recogniser's classes is predicted and not scored (counted).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.audio import load_audio
from spokenemo.audio.speech import MIN_SPEECH_SECONDS, detect_speech
from spokenemo.core.errors import SpokenemoError
from spokenemo.core.fileio import append_jsonl, atomic_write, read_jsonl_tolerant
from spokenemo.core.speakers import speaker_of
from spokenemo.data.manifest import Segment
from spokenemo.protocols.metrics import ClassificationResult, compute_metrics
from spokenemo.systems.ser.recogniser import Recogniser

SAMPLE_RATE = 16000
BATCH = 16


@dataclass
class ManifestRecognition:
    """Rows written, metrics over the scored rows, and what was left out and why."""

    output: Path
    rows: list[dict[str, Any]]
    metrics: ClassificationResult | None
    counts: dict[str, int] = field(default_factory=dict)


def _decode(u: Segment, min_speech: float) -> tuple[np.ndarray | None, dict[str, Any]]:
    row: dict[str, Any] = {"key": u.key, "label": u.label, "speaker": speaker_of(u)}
    try:
        wave = load_audio(u.path, sr=SAMPLE_RATE, start=u.start, end=u.end)
    except SpokenemoError as err:
        return None, {**row, "predicted": None, "error": str(err)}
    if min_speech > 0:
        speech = detect_speech(wave, SAMPLE_RATE, min_speech_seconds=min_speech)
        if not speech.is_speech:
            return None, {**row, "predicted": None, "no_speech": speech.reason}
    return wave, row


def recognise_manifest(segments: Sequence[Segment], recogniser: Recogniser, out: str | Path, *,
                       speaker_norm: bool = False, min_speech_seconds: float = MIN_SPEECH_SECONDS,
                       progress: Callable[[int, int], None] | None = None) -> ManifestRecognition:
    """Recognise every segment into ``out`` (JSONL) and score the labelled rows.

    Without ``speaker_norm`` each batch is written as soon as it is done (a killed run resumes
    there). With it, every row's features are computed first and each speaker with enough
    segments is scored against their own statistics; rows are written at the end (a rerun
    then finds them done).
    """
    out = Path(out)
    done = {r["key"]: r for r in read_jsonl_tolerant(out)} if out.exists() else {}
    todo = [u for u in segments if u.key not in done]
    pending: list[tuple[np.ndarray, dict[str, Any]]] = []
    for start in range(0, len(todo), BATCH):
        batch = [_decode(u, min_speech_seconds) for u in todo[start:start + BATCH]]
        ready = [r for w, r in batch if w is not None]
        X = recogniser.features([w for w, _ in batch if w is not None]) if ready else None
        if speaker_norm:
            pending += list(zip(list(X) if X is not None else [], ready, strict=True))
            done.update({r["key"]: r for w, r in batch if w is None})
        else:
            if X is not None:
                _answer(recogniser, X, ready, None)
            for _, row in batch:
                append_jsonl(out, row)
                done[row["key"]] = row
        if progress:
            progress(min(start + BATCH, len(todo)), len(todo))
    if speaker_norm:
        if pending:
            _answer(recogniser, np.stack([x for x, _ in pending]), [r for _, r in pending],
                    [r["speaker"] for _, r in pending])
            done.update({r["key"]: r for _, r in pending})
        for u in todo:
            append_jsonl(out, done[u.key])
    rows = [done[u.key] for u in segments if u.key in done]
    return _scored(rows, recogniser.classes, out)


def _answer(recogniser: Recogniser, X: np.ndarray, rows: list[dict[str, Any]], speakers: list[str] | None) -> None:
    probs, used = recogniser.probabilities_from_features(X, speakers)
    for row, p, how in zip(rows, probs, used, strict=True):
        answer = recogniser.answer(p, how)
        row.update(predicted=answer.label, probabilities=answer.probabilities, normalisation=how)


def _scored(rows: list[dict[str, Any]], classes: Sequence[str], out: Path) -> ManifestRecognition:
    scored = [r for r in rows if r.get("predicted") and r.get("label") in set(classes)]
    counts = {"rows": len(rows), "scored": len(scored),
              "no_speech": sum(1 for r in rows if r.get("no_speech")),
              "errors": sum(1 for r in rows if r.get("error")),
              "unlabelled": sum(1 for r in rows if not r.get("label")),
              "label_outside_classes": sum(1 for r in rows if r.get("label") and r["label"] not in set(classes))}
    metrics = None
    if scored:
        metrics = compute_metrics([r["label"] for r in scored], [r["predicted"] for r in scored], list(classes))
    summary = {"counts": counts, "classes": list(classes),
               "ua": None if metrics is None else round(100 * metrics.ua, 2),
               "wa": None if metrics is None else round(100 * metrics.wa, 2)}
    with atomic_write(out.with_suffix(".metrics.json")) as fh:
        json.dump(summary, fh, indent=1)
    return ManifestRecognition(out, rows, metrics, counts)
