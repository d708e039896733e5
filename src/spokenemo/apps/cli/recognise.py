"""``spokenemo recognise FILE...`` and ``spokenemo recogniser-train MANIFEST... -o DIR``.

``recognise`` answers "which emotion" with the shipped recogniser (``models/recogniser-4class``,
or ``--recogniser DIR`` / ``$SPOKENEMO_RECOGNISER``): a table, ``--json`` lines, or ``-o`` a
JSONL file. Each file is checked for speech first; a file without speech says why and gets no
emotion. ``recogniser-train`` fits a recogniser folder on labelled manifests
(:mod:`spokenemo.systems.ser.recogniser_train`), its encoder features cached in
``--feature-cache`` so a rerun (or a killed run) reuses them.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import click
from rich.console import Console
from rich.table import Table

from spokenemo.core.errors import ConfigError
from spokenemo.core.fileio import write_jsonl
from spokenemo.data import read_manifest
from spokenemo.protocols import apply_label_set, get_label_set

#: Exit status when no input held speech (2 is an error, 0 at least one emotion).
NO_SPEECH_EXIT = 3


def _api() -> ModuleType:
    return importlib.import_module("spokenemo.api.recogniser")


def _grid(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--C {text!r}: expected numbers separated by commas, e.g. 0.1,1") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"--C {text!r}: give at least one positive value")
    return values


@click.command("recognise")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--recogniser", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Recogniser folder (default: $SPOKENEMO_RECOGNISER, else models/recogniser-4class).")
@click.option("--speaker", help="All FILES are one speaker: with enough of them (see the model card) each is scored "
                                "against that speaker's own statistics.")
@click.option("--min-speech", default=0.3, show_default=True, type=float, metavar="SECONDS",
              help="Least speech a file needs to get an emotion (0: no check).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON lines here.")
def recognise_command(files: tuple[Path, ...], folder: Path | None, speaker: str | None, min_speech: float,
                      as_json: bool, output: Path | None) -> None:
    """Which emotion each FILE expresses, with calibrated probabilities (or why there is none).

    \b
    spokenemo recognise clip.wav
    spokenemo recognise talk/*.wav --speaker anna --json

    Exit status: 0 at least one emotion, 3 no file held speech, 2 an error.
    """
    api = _api()
    api.require_recogniser(folder)
    speakers = [speaker] * len(files) if speaker else None
    answers = api.recognise(list(files), recogniser=folder, speakers=speakers, min_speech_seconds=min_speech)
    rows = [a.to_dict() for a in answers]
    if output is not None:
        write_jsonl(output, rows)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    else:
        _show(answers, output)
    if all(a.label is None for a in answers):
        sys.exit(NO_SPEECH_EXIT)


def _show(answers: list, output: Path | None) -> None:
    console = Console(highlight=False)
    labels = sorted({k for a in answers for k in a.probabilities})
    table = Table(title="emotion (calibrated probabilities)")
    for col in ("file", "emotion", *labels, "statistics"):
        table.add_column(col)
    for a in answers:
        if a.label is None:
            table.add_row(a.source, f"no speech: {a.no_speech_reason}", *["–"] * len(labels), "–")
            continue
        shown = a.label + (f" (uncertain: {' or '.join(a.uncertain_between)})" if a.uncertain_between else "")
        table.add_row(a.source, shown, *(f"{a.probabilities.get(k, 0):.2f}" for k in labels), a.normalisation)
    console.print(table)
    if output is not None:
        console.print(f"wrote {output}")


@click.command("recogniser-train")
@click.argument("manifests", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Recogniser folder to write (recogniser.json, heads, README.md model card).")
@click.option("--label-set", default="4class", show_default=True, help="Label set the corpus labels are mapped to.")
@click.option("--feature-cache", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/feature-cache"),
              show_default=True, help="Where encoder features are cached (shared with the *-ser experiments).")
@click.option("--encoder", default="whisper-base", show_default=True)
@click.option("--C", "c_grid", default="0.1,1", show_default=True, help="C values tried on held-out speakers.")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(min=2), help="Speaker folds.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Feature processes.")
def recogniser_train_command(manifests: tuple[Path, ...], output: Path, label_set: str, feature_cache: Path,
                             encoder: str, c_grid: str, folds: int, workers: int) -> None:
    """Train a recogniser on labelled MANIFESTS (JSONL; `spokenemo prepare` writes them).

    Settings are chosen on held-out speakers; the model card (OUTPUT/README.md) gives the
    held-out-speaker and leave-one-corpus-out accuracies.
    """
    console = Console(highlight=False)
    labels = get_label_set(label_set)
    segments = apply_label_set([u for m in manifests for u in read_manifest(m, require_audio=True)], labels)
    _, report = _api().train_recogniser(list(segments), output, list(labels.names), feature_cache=feature_cache,
                                        encoder=encoder, grid=_grid(c_grid), n_folds=folds, workers=workers,
                                        progress=lambda msg: console.print(f"[dim]{msg}[/dim]"))
    for how in ("global", "speaker"):
        r = report[how]
        console.print(f"{how} head: C {r['C']}, held-out-speaker UA {r['held_out_ua']}, leave-one-corpus-out "
                      f"{r['leave_one_corpus_out_ua']}, T {r['temperature']}, ECE {r['ece_before']} -> {r['ece_after']}")
    console.print(f"wrote {output} (model card: {output / 'README.md'})")


COMMANDS = [recognise_command, recogniser_train_command]
