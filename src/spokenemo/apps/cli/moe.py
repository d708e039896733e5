"""``spokenemo moe``: MiSTER-E, the mixture of speech and text experts (docs/methods/mister-e.md).

``moe regimes`` runs the two imbalance-regime experiments (text-dominant MELD with random speech,
speech-dominant RAVDESS pseudo-conversations with fixed-sentence text) for MiSTER-E, monolithic
and feat-MoE over seeds, resumably, and prints the table; ``moe table`` prints it again.
:mod:`spokenemo.api.moe_regimes` is imported when a command runs, so ``spokenemo --help`` stays fast.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from types import ModuleType

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from spokenemo.core.config import read_yaml_mapping
from spokenemo.core.errors import ConfigError
from spokenemo.core.lazy import optional_import
from spokenemo.systems.mister_e.config import MisterEConfig

REGIMES = ("text", "speech")
DEFAULT_MELD = Path("../shared/data/meld")
DEFAULT_RAVDESS = Path("../shared/data/ravdess")


def _api() -> ModuleType:
    return importlib.import_module("spokenemo.api.moe_regimes")


def _ints(value: str, what: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated integers, got {value!r}", hint="e.g. 0,1,2") from None


def print_evidence(results: Path, informative: str, console: Console) -> None:
    """The evidence points (held / not held, difference +- seed spread)."""
    for e in _api().regime_evidence(results, informative):
        verdict = "held" if e["held"] else "NOT held"
        console.print(f"  {e['claim']}: {verdict} ({e['value']:+.3f} ± {e['spread']:.3f}, {e['seeds']} seeds)")


def print_table(results: Path, console: Console) -> None:
    """The regime table of a ``results.jsonl``: WF1 of each row and expert, and the gate weights."""
    summary = _api().regime_table(results)
    cols = ["wf1", "wf1_speech", "wf1_text", "wf1_multimodal", "wf1_phase1_speech", "wf1_phase1_text",
            "gate_speech", "gate_text", "gate_multimodal"]
    table = Table(title=str(results))
    table.add_column("row")
    for c in cols:
        table.add_column(c, overflow="fold")
    for row, values in summary.items():
        cells = [f"{values[c][0]:.3f} ± {values[c][1]:.3f}" if c in values else "–" for c in cols]
        table.add_row(f"{row} ({max(v[2] for v in values.values())} seeds)", *cells)
    console.print(table)
    for row, runs in _api().stopped_runs(results).items():
        console.print(f"{row}: {len(runs)} run(s) stopped by a safeguard (left out above): {runs[0]}")


@click.group("moe")
def moe_group() -> None:
    """MiSTER-E: speech, text and multimodal experts mixed by a gate."""


@moe_group.command("regimes")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the runs; <output>/<regime>/results.jsonl is appended to (resumable).")
@click.option("--regime", "regimes", type=click.Choice(REGIMES), multiple=True, default=REGIMES, show_default=True)
@click.option("--seeds", default="0,1,2", show_default=True)
@click.option("--folds", default="1,2,3,4,5", show_default=True, help="RAVDESS-20 folds (speech regime).")
@click.option("--meld-root", type=click.Path(path_type=Path), default=DEFAULT_MELD, show_default=True)
@click.option("--ravdess-root", type=click.Path(path_type=Path), default=DEFAULT_RAVDESS, show_default=True)
@click.option("--features-dir", type=click.Path(path_type=Path), default=None,
              help="Shared feature cache (reuses Whisper-base features computed by other runs).")
@click.option("--max-train-dialogues", type=int, default=None, help="MELD: first N training dialogues only.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML mapping of MisterEConfig options for every row (configs/mister-e-regimes.yaml).")
@click.option("--options", "options_json", default="{}", help="JSON of MisterEConfig options (over --config).")
@click.option("--rows", default="mister-e,monolithic,feat-moe", show_default=True,
              help="System rows: mister-e, monolithic, feat-moe, no-loss, alpha0, lambda0, mlp-gate.")
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
def regimes_command(output: Path, regimes: tuple[str, ...], seeds: str, folds: str, meld_root: Path,
                    ravdess_root: Path, features_dir: Path | None, max_train_dialogues: int | None,
                    config_path: Path | None, options_json: str, rows: str, threads: int | None) -> None:
    """Run MiSTER-E, monolithic and feat-MoE in the text- and speech-dominant regimes."""
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        optional_import("torch", extra="llm", purpose="setting the CPU threads").set_num_threads(threads)
    options = dict(read_yaml_mapping(config_path)) if config_path is not None else {}
    try:
        options.update(json.loads(options_json))
    except json.JSONDecodeError as err:
        raise ConfigError(f"--options is not JSON: {err}", hint='e.g. {"epochs": 10}') from None
    try:
        MisterEConfig(**options)  # a wrong option fails here, before any data is read
    except ValidationError as err:
        raise ConfigError(f"MiSTER-E options: {err.errors()[0]['loc']}: {err.errors()[0]['msg']}",
                          hint="see spokenemo.systems.mister_e.config.MisterEConfig") from None
    api, console = _api(), Console()
    names = [r.strip() for r in rows.split(",") if r.strip()]
    unknown = sorted(set(names) - set(api.ALL_ROWS))
    if unknown or not names:
        raise ConfigError(f"--rows: unknown row(s) {unknown}", hint=f"rows: {', '.join(api.ALL_ROWS)}")
    for regime in regimes:
        data = (api.text_dominant(meld_root, max_train_dialogues=max_train_dialogues) if regime == "text"
                else api.speech_dominant(ravdess_root, folds=_ints(folds, "--folds")))
        results = api.run_regime(data, output / regime, seeds=_ints(seeds, "--seeds"), features_dir=features_dir,
                                 rows={n: api.ALL_ROWS[n] for n in names}, **options)
        console.print(data.name)
        print_table(results, console)
        print_evidence(results, data.informative, console)


@moe_group.command("table")
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--informative", type=click.Choice(["speech", "text"]), default=None,
              help="Also print the evidence points, with this modality as the informative one.")
def table_command(results: Path, informative: str | None) -> None:
    """Print the regime table of a results.jsonl."""
    console = Console()
    print_table(results, console)
    if informative:
        print_evidence(results, informative, console)


COMMANDS = [moe_group]
