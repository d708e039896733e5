"""The experiment runner: every system row of a config on every fold of its protocol.

For each label set (a *task*) the runner builds the protocol's folds, extracts the features each
system declares (cached in ``OUTDIR/features``), and for every system row, seed and fold builds
the registered system, fits it on the training part, predicts the test part and scores it. It
knows systems only through :class:`spokenemo.systems.System`: what they need, whether they run
on every seed (``seeded``), what their results depend on (``fingerprint_parts``). Each
(system, seed, fold) result is written atomically to
``OUTDIR/runs/<task>/<system>/seed<seed>/<fold>.json`` and skipped on a rerun when its
fingerprint (row, fold keys, labels, seed and the system's own parts: feature settings, training
settings) is unchanged: an interrupted run resumes at the first unfinished fold. At the end the
runner writes ``results.json``, ``report.md`` and confusion-matrix PNGs (:mod:`.report`).

>>> from spokenemo.experiment import run_experiment, RunOptions
>>> res = run_experiment("configs/ravdess-4class.yaml", "runs/ravdess",
...                      RunOptions(systems=["majority"]))                  # doctest: +SKIP
>>> res.summary("4class", "majority")                                        # doctest: +SKIP
'25.0 ± 0.0'
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.core.sampling import stratified_subset
from spokenemo.data.manifest import Segment
from spokenemo.experiment import layout
from spokenemo.experiment.config import ExperimentConfig, load_config, resolve_path
from spokenemo.experiment.report import write_outputs
from spokenemo.experiment.results import (
    ExperimentResult,
    RunOptions,
    SystemResult,
    aggregate_records,
    package_versions,
)
from spokenemo.experiment.systems import SystemSpec
from spokenemo.experiment.tasks import Task, build_task, load_utterances
from spokenemo.features.providers import FeatureBank
from spokenemo.protocols import Fold, compute_metrics, write_folds
from spokenemo.systems import FoldContext, RunContext, SystemUnavailable, TaskContext, system_classes

log = logging.getLogger(__name__)

#: Bump when the layout of a fold result changes (older results are then recomputed).
RESULT_VERSION = 1

__all__ = ["RESULT_VERSION", "ExperimentResult", "RunOptions", "Runner", "SystemResult", "fit_predict_fold",
           "run_experiment"]


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fit_predict_fold(spec: SystemSpec, context: FoldContext, train: Sequence[Segment], valid: Sequence[Segment],
                     test: Sequence[Segment]) -> tuple[list[str | None], dict[str, Any]]:
    """Build the row's system, fit it on ``train`` (and ``valid``), predict ``test``.

    Returns one label per test segment (None where the system made no prediction) and what the
    system recorded about the fold (``system.info``).
    """
    system = spec.build()
    system.fit(train, valid, context)
    predictions = system.predict(test)
    labels = predictions.decisions()
    if len(labels) != len(test):
        raise SpokenemoError(f"system {spec.name!r} returned {len(labels)} predictions for {len(test)} segments")
    return labels, system.info


class Runner:
    """Runs one config into one output folder; see :func:`run_experiment`."""

    def __init__(self, cfg: ExperimentConfig, out_dir: str | Path, options: RunOptions | None = None, *,
                 config_path: str | Path | None = None) -> None:
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.options = options or RunOptions()
        self.config_path = config_path
        cache = resolve_path(cfg.feature_cache, config_path) if cfg.feature_cache else layout.features_dir(self.out_dir)
        self.bank = FeatureBank(cache, cfg.feature_settings)
        self.seeds = list(self.options.seeds or cfg.seeds)
        self.systems = cfg.resolved_systems(ablations=self.options.ablations, only=self.options.systems)
        for spec in self.systems:  # what each row asks its features to compute (one cache serves all)
            for name, request in spec.requirements().features.items():
                self.bank.request(name, **request)
        self.context = RunContext(experiment=cfg, options=self.options, out_dir=self.out_dir,
                                  config_path=config_path, features=self.bank,
                                  path_resolver=lambda value: resolve_path(value, self.config_path))
        self._task_contexts: dict[str, TaskContext] = {}

    def seeds_of(self, spec: SystemSpec) -> list[int]:
        """Every seed for trained (``seeded``) systems, the first one for deterministic ones."""
        return self.seeds if spec.seeded else self.seeds[:1]

    def settings_of(self, spec: SystemSpec, seed: int) -> dict[str, Any]:
        """What is recorded next to a row's numbers."""
        return {"seed": seed, "test_limit": self.options.test_limit, **spec.system_cls.run_settings(self.context)}

    def task_context(self, task: Task) -> TaskContext:
        if task.name not in self._task_contexts:
            self._task_contexts[task.name] = self.context.for_task(
                task=task.name, slug=layout.safe_name(task.name), labels=task.labels,
                segments=list(task.utterances), folds_dir=layout.folds_dir(self.out_dir, task.name))
        return self._task_contexts[task.name]

    # --- one fold ----------------------------------------------------------------------------------
    def _fold_fingerprint(self, spec: SystemSpec, task: Task, fold: Fold, seed: int,
                          test_keys: Sequence[str]) -> str:
        labels = {u.key: u.label for u in task.utterances}
        parts: dict[str, Any] = {
            "v": RESULT_VERSION, "system": spec.to_json(), "task": task.name, "seed": seed,
            "train": _hash(list(fold.train)), "test": _hash(list(test_keys)),
            "labels": _hash([(k, str(labels[k])) for k in list(fold.train) + list(test_keys)]),
        }
        parts.update(spec.system_cls.fingerprint_parts(spec.config, self.task_context(task)))
        return _hash(parts)

    def _fold_path(self, spec: SystemSpec, task: Task, fold: Fold, seed: int) -> Path:
        return layout.fold_result_path(self.out_dir, task.name, spec.name, seed, fold.name)

    def _fold_parts(self, spec: SystemSpec, task: Task, fold: Fold,
                    seed: int) -> tuple[list[Segment], list[Segment], str]:
        train = fold.select(task.utterances, "train")
        test = stratified_subset(fold.select(task.utterances, "test"), self.options.test_limit, seed)
        return train, test, self._fold_fingerprint(spec, task, fold, seed, [u.key for u in test])

    def finished_fold(self, spec: SystemSpec, task: Task, fold: Fold, seed: int) -> dict[str, Any] | None:
        """The fold's result file when it was written with the same settings, else None."""
        path = self._fold_path(spec, task, fold, seed)
        if not path.is_file():
            return None
        fp = self._fold_parts(spec, task, fold, seed)[2]
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, OSError):
            log.warning("%s: unreadable; it will be recomputed", path)
            return None
        if record.get("fingerprint") != fp:
            log.info("%s: settings changed since it was written", path)
            return None
        record["resumed"] = True
        return record

    def run_fold(self, spec: SystemSpec, task: Task, fold: Fold, seed: int) -> dict[str, Any]:
        """Score one system on one fold (or read the finished result); returns the fold record."""
        done = self.finished_fold(spec, task, fold, seed)
        if done is not None:
            log.info("%s / %s / seed %d / %s: done before, skipped", task.name, spec.name, seed, fold.name)
            return done
        path = self._fold_path(spec, task, fold, seed)
        train, test, fp = self._fold_parts(spec, task, fold, seed)
        valid = fold.select(task.utterances, "valid")
        context = self.task_context(task).for_fold(fold=fold, seed=seed, system=spec.name,
                                                   work_dir=path.with_suffix(""), fingerprint=fp)
        t0 = time.perf_counter()
        preds, info = fit_predict_fold(spec, context, train, valid, test)
        seconds = time.perf_counter() - t0
        y_true = [str(u.label) for u in test]
        y_pred = [p if p is not None else "(no prediction)" for p in preds]
        metrics = compute_metrics(y_true, y_pred, task.labels, protocol=fold.protocol, fold=fold.name)
        record = {
            "version": RESULT_VERSION, "fingerprint": fp, "task": task.name, "system": spec.to_json(), "seed": seed,
            "fold": fold.name, "protocol": fold.protocol, "speaker_independent": fold.speaker_independent,
            "fold_info": dict(fold.info), "n_train": len(train), "n_test": len(test),
            "n_test_in_fold": len(fold.test), "seconds": round(seconds, 3), "info": info,
            "metrics": metrics.to_dict(),
            "predictions": [{"key": u.key, "true": t, "pred": p} for u, t, p in zip(test, y_true, preds, strict=True)],
        }
        with atomic_write(path) as fh:
            json.dump(record, fh, ensure_ascii=False, indent=1)
            fh.write("\n")
        log.info("%s / %s / seed %d / %s: %s %.1f (%.1f s)", task.name, spec.name, seed, fold.name,
                 self.cfg.metric.upper(), 100 * getattr(metrics, self.cfg.metric), seconds)
        return record

    # --- one system row ----------------------------------------------------------------------------
    def _skip_reason(self, spec: SystemSpec, task: Task) -> str | None:
        needs = spec.requirements()
        if needs.audio:
            no_audio = [u.key for u in task.utterances if not u.path]
            if no_audio:
                return (f"{len(no_audio)} of {len(task.utterances)} utterances have no audio (e.g. {no_audio[0]}); "
                        "this system needs audio")
        for name in needs.features:
            ok, note = self.bank.available(name)
            if not ok:
                return note
        if needs.text and not any((u.text or "").strip() for u in task.utterances):
            return f"no transcripts in this corpus; {spec.name} needs them"
        return None

    def _prepare_features(self, spec: SystemSpec, task: Task) -> None:
        """Extract (or read from the cache) the features ``spec`` needs for every segment of the
        task, so that fold timings measure training and prediction only."""
        for name in spec.requirements().features:
            self.bank.prepare(name, list(task.utterances))

    def _run_system(self, spec: SystemSpec, task: Task, seed: int) -> SystemResult:
        settings = self.settings_of(spec, seed)
        reason = self._skip_reason(spec, task)
        if reason is not None:
            log.warning("%s / %s: skipped: %s", task.name, spec.name, reason)
            return SystemResult(spec, seed, [], None, settings, status="skipped", note=reason)
        t0 = time.perf_counter()
        try:
            self._prepare_features(spec, task)
        except ImportError as err:
            note = f"{spec.name} needs a module that is not available: {err}"
            log.warning("%s / %s: skipped: %s", task.name, spec.name, note)
            return SystemResult(spec, seed, [], None, settings, status="skipped", note=note)
        settings["feature_seconds"] = round(time.perf_counter() - t0, 2)
        records = []
        for fold in task.folds:
            try:
                records.append(self.run_fold(spec, task, fold, seed))
            except (ImportError, SystemUnavailable) as err:
                note = (f"{spec.name} needs a module that is not available: {err}" if isinstance(err, ImportError)
                        else str(err))
                log.warning("%s / %s: skipped: %s", task.name, spec.name, note)
                return SystemResult(spec, seed, records, aggregate_records(records), settings,
                                    status="skipped" if not records else "partial", note=note)
        return SystemResult(spec, seed, records, aggregate_records(records), settings)

    def _earlier_results(self, task: Task) -> list[SystemResult]:
        """Configured systems not run now whose every fold is already in the output folder with
        the same settings (rows run by an earlier invocation with other ``--systems``): the report
        shows them too."""
        ran = {s.name for s in self.systems}
        out = []
        for spec in self.cfg.resolved_systems(ablations=True):
            if spec.name in ran:
                continue
            for seed in self.seeds_of(spec):
                found = [self.finished_fold(spec, task, fold, seed) for fold in task.folds]
                records = [r for r in found if r is not None]
                if records and len(records) == len(found):
                    settings = {"seed": seed, "test_limit": self.options.test_limit,
                                **spec.system_cls.run_settings(self.context)}
                    out.append(SystemResult(spec, seed, records, aggregate_records(records), settings,
                                            note="read from an earlier run"))
        return out

    # --- the whole run -----------------------------------------------------------------------------
    def _meta(self, t_start: float) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "config_hash": self.cfg.fingerprint(), "config_path": str(self.config_path) if self.config_path else None,
            "options": dict(vars(self.options)), "seeds": self.seeds,
            "package_versions": package_versions(), "feature_fingerprints": dict(self.bank.fingerprints),
        }
        for cls in system_classes():  # settings shared by all rows of a system
            if cls.meta_key:
                meta[cls.meta_key] = cls.run_settings(self.context)
        meta.update({"wall_seconds": round(time.perf_counter() - t_start, 1),
                     "created": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": platform.machine()})
        return meta

    def prepare_task(self, task: Task) -> Task:
        """Hook for subclasses: change a task (e.g. its folds) before it is written and run."""
        return task

    def run(self) -> ExperimentResult:
        t_start = time.perf_counter()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        utterances = load_utterances(self.cfg, self.config_path, self.options.roots)
        tasks: dict[str, Task] = {}
        results: dict[str, list[SystemResult]] = {}
        for lset in self.cfg.label_sets:
            task = self.prepare_task(build_task(self.cfg, utterances, lset, self.options.folds))
            tasks[task.name] = task
            write_folds(task.folds, layout.folds_dir(self.out_dir, task.name), task.utterances)
        self.bank.set_universe(list({u.key: u for t in tasks.values() for u in t.utterances}.values()))
        for task in tasks.values():
            results[task.name] = [self._run_system(spec, task, seed) for spec in self.systems
                                  for seed in self.seeds_of(spec)]
            results[task.name] += self._earlier_results(task)
        result = ExperimentResult(self.cfg, self.out_dir, tasks, results, self._meta(t_start))
        if self.options.report:
            write_outputs(result)
        return result


def run_experiment(config: ExperimentConfig | str | Path, out_dir: str | Path, options: RunOptions | None = None,
                   *, config_path: str | Path | None = None) -> ExperimentResult:
    """Run an experiment config into ``out_dir`` (resuming finished folds) and write its report.

    Parameters
    ----------
    config : ExperimentConfig or path
        A validated config, or a YAML file for :func:`~spokenemo.experiment.config.load_config`.
    out_dir : path
        Output folder: ``results.json``, ``report.md``, ``confusion/*.png``, ``runs/``,
        ``folds/``, ``features/`` (created).
    options : RunOptions, optional
        Systems, ablations, reduced training settings, folds, seeds, corpus roots.
    config_path : path, optional
        Where ``config`` came from when it is already parsed (relative roots resolve from it).

    Returns
    -------
    ExperimentResult

    Raises
    ------
    ConfigError
        Invalid config or options (file and field named), or a corpus root that does not exist.
    """
    if isinstance(config, str | Path):
        config_path = config
        config = load_config(config)
    if not isinstance(config, ExperimentConfig):
        raise ConfigError(f"expected an ExperimentConfig or a YAML path, got {type(config).__name__}")
    return Runner(config, out_dir, options, config_path=config_path).run()
