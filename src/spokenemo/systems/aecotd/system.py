"""The AECoTD student as a registered system (``aecotd``; older configs say ``kind: student``).

One fold: build a student config from the row's switches on top of the experiment's training
settings (:mod:`.system_setup`), fill the teacher cache when the config allows it, train
(:func:`spokenemo.systems.aecotd.train`, resumable, into the fold's ``work_dir``), then load the
model and score the test segments (label scoring: probabilities over the task's classes).
Everything goes through the student's public API; cue thresholds are fitted by the student on
the fold's training keys only (with speaker-relative thresholds the test speakers' medians come
from their unlabelled segments).

Presets: ``aecotd`` (CoT + coarse + fine cues, emotion-focused loss), ``student-text-only``, and
the paper's ablations (``--ablations``: Table 1 cumulatively, Table 4's n sweep without CoT;
``aecotd-no-cot-nN`` for any N). See docs/methods/aecotd.md.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.core.lazy import optional_import
from spokenemo.data.manifest import Segment
from spokenemo.features.cue_vectors import N_SWEEP
from spokenemo.systems import aecotd
from spokenemo.systems.aecotd import fold_explanations, system_report, system_setup
from spokenemo.systems.aecotd.cuetext import read_cue_table
from spokenemo.systems.aecotd.sections import StudentSection, TeacherSection
from spokenemo.systems.base import Predictions, Preset, Requirements, System, SystemConfig, preset
from spokenemo.systems.context import FoldContext, RunContext, TaskContext
from spokenemo.systems.registry import register_system

STATE_FILE = "aecotd.json"
_SWEEP_NAME = re.compile(r"aecotd-no-cot-n(\d+)")


class AecotdConfig(SystemConfig):
    """Switches of a student row.

    Parameters
    ----------
    cot : bool
        Train on ``label<think>reasoning</think>`` targets (the teacher's chain of thought).
    coarse, fine : bool
        Cue lines in the prompt (the transcript is always there).
    emotion_loss : bool
        Label weight 1, other target tokens 0.01; False = plain cross-entropy.
    n_segments : int, optional
        Fine-cue segments (default: the experiment's ``cues.n_segments``).
    """

    cot: bool = True
    coarse: bool = True
    fine: bool = True
    emotion_loss: bool = True
    n_segments: int | None = Field(None, ge=1)


ABLATIONS = {
    "aecotd-no-cot": preset("w/o CoT", cot=False),
    "aecotd-no-cot-no-fine": preset("w/o CoT, fine cues", cot=False, fine=False),
    "aecotd-text-only": preset("w/o CoT, fine, coarse cues (text only)", cot=False, fine=False, coarse=False),
    "aecotd-no-emotion-loss": preset("w/o emotion-focused loss", emotion_loss=False),
}


@register_system("aecotd", AecotdConfig, aliases=("student",))
class AecotdStudent(System):
    """The AECoTD student (a small LLM + LoRA reading the transcript and cue text)."""

    config: AecotdConfig
    seeded = True
    meta_key = "student_settings"
    config_sections = {"student": StudentSection, "teacher": TeacherSection}
    presets = {
        "aecotd": preset("AECoTD student (CoT + coarse + fine, emotion loss)"),
        "student-text-only": preset("student, transcript only (no cues, no CoT)", cot=False, coarse=False,
                                    fine=False),
        **ABLATIONS,
    }

    def __init__(self, config: AecotdConfig) -> None:
        super().__init__(config)
        self.model_dir: Path | None = None
        self.cue_table: Path | None = None
        self.device = "auto"
        #: The last predict's explanation rows (``student.explain``; see :mod:`.fold_explanations`).
        self.explanations: list[dict[str, Any]] = []

    @property
    def uses_cues(self) -> bool:
        return bool(self.config.coarse or self.config.fine)

    # --- declared needs -------------------------------------------------------------------------
    @classmethod
    def requirements(cls, config: AecotdConfig) -> Requirements:  # type: ignore[override]
        if not (config.coarse or config.fine):
            return Requirements()
        return Requirements(audio=True, features={"cues": {"n_segments": config.n_segments}})

    @classmethod
    def fingerprint_parts(cls, config: AecotdConfig, context: TaskContext) -> dict[str, Any]:  # type: ignore[override]
        return {"cues": context.features.fingerprint_part("cues"), "student": cls.run_settings(context)}

    @classmethod
    def run_settings(cls, context: RunContext) -> dict[str, Any]:
        return system_setup.run_settings(context)

    # --- fit and predict ------------------------------------------------------------------------
    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        """Train the student on the fold's training part (the fold's keys are read from the task's
        folds index; ``valid`` is the index's too).

        Raises
        ------
        SystemUnavailable
            A chain-of-thought row without any teacher output and no permission to run the teacher.
        """
        self.context = context
        if self.uses_cues:
            cues = context.features.get("cues")
            cues.prepare(context.segments)  # the table exists (extracted once per experiment)
            self.cue_table = cues.table_path() / "cues.parquet"
        teacher = system_setup.teacher_cache(context) if self.config.cot else None
        overrides = system_setup.student_overrides(
            self.config.model_dump(), context.task, context.fold.name, context.experiment,
            system_setup.run_settings(context), context.seed, manifest=context.manifest(),
            folds_dir=context.folds_dir, cue_table=self.cue_table, teacher=teacher)
        scfg = aecotd.config_from_dict(system_setup.base_config(context),
                                       source=f"{context.experiment.name}:{context.system}", overrides=overrides)
        self.info["student_config"] = scfg.to_yaml_dict()
        if teacher is not None:
            self.info.update(system_setup.prepare_teacher(context, train, teacher, self.cue_table, scfg))
        model_dir = context.work_dir / f"model-{context.fingerprint[:10]}"
        for old in context.work_dir.glob("model-*"):  # a student of older settings for this fold
            if old != model_dir:
                shutil.rmtree(old, ignore_errors=True)
        t0 = time.perf_counter()
        aecotd.train(scfg, model_dir)
        self.info["train_seconds"] = round(time.perf_counter() - t0, 1)
        metrics_file = model_dir / "metrics.json"
        if metrics_file.is_file():
            m = json.loads(metrics_file.read_text(encoding="utf-8"))
            self.info["training"] = {k: m.get(k) for k in ("steps", "examples", "final_loss", "final_label_nll",
                                                           "device", "trainable_parameters", "data", "encoding")}
        self.model_dir, self.device = model_dir, str(scfg.runtime.device)

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        """Label scoring of ``segments`` (no prediction where their inputs could not be built)."""
        if self.model_dir is None:
            raise SpokenemoError("aecotd: the student is not trained", hint="call fit() or load() first")
        t0 = time.perf_counter()
        student = aecotd.load_student(self.model_dir, device=self.device)
        table = read_cue_table(self.cue_table) if self.cue_table is not None else None
        batch = optional_import("spokenemo.systems.aecotd.manifest_prediction", extra="llm",
                                purpose="the AECoTD student")
        inputs, report = batch.build_inputs(student, segments, cue_table=table)
        explain = self._explain_settings() if student.cot else None
        by_key = {p.key: p for p in aecotd.predict(student, inputs, mode="score", explain=explain is not None,
                                                   max_new_tokens=explain or 160)}
        self.info["predict_seconds"] = round(time.perf_counter() - t0, 1)
        self.info["inputs"] = report.to_dict()
        if explain is not None:
            self._save_explanations(segments, {x.key: x.cue_text for x in inputs}, by_key)
        classes = list(student.labels)
        probs = np.full((len(segments), len(classes)), np.nan)
        labels: list[str | None] = []
        for i, u in enumerate(segments):
            p = by_key.get(u.key)
            labels.append(p.predicted if p is not None else None)
            if p is not None and p.predicted is not None:
                probs[i] = [p.probabilities.get(c, np.nan) for c in classes]
        return Predictions(classes, probs, labels)

    def _explain_settings(self) -> int | None:
        """Most tokens per generated explanation when the experiment asks for them (``student.explain``)."""
        experiment = getattr(self.context, "experiment", None)
        if experiment is None:  # loaded without an experiment: nothing asks for explanations
            return None
        section = experiment.section("student")
        return int(section.explain_max_tokens) if section.explain else None

    def _save_explanations(self, segments: Sequence[Segment], cue_texts: Mapping[str, str],
                           by_key: Mapping[str, Any]) -> None:
        """Keep the explanations (``self.explanations``); write them into the fold's work folder."""
        self.explanations = fold_explanations.explanation_rows(segments, cue_texts, by_key)
        work_dir = getattr(self.context, "work_dir", None)
        if work_dir is not None and self.context is not None:
            self.info["explanations"] = fold_explanations.save_explanations(self.explanations, Path(work_dir),
                                                                            Path(self.context.out_dir))

    def save_state(self, folder: Path) -> None:
        """A copy of the trained model folder (``model/``) and where its cue table is."""
        if self.model_dir is None:
            raise SpokenemoError("aecotd: the student is not trained; nothing to save", hint="call fit() first")
        if (folder / "model").resolve() != self.model_dir.resolve():
            shutil.copytree(self.model_dir, folder / "model", dirs_exist_ok=True)
        with atomic_write(folder / STATE_FILE) as fh:
            json.dump({"cue_table": str(self.cue_table) if self.cue_table else None, "device": self.device}, fh)

    def load_state(self, folder: Path) -> None:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        self.model_dir = folder / "model"
        self.cue_table = Path(state["cue_table"]) if state.get("cue_table") else None
        self.device = str(state.get("device") or "auto")

    # --- reports and presets --------------------------------------------------------------------
    @classmethod
    def settings_text(cls, options: Mapping[str, Any], seed: int, settings: Mapping[str, Any],
                      folds: Sequence[Mapping[str, Any]]) -> str:
        return system_report.settings_text(options, seed, settings, folds)

    @classmethod
    def report_tables(cls, rows: Mapping[str, Any], experiment: Any, caption: Callable[[str], str],
                      summary: Callable[[Any, str], str]) -> list[str]:
        return system_report.paper_tables(rows, experiment, caption, summary)

    @classmethod
    def ablations(cls, n_segments: int) -> list[str]:
        """Table 1's ablations (cumulative, as in the paper) and Table 4's n sweep without CoT;
        the sweep entry with the experiment's n is ``aecotd-no-cot`` already and is not repeated."""
        return [*ABLATIONS, *(f"aecotd-no-cot-n{n}" for n in N_SWEEP if n != n_segments)]

    @classmethod
    def preset_for(cls, name: str) -> Preset | None:
        match = _SWEEP_NAME.fullmatch(name)
        if match is None:
            return None
        n = int(match.group(1))
        return preset(f"w/o CoT, n = {n}", cot=False, n_segments=n)

