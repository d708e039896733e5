"""``spokenemo cues`` (cue text, plots, cue tables) and ``spokenemo thresholds`` (fit, show)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from spokenemo.core.config import read_yaml_mapping
from spokenemo.core.errors import ConfigError
from spokenemo.features.cues import (
    LIBROSA_PIPTRACK_RANGE,
    WORDS,
    CueExtractionConfig,
    CueTextConfig,
    Thresholds,
    analyse,
    extract_manifest,
    load_for_cues,
    plot_cues,
    read_cue_table,
    render_cue_text,
)
from spokenemo.features.executor import Interrupted
from spokenemo.protocols.folds import Fold

RAW_NOTE = ("note: the words (high/low, strong/weak, fast/slow) need thresholds fitted on training data; "
            "raw values are shown. Fit them with `spokenemo thresholds fit CUES.parquet -o T.json` "
            "and pass --thresholds T.json.")


def _console(stderr: bool = False) -> Console:
    return Console(highlight=False, stderr=stderr, soft_wrap=True)


def _load_settings(path: Path | None) -> dict[str, Any]:
    """Cue settings from a YAML/JSON file: the mapping itself, or its ``cues`` / ``cues.options`` part."""
    if path is None:
        return {}
    data = read_yaml_mapping(path, example="configs/cues-paper.yaml")
    if isinstance(data.get("cues"), dict):
        # an experiment config: `cues: {n_segments, extended, speaker_relative, options: {...}}`
        section = data["cues"]
        options = dict(section.get("options") or {})
        for key in ("n_segments", "extended"):
            if key in section:
                options.setdefault(key, section[key])
        return options
    return data


def _build_config(config_file: Path | None, segments: tuple[int, ...], extended: bool, pitch_backend: str | None,
                  pitch_pick: str | None, fmin: float | None, fmax: float | None, librosa_range: bool):
    options = _load_settings(config_file)
    if librosa_range:
        options["fmin"], options["fmax"] = LIBROSA_PIPTRACK_RANGE
    overrides = {"n_segments": tuple(segments) or None, "extended": extended or None, "pitch_backend": pitch_backend,
                 "pitch_pick": pitch_pick, "fmin": fmin, "fmax": fmax}
    options.update({k: v for k, v in overrides.items() if v is not None})
    return CueExtractionConfig.from_options(options)


def _plot_path(plot: Path, file: Path, many: bool) -> Path:
    return plot.with_name(f"{plot.stem}_{file.stem}{plot.suffix or '.png'}") if many else plot


def _batch(manifest: Path, output: Path | None, config, workers: int, executor: str, scheduler: str | None,
           restart: bool, progress: bool) -> None:
    if output is None:
        raise ConfigError("--manifest needs -o/--output (OUT.parquet or a folder)")
    try:
        summary = extract_manifest(manifest, output, config=config, workers=workers,
                                   executor=executor,  # type: ignore[arg-type]
                                   scheduler=scheduler, restart=restart, progress=progress)
    except Interrupted as stop:
        click.echo(f"interrupted: {stop.done} of {stop.total} done, rerun the same command to resume", err=True)
        sys.exit(128 + stop.signum)
    console = _console()
    console.print(f"{summary.paths.parquet}: {summary.done}/{summary.total} utterances "
                  f"({summary.computed} computed now, {summary.done - summary.computed} reused)")
    console.print(f"also written: {summary.paths.jsonl}")
    if summary.errors:
        console.print(f"[red]{len(summary.errors)} failed[/red], reasons in {summary.paths.errors}:")
        for err in summary.errors[:5]:
            console.print(f"  {err['error']}: {err['message'].splitlines()[0]}")
        if len(summary.errors) > 5:
            console.print(f"  ... and {len(summary.errors) - 5} more")


@click.command("cues")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--thresholds", "thresholds_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Thresholds JSON (from `spokenemo thresholds fit`) for the words; else raw values are shown.")
@click.option("--speaker", help="Speaker of all FILEs: with speaker-relative thresholds and 2+ files, their own "
                                "medians are used.")
@click.option("-n", "--segments", multiple=True, type=click.IntRange(1, 50),
              help="Fine-cue segment count (default 7; repeat for several in a cue table).")
@click.option("--extended", is_flag=True, help="Also compute and show the extended cues (ours).")
@click.option("--pitch-backend", type=click.Choice(["piptrack", "pyin", "praat"]), help="Pitch tracker (piptrack).")
@click.option("--pitch-pick", type=click.Choice(["strongest", "lowest"]),
              help="piptrack peak per frame: strongest (paper) or lowest (closer to F0).")
@click.option("--fmin", type=float, help="Lowest pitch in Hz (65).")
@click.option("--fmax", type=float, help="Highest pitch in Hz (600).")
@click.option("--librosa-range", is_flag=True, help="Use librosa.piptrack's own 150-4000 Hz range (parity checks).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML with cue settings (CueExtractionConfig fields, or a `cues:` section).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw waveform, tracks, segments and words to this image (one per FILE).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw cue rows as JSON lines instead of text.")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path),
              help="Batch mode: extract every utterance of this manifest into a cue table.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Batch mode: OUT.parquet (or a folder).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), help="Batch mode: processes.")
@click.option("--executor", type=click.Choice(["process", "dask"]), default="process", show_default=True,
              help="Batch mode: local processes or a Dask cluster.")
@click.option("--scheduler", help="Batch mode, --executor dask: scheduler address (tcp://HOST:8786).")
@click.option("--restart", is_flag=True, help="Batch mode: recompute instead of resuming an earlier table.")
@click.option("--no-progress", is_flag=True, help="Batch mode: no progress bar.")
def cues_command(files: tuple[Path, ...], thresholds_path: Path | None, speaker: str | None, segments: tuple[int, ...],
                 extended: bool, pitch_backend: str | None, pitch_pick: str | None, fmin: float | None,
                 fmax: float | None, librosa_range: bool, config_file: Path | None, plot: Path | None,
                 as_json: bool, manifest: Path | None, output: Path | None, workers: int, executor: str,
                 scheduler: str | None, restart: bool, no_progress: bool) -> None:
    """Print the acoustic cue text of audio FILEs, or build a cue table from a manifest.

    \b
    spokenemo cues clip.flac --thresholds T.json --plot clip.png
    spokenemo cues --manifest ravdess.jsonl -o cues/ravdess.parquet --workers 2
    spokenemo cues --manifest m.jsonl -o out.parquet --executor dask --scheduler tcp://host:8786
    """
    config = _build_config(config_file, segments, extended, pitch_backend, pitch_pick, fmin, fmax, librosa_range)
    if manifest is not None:
        if files:
            raise ConfigError("give audio FILEs or --manifest, not both")
        _batch(manifest, output, config, workers, executor, scheduler, restart, not no_progress)
        return
    if not files:
        raise ConfigError("no input", hint="give audio FILEs, or --manifest M.jsonl -o OUT.parquet")
    _single(files, config, thresholds_path, speaker, plot, as_json)


def _single(files: tuple[Path, ...], config, thresholds_path: Path | None, speaker: str | None, plot: Path | None,
            as_json: bool) -> None:
    thresholds = Thresholds.load(thresholds_path) if thresholds_path is not None else None
    analysed = []
    for file in files:
        y = load_for_cues(file, config=config)
        tracks, cues = analyse(y, config)
        analysed.append((file, y, tracks, cues))
    if thresholds is not None and thresholds.speaker_relative and speaker is not None:
        thresholds = thresholds.with_speakers([{**c.values(), "speaker": speaker} for _, _, _, c in analysed])
    text_cfg = CueTextConfig(n_segments=7 if 7 in config.n_segments else config.n_segments[0],
                             extended=config.extended)
    many = len(files) > 1
    for file, y, tracks, cues in analysed:
        if as_json:
            click.echo(json.dumps({"path": str(file), **cues.to_row()}))
        else:
            if many:
                click.echo(f"== {file}")
            click.echo(render_cue_text(cues, thresholds, text_cfg, speaker=speaker))
        if plot is not None:
            out = plot_cues(y, tracks, cues, _plot_path(plot, file, many), config=config, thresholds=thresholds,
                            speaker=speaker, title=str(file))
            click.echo(f"plot: {out}", err=True)
    if thresholds is None and not as_json:
        click.echo(RAW_NOTE, err=True)


# --- thresholds -------------------------------------------------------------------------------------
@click.group("thresholds")
def thresholds_group() -> None:
    """Fit cue thresholds (training-fold medians) and show them."""


def _train_keys(train_keys: Path | None, fold: Path | None) -> tuple[set[str] | None, dict[str, Any]]:
    if train_keys is not None and fold is not None:
        raise ConfigError("give --train-keys or --fold, not both")
    if train_keys is not None:
        if not train_keys.is_file():
            raise ConfigError(f"{train_keys}: key file not found", hint="one utterance key per line")
        keys = {line.strip() for line in train_keys.read_text(encoding="utf-8").splitlines() if line.strip()}
        return keys, {"train_keys": str(train_keys)}
    if fold is not None:
        if not fold.is_file():
            raise ConfigError(f"{fold}: fold file not found", hint="write folds with `spokenemo folds`")
        try:
            obj = json.loads(fold.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ConfigError(f"{fold}: not valid JSON ({err.msg})") from None
        parsed = Fold.from_json(obj, source=str(fold))
        return set(parsed.train), {"fold": parsed.name, "protocol": parsed.protocol}
    return None, {}


@thresholds_group.command("fit")
@click.argument("table", type=click.Path(path_type=Path))
@click.option("--train-keys", type=click.Path(dir_okay=False, path_type=Path),
              help="File with the training utterance keys, one per line.")
@click.option("--fold", type=click.Path(dir_okay=False, path_type=Path),
              help="Fold JSON (from `spokenemo folds`): fit on its train part.")
@click.option("--speaker-relative", is_flag=True, help="Also fit each speaker's own medians (ours).")
@click.option("--min-speaker-utterances", default=2, show_default=True, type=click.IntRange(1),
              help="Fewest utterances for a speaker's own medians.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Thresholds JSON to write.")
def thresholds_fit_command(table: Path, train_keys: Path | None, fold: Path | None, speaker_relative: bool,
                           min_speaker_utterances: int, output: Path) -> None:
    """Fit the medians of the cue TABLE (.parquet/.jsonl from `spokenemo cues --manifest`).

    Without --train-keys/--fold every row is used: only do that for tables that hold training
    data only.
    """
    rows = read_cue_table(table)
    keys, info = _train_keys(train_keys, fold)
    if keys is not None:
        missing = len(keys - {str(r["key"]) for r in rows})
        rows = [r for r in rows if str(r["key"]) in keys]
        if missing:
            click.echo(f"note: {missing} training key(s) have no row in {table} (failed or not extracted)", err=True)
    th = Thresholds.fit(rows, speaker_relative=speaker_relative, min_speaker_utterances=min_speaker_utterances,
                        info={"table": str(table), **info})
    th.save(output)
    _print_thresholds(th, title=f"{output}: fitted on {th.n_rows} utterances")


def _print_thresholds(th, title: str) -> None:
    table = Table(title=title)
    table.add_column("cue")
    table.add_column("median", justify="right")
    table.add_column("words (above / otherwise)")
    for cue, value in th.medians.items():
        w = WORDS[cue]
        table.add_row(cue, w.raw(value), f"{w.above} / {w.below}")
    console = _console()
    console.print(table)
    if th.speaker_relative:
        console.print(f"speaker-relative: own medians for {len(th.speaker_medians)} speaker(s) "
                      f"(at least {th.min_speaker_utterances} utterances each)")


@thresholds_group.command("show")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def thresholds_show_command(path: Path) -> None:
    """Print a thresholds JSON."""
    th = Thresholds.load(path)
    _print_thresholds(th, title=f"{path}: fitted on {th.n_rows} utterances")


COMMANDS = [cues_command, thresholds_group]
