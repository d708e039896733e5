"""``spokenemo evidence`` (cue evidence of a clip against a stated baseline, optionally explained) and
``spokenemo faithfulness`` (how far the explanations of a teacher cache or predictions file agree
with the measured cues). docs/methods/explanations.md.
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

import click

from spokenemo.core.errors import ConfigError
from spokenemo.core.fileio import write_jsonl
from spokenemo.features.evidence import SPECS, Evidence, profile_table

#: What explanations are checked against (spokenemo.api.evidence_files.AGAINST; kept here so that
#: ``--help`` does not import the API).
AGAINST = ("cues", "audio")


def _api(name: str):  # noqa: ANN202 - a module
    """``spokenemo.api.<name>``, imported when a command runs (``spokenemo --help`` stays fast)."""
    return importlib.import_module(f"spokenemo.api.{name}")


def _probabilities(text: str | None) -> dict[str, float]:
    """``angry=0.6,happy=0.3`` -> dict."""
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"bad --probs entry {part!r}", hint="write --probs angry=0.6,happy=0.3,sad=0.1") from None
    return out


def _table(ev: Evidence) -> list[str]:
    lines = [f"baseline: {ev.baseline.description if ev.baseline else 'none (values only)'}"]
    for c in ev.comparisons.values():
        spec = SPECS[c.name]
        value = "-" if c.value is None else f"{spec.fmt.format(c.value)} {spec.unit}".strip()
        base = "" if c.baseline is None else f"  (baseline {spec.fmt.format(c.baseline)})"
        if c.direction is None:
            diff = f"  [{c.reason}]" if c.reason else ""
        else:
            word = {1: spec.up, -1: spec.down, 0: "about the same"}[c.direction]
            diff = f"  {c.delta:+.1f} {spec.delta_unit}: {word}"
        lines.append(f"  {c.name:<21} {value:<14}{base}{diff}")
    shape = ev.contour_shape or "not measured"
    change = "" if ev.contour_change is None else f" ({ev.contour_change:+.1f} {ev.contour_unit} start to end)"
    lines.append(f"  contour               {shape}{change}")
    lines += [f"note: {n}" for n in ev.notes]
    return lines


@click.command("evidence")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reference", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Clips (or a folder) of the same speaker: the baseline (repeatable).")
@click.option("--baseline", default="training", show_default=True,
              help="Without --reference: 'training' (shipped medians), 'none' (values only) or a medians JSON.")
@click.option("--probs", help="Class probabilities to explain, e.g. angry=0.6,happy=0.3,sad=0.1.")
@click.option("--emotion", help="Explain this emotion (default: the most probable of --probs).")
@click.option("--start", type=float, help="Segment start (s).")
@click.option("--end", type=float, help="Segment end (s).")
@click.option("--tracker", type=click.Choice(["praat", "pyin"]), help="Pitch tracker (praat when installed).")
@click.option("--profiles", is_flag=True, help="Print the emotion profile table and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the evidence (and explanation) as JSON.")
def evidence_command(file: Path | None, reference: tuple[Path, ...], baseline: str, probs: str | None,
                     emotion: str | None, start: float | None, end: float | None, tracker: str | None,
                     profiles: bool, as_json: bool) -> None:
    """Cue evidence of FILE against the speaker's reference clips or the training medians."""
    if profiles:
        for row in profile_table():
            click.echo("  ".join(f"{k}={v}" for k, v in row.items()))
        return
    if file is None:
        raise ConfigError("give an audio FILE", hint="spokenemo evidence clip.wav --reference other_clips/")
    probabilities = _probabilities(probs)
    t0 = time.process_time()
    ev = _api("evidence").measure_evidence(file, baseline=None if baseline == "none" else baseline,
                          reference=list(reference) or None, start=start, end=end, tracker=tracker)
    ex = _api("evidence").explain_evidence(ev, probabilities, emotion=emotion) if (probabilities or emotion) else None
    cpu = time.process_time() - t0
    if as_json:
        out = ex.to_dict() if ex else {"evidence": ev.to_dict()}
        click.echo(json.dumps({**out, "cpu_s": round(cpu, 3)}, indent=1))
        return
    click.echo("\n".join(_table(ev)))
    if ex:
        click.echo(f"\n{ex.text}")
    click.echo(f"({cpu:.2f} CPU s)", err=True)


@click.command("faithfulness")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--against", type=click.Choice(AGAINST), default="cues", show_default=True,
              help="Check against the cue text each row showed, or against cues measured from the audio.")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path),
              help="--against audio: manifest giving each row's audio (by key).")
@click.option("--baseline", default="speaker", show_default=True,
              help="--against audio: 'speaker' (the speaker's other rows), 'training' or a medians JSON.")
@click.option("--all-rows", is_flag=True, help="Also check rows marked invalid (teacher caches).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Per-row verdicts (JSONL).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def faithfulness_command(file: Path, against: str, manifest: Path | None, baseline: str, all_rows: bool,
                         output: Path | None, as_json: bool) -> None:
    """Faithfulness of the explanations in a teacher cache or predictions FILE."""
    summary, rows = _api("evidence_files").faithfulness_of_file(file, against=against, manifest=manifest, baseline=baseline,
                                         valid_only=not all_rows)
    if output:
        write_jsonl(output, rows)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=1))
    else:
        click.echo(summary.line())
        for key, why in list(summary.failures.items())[:5]:
            click.echo(f"  not checked: {key}: {why}", err=True)


COMMANDS = [evidence_command, faithfulness_command]
