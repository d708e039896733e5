"""``spokenemo erc``: emotion per turn of conversations (HCAM, docs/methods/hcam.md).

``erc MANIFEST -o OUT`` labels every turn of the manifest's conversations with a saved model;
``erc-train MANIFEST -o DIR`` trains one. :mod:`spokenemo.api.erc` is imported when a command
runs, so ``spokenemo --help`` stays fast.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import click
from rich.console import Console


def _api() -> ModuleType:
    return importlib.import_module("spokenemo.api.erc")


@click.command("erc")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="predictions.jsonl, or a folder to write it in.")
@click.option("--model", type=click.Path(path_type=Path),
              help="Saved HCAM model (default $SPOKENEMO_ERC_MODEL or runs/hcam/model).")
def erc_command(manifest: Path, output: Path, model: Path | None) -> None:
    """Predict an emotion for every turn of the conversations in MANIFEST.

    The manifest's segments need ``dialogue`` and ``turn`` (and audio / text for the model's
    modalities). Example:

      spokenemo erc conversations.jsonl -o runs/erc --model runs/hcam/meld-text
    """
    api = _api()
    rows = api.predict_erc(manifest, model)
    path = api.write_erc(rows, output)
    console = Console(highlight=False)
    scored = [r for r in rows if "true_label" in r]
    hits = sum(r["label"] == r["true_label"] for r in scored)
    extra = f"; accuracy on labelled turns {hits / len(scored):.3f}" if scored else ""
    console.print(f"{len(rows)} turns of {len({r['dialogue'] for r in rows})} conversations -> {path}{extra}")


@click.command("erc-train")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to save the model in.")
@click.option("--preset", default="hcam", show_default=True,
              help="hcam, hcam-nonhier, hcam-text-1/2, hcam-speech-1/2, hcam-thesis-gpu.")
@click.option("--label-set", help="Map labels first (e.g. meld7, ravdess8).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="HCAM option (JSON value), e.g. --set single_turn='\"allow\"' --set epochs='[3,5,5]'.")
@click.option("--seed", type=int, default=0, show_default=True)
def erc_train_command(manifest: Path, output: Path, preset: str, label_set: str | None, overrides: tuple[str, ...],
                      seed: int) -> None:
    """Train HCAM on MANIFEST's train split (dev/valid chooses the epochs) and save it to OUTPUT."""
    options = {}
    for item in overrides:
        key, _, value = item.partition("=")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    folder = _api().train_erc(manifest, output, preset=preset, options=options, label_set=label_set, seed=seed)
    Console(highlight=False).print(f"HCAM ({preset}) saved to {folder}")


COMMANDS = [erc_command, erc_train_command]
