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

from spokenemo.apps.cli.student_show import show_answer
from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.core.fileio import write_jsonl
from spokenemo.data import read_manifest
from spokenemo.protocols import apply_label_set, get_label_set

#: Exit status when no input held speech (2 is an error, 0 at least one emotion).
NO_SPEECH_EXIT = 3


def _api() -> ModuleType:
    return importlib.import_module("spokenemo.api.recogniser")


def is_recogniser(folder: Path) -> bool:
    """Whether ``folder`` is a recogniser folder (holds ``recogniser.json``; read without loading)."""
    return (Path(folder) / "recogniser.json").is_file()


def default_recogniser_or_none() -> Path | None:
    """The default recogniser folder, or None when there is none."""
    try:
        return _api().default_recogniser_path()
    except SpokenemoError:
        return None


def predict_manifest(folder: Path, manifest: Path, output: Path | None, *, folds: Path | None, fold: str | None,
                     part: str, keys: list[str] | None, min_speech: float, speaker_norm: bool) -> None:
    """``spokenemo predict`` with a recogniser: JSON lines beside the manifest, metrics, counts."""
    targets = importlib.import_module("spokenemo.api").read_targets(manifest, keys=keys, folds=folds, fold=fold,
                                                                    part=part)
    output = output or manifest.with_name(f"{manifest.stem}.predictions.jsonl")
    runner = importlib.import_module("spokenemo.api.recognise_manifest")
    console = Console(highlight=False)
    with console.status("loading the recogniser...") as status:
        rec = _api().load_recogniser(folder)
        result = runner.recognise_manifest(targets.utterances, rec, output, speaker_norm=speaker_norm,
                                           min_speech_seconds=min_speech,
                                           progress=lambda done, total: status.update(f"recognising {done}/{total}"))
    c = result.counts
    if result.metrics is not None:
        m = result.metrics
        console.print(f"{c['scored']} labelled rows in {', '.join(rec.classes)}: UA {100 * m.ua:.2f}, "
                      f"WA {100 * m.wa:.2f}, macro-F1 {100 * m.macro_f1:.2f}")
    left = {k: v for k, v in c.items() if k not in ("rows", "scored") and v}
    if left:
        console.print("not scored: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in left.items()))
    console.print(f"{c['rows']} rows written to {output} (metrics in {output.with_suffix('.metrics.json')})")


def explain_file(folder: Path, file: Path, *, text: str | None, asr: str, asr_model: Path | None,
                 start: float | None, end: float | None, references: tuple[Path, ...], as_json: bool,
                 min_speech: float, vad: str) -> None:
    """``spokenemo explain`` with a recogniser: emotion, evidence, grounded why, transcript."""
    clip = importlib.import_module("spokenemo.api.clip")
    asr_name = "none" if asr == "none" else ("auto" if asr == "auto" else asr)
    result = clip.explain_clip(file, recogniser=folder, reference=list(references) or None, text=text,
                               asr=asr_name, asr_model=asr_model, start=start, end=end,
                               min_speech_seconds=min_speech, vad=vad)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=1, ensure_ascii=False))
    else:
        show_clip(Console(highlight=False), result)
    if result.label is None:
        sys.exit(NO_SPEECH_EXIT)


def show_clip(console: Console, result: object) -> None:
    """The console view of a :class:`spokenemo.api.clip.ClipExplanation`."""
    answer = result.answer  # type: ignore[attr-defined]
    if answer.label is None:
        console.print(f"[bold]no speech: {answer.no_speech_reason}[/bold]\n{answer.speech.message}\n"
                      "no emotion is given for a clip without speech")
        return
    show_answer(console, f"[bold]emotion: {answer.label}[/bold]  (recogniser; {answer.normalisation} statistics)",
                answer.probabilities, answer.uncertain_between, "calibrated probabilities")
    if answer.speech is not None:
        console.print(answer.speech.message)
    heard = result.transcript  # type: ignore[attr-defined]
    if heard is not None:
        console.print(f"transcript ({heard.source}): {heard.text!r}" if heard.text else f"transcript: {heard.reason}")
    explanation = result.explanation  # type: ignore[attr-defined]
    if explanation is not None:
        base = explanation.evidence.baseline
        console.print(f"evidence against {base.description if base else 'no baseline (values only)'}:")
        for role, rows in (("supports", explanation.supports), ("speaks against", explanation.opposes)):
            for r in rows:
                console.print(f"  {role} {answer.label}: {r.phrase}")
        console.print("why: " + explanation.text)


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
                      f"{r.get('leave_one_corpus_out_ua', '-')}, T {r['temperature']}, ECE {r['ece_before']} -> {r['ece_after']}")
    console.print(f"wrote {output} (model card: {output / 'README.md'})")


COMMANDS = [recognise_command, recogniser_train_command]
