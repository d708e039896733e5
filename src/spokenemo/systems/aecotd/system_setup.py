"""How the AECoTD system sets a fold up: settings, student config overrides, the teacher cache.

The experiment config's ``student`` and ``teacher`` sections and the run options (``limit``,
``epochs``) hold the settings every student row shares; :func:`run_settings` collects them (they
are recorded next to each student number and are part of every student fold's fingerprint).
:func:`student_overrides` turns one row's switches and one fold into dotted fields of the
student's training config; :func:`prepare_teacher` fills the teacher cache when allowed and
checks that the training part has chains of thought.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spokenemo import llm
from spokenemo.core.config import read_yaml_mapping
from spokenemo.core.errors import ConfigError
from spokenemo.core.sampling import balanced_subset
from spokenemo.data.manifest import Segment
from spokenemo.systems.aecotd import teacher as teacher_mod
from spokenemo.systems.aecotd.cuetext import fit_thresholds, read_cue_table, render, text_config
from spokenemo.systems.base import SystemUnavailable
from spokenemo.systems.context import FoldContext, RunContext, TaskContext


def run_settings(context: RunContext) -> dict[str, Any]:
    """Settings recorded next to every student number: epochs, training limit, overrides, teacher,
    the base student config (with its hash: a changed file means other students), and whether the
    test utterances are explained (``explain``, only when they are)."""
    s, options = context.experiment.section("student"), context.options
    out: dict[str, Any] = {
        "epochs": options.epochs if options.epochs is not None else s.epochs,
        "max_train_utterances": options.limit if options.limit is not None else s.max_train_utterances,
        "overrides": dict(s.overrides), "teacher": context.experiment.section("teacher").model_dump(mode="json")}
    if s.explain:  # only when asked, so the fingerprints of rows without explanations stay as they were
        out["explain"] = {"max_tokens": s.explain_max_tokens}
    if s.config is not None:
        path = context.resolve_path(s.config)
        out["config"] = s.config
        out["config_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "(missing)"
    return out


def base_config(context: RunContext) -> dict[str, Any]:
    """The base student config of ``student.config`` as a mapping ({} when there is none)."""
    student = context.experiment.section("student")
    if student.config is None:
        return {}
    path = context.resolve_path(student.config)
    if not path.is_file():
        raise ConfigError(f"student.config: {path} not found", hint="give a student training YAML (configs/aecotd-*.yaml)")
    return read_yaml_mapping(path, example="configs/aecotd-cpu.yaml")


def teacher_cache(context: TaskContext) -> Path:
    """Where the task's teacher outputs are read from (and appended to)."""
    cache = context.experiment.section("teacher").cache
    if cache:
        p = context.resolve_path(cache)
        return p / f"{context.slug}.jsonl" if p.is_dir() else p
    return context.out_dir / "teacher" / f"{context.slug}.jsonl"


def student_overrides(options: Mapping[str, Any], task: str, fold: str, experiment: Any, settings: Mapping[str, Any],
                      seed: int, *, manifest: Path, folds_dir: Path, cue_table: Path | None,
                      teacher: Path | None) -> dict[str, Any]:
    """Dotted student-config fields for one system row and fold.

    The experiment's ``student.overrides`` come first; the row's switches (CoT, cues, loss),
    the data of the fold, the epochs, the training limit and the seed are set last, so they
    always describe the row of the report.

    Parameters
    ----------
    options : mapping
        The row's options (``cot``, ``coarse``, ``fine``, ``emotion_loss``, ``n_segments``).
    task, fold : str
        Label set and fold names.
    experiment : ExperimentConfig
        Its ``cues`` and ``student`` sections are read.
    settings : mapping
        :func:`run_settings` (``epochs``, ``max_train_utterances``).
    """
    o = dict(options)
    cues = experiment.cues
    n = int(o.get("n_segments") or cues.n_segments)
    out: dict[str, Any] = dict(experiment.section("student").overrides)
    out.update({
        "data.manifest": str(manifest), "data.folds": str(folds_dir), "data.fold": fold,
        "data.label_set": task, "data.cues": str(cue_table) if cue_table is not None else None,
        "data.teacher": str(teacher) if teacher is not None else None,
        "data.max_utterances": settings.get("max_train_utterances"),
        "cues.coarse": bool(o["coarse"]), "cues.fine": bool(o["fine"]), "cues.n_segments": n,
        "cues.speaker_relative": cues.speaker_relative, "cues.extended": cues.extended,
        "target.cot": bool(o["cot"]), "loss.emotion_loss": bool(o["emotion_loss"]), "runtime.seed": seed,
    })
    if settings.get("epochs") is not None:
        out["optim.epochs"] = settings["epochs"]
    return out


def fill_teacher(context: TaskContext, train: Sequence[Segment], cache: Path, cue_table: Path | None,
                 student_cfg: Any) -> dict[str, Any]:
    """Ask the teacher about the training segments missing from the cache (cue texts rendered with
    thresholds fitted on the whole training part)."""
    limit = student_cfg.data.max_utterances
    chosen = balanced_subset(train, limit, student_cfg.runtime.seed) if limit else list(train)
    texts: dict[str, str] = {}
    if cue_table is not None and (student_cfg.cues.coarse or student_cfg.cues.fine):
        table = read_cue_table(cue_table)
        fit_rows = [table.rows[u.key] for u in train if u.key in table.rows]  # the whole training part
        thresholds = fit_thresholds(fit_rows, student_cfg.cues)
        tcfg = text_config(student_cfg.cues)
        texts = {u.key: render(table.rows[u.key], thresholds, tcfg) for u in chosen if u.key in table.rows}
    backend, opts = llm.backend_from_options(context.experiment.section("teacher").options)
    summary = teacher_mod.run_teacher(chosen, texts, cache, backend=backend, labels=context.labels, progress=False,
                                      **opts)
    return {"teacher_asked": summary.todo, "teacher_valid": summary.valid_total,
            "teacher_seconds": round(summary.seconds, 1)}


def prepare_teacher(context: FoldContext, train: Sequence[Segment], cache: Path, cue_table: Path | None,
                    student_cfg: Any) -> dict[str, Any]:
    """Fill the cache when ``teacher.run_missing`` allows it; count the training part's chains of thought.

    Raises
    ------
    SystemUnavailable
        No training segment of the fold has a teacher output.
    """
    info: dict[str, Any] = {}
    if context.experiment.section("teacher").run_missing:
        info.update(fill_teacher(context, train, cache, cue_table, student_cfg))
    have = teacher_mod.load_teacher_outputs(cache) if cache.is_file() else {}
    covered = sum(u.key in have for u in train)
    info["teacher_coverage"] = {"train": len(train), "with_cot": covered, "cache": str(cache)}
    if covered == 0:
        raise SystemUnavailable(
            f"{context.system} trains on teacher chains of thought, but {cache} has none for the training "
            f"utterances of {context.fold.name}",
            hint="run `spokenemo teach` into that file, or set teacher.run_missing: true in the config")
    return info
