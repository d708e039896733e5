"""Predicting a whole manifest with a student: inputs, predictions file, metrics.

The student's inputs are built as at training time: transcripts from the manifest (or an ASR
backend when the manifest has none), cue text rendered with the thresholds and cue settings
saved with the model, from a cue table when one is given, else computed from the audio with
the model's extraction settings.

A row without a label is predicted and written with ``"label": null``; it is never scored:
the metrics are over the labelled rows only, and the report counts the unlabelled ones.
Read and check the manifest with :func:`spokenemo.systems.aecotd.targets.read_targets` before
loading the student, so that a bad manifest is reported at once.

Every row with audio is checked for speech first (:mod:`~spokenemo.systems.aecotd.speech_gate`):
a row without enough speech is not given to the student, is written with ``"predicted": null``
and its ``"no_speech"`` reason, is counted in the report (``no_speech``) and left out of the
metrics. A model folder with a ``calibration.json`` has its probabilities temperature-scaled
(:mod:`~spokenemo.systems.aecotd.temperature`); :func:`calibrate_student` fits one.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from spokenemo.audio.speech import MIN_SPEECH_SECONDS, SpeechReport
from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.core.fileio import atomic_write, write_jsonl
from spokenemo.data.manifest import Segment
from spokenemo.models.asr import transcribe
from spokenemo.protocols import apply_label_set, compute_metrics, get_label_set
from spokenemo.protocols.calibration import Calibration, calibrate
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
from spokenemo.systems.aecotd.speech_gate import SpeechGate, check_speech_rows, no_speech_row
from spokenemo.systems.aecotd.targets import Targets, has_label, read_targets, select_keys
from spokenemo.systems.aecotd.temperature import calibrated, read_temperature, write_calibration

__all__ = ["MIN_CALIBRATION_ROWS", "InputReport", "ManifestPrediction", "build_inputs", "calibrate_student",
           "predict_manifest", "select_keys", "student_cue_settings"]

log = logging.getLogger(__name__)
#: Fewest labelled validation predictions a temperature is fitted on.
MIN_CALIBRATION_ROWS = 20


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


def build_inputs(student: Student, utterances: Sequence[Segment], *, cue_table: CueTable | None = None,
                 base_dir: str | Path | None = None, asr: str = "auto", asr_model: str | Path | None = None,
                 force_asr: bool = False) -> tuple[list[StudentInput], InputReport]:
    """Student inputs for ``utterances`` (see the module docstring).

    Utterances whose audio cannot be read are left out and recorded in the report (key ->
    error message), so one bad file does not stop a long run.
    """
    cfg, thresholds, extraction = student_cue_settings(student)
    report = InputReport()
    prepared: list[tuple[Segment, str, dict[str, Any] | None]] = []
    for u in utterances:
        try:
            transcript = u.text or ""
            if force_asr or not transcript:
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
                           cue_text=render(row, thresholds, cfg) if row is not None else "",
                           label=u.label if has_label(u) else None)
              for u, transcript, row in prepared]
    return inputs, report


@dataclass
class ManifestPrediction:
    """Result of :func:`predict_manifest`.

    Attributes
    ----------
    predictions : list of Prediction
        The rows the student was asked about (rows without speech are not among them).
    metrics : ClassificationResult or None
        Over the labelled, predicted utterances only; None when none had a label. With label
        scoring ``metrics.extra`` holds ``ece`` and ``nll`` (:mod:`spokenemo.protocols.calibration`).
    report : dict
        Inputs, failures, invalid outputs, dropped labels, ``unlabelled`` (predicted, not scored),
        ``scored``, ``no_speech`` (not predicted, not scored) and ``speech_check`` counts, and the
        calibration ``temperature`` applied (None: raw probabilities).
    no_speech : dict
        Key -> :class:`~spokenemo.audio.speech.SpeechReport` of each row without enough speech.
    """

    predictions: list[Prediction]
    metrics: Any
    report: dict[str, Any]
    no_speech: dict[str, SpeechReport] = field(default_factory=dict)


def _selected_rows(student: Student, chosen: Targets) -> tuple[list[Segment], dict[str, int], str]:
    """Rows in manifest order, the labels left out, the label set's name.

    Labelled rows outside the student's label set are left out (and counted).
    """
    lset = get_label_set(student.info.label_set)
    in_set = apply_label_set([u for u in chosen.utterances if has_label(u)], lset)
    kept = {u.key: u for u in in_set}
    rows = [kept.get(u.key, u) for u in chosen.utterances if not has_label(u) or u.key in kept]
    return rows, dict(in_set.dropped), lset.name


def _with_temperature(preds: list[Prediction], temperature: float | None) -> list[Prediction]:
    if temperature is None:
        return preds
    return [replace(p, probabilities=calibrated(p.probabilities, temperature)) for p in preds]


def _ordered_rows(targets: Sequence[Segment], preds: Sequence[Prediction], gate: SpeechGate) -> list[dict[str, Any]]:
    """Predictions-file rows in manifest order: predictions and rows without speech."""
    by_key = {p.key: p.to_json() for p in preds}
    rows = []
    for u in targets:
        if u.key in gate.no_speech:
            rows.append(no_speech_row(u, gate.no_speech[u.key], u.label if has_label(u) else None))
        elif u.key in by_key:
            rows.append(by_key[u.key])
    return rows


def predict_manifest(student: Student, manifest: str | Path | Sequence[Segment] | Targets, *,
                     out: str | Path | None = None, cues: str | Path | CueTable | None = None,
                     base_dir: str | Path | None = None, keys: Sequence[str] | None = None,
                     folds: str | Path | None = None, fold: str | None = None, part: str = "test",
                     mode: Literal["score", "generate"] = "score", explain: bool = False, batch_size: int = 8,
                     max_new_tokens: int = 160, asr: str = "auto", asr_model: str | Path | None = None,
                     force_asr: bool = False, protocol: str | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     min_speech_seconds: float = MIN_SPEECH_SECONDS, vad: str = "auto",
                     temperature: bool = True) -> ManifestPrediction:
    """Predict every (selected) utterance of a manifest that holds speech, write predictions and metrics.

    Parameters
    ----------
    student : Student
    manifest : path, sequence of Segment or Targets
        The rows to predict (:func:`~spokenemo.systems.aecotd.targets.read_targets` reads and
        checks a manifest before a student is loaded). Rows without a label are predicted and
        left out of the metrics.
    out : path, optional
        Predictions JSONL (written atomically); the metrics go to ``<out stem>.metrics.json``.
    cues : path or CueTable, optional
        Cue table of the manifest; without it cues are computed from the audio.
    base_dir : path, optional
        Folder that relative audio paths resolve against (default: the manifest's folder).
    keys, folds, fold, part : optional
        Which utterances (default: all); e.g. ``folds=DIR, fold="fold1"`` predicts the test part.
    mode, explain, batch_size, max_new_tokens : see :func:`spokenemo.systems.aecotd.prediction.predict`.
    asr, asr_model, force_asr : transcripts for utterances without text (see :mod:`spokenemo.models.asr`).
    protocol : str, optional
        Recorded with the metrics.
    progress : callable, optional
        ``progress(done, total)``.
    min_speech_seconds, vad : float, str
        The speech check (:mod:`spokenemo.audio.speech`); ``min_speech_seconds=0`` skips it.
    temperature : bool
        Apply the model folder's calibration temperature, when it has one.
    """
    chosen = read_targets(manifest, keys=keys, folds=folds, fold=fold, part=part)
    targets, dropped, label_set = _selected_rows(student, chosen)
    base = base_dir or chosen.base_dir
    gate = check_speech_rows(targets, base, min_speech_seconds=min_speech_seconds, vad=vad)
    table = read_cue_table(cues) if isinstance(cues, (str, Path)) else cues
    inputs, input_report = build_inputs(student, [u for u in targets if not gate.excluded(u.key)], cue_table=table,
                                        base_dir=base, asr=asr, asr_model=asr_model, force_asr=force_asr)
    input_report.failed.update(gate.failed)
    preds = predict(student, inputs, mode=mode, explain=explain, batch_size=batch_size, max_new_tokens=max_new_tokens,
                    progress=(lambda n: progress(n, len(inputs))) if progress else None)
    scale = read_temperature(student.model_dir) if temperature else None
    preds = _with_temperature(preds, scale)
    scored = [p for p in preds if p.label is not None]
    metrics = None
    if scored:
        metrics = compute_metrics([p.label for p in scored], [p.predicted or INVALID for p in scored],
                                  student.labels, protocol=protocol, fold=fold,
                                  probabilities=[p.probabilities for p in scored])
    report = {"selected": len(chosen.utterances), "outside_label_set": dropped,
              "unlabelled": chosen.n_unlabelled - sum(not has_label(u) for u in targets if u.key in gate.no_speech),
              "predicted": len(preds), "scored": len(scored),
              "no_speech": len(gate.no_speech), "speech_check": gate.to_dict(),
              "invalid_outputs": sum(not p.valid for p in preds), "mode": mode,
              "inputs": input_report.to_dict(), "label_set": label_set,
              "predicted_counts": dict(Counter(p.predicted or INVALID for p in preds)), "temperature": scale}
    if out is not None:
        _write_predictions(Path(out), _ordered_rows(targets, preds, gate), metrics, report, student)
    return ManifestPrediction(predictions=preds, metrics=metrics, report=report, no_speech=gate.no_speech)


def calibrate_student(student: Student, manifest: str | Path | Sequence[Segment] | Targets, *,
                      folds: str | Path | None = None, fold: str | None = None, part: str = "valid",
                      write: bool = True, **options: Any) -> Calibration:
    """Fit the student's temperature on labelled validation rows and (``write``) save it with the model.

    ``options`` go to :func:`predict_manifest` (``cues``, ``keys``, ``batch_size``, ...); label
    scoring is used and any saved temperature is ignored while fitting. Fit on speakers the
    student did not train on (a fold's ``valid`` or ``test`` part), never on its training rows.
    Without ``folds`` the rows are taken as given (already selected) and ``fold``/``part`` are
    only recorded.

    Raises
    ------
    ConfigError
        Fewer than :data:`MIN_CALIBRATION_ROWS` labelled predictions.
    """
    result = predict_manifest(student, manifest, folds=folds, fold=fold if folds is not None else None, part=part,
                              mode="score", temperature=False, **options)
    rows = [p for p in result.predictions if p.label is not None and p.probabilities]
    if len(rows) < MIN_CALIBRATION_ROWS:
        raise ConfigError(f"{len(rows)} labelled predictions to fit a temperature on; at least "
                          f"{MIN_CALIBRATION_ROWS} are needed", hint="give a larger validation part")
    labels = student.labels
    fitted = calibrate([[p.probabilities[c] for c in labels] for p in rows], [p.label for p in rows], classes=labels)
    if write:
        where = str(manifest) if isinstance(manifest, (str, Path)) else "rows"
        write_calibration(student.model_dir, fitted, manifest=where, fold=fold, part=part, rows=len(rows))
    return fitted


def _write_predictions(out: Path, rows: Sequence[dict[str, Any]], metrics: Any, report: dict[str, Any],
                       student: Student) -> None:
    """The predictions JSONL and ``<out stem>.metrics.json`` beside it (both atomically)."""
    write_jsonl(out, rows)
    with atomic_write(out.with_name(out.stem + ".metrics.json")) as fh:
        json.dump({"metrics": metrics.to_dict() if metrics is not None else None, "report": report,
                   "model": str(student.model_dir)}, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
