"""AECoTD student: distil a teacher's chain of thought into a small LLM that reads cues.

The public API (heavy modules load only when a name is first used, so importing this package
stays cheap)::

    from spokenemo.systems.aecotd import load_config, train, load_student, predict, predict_manifest, explain

    cfg = load_config("configs/aecotd-cpu.yaml", overrides=["data.fold=fold1"])
    model_dir = train(cfg, "runs/ravdess-fold1")
    student = load_student(model_dir)
    result = predict_manifest(student, "manifest.jsonl", folds="folds/", fold="fold1", out="preds.jsonl")
    print(explain(student, "clip.wav").explanation)

Modules: :mod:`~spokenemo.systems.aecotd.config` (YAML config), :mod:`~spokenemo.systems.aecotd.training_data`
(training items), :mod:`~spokenemo.systems.aecotd.tokens` and :mod:`~spokenemo.systems.aecotd.examples`
(token layout and weights), :mod:`~spokenemo.systems.aecotd.loss` (Eq. 5-6),
:mod:`~spokenemo.systems.aecotd.training` (training, on the generic loop of :mod:`spokenemo.train`),
:mod:`~spokenemo.systems.aecotd.scoring` (one-pass label scoring, generation),
:mod:`~spokenemo.systems.aecotd.targets` (what a student is asked about, checked before it loads),
:mod:`~spokenemo.systems.aecotd.prediction`, :mod:`~spokenemo.systems.aecotd.manifest_prediction`,
:mod:`~spokenemo.systems.aecotd.explanation` (using a student), :mod:`~spokenemo.systems.aecotd.model_dir`
(what a trained student folder holds), :mod:`~spokenemo.systems.aecotd.export` (a slim, shippable copy
of one), :mod:`~spokenemo.systems.aecotd.default_model` (where the default student is found),
:mod:`~spokenemo.systems.aecotd.teacher` and :mod:`~spokenemo.systems.aecotd.teacher_validate` (the
teacher stage on :mod:`spokenemo.llm.jobs`), :mod:`~spokenemo.systems.aecotd.system` (the registered
``aecotd`` system the experiment runner drives, with ``system_setup`` and ``system_report``);
:mod:`~spokenemo.models.tiny` (tiny test models). The method: docs/methods/aecotd.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "StudentConfig": "config", "load_config": "config", "config_from_dict": "config",
    "TrainingData": "training_data", "build_training_data": "training_data",
    "StudentInput": "inputs",
    "weighted_cross_entropy": "loss",
    "train": "training",
    "Student": "prediction", "Prediction": "prediction", "load_student": "prediction", "predict": "prediction",
    "ManifestPrediction": "manifest_prediction", "predict_manifest": "manifest_prediction",
    "Explanation": "explanation", "explain": "explanation",
    "SpeakerReference": "targets", "speaker_reference": "explanation",
    "Targets": "targets", "read_targets": "targets", "check_audio": "targets", "reference_files": "targets",
    "uses_speaker_medians": "explanation", "reference_minimum": "explanation",
    "StudentInfo": "model_dir", "read_info": "model_dir",
    "export_model_dir": "export",
    "default_model_path": "default_model", "find_default_model": "default_model",
    "make_tiny_model_dir": "spokenemo.models.tiny",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = _EXPORTS[name]
        return getattr(importlib.import_module(module if "." in module else f"{__name__}.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
