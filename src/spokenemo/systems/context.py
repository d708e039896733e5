"""What a system is given by whoever runs it: shared services, the task, the fold.

Three nested contexts, each adding what is known at that point of a run:

- :class:`RunContext`: the experiment's settings (its config and the run options), the output
  folder and the feature source (``context.features``: cached features by name, see
  :mod:`spokenemo.features.providers`).
- :class:`TaskContext`: one label set of the experiment: its name, class list, every segment of
  the task (speaker statistics use them all), its folds folder and manifest.
- :class:`FoldContext`: one fold of one seed of one system row: the fold, the seed, the folder
  where the system may keep what it trains (``work_dir``) and the fold result's fingerprint.

A system never imports the runner: it reads these objects. ``experiment`` and ``options`` are
the experiment config and the run options (typed loosely here because they belong to the layer
above); a system reads only the sections it documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from spokenemo.data.manifest import Segment, write_manifest
from spokenemo.protocols import Fold


class FeatureSource(Protocol):
    """Cached per-segment features by name (:class:`spokenemo.features.providers.FeatureBank`)."""

    def get(self, name: str) -> Any:
        """The provider of feature ``name`` (its own methods: ``rows``, ``matrix``, ...)."""

    def prepare(self, name: str, segments: Sequence[Segment]) -> None:
        """Compute (or read from the cache) feature ``name`` of ``segments``."""

    def matrix(self, name: str, segments: Sequence[Segment], **options: Any) -> np.ndarray:
        """One row per segment (NaN where a segment has no features)."""

    def fingerprint_part(self, name: str) -> Any:
        """What fold fingerprints record about feature ``name`` (settings, library version)."""


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """Services shared by every system of an experiment run.

    Attributes
    ----------
    experiment : ExperimentConfig
        The validated experiment config (sections ``cues``, ``student``, ``teacher``, ...).
    options : RunOptions
        The run's command-line choices (``limit``, ``epochs``, ``test_limit``, ...).
    out_dir : Path
        The experiment's output folder.
    config_path : path, optional
        Where the config came from (relative paths in it resolve from there).
    features : FeatureSource
        Cached features by name.
    path_resolver : callable
        Resolves a path written in the config (see :meth:`resolve_path`).
    """

    experiment: Any
    options: Any
    out_dir: Path
    config_path: str | Path | None
    features: FeatureSource
    path_resolver: Callable[[str | Path], Path]

    def resolve_path(self, value: str | Path) -> Path:
        """A path of the config, resolved as corpus roots are (config folder, repository root, cwd)."""
        return self.path_resolver(value)

    def for_task(self, *, task: str, slug: str, labels: Sequence[str], segments: Sequence[Segment],
                 folds_dir: Path) -> TaskContext:
        return TaskContext(**_fields_of(self, RunContext), task=task, slug=slug, labels=list(labels),
                           segments=list(segments), folds_dir=folds_dir)


@dataclass(frozen=True, kw_only=True)
class TaskContext(RunContext):
    """One task (label set) of the run.

    Attributes
    ----------
    task : str
        The label set's name (``"4class"``).
    slug : str
        The task name as it appears in file names.
    labels : list of str
        The task's classes, in order.
    segments : list of Segment
        Every segment of the task (all folds, all parts; ``label`` = class).
    folds_dir : Path
        Where the task's folds index (``index.json``) and manifest are written.
    """

    task: str
    slug: str
    labels: list[str]
    segments: list[Segment]
    folds_dir: Path

    def manifest(self) -> Path:
        """The task's segments as a JSONL manifest in :attr:`folds_dir` (written once, atomically)."""
        path = self.folds_dir / "manifest.jsonl"
        if not path.is_file():
            write_manifest(path, self.segments)
        return path

    def for_fold(self, *, fold: Fold, seed: int, system: str, work_dir: Path, fingerprint: str) -> FoldContext:
        return FoldContext(**_fields_of(self, TaskContext), fold=fold, seed=seed, system=system, work_dir=work_dir,
                           fingerprint=fingerprint)


@dataclass(frozen=True, kw_only=True)
class FoldContext(TaskContext):
    """One fold of one seed of one system row.

    Attributes
    ----------
    fold : Fold
        The fold (its ``name``, keys of each part, ``info``).
    seed : int
        The seed of this run of the system.
    system : str
        The row's name (``"cue-lr-speaker-z"``, ``"aecotd-no-cot"``).
    work_dir : Path
        A folder for what the system trains on this fold (not created; resumable training
        keeps its checkpoints here).
    fingerprint : str
        The fold result's fingerprint (changes whenever anything the result depends on does).
    """

    fold: Fold
    seed: int
    system: str
    work_dir: Path
    fingerprint: str


def _fields_of(obj: Any, cls: type) -> Mapping[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(cls)}
