"""``spokenemo experiment CONFIG -o OUTDIR``: run a config's systems on its protocol's folds."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from spokenemo.core.errors import ConfigError
from spokenemo.experiment import RunOptions, load_config, run_experiment
from spokenemo.experiment.report import mean_std


def _split_list(values: tuple[str, ...]) -> list[str] | None:
    out = [p.strip() for v in values for p in v.split(",") if p.strip()]
    return out or None


def _parse_roots(values: tuple[str, ...]) -> dict[str, str]:
    roots = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"--root {v!r}: expected CORPUS=PATH", hint="e.g. --root iemocap=/data/IEMOCAP_full_release")
        roots[name.strip()] = path.strip()
    return roots


@click.command("experiment")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (results.json, report.md, confusion/, runs/, features/). Rerunning into "
                   "the same folder skips finished folds.")
@click.option("--ablations", is_flag=True,
              help="Also run each system's ablation presets (AECoTD: no CoT, no fine, text only, no emotion loss, "
                   "and the n sweep 1,3,5,7,9).")
@click.option("--systems", multiple=True, help="Run only these systems (comma-separated or repeated).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Trained systems (the student): train on at most N utterances per fold (class-stratified); "
                   "recorded with the numbers.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None, help="Trained systems (the student): training epochs.")
@click.option("--test-limit", type=click.IntRange(min=1), default=None,
              help="Score at most N test utterances per fold (every system; stratified; reported in captions).")
@click.option("--folds", multiple=True, help="Run only these folds (comma-separated or repeated).")
@click.option("--seeds", default=None, help="Seeds, comma-separated (replaces the config's).")
@click.option("--root", "roots", multiple=True, help="Corpus root override CORPUS=PATH (repeatable).")
@click.option("-v", "--verbose", is_flag=True, help="Log progress (feature extraction, each fold).")
def experiment_command(config: Path, output: Path, ablations: bool, systems: tuple[str, ...], limit: int | None,
                       epochs: float | None, test_limit: int | None, folds: tuple[str, ...], seeds: str | None,
                       roots: tuple[str, ...], verbose: bool) -> None:
    """Run the experiment described by the YAML CONFIG into OUTDIR and print its main table.

    Examples: `spokenemo experiment configs/ravdess-4class.yaml -o runs/ravdess --systems cue-lr,majority`;
    `spokenemo experiment configs/iemocap-loso.yaml --root iemocap=/data/IEMOCAP -o runs/iemocap --ablations`.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(message)s",
                        datefmt="%H:%M:%S")
    cfg = load_config(config)
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()] if seeds else None
    except ValueError:
        raise ConfigError(f"--seeds {seeds!r}: expected integers, e.g. 0,1,2") from None
    options = RunOptions(ablations=ablations, systems=_split_list(systems), limit=limit, epochs=epochs,
                         test_limit=test_limit, folds=_split_list(folds), seeds=seed_list, roots=_parse_roots(roots))
    result = run_experiment(cfg, output, options, config_path=config)
    console = Console(highlight=False)
    for task_name, rows in result.results.items():
        task = result.tasks[task_name]
        n_folds = f"{len(task.folds)} fold" + ("s" if len(task.folds) != 1 else "")
        table = Table(title=f"{cfg.name} · {task_name} · {task.folds[0].protocol} · {n_folds} "
                            f"· {len(task.utterances)} utterances")
        for col in ("system", "UA", "WA", "macro-F1", "weighted-F1", "status"):
            table.add_column(col)
        for r in rows:
            if r.aggregate is None:
                table.add_row(r.system.name, "–", "–", "–", "–", f"{r.status}: {r.note[:60]}")
            else:
                table.add_row(r.system.name, *(mean_std(r.aggregate, m) for m in ("ua", "wa", "macro_f1", "weighted_f1")),
                              r.status)
        console.print(table)
    console.print(f"wrote {output / 'report.md'} and {output / 'results.json'}")


COMMANDS = [experiment_command]
