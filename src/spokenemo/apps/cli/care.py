"""``spokenemo care pretrain | extract | plot``: CARE pre-training, feature extraction, size-vs-performance.

Both show progress bars and resume: ``pretrain`` continues from the newest checkpoint in its output
folder (``--restart`` starts afresh), ``extract`` keeps every segment already in the feature store.
:mod:`spokenemo.api.care` is imported when a command runs, so ``spokenemo --help`` stays fast.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import click


def _api() -> ModuleType:
    return importlib.import_module("spokenemo.api.care")


@click.group("care")
def care_group() -> None:
    """CARE: a speech encoder distilled from a text and an acoustic teacher (docs/methods/care.md)."""


@care_group.command("pretrain")
@click.argument("manifests", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Run folder (checkpoints, logs, targets, best/ and final/ models).")
@click.option("-c", "--config", "config", type=click.Path(path_type=Path), default=None,
              help="Pre-training YAML (default: the offline settings of configs/care-offline-cpu.yaml's sections).")
@click.option("--stop-after", type=int, default=None, help="Stop after this many steps in total (resume later).")
@click.option("--restart", is_flag=True, help="Ignore existing checkpoints and start afresh.")
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
def pretrain_command(manifests: tuple[Path, ...], output: Path, config: Path | None, stop_after: int | None,
                     restart: bool, threads: int | None) -> None:
    """Pre-train CARE on the utterances of MANIFESTS (JSONL; transcripts in `text`)."""
    api = _api()
    if threads:
        importlib.import_module("torch").set_num_threads(threads)
    result = api.pretrain_care(list(manifests), output, config, resume=not restart, stop_after_steps=stop_after)
    data = result.summary["data"]
    click.echo(f"{'finished' if result.finished else 'stopped'} at step {result.step} of {result.total_steps}; "
               f"{data['train_examples']} training and {data['valid_examples']} validation utterances, "
               f"{data['transcripts']['skipped']} skipped without a transcript, "
               f"{data['transcripts']['transcribed']} transcribed")
    if result.best_step is not None:
        click.echo(f"best validation loss {result.best_valid_loss:.4f} at step {result.best_step}: {output / 'best'}")
    if not result.finished:
        click.echo("run the same command again to resume")


@care_group.command("extract")
@click.argument("model")
@click.argument("manifests", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Feature folder (the store is a fingerprinted subfolder; rerun to resume).")
@click.option("--branch", type=click.Choice(["both", "acoustic", "semantic"]), default="both", show_default=True)
@click.option("--layout", type=click.Choice(["pooled", "frames"]), default="pooled", show_default=True,
              help="pooled: per-level mean and std; frames: every frame of every level.")
def extract_command(model: str, manifests: tuple[Path, ...], output: Path, branch: str, layout: str) -> None:
    """Every level of CARE MODEL (a pre-training folder, its best/, or care-init:PRESET) for MANIFESTS."""
    summary = _api().extract_care(model, list(manifests), output, branch=branch, layout=layout)
    click.echo(json.dumps(summary, indent=1))


@care_group.command("plot")
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path), help="PNG file.")
def plot_command(results: Path, output: Path) -> None:
    """Size against performance (thesis Fig. 3.5) beside the rows of a CARE experiment's RESULTS (results.json)."""
    plots = importlib.import_module("spokenemo.systems.care.plots")
    points = plots.experiment_points(results)
    click.echo(str(plots.size_performance_plot(points, output, title=results.parent.name)))


COMMANDS = [care_group]
