"""What an experiment run produces, as objects: run options, one row's result, the whole result.

The runner (:mod:`.runner`) fills these; the report (:mod:`.report`) renders them. Neither
imports the other's internals.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from spokenemo.experiment.config import ExperimentConfig
from spokenemo.experiment.systems import SystemSpec
from spokenemo.experiment.tasks import Task
from spokenemo.protocols.metrics import AggregateResult, ClassificationResult, aggregate_metrics


@dataclass
class RunOptions:
    """Command-line choices on top of a config (all recorded in results.json).

    Parameters
    ----------
    ablations : bool
        Add each system's ablation presets (AECoTD: Table 1's ablations and Table 4's n sweep).
    systems : list of str, optional
        Run only these systems.
    limit : int, optional
        Trained systems: train on at most this many utterances per fold (overrides the config).
    epochs : float, optional
        Trained systems: training epochs (overrides the config).
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


def aggregate_records(records: Sequence[Mapping[str, Any]]) -> AggregateResult | None:
    """Mean and std over the fold records' metrics (None without records)."""
    if not records:
        return None
    return aggregate_metrics([ClassificationResult.from_dict(r["metrics"]) for r in records])


def package_versions() -> dict[str, str]:
    """Versions of the packages whose behaviour can change the numbers."""
    out = {"python": platform.python_version()}
    for name in ("spokenemo", "numpy", "scipy", "scikit-learn", "librosa", "opensmile", "torch", "transformers",
                 "peft"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
