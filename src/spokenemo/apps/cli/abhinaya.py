"""``spokenemo abhinaya run | vote``: ABHINAYA's imbalance protocol and the majority vote.

``run`` is ``spokenemo experiment`` with the config's ``imbalance:`` section applied to every fold
(long-tailed training parts, balanced validation / test parts); ``vote`` joins rows already run
into an output folder by majority vote (ties: the tie-breaker's label) and prints macro-F1 and
per-class F1. :mod:`spokenemo.api.abhinaya` is imported when a command runs, so ``spokenemo
--help`` stays fast.
"""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from types import ModuleType

import click

from spokenemo.core.errors import ConfigError


def _api() -> ModuleType:
    return importlib.import_module("spokenemo.api.abhinaya")


@click.group("abhinaya")
def abhinaya_group() -> None:
    """ABHINAYA: speech, text and speech+text members with imbalance losses, joined by vote."""


@abhinaya_group.command("run")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--systems", default=None, help="Comma-separated rows of the config to run (default all).")
@click.option("--folds", default=None, help="Comma-separated folds (default all).")
@click.option("--seeds", default=None, help="Comma-separated seeds (default the config's).")
@click.option("--threads", type=int, default=1, show_default=True, help="torch CPU threads.")
def run_command(config: Path, output: Path, systems: str | None, folds: str | None, seeds: str | None,
                threads: int) -> None:
    """Run CONFIG with its long-tail `imbalance:` section into OUTPUT (finished folds are reused)."""
    results = importlib.import_module("spokenemo.experiment.results")
    importlib.import_module("torch").set_num_threads(threads)
    options = results.RunOptions(systems=systems.split(",") if systems else None,
                                 folds=folds.split(",") if folds else None,
                                 seeds=[int(s) for s in seeds.split(",")] if seeds else None)
    _api().run_abhinaya_experiment(config, output, options)
    click.echo(f"report: {output / 'report.md'}")


def _members(specs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for spec in specs:
        name, _, row = spec.partition("=")
        if not name or not row:
            raise ConfigError(f"--member {spec!r}: write NAME=ROW (e.g. S1=s1-wfl)")
        out[name] = row
    return out


@abhinaya_group.command("vote")
@click.argument("output", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--task", required=True, help="The label set's name (e.g. ravdess8).")
@click.option("-m", "--member", "members", multiple=True, required=True,
              help="NAME=ROW, one per member (at least three), e.g. -m S1=s1-wfl -m S2=s2-wfl -m ST1=st1-vs.")
@click.option("--tie-breaker", default=None, help="The member whose label wins ties (default the first).")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
def vote_command(output: Path, task: str, members: tuple[str, ...], tie_breaker: str | None, seeds: str,
                 as_json: bool) -> None:
    """Majority vote of rows already run into OUTPUT (thesis Table 4.9 style)."""
    got = _api().vote_results(output, task, _members(members), tie_breaker=tie_breaker,
                              seeds=[int(s) for s in seeds.split(",")])
    if as_json:
        click.echo(json.dumps(got, indent=1, default=str))
        return
    names = "+".join(got["members"])
    click.echo(f"vote {names} (ties: {got['tie_breaker']}): macro-F1 {100 * got['macro_f1']:.1f} "
               f"± {100 * got['std']:.1f} over seeds {list(got['per_seed'])}")
    for c, f1 in got["per_class_f1"].items():
        click.echo(f"  {c:<10} F1 {'n/a' if math.isnan(f1) else f'{100 * f1:.1f}'}")


COMMANDS = [abhinaya_group]
