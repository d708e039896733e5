"""ABHINAYA's public functions: the imbalance protocol runner and the vote over finished runs.

- :func:`run_abhinaya_experiment`: an experiment config run like ``spokenemo experiment``, except
  that its ``imbalance:`` section (:class:`~spokenemo.systems.abhinaya.config.ImbalanceSection`)
  turns every fold into a long-tailed training part and balanced validation / test parts
  (:func:`spokenemo.protocols.imbalance.imbalanced_folds`; thesis.md 5.4).
- :func:`vote_results`: the majority vote (thesis.md 5.2, tie rule: strict plurality else the
  tie-breaker's label) of rows already run into an output folder, per fold and seed, scored like
  every row (macro-F1, per-class F1), without training anything again; vote subsets as in thesis
  Table 4.9.
- :func:`majority_vote`, :func:`imbalanced_folds`, :func:`long_tail_counts`: re-exported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.experiment import layout
from spokenemo.experiment.config import ExperimentConfig, load_config
from spokenemo.experiment.results import ExperimentResult, RunOptions
from spokenemo.experiment.runner import Runner
from spokenemo.experiment.tasks import Task
from spokenemo.protocols import compute_metrics
from spokenemo.protocols.imbalance import imbalanced_folds, long_tail_counts
from spokenemo.systems.abhinaya.vote import TABLE_4_9, check_members, majority_vote


class ImbalancedRunner(Runner):
    """A :class:`~spokenemo.experiment.runner.Runner` whose folds follow the ``imbalance:`` section."""

    def prepare_task(self, task: Task) -> Task:  # the folds made long-tailed
        section = self.cfg.section("imbalance")
        folds = imbalanced_folds(task.folds, task.utterances, ratio=section.train_ratio, seed=section.seed,
                                 balance_valid=section.balance_valid, balance_test=section.balance_test,
                                 test_per_class=section.test_per_class, valid_per_class=section.valid_per_class,
                                 train_limit=section.train_limit)
        return Task(name=task.name, labels=task.labels, utterances=task.utterances, folds=folds,
                    n_protocol_folds=task.n_protocol_folds)


def run_abhinaya_experiment(config: ExperimentConfig | str | Path, out_dir: str | Path,
                            options: RunOptions | None = None) -> ExperimentResult:
    """Run ``config`` (its ``imbalance:`` section applied to every fold) into ``out_dir``."""
    path = None if isinstance(config, ExperimentConfig) else Path(config)
    cfg = config if isinstance(config, ExperimentConfig) else load_config(path)
    return ImbalancedRunner(cfg, out_dir, options, config_path=path).run()


def _fold_records(out_dir: Path, task: str, row: str, seed: int) -> dict[str, dict[str, Any]]:
    folder = layout.fold_result_path(out_dir, task, row, seed, "x").parent
    if not folder.is_dir():
        raise SpokenemoError(f"no results of row {row!r} (task {task}, seed {seed}) in {out_dir}",
                             hint="run the experiment with that row first")
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


def vote_results(out_dir: str | Path, task: str, members: Mapping[str, str], *, tie_breaker: str | None = None,
                 seeds: Sequence[int] = (0,), classes: Sequence[str] | None = None) -> dict[str, Any]:
    """The vote of finished rows, per seed and fold, with metrics.

    Parameters
    ----------
    out_dir : the experiment's output folder.
    task : the label set's name (``ravdess8``).
    members : member name -> row name (``{"S1": "s1-wfl", "S2": "s2-wfl", "ST1": "st1-vs"}``).
    tie_breaker : the member whose label wins ties (default the first).
    seeds : the seeds to vote over (a deterministic row uses its first-seed results for all).
    classes : the task's classes (default: those seen in the true labels).

    Returns
    -------
    dict
        ``per_seed``: seed -> mean macro-F1 over folds; ``macro_f1`` mean and ``std`` over seeds;
        ``per_class_f1``: class -> mean over seeds and folds (NaN where a class was never
        predicted); ``folds``: the per-fold metrics.
    """
    names = list(members)
    tie_breaker = check_members(names, tie_breaker)
    out_dir = Path(out_dir)
    per_seed: dict[int, float] = {}
    per_class: dict[str, list[float]] = {}
    folds_out = []
    for seed in seeds:
        records = {}
        for name in names:
            found = _fold_records(out_dir, task, members[name], seed) if _has(out_dir, task, members[name], seed) \
                else _fold_records(out_dir, task, members[name], seeds[0])
            records[name] = found
        fold_names = sorted(set.intersection(*(set(r) for r in records.values())))
        if not fold_names:
            raise SpokenemoError(f"the rows {dict(members)} share no fold in {out_dir}")
        scores = []
        for fold in fold_names:
            preds = {n: {p["key"]: p["pred"] for p in records[n][fold]["predictions"]} for n in names}
            truth = {p["key"]: p["true"] for p in records[names[0]][fold]["predictions"]}
            keys = sorted(truth)
            voted = majority_vote({n: [preds[n].get(k) for k in keys] for n in names}, tie_breaker)
            labels = list(classes or sorted(set(truth.values())))
            metrics = compute_metrics([truth[k] for k in keys], [v or "(no prediction)" for v in voted], labels)
            scores.append(metrics.macro_f1)
            for c in labels:
                per_class.setdefault(c, []).append(float(metrics.f1[c]))
            folds_out.append({"seed": seed, "fold": fold, "metrics": metrics.to_dict()})
        per_seed[seed] = float(np.mean(scores))
    values = list(per_seed.values())
    return {"members": dict(members), "tie_breaker": tie_breaker, "per_seed": per_seed,
            "macro_f1": float(np.mean(values)), "std": float(np.std(values)),
            "per_class_f1": {c: float(np.nanmean(v)) if not np.isnan(v).all() else float("nan")
                             for c, v in per_class.items()}, "folds": folds_out}


def _has(out_dir: Path, task: str, row: str, seed: int) -> bool:
    return layout.fold_result_path(out_dir, task, row, seed, "x").parent.is_dir()


def table_4_9_subsets(available: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The vote subsets of thesis Table 4.9 whose members are all in ``available``."""
    return {name: spec for name, spec in TABLE_4_9.items() if set(spec["members"]) <= set(available)}  # type: ignore


def check_vote(members: Sequence[str], tie_breaker: str | None = None) -> str:
    """The tie-breaker a vote of ``members`` uses; a :class:`ConfigError` for fewer than three."""
    if not members:
        raise ConfigError("a vote needs members")
    return check_members(list(members), tie_breaker)


__all__ = ["ImbalancedRunner", "check_vote", "imbalanced_folds", "long_tail_counts", "majority_vote",
           "run_abhinaya_experiment", "table_4_9_subsets", "vote_results"]
