"""The AECoTD student inside an experiment: one fold = train on its training part, score its test part.

Everything goes through the student's public API (:mod:`spokenemo.systems.aecotd`): the runner writes
the task's manifest, folds and cue table once; for each fold it builds a student config (the
system's ablation switches on top of the experiment's training settings), fills the teacher
cache when the config allows it (:func:`spokenemo.systems.aecotd.teacher.run_teacher`), trains
(:func:`spokenemo.systems.aecotd.train`, resumable), loads the model and scores the test utterances
(:func:`spokenemo.systems.aecotd.inference.build_inputs` + :func:`spokenemo.systems.aecotd.predict`, label
scoring). Cue thresholds are fitted by the student on the fold's training keys only; with
speaker-relative thresholds the test speakers' medians come from their unlabelled utterances.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.data.manifest import Utterance, write_manifest

if TYPE_CHECKING:
    from spokenemo.experiment.config import ExperimentConfig
    from spokenemo.experiment.data import Task
    from spokenemo.experiment.runner import FeatureBank
    from spokenemo.experiment.systems import SystemSpec
    from spokenemo.protocols import Fold

log = logging.getLogger(__name__)


class SystemUnavailable(SpokenemoError):
    """A system cannot run in this experiment (missing teacher outputs, ...); it is skipped with this note."""


def task_manifest(out_dir: Path, task: Task) -> Path:
    """The task's utterances as a JSONL manifest (written once, atomically)."""
    from spokenemo.experiment.runner import _safe

    path = out_dir / "folds" / _safe(task.name) / "manifest.jsonl"
    if not path.is_file():
        write_manifest(path, task.utterances)
    return path


def _base_config(cfg: ExperimentConfig, config_path: str | Path | None) -> dict[str, Any]:
    if cfg.student.config is None:
        return {}
    from spokenemo.experiment.config import resolve_path

    path = resolve_path(cfg.student.config, config_path)
    if not path.is_file():
        raise ConfigError(f"student.config: {path} not found", hint="give a student training YAML (configs/aecotd-*.yaml)")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a student config is a mapping of sections")
    return data


def teacher_cache(cfg: ExperimentConfig, out_dir: Path, task: Task, config_path: str | Path | None) -> Path:
    """Where the task's teacher outputs are read from (and appended to)."""
    from spokenemo.experiment.config import resolve_path
    from spokenemo.experiment.runner import _safe

    if cfg.teacher.cache:
        p = resolve_path(cfg.teacher.cache, config_path)
        return p / f"{_safe(task.name)}.jsonl" if p.is_dir() else p
    return out_dir / "teacher" / f"{_safe(task.name)}.jsonl"


def student_overrides(spec: SystemSpec, task: Task, fold: Fold, cfg: ExperimentConfig, settings: Mapping[str, Any],
                      seed: int, *, manifest: Path, folds_dir: Path, cue_table: Path | None,
                      teacher: Path | None) -> dict[str, Any]:
    """Dotted student-config fields for one system and fold.

    The experiment's ``student.overrides`` come first; the system's switches (CoT, cues, loss),
    the data of the fold, the epochs, the training limit and the seed are set last, so they
    always describe the row of the report.
    """
    o = dict(spec.options)
    n = int(o.get("n_segments") or cfg.cues.n_segments)
    out: dict[str, Any] = dict(cfg.student.overrides)
    out.update({
        "data.manifest": str(manifest), "data.folds": str(folds_dir), "data.fold": fold.name,
        "data.label_set": task.name, "data.cues": str(cue_table) if cue_table is not None else None,
        "data.teacher": str(teacher) if teacher is not None else None,
        "data.max_utterances": settings.get("max_train_utterances"),
        "cues.coarse": bool(o["coarse"]), "cues.fine": bool(o["fine"]), "cues.n_segments": n,
        "cues.speaker_relative": cfg.cues.speaker_relative, "cues.extended": cfg.cues.extended,
        "target.cot": bool(o["cot"]), "loss.emotion_loss": bool(o["emotion_loss"]), "runtime.seed": seed,
    })
    if settings.get("epochs") is not None:
        out["optim.epochs"] = settings["epochs"]
    return out


def _fill_teacher(cfg: ExperimentConfig, task: Task, fold: Fold, train: list[Utterance], cache: Path,
                  cue_table: Path | None, student_cfg: Any) -> dict[str, Any]:
    """Ask the teacher about the training utterances missing from the cache (config allowing)."""
    from spokenemo.llm import get_backend
    from spokenemo.systems.aecotd.cuetext import fit_thresholds, read_cue_table, render, text_config
    from spokenemo.systems.aecotd.data import stratified_subset
    from spokenemo.systems.aecotd.teacher import run_teacher

    limit = student_cfg.data.max_utterances
    chosen = stratified_subset(train, limit, student_cfg.runtime.seed) if limit else list(train)
    texts: dict[str, str] = {}
    if cue_table is not None and (student_cfg.cues.coarse or student_cfg.cues.fine):
        table = read_cue_table(cue_table)
        fit_rows = [table.rows[u.key] for u in train if u.key in table.rows]  # the whole training part
        thresholds = fit_thresholds(fit_rows, student_cfg.cues)
        tcfg = text_config(student_cfg.cues)
        texts = {u.key: render(table.rows[u.key], thresholds, tcfg) for u in chosen if u.key in table.rows}
    opts = dict(cfg.teacher.options)
    backend = get_backend(str(opts.pop("backend", "embedded")), **opts.pop("backend_options", {}))
    summary = run_teacher(chosen, texts, cache, backend=backend, labels=task.labels, progress=False, **opts)
    return {"teacher_asked": summary.todo, "teacher_valid": summary.valid_total, "teacher_seconds": round(summary.seconds, 1)}


def run_student_fold(spec: SystemSpec, task: Task, fold: Fold, train: list[Utterance], test: list[Utterance],
                     bank: FeatureBank, seed: int, cfg: ExperimentConfig, settings: Mapping[str, Any],
                     work_dir: Path, *, out_dir: Path, config_path: str | Path | None = None,
                     fingerprint: str = "") -> tuple[list[str | None], dict[str, Any]]:
    """Train the student on ``fold``'s training part and predict ``test``.

    Returns
    -------
    (predictions, info)
        One predicted label per test utterance (None where its inputs could not be built), and
        what happened: training steps, loss, examples, teacher coverage, seconds.

    Raises
    ------
    SystemUnavailable
        A chain-of-thought system without any teacher output and no permission to run the teacher.
    """
    from spokenemo.experiment.runner import _safe
    from spokenemo.systems.aecotd import config_from_dict, load_student, predict
    from spokenemo.systems.aecotd import train as train_student
    from spokenemo.systems.aecotd.cuetext import read_cue_table
    from spokenemo.systems.aecotd.inference import build_inputs

    uses_cues = bool(spec.options["coarse"] or spec.options["fine"])
    cue_table = None
    if uses_cues:
        bank.cues(task.utterances)  # make sure the table exists (extracted once per experiment)
        cue_table = bank.cue_table_path() / "cues.parquet"
    manifest = task_manifest(out_dir, task)
    folds_dir = out_dir / "folds" / _safe(task.name)
    teacher = teacher_cache(cfg, out_dir, task, config_path) if spec.options["cot"] else None
    overrides = student_overrides(spec, task, fold, cfg, settings, seed, manifest=manifest, folds_dir=folds_dir,
                                  cue_table=cue_table, teacher=teacher)
    scfg = config_from_dict(_base_config(cfg, config_path), source=f"{cfg.name}:{spec.name}", overrides=overrides)
    info: dict[str, Any] = {"student_config": scfg.to_yaml_dict()}
    if teacher is not None:
        if cfg.teacher.run_missing:
            info.update(_fill_teacher(cfg, task, fold, train, teacher, cue_table, scfg))
        from spokenemo.systems.aecotd.teacher import load_teacher_outputs

        have = load_teacher_outputs(teacher) if teacher.is_file() else {}
        covered = sum(u.key in have for u in train)
        info["teacher_coverage"] = {"train": len(train), "with_cot": covered, "cache": str(teacher)}
        if covered == 0:
            raise SystemUnavailable(
                f"{spec.name} trains on teacher chains of thought, but {teacher} has none for the training "
                f"utterances of {fold.name}",
                hint="run `spokenemo teach` into that file, or set teacher.run_missing: true in the config")
    model_dir = work_dir / f"model-{fingerprint[:10]}"
    for old in work_dir.glob("model-*"):  # a student of older settings for this fold
        if old != model_dir:
            shutil.rmtree(old, ignore_errors=True)
    t0 = time.perf_counter()
    train_student(scfg, model_dir)
    info["train_seconds"] = round(time.perf_counter() - t0, 1)
    metrics_file = model_dir / "metrics.json"
    if metrics_file.is_file():
        m = json.loads(metrics_file.read_text(encoding="utf-8"))
        info["training"] = {k: m.get(k) for k in ("steps", "examples", "final_loss", "final_label_nll", "device",
                                                   "trainable_parameters", "data", "encoding")}
    t0 = time.perf_counter()
    student = load_student(model_dir, device=str(scfg.runtime.device))
    table = read_cue_table(cue_table) if cue_table is not None else None
    inputs, report = build_inputs(student, test, cue_table=table)
    preds = {p.key: p.predicted for p in predict(student, inputs, mode="score")}
    info["predict_seconds"] = round(time.perf_counter() - t0, 1)
    info["inputs"] = report.to_dict()
    return [preds.get(u.key) for u in test], info
