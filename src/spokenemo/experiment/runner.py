"""The experiment runner: every system of a config on every fold of its protocol.

For each label set (a *task*) the runner builds the protocol's folds, extracts the features the
systems need (cached per utterance in ``OUTDIR/features``), and for every system, seed and fold
fits on the training part, predicts the test part and scores it. Each (system, seed, fold)
result is written atomically to ``OUTDIR/runs/<task>/<system>/seed<seed>/<fold>.json`` and
skipped on a rerun when its fingerprint (system, cue and training settings, fold keys, feature
versions) is unchanged: an interrupted run resumes at the first unfinished fold. At the end the
runner writes ``results.json``, ``report.md`` and confusion-matrix PNGs (see
:mod:`spokenemo.experiment.report`).

>>> from spokenemo.experiment import run_experiment, RunOptions
>>> res = run_experiment("configs/ravdess-4class.yaml", "runs/ravdess",
...                      RunOptions(systems=["cue-lr", "majority"]))        # doctest: +SKIP
>>> res.summary("4class", "cue-lr")                                          # doctest: +SKIP
'53.1 ± 3.9'
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.data.manifest import Utterance
from spokenemo.experiment.config import ExperimentConfig, load_config, resolve_path
from spokenemo.experiment.data import Task, build_task, load_utterances, speaker_of, stratified_subset
from spokenemo.experiment.systems import AUDIO_KINDS, SystemSpec
from spokenemo.features.egemaps import EgemapsExtractor, FeatureStore, egemaps_available
from spokenemo.protocols import Fold, aggregate_metrics, compute_metrics, write_folds
from spokenemo.protocols.metrics import AggregateResult, ClassificationResult
from spokenemo.systems.aecotd.experiment_fold import SystemUnavailable
from spokenemo.systems.baselines.estimators import fit_predict, speaker_zscore

log = logging.getLogger(__name__)

#: Bump when the layout of a fold result changes (older results are then recomputed).
RESULT_VERSION = 1


@dataclass
class RunOptions:
    """Command-line choices on top of a config (all recorded in results.json).

    Parameters
    ----------
    ablations : bool
        Add Table 1's ablations and Table 4's n sweep to the student systems.
    systems : list of str, optional
        Run only these systems.
    limit : int, optional
        Student: train on at most this many utterances per fold (overrides the config).
    epochs : float, optional
        Student: training epochs (overrides the config).
    test_limit : int, optional
        Score at most this many test utterances per fold (a class-stratified, seeded subset;
        applies to every system so rows stay comparable). Changes the protocol: reported.
    folds : list of str, optional
        Run only these folds.
    seeds : list of int, optional
        Replace the config's seeds.
    roots : dict
        Corpus name -> root, overriding the config.
    report : bool
        Write results.json, report.md and the PNGs at the end.
    """

    ablations: bool = False
    systems: list[str] | None = None
    limit: int | None = None
    epochs: float | None = None
    test_limit: int | None = None
    folds: list[str] | None = None
    seeds: list[int] | None = None
    roots: dict[str, str] = field(default_factory=dict)
    report: bool = True


@dataclass
class SystemResult:
    """Scores of one system on one task with one seed, with what was run."""

    system: SystemSpec
    seed: int
    folds: list[dict[str, Any]]
    aggregate: AggregateResult | None
    settings: dict[str, Any]
    status: str = "done"  # done | skipped | partial
    note: str = ""


@dataclass
class ExperimentResult:
    """Everything a run produced (what results.json holds)."""

    config: ExperimentConfig
    out_dir: Path
    tasks: dict[str, Task]
    results: dict[str, list[SystemResult]]
    meta: dict[str, Any]

    def get(self, task: str, system: str, seed: int | None = None) -> SystemResult:
        for r in self.results[task]:
            if r.system.name == system and (seed is None or r.seed == seed):
                return r
        raise KeyError(f"no result for system {system!r} in task {task!r}")

    def summary(self, task: str, system: str, metric: str | None = None) -> str:
        r = self.get(task, system)
        if r.aggregate is None:
            return r.status
        return r.aggregate.summary(metric or self.config.metric)


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    """Versions of the packages whose behaviour can change the numbers."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("spokenemo", "numpy", "scipy", "scikit-learn", "librosa", "opensmile", "torch", "transformers",
                 "peft"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in name)


# --- features ---------------------------------------------------------------------------------------
class FeatureBank:
    """Lazily computed, cached features of the utterances of an experiment."""

    def __init__(self, out_dir: Path, cfg: ExperimentConfig) -> None:
        self.folder = out_dir / "features"
        self.cfg = cfg
        self._egemaps: EgemapsExtractor | None = None
        self._egemaps_feats: dict[str, dict[str, Any] | None] = {}
        self._cue_feats: dict[str, dict[str, Any]] = {}
        self._cues_ready = False
        #: every utterance of the experiment (all tasks): cue tables are extracted for all at once
        self.universe: list[Utterance] = []
        #: segment counts beyond the config's n and Table 4's sweep (systems with other n)
        self.extra_segments: set[int] = set()
        self.fingerprints: dict[str, str] = {}

    def egemaps(self, utts: Sequence[Utterance]) -> np.ndarray:
        if self._egemaps is None:
            self._egemaps = EgemapsExtractor()
            self.fingerprints["egemaps"] = self._egemaps.fingerprint
        missing = [u for u in utts if u.key not in self._egemaps_feats]
        if missing:
            store = FeatureStore(self.folder, "egemaps", self._egemaps.fingerprint)
            self._egemaps_feats.update(store.compute(missing, self._egemaps, progress=_progress("eGeMAPS")))
        return self._egemaps.matrix(self._egemaps_feats[u.key] for u in utts)

    def cue_config(self) -> Any:
        """The :class:`spokenemo.features.cues.CueExtractionConfig` of this experiment (every n needed)."""
        from spokenemo.features.cue_vectors import segment_counts
        from spokenemo.features.cues import CueExtractionConfig

        cues = self.cfg.cues
        config = CueExtractionConfig.from_options(cues.options, n_segments=segment_counts(
            cues.n_segments, self.extra_segments), extended=cues.extended)
        self.fingerprints["cues"] = config.fingerprint()
        return config

    def cue_table_path(self) -> Path:
        """Folder of the experiment's cue table (``cues.parquet``, ``cues.jsonl``, settings, errors)."""
        return self.folder / f"cues-{self.cue_config().fingerprint()}"

    def cues(self, utts: Sequence[Utterance]) -> dict[str, dict[str, Any] | None]:
        """Per key: a cue row (:func:`spokenemo.features.cues.extract_manifest` table row) or None.

        The first call extracts the cues of every utterance of the experiment (:attr:`universe`)
        into one resumable table (per-file failures recorded in ``cues.errors.jsonl``).
        """
        if not self._cues_ready:
            from spokenemo.features.cues import extract_manifest

            every = {u.key: u for u in [*self.universe, *utts] if u.path}
            t0 = time.perf_counter()
            summary = extract_manifest(list(every.values()), self.cue_table_path(), config=self.cue_config(),
                                       progress=log.isEnabledFor(logging.INFO))
            if summary.computed:
                log.info("cues: %d utterances computed, %d reused, %d failed (%.1f s) -> %s", summary.computed,
                         summary.done - summary.computed, len(summary.errors), time.perf_counter() - t0,
                         summary.paths.parquet)
            for e in summary.errors:
                log.warning("cues: %s failed: %s", e.get("key"), e.get("message"))
            from spokenemo.features.cues import read_cue_table

            self._cue_feats = {str(r["key"]): r for r in read_cue_table(summary.paths.jsonl)}
            self._cues_ready = True
        return {u.key: self._cue_feats.get(u.key) for u in utts}

    def cue_matrix(self, utts: Sequence[Utterance], n_segments: int, *, coarse: bool, fine: bool) -> np.ndarray:
        from spokenemo.features.cue_vectors import cue_vector

        feats = self.cues(utts)
        width = (4 if coarse else 0) + (2 * n_segments if fine else 0)
        rows = [cue_vector(feats[u.key], coarse=coarse, fine=fine, n=n_segments) if feats[u.key] is not None
                else [np.nan] * width for u in utts]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), width)


def _progress(what: str) -> Callable[[int, int], None]:
    state = {"t": time.perf_counter()}

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - state["t"] > 30:
            state["t"] = now
            log.info("%s: %d/%d utterances", what, done, total)

    return report


# --- one fold -----------------------------------------------------------------------------------------
def _baseline_fold(spec: SystemSpec, task: Task, fold: Fold, train: list[Utterance], test: list[Utterance],
                   bank: FeatureBank, seed: int, cfg: ExperimentConfig) -> tuple[list[str | None], dict[str, Any]]:
    """Predictions of a baseline for ``test`` (None where an utterance has no features)."""
    kind, opts = spec.kind, dict(spec.options)
    y_train = [str(u.label) for u in train]
    info: dict[str, Any] = {}
    if kind == "majority":
        return list(fit_predict(kind, opts, None, y_train, test, seed=seed)), info
    if kind == "tfidf-lr":
        no_text = [u.key for u in train + test if not (u.text or "").strip()]
        info["n_without_text"] = len(no_text)
        return list(fit_predict(kind, opts, [u.text or "" for u in train], y_train,
                                [u.text or "" for u in test], seed=seed)), info
    # numeric features of every utterance of the task (speaker statistics use them all)
    everyone = list(task.utterances)
    if kind == "cue-lr":
        n = int(opts.get("n_segments") or cfg.cues.n_segments)
        X_all = bank.cue_matrix(everyone, n, coarse=bool(opts["coarse"]), fine=bool(opts["fine"]))
        info["n_segments"] = n
    elif kind == "egemaps-svm":
        X_all = bank.egemaps(everyone)
    else:
        raise SpokenemoError(f"system {spec.name!r}: {kind} is not a baseline kind")
    failed = np.isnan(X_all).all(axis=1)
    if opts.get("speaker_z"):
        X_all = speaker_zscore(X_all, [speaker_of(u) for u in everyone])
    row = {u.key: i for i, u in enumerate(everyone)}
    tr = [row[u.key] for u in train if not failed[row[u.key]]]
    info["n_train_without_features"] = len(train) - len(tr)
    y_tr = [str(everyone[i].label) for i in tr]
    preds = fit_predict(kind, opts, X_all[tr], y_tr, X_all[[row[u.key] for u in test]], seed=seed)
    out: list[str | None] = [None if failed[row[u.key]] else p for u, p in zip(test, preds, strict=True)]
    info["n_test_without_features"] = sum(p is None for p in out)
    return out, info


# --- the runner -------------------------------------------------------------------------------------
class Runner:
    """Runs one config into one output folder; see :func:`run_experiment`."""

    def __init__(self, cfg: ExperimentConfig, out_dir: str | Path, options: RunOptions | None = None, *,
                 config_path: str | Path | None = None) -> None:
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.options = options or RunOptions()
        self.config_path = config_path
        self.bank = FeatureBank(self.out_dir, cfg)
        self.seeds = list(self.options.seeds or cfg.seeds)
        self.systems = cfg.resolved_systems(ablations=self.options.ablations, only=self.options.systems)
        self.bank.extra_segments = {int(s.options["n_segments"]) for s in self.systems
                                    if s.options.get("n_segments")}

    # settings recorded next to every student number
    def student_settings(self) -> dict[str, Any]:
        s = self.cfg.student
        out = {"epochs": self.options.epochs if self.options.epochs is not None else s.epochs,
               "max_train_utterances": self.options.limit if self.options.limit is not None
               else s.max_train_utterances,
               "overrides": dict(s.overrides), "teacher": self.cfg.teacher.model_dump(mode="json")}
        if s.config is not None:  # the base student config: a changed file means other students
            path = resolve_path(s.config, self.config_path)
            out["config"] = s.config
            out["config_sha256"] = (hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file()
                                    else "(missing)")
        return out

    def _skip_reason(self, spec: SystemSpec, task: Task) -> str | None:
        if spec.kind in AUDIO_KINDS or (spec.is_student and (spec.options["coarse"] or spec.options["fine"])):
            no_audio = [u.key for u in task.utterances if not u.path]
            if no_audio:
                return (f"{len(no_audio)} of {len(task.utterances)} utterances have no audio (e.g. {no_audio[0]}); "
                        "this system needs audio")
        if spec.kind == "egemaps-svm":
            ok, note = egemaps_available()
            if not ok:
                return note
        if spec.kind == "tfidf-lr" and not any((u.text or "").strip() for u in task.utterances):
            return "no transcripts in this corpus; the text baseline needs them"
        return None

    def _fold_fingerprint(self, spec: SystemSpec, task: Task, fold: Fold, seed: int,
                          test_keys: Sequence[str]) -> str:
        labels = {u.key: u.label for u in task.utterances}
        parts: dict[str, Any] = {
            "v": RESULT_VERSION, "system": spec.to_json(), "task": task.name, "seed": seed,
            "train": _hash(list(fold.train)), "test": _hash(list(test_keys)),
            "labels": _hash([(k, str(labels[k])) for k in list(fold.train) + list(test_keys)]),
        }
        if spec.kind == "cue-lr" or spec.is_student:
            parts["cues"] = self.bank.cue_config().fingerprint()  # settings + cue-code version
        if spec.kind == "egemaps-svm":
            parts["egemaps"] = package_versions().get("opensmile")
        if spec.is_student:
            parts["student"] = self.student_settings()
        return _hash(parts)

    def _fold_path(self, spec: SystemSpec, task: Task, fold: Fold, seed: int) -> Path:
        return self.out_dir / "runs" / _safe(task.name) / _safe(spec.name) / f"seed{seed}" / f"{_safe(fold.name)}.json"

    def _fold_parts(self, spec: SystemSpec, task: Task, fold: Fold,
                    seed: int) -> tuple[list[Utterance], list[Utterance], str]:
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
        t0 = time.perf_counter()
        if spec.is_student:
            from spokenemo.systems.aecotd.experiment_fold import run_student_fold

            preds, info = run_student_fold(spec, task, fold, train, test, self.bank, seed, self.cfg,
                                           self.student_settings(), path.with_suffix(""), out_dir=self.out_dir,
                                           config_path=self.config_path, fingerprint=fp)
        else:
            preds, info = _baseline_fold(spec, task, fold, train, test, self.bank, seed, self.cfg)
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

    def run(self) -> ExperimentResult:
        t_start = time.perf_counter()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        utterances = load_utterances(self.cfg, self.config_path, self.options.roots)
        tasks: dict[str, Task] = {}
        results: dict[str, list[SystemResult]] = {}
        for lset in self.cfg.label_sets:
            task = build_task(self.cfg, utterances, lset, self.options.folds)
            tasks[task.name] = task
            write_folds(task.folds, self.out_dir / "folds" / _safe(task.name), task.utterances)
        self.bank.universe = list({u.key: u for t in tasks.values() for u in t.utterances}.values())
        for task in tasks.values():
            results[task.name] = [self._run_system(spec, task, seed) for spec in self.systems
                                  for seed in (self.seeds if spec.is_student else self.seeds[:1])]
            results[task.name] += self._earlier_results(task)
        meta = {
            "config_hash": self.cfg.fingerprint(), "config_path": str(self.config_path) if self.config_path else None,
            "options": {k: v for k, v in vars(self.options).items()}, "seeds": self.seeds,
            "package_versions": package_versions(), "feature_fingerprints": dict(self.bank.fingerprints),
            "student_settings": self.student_settings(),
            "wall_seconds": round(time.perf_counter() - t_start, 1),
            "created": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": platform.machine(),
        }
        result = ExperimentResult(self.cfg, self.out_dir, tasks, results, meta)
        if self.options.report:
            from spokenemo.experiment.report import write_outputs

            write_outputs(result)
        return result

    def _earlier_results(self, task: Task) -> list[SystemResult]:
        """Configured systems not run now whose every fold is already in the output folder with
        the same settings (e.g. baselines run before the student): the report shows them too."""
        ran = {s.name for s in self.systems}
        out = []
        for spec in self.cfg.resolved_systems(ablations=True):
            if spec.name in ran:
                continue
            for seed in self.seeds if spec.is_student else self.seeds[:1]:
                found = [self.finished_fold(spec, task, fold, seed) for fold in task.folds]
                records = [r for r in found if r is not None]
                if records and len(records) == len(found):
                    settings: dict[str, Any] = {"seed": seed, "test_limit": self.options.test_limit}
                    if spec.is_student:
                        settings.update(self.student_settings())
                    out.append(SystemResult(spec, seed, records, _aggregate(records), settings,
                                            note="read from an earlier run"))
        return out

    def _prepare_features(self, spec: SystemSpec, task: Task) -> None:
        """Extract (or read from the cache) the features ``spec`` needs for every utterance of the
        task, so that fold timings measure training and prediction only."""
        everyone = list(task.utterances)
        if spec.kind == "egemaps-svm":
            self.bank.egemaps(everyone)
        elif spec.kind == "cue-lr" or (spec.is_student and (spec.options["coarse"] or spec.options["fine"])):
            self.bank.cues(everyone)

    def _run_system(self, spec: SystemSpec, task: Task, seed: int) -> SystemResult:
        settings: dict[str, Any] = {"seed": seed, "test_limit": self.options.test_limit}
        if spec.is_student:
            settings.update(self.student_settings())
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
                return SystemResult(spec, seed, records, _aggregate(records), settings,
                                    status="skipped" if not records else "partial", note=note)
        return SystemResult(spec, seed, records, _aggregate(records), settings)


def _aggregate(records: Sequence[Mapping[str, Any]]) -> AggregateResult | None:
    if not records:
        return None
    return aggregate_metrics([ClassificationResult.from_dict(r["metrics"]) for r in records])


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
        Systems, ablations, reduced student settings, folds, seeds, corpus roots.
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
