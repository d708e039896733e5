"""Where an experiment writes what (one place for the output folder's layout).

::

    OUTDIR/results.json, report.md
    OUTDIR/confusion/<task>/<system>-seed<seed>.png
    OUTDIR/runs/<task>/<system>/seed<seed>/<fold>.json     one fold's result (resumable)
    OUTDIR/runs/<task>/<system>/seed<seed>/<fold>/         that fold's work folder (trained models)
    OUTDIR/folds/<task>/index.json, manifest.jsonl         the task's folds and segments
    OUTDIR/features/                                       cached features (by feature name)
"""

from __future__ import annotations

from pathlib import Path


def safe_name(name: str) -> str:
    """``name`` with every character but letters, digits and ``-_.+`` replaced by ``_`` (file names)."""
    return "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in name)


def fold_result_path(out_dir: Path, task: str, system: str, seed: int, fold: str) -> Path:
    """The JSON result of one fold of one seed of one system row."""
    return out_dir / "runs" / safe_name(task) / safe_name(system) / f"seed{seed}" / f"{safe_name(fold)}.json"


def folds_dir(out_dir: Path, task: str) -> Path:
    """The task's folds index and manifest."""
    return out_dir / "folds" / safe_name(task)


def features_dir(out_dir: Path) -> Path:
    """The experiment's feature cache."""
    return out_dir / "features"


def confusion_png(task: str, system: str, seed: int) -> str:
    """The pooled confusion matrix of a row, relative to the output folder."""
    return f"confusion/{safe_name(task)}/{safe_name(system)}-seed{seed}.png"
