"""``spokenemo convert SOURCE REFERENCE -o OUT.wav`` (S2S-ZEST emotion style transfer) and friends.

- ``convert SOURCE REFERENCE -o OUT.wav``: the source's words and voice in the reference's style;
  ``convert --pairs PAIRS.tsv -o OUTDIR``: every ``SOURCE<TAB>REFERENCE[<TAB>OUTPUT]`` line;
- ``convert-train CONFIG -o DIR``: train a converter (``configs/zest-ravdess.yaml``);
- ``convert-eval -o DIR``: the evaluation settings on local corpora, metrics, listening examples;
- ``convert-evidence NAME=DIR... -o FILE``: embedding probes and teacher-forced F0 L1;
- ``convert-augment -o FILE``: the thesis Table 5.6 analogue (few real clips + conversions).

The converter folder: ``--model DIR``, ``$SPOKENEMO_CONVERTER``, ``models/zest-ravdess`` or
``runs/zest/model`` (see :mod:`spokenemo.api.convert`).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import click

from spokenemo.core.errors import ConfigError

SETTING_NAMES = ("SSST", "SSDT", "DSST", "DSDT", "UTE", "USS", "USUE")


def _api(name: str = "convert") -> ModuleType:
    return importlib.import_module(f"spokenemo.api.{name}")


@click.command("convert")
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.argument("reference", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output WAV (one pair) or folder (with --pairs).")
@click.option("--pairs", type=click.Path(dir_okay=False, path_type=Path),
              help="Convert every SOURCE<TAB>REFERENCE[<TAB>OUTPUT] line of this file.")
@click.option("--model", type=click.Path(file_okay=False, path_type=Path), help="Converter folder.")
@click.option("--no-duration", is_flag=True, help="Keep the source's durations (no duration predictor).")
@click.option("--f0-mode", type=click.Choice(["absolute", "relative"]), default=None,
              help="Predicted F0 as is (thesis) or with the predictor's speaker bias removed.")
@click.option("--envelope", "envelope_strength", type=float, default=None, metavar="STRENGTH",
              help="Learnt emotion-dependent spectral gains on the source envelope (ours; 0 = off, 1 = as learnt).")
def convert_command(source: Path | None, reference: Path | None, output: Path, pairs: Path | None,
                    model: Path | None, no_duration: bool, f0_mode: str | None, envelope_strength: float | None) -> None:
    """Say SOURCE's words in SOURCE's voice with REFERENCE's emotional style (S2S-ZEST, WORLD renderer)."""
    api = _api()
    use_duration = False if no_duration else None
    if pairs is not None:
        if source or reference:
            raise ConfigError("give either SOURCE REFERENCE or --pairs, not both")
        rows = api.convert_pairs(pairs, output, converter=model, use_duration=use_duration, f0_mode=f0_mode,
                                 envelope_strength=envelope_strength)
        failed = [r for r in rows if r.get("error")]
        for r in rows:
            click.echo(f"{r['output'] or 'FAILED'}\t{r.get('error') or r['duration_ratio']}")
        click.echo(f"{len(rows) - len(failed)} converted, {len(failed)} failed -> {output}")
        raise SystemExit(1 if failed else 0)
    if source is None or reference is None:
        raise ConfigError("convert needs SOURCE and REFERENCE (or --pairs FILE)",
                          hint="spokenemo convert neutral.wav angry.wav -o out.wav")
    res = api.convert(source, reference, out=output, converter=model, use_duration=use_duration, f0_mode=f0_mode,
                      envelope_strength=envelope_strength)
    ratio = float(res.durations.sum() / res.source_durations.sum())
    click.echo(f"{output}: {len(res.wave) / res.sr:.2f} s, duration x{ratio:.2f}")


@click.command("convert-train")
@click.argument("config", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config field.")
def convert_train_command(config: Path, output: Path, overrides: tuple[str, ...]) -> None:
    """Train an S2S-ZEST converter (units, speaker, emotion, F0 and duration modules) from CONFIG."""
    conv = _api().train_converter(config, output, list(overrides))
    s = conv.summary
    click.echo(f"{output}: {s['clips']} clips, unit layer {s['unit_layer']}, {s['cpu_seconds']} CPU s")


@click.command("convert-eval")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--model", type=click.Path(file_okay=False, path_type=Path), help="Converter folder.")
@click.option("--settings", default="SSST,DSST", show_default=True, help=f"Comma list of {', '.join(SETTING_NAMES)}.")
@click.option("--variants", default="zest,no-duration,world-copy", show_default=True,
              help="Comma list of zest, no-duration, relative-f0, envelope, world-copy.")
@click.option("--ravdess", default="../shared/data/ravdess", show_default=True, help="RAVDESS root.")
@click.option("--foreign", multiple=True, metavar="CORPUS=ROOT", help="Source corpora for USS/USUE (nemo=..., "
              "korean_emotiontts=...).")
@click.option("--source-actors", default="17,18,19,20", show_default=True)
@click.option("--source-repetitions", default="01,02", show_default=True)
@click.option("--emotions", default="happy,angry,sad,surprised", show_default=True,
              help="Reference emotions of SSST/SSDT/DSST/DSDT/USS.")
@click.option("--wer", is_flag=True, help="Also transcribe the conversions (packaged Whisper).")
@click.option("--examples", default=8, show_default=True, help="Listening examples to write.")
def convert_eval_command(output: Path, model: Path | None, settings: str, variants: str, ravdess: str,
                         foreign: tuple[str, ...], source_actors: str, source_repetitions: str, emotions: str,
                         wer: bool, examples: int) -> None:
    """Evaluate a converter: recogniser emotion accuracy and similarity, speaker similarity, rhythm, WER."""
    names = [s.strip() for s in settings.split(",") if s.strip()]
    bad = [s for s in names if s not in SETTING_NAMES]
    if bad:
        raise ConfigError(f"unknown setting(s) {bad}", hint=f"choose from {', '.join(SETTING_NAMES)}")
    corpora = dict(f.split("=", 1) for f in foreign)
    actors = [a.strip() for a in source_actors.split(",")]
    pairs = _api("convert_run").build_pairs(names, ravdess, source_actors=actors, reference_actors=actors,
                                            foreign=corpora, source_repetitions=source_repetitions.split(","),
                                            emotions=emotions.split(","))
    summary = _api("convert_run").run_evaluation(pairs, output, converter=model, variants=variants.split(","),
                                                 wer=wer, examples=examples)
    for row in summary:
        click.echo(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}))


@click.command("convert-evidence")
@click.argument("models", nargs=-1, required=True, metavar="NAME=DIR...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def convert_evidence_command(models: tuple[str, ...], output: Path) -> None:
    """Embedding probes and teacher-forced F0 L1 of converters (e.g. zest=runs/zest/model noadv=...)."""
    pairs = [m.split("=", 1) for m in models]
    if any(len(p) != 2 for p in pairs):
        raise ConfigError("give each converter as NAME=DIR", hint="zest=runs/zest/model")
    result = _api("convert_evidence").evidence(dict(pairs))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1), encoding="utf-8")
    click.echo(json.dumps(result, indent=1))


@click.command("convert-augment")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", type=click.Path(file_okay=False, path_type=Path), help="Converter folder.")
@click.option("--ravdess", default="../shared/data/ravdess", show_default=True, help="RAVDESS root.")
@click.option("--per-class", default=10, show_default=True, help="Real training clips per class.")
@click.option("--top-k", default=10, show_default=True, help="Converted clips added per class.")
@click.option("--seeds", default="0,1,2,3,4", show_default=True)
def convert_augment_command(output: Path, model: Path | None, ravdess: str, per_class: int, top_k: int,
                            seeds: str) -> None:
    """Thesis Table 5.6 analogue: WF1 on actors 17-20 with few real clips per class, with and without conversions."""
    result = _api("convert_augment").augmentation(model, ravdess, per_class=per_class, top_k=top_k,
                                                  seeds=[int(s) for s in seeds.split(",")])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1), encoding="utf-8")
    click.echo(json.dumps(result, indent=1))


COMMANDS = [convert_command, convert_train_command, convert_eval_command, convert_evidence_command,
            convert_augment_command]
