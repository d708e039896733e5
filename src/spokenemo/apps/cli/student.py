"""``spokenemo train | predict | explain | export``: the AECoTD student from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click

ASR_CHOICES = ["auto", "pocketsphinx", "faster-whisper", "none"]


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _split_model(args: tuple[Path, ...], model: Path | None, name: str) -> tuple[Path, Path, bool]:
    """``[MODEL] NAME`` positionals (+ ``--model``) -> (model folder, NAME, whether the default was used)."""
    from spokenemo.systems.aecotd.default_model import default_model_path

    if len(args) == 2:
        if model is not None:
            raise click.UsageError(f"give the model once: either MODEL {name} or --model with {name}")
        return args[0], args[1], False
    if len(args) != 1:
        raise click.UsageError(f"expected [MODEL] {name}, got {len(args)} arguments")
    if model is not None:
        return model, args[0], False
    return default_model_path(), args[0], True


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


@click.command("train")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Model directory to write (an interrupted run there is resumed).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config field, e.g. --set optim.epochs=2 (repeatable).")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path), help="data.manifest")
@click.option("--cues", type=click.Path(path_type=Path), help="data.cues: cue table of the manifest.")
@click.option("--teacher", type=click.Path(dir_okay=False, path_type=Path), help="data.teacher: teacher cache (JSONL).")
@click.option("--folds", type=click.Path(file_okay=False, path_type=Path), help="data.folds: folds folder.")
@click.option("--fold", help="data.fold: the fold whose training part is used.")
@click.option("--train-keys", type=click.Path(dir_okay=False, path_type=Path),
              help="data.train_keys: file with one training key per line (instead of --folds/--fold).")
@click.option("--base-model", help="model.base: 'embedded', a model folder or a cached hub name.")
@click.option("--no-cot", is_flag=True, help="Ablation: the target is the label only.")
@click.option("--no-fine", is_flag=True, help="Ablation: no fine-grained (segment) cues.")
@click.option("--no-coarse", is_flag=True, help="Ablation: no coarse (utterance) cues.")
@click.option("--no-emotion-loss", is_flag=True, help="Ablation: uniform cross-entropy over the target.")
@click.option("--n-segments", type=int, help="cues.n_segments (the cue table must have it).")
@click.option("--epochs", type=float, help="optim.epochs")
@click.option("--restart", is_flag=True, help="Discard checkpoints (and a finished model) in OUTPUT and start afresh.")
@click.option("--stop-after", type=int, help="Stop after this many optimizer steps (resume later).")
def train_command(config: Path, output: Path, overrides: tuple[str, ...], manifest: Path | None, cues: Path | None,
                  teacher: Path | None, folds: Path | None, fold: str | None, train_keys: Path | None,
                  base_model: str | None, no_cot: bool, no_fine: bool, no_coarse: bool, no_emotion_loss: bool,
                  n_segments: int | None, epochs: float | None, restart: bool, stop_after: int | None) -> None:
    """Fine-tune the student with LoRA as CONFIG says (configs/aecotd-cpu.yaml, configs/aecotd-paper.yaml)."""
    from spokenemo.systems.aecotd import load_config, train
    from spokenemo.systems.aecotd.config import parse_override

    sets = dict(parse_override(o) for o in overrides)
    flags = {"data.manifest": manifest, "data.cues": cues, "data.teacher": teacher, "data.folds": folds,
             "data.fold": fold, "data.train_keys": train_keys, "model.base": base_model,
             "cues.n_segments": n_segments, "optim.epochs": epochs}
    sets.update({k: str(v) if isinstance(v, Path) else v for k, v in flags.items() if v is not None})
    if no_cot:
        sets["target.cot"] = False
    if no_fine:
        sets["cues.fine"] = False
    if no_coarse:
        sets["cues.coarse"] = False
    if no_emotion_loss:
        sets["loss.emotion_loss"] = False
    cfg = load_config(config, overrides=sets)
    console = _console()

    def show(row: dict) -> None:
        console.print(f"step {row['step']}/{row['total_steps']}  epoch {row['epoch']:.2f}  loss {row['loss']:.4f}  "
                      f"label NLL {row['label_nll']:.4f}  lr {row['lr']:.2e}  {row['tokens_per_s']:.0f} tok/s")

    out = train(cfg, output, resume=not restart, stop_after_steps=stop_after, on_log=show)
    if (out / "student.json").is_file():
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        console.print(f"[green]student written to {out}[/green] ({metrics['steps']} steps, "
                      f"{metrics['examples']} examples; data: {metrics['data']})")
    else:
        console.print(f"stopped early; run the same command again to resume from {out}/checkpoints")


def _metrics_table(result, report: dict):
    from rich.table import Table

    table = Table(title=f"{result.n} utterances, {report['label_set']}, mode {report['mode']}")
    for col in ("UA", "WA", "macro-F1", "invalid"):
        table.add_column(col, justify="right")
    table.add_row(f"{100 * result.ua:.2f}", f"{100 * result.wa:.2f}", f"{100 * result.macro_f1:.2f}",
                  str(result.n_invalid))
    return table


@click.command("predict")
@click.argument("args", nargs=-1, required=True, metavar="[MODEL] MANIFEST",
                type=click.Path(path_type=Path))
@click.option("--model", "model_opt", type=click.Path(file_okay=False, path_type=Path),
              help="Student model folder (instead of the MODEL argument).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Predictions JSONL (default MODEL/predictions.jsonl, or MANIFEST.predictions.jsonl beside the "
                   "manifest with the default model); metrics beside it.")
@click.option("--cues", type=click.Path(path_type=Path), help="Cue table of MANIFEST (else computed from audio).")
@click.option("--folds", type=click.Path(file_okay=False, path_type=Path), help="Folds folder: predict one part.")
@click.option("--fold", help="Fold name (with --folds).")
@click.option("--part", default="test", show_default=True, type=click.Choice(["train", "valid", "test"]))
@click.option("--keys", type=click.Path(dir_okay=False, path_type=Path), help="File with one key per line.")
@click.option("--mode", default="score", show_default=True, type=click.Choice(["score", "generate"]),
              help="Label scoring (one forward pass) or free generation parsed back.")
@click.option("--explain", is_flag=True, help="Also generate each explanation (slow).")
@click.option("--batch-size", default=8, show_default=True)
@click.option("--max-new-tokens", default=160, show_default=True)
@click.option("--asr", default="auto", show_default=True, type=click.Choice(ASR_CHOICES),
              help="Transcripts for utterances without text.")
@click.option("--asr-model", type=click.Path(path_type=Path), help="faster-whisper model folder.")
@click.option("--base-model", help="Use this base model instead of the recorded one.")
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "bf16", "auto"]))
@click.option("--threads", type=int, help="torch CPU threads (1 is fastest on a busy shared machine).")
def predict_command(args: tuple[Path, ...], model_opt: Path | None, output: Path | None, cues: Path | None,
                    folds: Path | None, fold: str | None, part: str, keys: Path | None, mode: str, explain: bool,
                    batch_size: int, max_new_tokens: int, asr: str, asr_model: Path | None,
                    base_model: str | None, precision: str, threads: int | None) -> None:
    """Predict the emotions of MANIFEST (or of a fold's part of it) with the student in MODEL.

    \b
    spokenemo predict MODEL MANIFEST      the student in MODEL
    spokenemo predict MANIFEST            the default student: $SPOKENEMO_MODEL, else
                                          models/spokenemo-default of the source checkout
    """
    from spokenemo.core.errors import ConfigError
    from spokenemo.systems.aecotd import load_student, predict_manifest
    from spokenemo.systems.aecotd.data import read_key_list

    model, manifest, implicit = _split_model(args, model_opt, "MANIFEST")
    _set_threads(threads)

    if (folds is None) != (fold is None):
        raise ConfigError("--folds and --fold go together", hint="e.g. --folds folds/ --fold fold1")
    student = load_student(model, base_model=base_model, precision=precision)  # type: ignore[arg-type]
    if output is None:
        output = manifest.with_name(f"{manifest.stem}.predictions.jsonl") if implicit else model / "predictions.jsonl"
    console = _console()
    with console.status("predicting...") as status:
        result = predict_manifest(student, manifest, out=output, cues=cues, folds=folds, fold=fold, part=part,
                                  keys=read_key_list(keys) if keys else None, mode=mode,  # type: ignore[arg-type]
                                  explain=explain, batch_size=batch_size, max_new_tokens=max_new_tokens, asr=asr,
                                  asr_model=asr_model,
                                  progress=lambda done, total: status.update(f"predicting {done}/{total}"))
    if result.metrics is not None:
        console.print(_metrics_table(result.metrics, result.report))
    failed = result.report["inputs"]["failed"]
    if failed:
        console.print(f"[yellow]{failed} utterances skipped (unreadable audio); see the metrics file[/yellow]")
    console.print(f"{len(result.predictions)} predictions written to {output}")


@click.command("explain")
@click.argument("args", nargs=-1, required=True, metavar="[MODEL] FILE", type=click.Path(path_type=Path))
@click.option("--model", "model_opt", type=click.Path(file_okay=False, path_type=Path),
              help="Student model folder (instead of the MODEL argument).")
@click.option("--text", help="Transcript (else recognised with --asr).")
@click.option("--asr", default="auto", show_default=True, type=click.Choice(ASR_CHOICES))
@click.option("--asr-model", type=click.Path(path_type=Path), help="faster-whisper model folder.")
@click.option("--start", type=float, help="Segment start (s).")
@click.option("--end", type=float, help="Segment end (s).")
@click.option("--max-new-tokens", default=160, show_default=True)
@click.option("--reference", "references", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Other clips of the same speaker, or a folder of them (repeatable; unlabelled). A student "
                   "trained with speaker-relative cues words FILE's cues against their medians.")
@click.option("--base-model", help="Use this base model instead of the recorded one.")
@click.option("--threads", type=int, help="torch CPU threads.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def explain_command(args: tuple[Path, ...], model_opt: Path | None, text: str | None, asr: str,
                    asr_model: Path | None, start: float | None, end: float | None, max_new_tokens: int,
                    references: tuple[Path, ...], base_model: str | None, threads: int | None,
                    as_json: bool) -> None:
    """Say which emotion FILE expresses, how sure the student is, from which cues, and why.

    \b
    spokenemo explain MODEL FILE      the student in MODEL
    spokenemo explain FILE            the default student: $SPOKENEMO_MODEL, else
                                      models/spokenemo-default of the source checkout
    spokenemo explain FILE --reference DIR
                                      cue words against the medians of DIR's clips
                                      (the same speaker; for speaker-relative students)
    """
    from rich.table import Table

    from spokenemo.systems.aecotd import explain, load_student, speaker_reference, uses_speaker_medians

    model, file, _ = _split_model(args, model_opt, "FILE")
    _set_threads(threads)

    student = load_student(model, base_model=base_model)
    reference = speaker_reference(student, references) if references else None
    result = explain(student, file, text, asr=asr, asr_model=asr_model, start=start, end=end,
                     max_new_tokens=max_new_tokens, reference=reference)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=1, ensure_ascii=False))
        return
    console = _console()
    if reference is None and uses_speaker_medians(student):
        console.print("[yellow]note:[/] this student words cues against each speaker's own medians; give other "
                      "clips of this speaker with --reference (without them: the training medians)")
    console.print(f"[bold]emotion: {result.emotion}[/bold]")
    probs = Table(title="probabilities")
    probs.add_column("emotion")
    probs.add_column("p", justify="right")
    for label, p in sorted(result.probabilities.items(), key=lambda kv: -kv[1]):
        probs.add_row(label, f"{p:.3f}")
    console.print(probs)
    console.print(f"transcript ({result.transcript_source}): {result.transcript!r}")
    if result.cue_text:
        console.print(f"cues (words against {result.relative_to}):\n" + result.cue_text)
        raw = {k: result.cues[k] for k in ("pitch", "intensity", "speech_rate", "articulation_rate") if k in result.cues}
        console.print("raw values: " + ", ".join(f"{k} {v:.2f}" for k, v in raw.items()))
    if result.explanation is not None:
        console.print("explanation: " + (result.explanation or "(empty)"))
    else:
        console.print("explanation: (this student was trained without chain of thought)")


@click.command("export")
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dtype", default="float16", show_default=True, type=click.Choice(["float16", "bfloat16", "float32"]),
              help="dtype of the adapter weights in the copy.")
def export_command(src: Path, dst: Path, dtype: str) -> None:
    """Write a slim, shippable copy of the trained model SRC to DST.

    The copy has the adapter in DTYPE and the metadata; no checkpoints, and no tokenizer for the
    embedded base (it is re-created from the bundled model). An older copy in DST is replaced.
    """
    from spokenemo.systems.aecotd.export import export_model_dir

    out = export_model_dir(src, dst, dtype=dtype)  # type: ignore[arg-type]
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    _console().print(f"[green]exported {src} to {out}[/green] ({size / 1e6:.1f} MB, adapter {dtype})")


COMMANDS = [train_command, predict_command, explain_command, export_command]
