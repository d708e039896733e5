"""How the student commands show their results on the console (tables of predictions, metrics,
explanations); the commands live in :mod:`spokenemo.apps.cli.student`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

#: Rows without speech named on the console by ``predict`` (all are in the output file).
SHOWN_NO_SPEECH = 5
#: Predictions shown on the console (all of them are written to the output file).
SHOWN_PREDICTIONS = 20


def _metrics_table(result: Any, report: dict[str, Any]) -> Table:
    table = Table(title=f"{result.n} labelled utterances, {report['label_set']}, mode {report['mode']}")
    for col in ("UA", "WA", "macro-F1", "invalid"):
        table.add_column(col, justify="right")
    table.add_row(f"{100 * result.ua:.2f}", f"{100 * result.wa:.2f}", f"{100 * result.macro_f1:.2f}",
                  str(result.n_invalid))
    return table


def _predictions_table(predictions: list[Any], output: Path) -> Table:
    """The first predictions: key, true label (blank when the row has none), prediction, probability."""
    more = len(predictions) - SHOWN_PREDICTIONS
    table = Table(title="predictions", caption=f"{more} more in {output}" if more > 0 else None)
    for col, justify in (("key", "left"), ("label", "left"), ("predicted", "left"), ("p", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for p in predictions[:SHOWN_PREDICTIONS]:
        prob = p.probabilities.get(p.predicted) if p.predicted is not None else None
        table.add_row(p.key, p.label or "", p.predicted or "(invalid)", f"{prob:.2f}" if prob is not None else "-")
    return table


def show_prediction(console: Console, result: Any, output: Path) -> None:
    """Metrics over the labelled rows, how many rows had no label, the first predictions."""
    report = result.report
    if result.predictions:
        console.print(_predictions_table(result.predictions, output))
    if result.metrics is not None:
        console.print(_metrics_table(result.metrics, report))
    unlabelled = report["unlabelled"]
    if unlabelled:
        scope = "left out of the metrics" if result.metrics is not None else "no metrics without labels"
        rows = "1 utterance has" if unlabelled == 1 else f"{unlabelled} utterances have"
        console.print(f"{rows} no label: predicted, not scored ({scope})")
    _show_no_speech_rows(console, result.no_speech)
    failed = report["inputs"]["failed"]
    if failed:
        console.print(f"[yellow]{failed} utterances skipped (unreadable audio); see the metrics file[/yellow]")
    console.print(f"{len(result.predictions)} predictions written to {output}")


def _show_no_speech_rows(console: Console, no_speech: dict[str, Any]) -> None:
    if not no_speech:
        return
    rows = "1 utterance has" if len(no_speech) == 1 else f"{len(no_speech)} utterances have"
    console.print(f"{rows} no speech: not predicted, not scored")
    for key, report in list(no_speech.items())[:SHOWN_NO_SPEECH]:
        console.print(f"  {key}: {report.message}")


def show_explanation(console: Console, result: Any) -> None:
    scaled = f", calibrated with temperature {result.temperature:.2f}" if result.temperature is not None else ""
    show_answer(console, f"[bold]emotion: {result.emotion}[/bold]", result.probabilities,
                result.uncertain_between if result.uncertain else None, f"probabilities{scaled}", digits=3)
    if result.speech is not None:
        console.print(f"{result.speech.message} ({result.speech.backend_description})")
    console.print(f"transcript ({result.transcript_source}): {result.transcript!r}")
    if result.cue_text:
        console.print(f"cues (words against {result.relative_to}):\n" + result.cue_text)
        raw = {k: result.cues[k] for k in ("pitch", "intensity", "speech_rate", "articulation_rate") if k in result.cues}
        console.print("raw values: " + ", ".join(f"{k} {v:.2f}" for k, v in raw.items()))
    if result.explanation is not None:
        console.print("explanation: " + (result.explanation or "(empty)"))
    else:
        console.print("explanation: (this student was trained without chain of thought)")


def show_answer(console: Console, headline: str, probabilities: dict[str, float],
                uncertain_between: tuple[str, str] | None, title: str, *, digits: int = 2) -> None:
    """The emotion line, an "uncertain between" line when the top two are close, and the
    probabilities as a table (most likely first)."""
    console.print(headline)
    if uncertain_between:
        first, second = uncertain_between
        console.print(f"[yellow]uncertain between {first} and {second}[/yellow] "
                      f"(p {probabilities[first]:.{digits}f} vs {probabilities[second]:.{digits}f})")
    probs = Table(title=title)
    probs.add_column("emotion")
    probs.add_column("p", justify="right")
    for label, p in sorted(probabilities.items(), key=lambda kv: -kv[1]):
        probs.add_row(label, f"{p:.{digits}f}")
    console.print(probs)
