"""Predicting a whole manifest with a student: inputs, predictions file, metrics.

The student's inputs are built as at training time: transcripts from the manifest (or an ASR
backend when the manifest has none), cue text rendered with the thresholds and cue settings
saved with the model, from a cue table when one is given, else computed from the audio with
the model's extraction settings.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spokenemo.core.errors import ConfigError, ProtocolError, SpokenemoError
from spokenemo.core.fileio import atomic_write, write_jsonl
from spokenemo.data.manifest import Utterance, read_manifest
from spokenemo.protocols import apply_label_set, get_label_set, read_folds
from spokenemo.systems.aecotd.cuetext import (
    CueTable,
    cues_of_file,
    extraction_config,
    read_cue_table,
    render,
    text_config,
    thresholds_from_json,
)
from spokenemo.systems.aecotd.inputs import StudentInput
from spokenemo.systems.aecotd.prediction import INVALID, Prediction, Student, predict

log = logging.getLogger(__name__)


def student_cue_settings(student: Student) -> tuple[Any, Any, Any]:
    """``(text config, thresholds, extraction config)`` saved with the student (None when no cues)."""
    text = student.info.cues.get("text", {})
    cfg = text_config(text) if text else None
    shows_cues = cfg is not None and (cfg.coarse or cfg.fine or cfg.extended)
    if not shows_cues:
        return cfg, None, None
    thresholds = thresholds_from_json(student.thresholds)
    extraction = extraction_config(student.info.cues.get("table", {}).get("extraction"), cfg.n_segments)
    return cfg, thresholds, extraction


@dataclass
class InputReport:
    """Counts of how the inputs were obtained."""

    transcripts_from_asr: int = 0
    cues_computed: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"transcripts_from_asr": self.transcripts_from_asr, "cues_computed": self.cues_computed,
                "failed": len(self.failed), "failures": dict(list(self.failed.items())[:50])}


def build_inputs(student: Student, utterances: Sequence[Utterance], *, cue_table: CueTable | None = None,
                 base_dir: str | Path | None = None, asr: str = "auto", asr_model: str | Path | None = None,
                 force_asr: bool = False) -> tuple[list[StudentInput], InputReport]:
    """Student inputs for ``utterances`` (see the module docstring).

    Utterances whose audio cannot be read are left out and recorded in the report (key ->
    error message), so one bad file does not stop a long run.
    """
    cfg, thresholds, extraction = student_cue_settings(student)
    report = InputReport()
    prepared: list[tuple[Utterance, str, dict[str, Any] | None]] = []
    for u in utterances:
        try:
            transcript = u.text or ""
            if force_asr or not transcript:
                from spokenemo.models.asr import transcribe

                path = u.audio_path(base_dir)
                if path is None:
                    raise ConfigError(f"utterance {u.key!r} has neither a transcript nor audio")
                transcript = transcribe(path, backend=asr, model_path=asr_model, start=u.start, end=u.end)
                report.transcripts_from_asr += 1
            row = None
            if thresholds is not None:
                if cue_table is not None and u.key in cue_table.rows:
                    row = cue_table.rows[u.key]
                else:
                    path = u.audio_path(base_dir)
                    if path is None:
                        raise ConfigError(f"utterance {u.key!r} has no audio to compute cues from")
                    row = {**cues_of_file(path, extraction, start=u.start, end=u.end).to_row(),
                           "speaker": u.speaker, "corpus": u.corpus}
                    report.cues_computed += 1
        except SpokenemoError as err:
            report.failed[u.key] = str(err)
            log.warning("skipping %s: %s", u.key, err)
            continue
        prepared.append((u, transcript, row))
    if thresholds is not None and thresholds.speaker_relative:
        # new speakers get their own medians from their unlabelled utterances (labels are not read)
        thresholds = thresholds.with_speakers([row for _, _, row in prepared if row is not None])
    inputs = [StudentInput(key=u.key, transcript=transcript,
                           cue_text=render(row, thresholds, cfg) if row is not None else "", label=u.label)
              for u, transcript, row in prepared]
    return inputs, report


@dataclass
class ManifestPrediction:
    """Result of :func:`predict_manifest`.

    Attributes
    ----------
    predictions : list of Prediction
    metrics : ClassificationResult or None
        None when no utterance had a label.
    report : dict
        Inputs, failures, invalid outputs, dropped labels.
    """

    predictions: list[Prediction]
    metrics: Any
    report: dict[str, Any]


def select_keys(utterances: Sequence[Utterance], *, keys: Sequence[str] | None = None,
                folds: str | Path | None = None, fold: str | None = None, part: str = "test") -> list[Utterance]:
    """The utterances of a key list, or of one part of a fold (``folds`` folder + ``fold`` name)."""
    if folds is not None:
        all_folds = {f.name: f for f in read_folds(folds)}
        if fold not in all_folds:
            raise ProtocolError(f"no fold {fold!r} in {folds}", hint="folds there: " + ", ".join(all_folds))
        keys = list(all_folds[fold].part(part))
    if keys is None:
        return list(utterances)
    by_key = {u.key: u for u in utterances}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise ProtocolError(f"{len(missing)} keys are not in the manifest (e.g. {missing[:3]})",
                            hint="use folds built from this manifest")
    return [by_key[k] for k in keys]


def predict_manifest(student: Student, manifest: str | Path | Sequence[Utterance], *, out: str | Path | None = None,
                     cues: str | Path | None = None, keys: Sequence[str] | None = None,
                     folds: str | Path | None = None, fold: str | None = None, part: str = "test",
                     mode: Literal["score", "generate"] = "score", explain: bool = False, batch_size: int = 8,
                     max_new_tokens: int = 160, asr: str = "auto", asr_model: str | Path | None = None,
                     force_asr: bool = False, protocol: str | None = None,
                     progress: Callable[[int, int], None] | None = None) -> ManifestPrediction:
    """Predict every (selected) utterance of a manifest, write predictions and metrics.

    Parameters
    ----------
    student : Student
    manifest : path or sequence of Utterance
    out : path, optional
        Predictions JSONL (written atomically); the metrics go to ``<out stem>.metrics.json``.
    cues : path, optional
        Cue table of the manifest; without it cues are computed from the audio.
    keys, folds, fold, part : optional
        Which utterances (default: all); e.g. ``folds=DIR, fold="fold1"`` predicts the test part.
    mode, explain, batch_size, max_new_tokens : see :func:`spokenemo.systems.aecotd.prediction.predict`.
    asr, asr_model, force_asr : transcripts for utterances without text (see :mod:`spokenemo.models.asr`).
    protocol : str, optional
        Recorded with the metrics.
    progress : callable, optional
        ``progress(done, total)``.
    """
    base_dir = None
    if isinstance(manifest, (str, Path)):
        base_dir = Path(manifest).parent
        utts: Sequence[Utterance] = read_manifest(manifest)
    else:
        utts = list(manifest)
    selected = select_keys(utts, keys=keys, folds=folds, fold=fold, part=part)
    lset = get_label_set(student.info.label_set)
    labelled = [u for u in selected if u.label is not None or u.raw_label is not None]
    in_set = apply_label_set(labelled, lset)
    unlabelled = [u for u in selected if u.label is None and u.raw_label is None]
    targets = list(in_set) + unlabelled
    table = read_cue_table(cues) if cues is not None else None
    inputs, input_report = build_inputs(student, targets, cue_table=table, base_dir=base_dir, asr=asr,
                                        asr_model=asr_model, force_asr=force_asr)
    preds = predict(student, inputs, mode=mode, explain=explain, batch_size=batch_size, max_new_tokens=max_new_tokens,
                    progress=(lambda n: progress(n, len(inputs))) if progress else None)
    scored = [p for p in preds if p.label is not None]
    metrics = None
    if scored:
        from spokenemo.protocols import compute_metrics

        metrics = compute_metrics([p.label for p in scored], [p.predicted or INVALID for p in scored],
                                  student.labels, protocol=protocol, fold=fold)
    report = {"selected": len(selected), "outside_label_set": dict(in_set.dropped), "unlabelled": len(unlabelled),
              "predicted": len(preds), "invalid_outputs": sum(not p.valid for p in preds), "mode": mode,
              "inputs": input_report.to_dict(), "label_set": lset.name,
              "predicted_counts": dict(Counter(p.predicted or INVALID for p in preds))}
    if out is not None:
        out = Path(out)
        write_jsonl(out, (p.to_json() for p in preds))
        with atomic_write(out.with_name(out.stem + ".metrics.json")) as fh:
            json.dump({"metrics": metrics.to_dict() if metrics is not None else None, "report": report,
                       "model": str(student.model_dir)}, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
    return ManifestPrediction(predictions=preds, metrics=metrics, report=report)
