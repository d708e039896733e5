"""``spokenemo prepare | folds | stats | pseudo``: manifests from corpora, folds from manifests,
counts, and pseudo-conversation manifests."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from spokenemo.core.errors import SpokenemoError
from spokenemo.data import (
    PseudoSpec,
    Segment,
    conversations,
    corpus_names,
    prepare,
    pseudo_conversations,
    pseudo_parts,
    read_manifest,
    same_label_rate,
    write_manifest,
)
from spokenemo.data.pseudo import KINDS
from spokenemo.protocols.fold_io import fold_file_name
from spokenemo.protocols.folds import PROTOCOLS, build_folds, read_folds, read_folds_index, write_folds
from spokenemo.protocols.labels import apply_label_set
from spokenemo.protocols.summary import summarize

#: Rows of a speaker table before the rest is summed into one line.
MAX_ROWS = 30
#: Label columns of the class x speaker table before the rest is summed into one column.
MAX_LABEL_COLUMNS = 10


def _console() -> Console:
    return Console(highlight=False)


def _corpus_help() -> str:
    """The recipe names and their aliases, one per line (``\b`` keeps click from rewrapping them)."""
    lines = [f"  {name}" + (f" (also: {', '.join(aliases)})" if aliases else "")
             for name, aliases in corpus_names().items()]
    return ("Turn the release of CORPUS found at ROOT into an utterance manifest.\n\n"
            "CORPUS is a recipe name or one of its aliases; 'generic' picks folder or csv by what ROOT "
            "holds (a CSV/TSV table with path,label columns, else one sub-folder per label).\n\n"
            "\b\nRecipes:\n" + "\n".join(lines))


@click.command("prepare", help=_corpus_help())
@click.argument("corpus")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Manifest to write (JSONL).")
@click.option("--clips", type=click.Path(path_type=Path), help="Folder of audio clips (MELD raw release).")
@click.option("--no-duration", is_flag=True, help="Do not read audio headers for durations (faster).")
@click.option("--on-missing", type=click.Choice(["error", "skip", "keep"]),
              help="Labelled items without audio: fail, skip them, or keep them with no path.")
def prepare_command(corpus: str, root: Path, output: Path, clips: Path | None, no_duration: bool,
                    on_missing: str | None) -> None:
    options: dict[str, object] = {}
    if clips is not None:
        options["clips"] = clips
    if no_duration:
        options["with_duration"] = False
    if on_missing is not None:
        options["on_missing"] = on_missing
    utts = prepare(corpus, root, **options)
    write_manifest(output, utts)
    click.echo(f"{output}: {summarize(utts).line()}")


def _parse_groups(values: tuple[str, ...]) -> list[list[str]] | None:
    """``--groups 01,02 --groups 03,04`` or ``--groups "01,02;03,04"`` -> [["01","02"], ["03","04"]]."""
    groups = [[s.strip() for s in chunk.split(",") if s.strip()] for v in values for chunk in v.split(";")]
    groups = [g for g in groups if g]
    return groups or None


@click.command("folds")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--protocol", required=True,
              type=click.Choice(list(PROTOCOLS)),
              help="How to split (see spokenemo.protocols.folds).")
@click.option("--label-set", default=None,
              help="Keep only these classes: a set name (4class, ravdess8, nemo6, meld7, ...) or a list "
                   "'angry,happy,sad'. Default: every label. MELD protocols use 4class.")
@click.option("--k", "k", default=5, show_default=True,
              help="speaker-kfold / dialogue-kfold: number of speaker / dialogue groups.")
@click.option("--groups", multiple=True,
              help="speaker-kfold: explicit speaker group, comma-separated; repeat it, or separate groups with ';'.")
@click.option("--n-valid", default=0, show_default=True,
              help="Validation speakers per fold, from the next group/speaker (loso-session: >0 validates on the next session).")
@click.option("--train-corpus", multiple=True, help="cross-corpus / meld4-*: training corpus (repeatable).")
@click.option("--test-corpus", multiple=True, help="cross-corpus: test corpus (repeatable).")
@click.option("--valid-corpus", multiple=True, help="cross-corpus: validation corpus (repeatable).")
@click.option("--test-by-speaker", is_flag=True, help="cross-corpus: one fold per test speaker.")
@click.option("--test-split", default="test", show_default=True, help="official: the split that tests.")
@click.option("--seed", default=0, show_default=True,
              help="meld4-balanced: selection seed; dialogue-kfold: order seed.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the fold files and index.json.")
def folds_command(manifest: Path, protocol: str, label_set: str | None, k: int, groups: tuple[str, ...],
                  n_valid: int, train_corpus: tuple[str, ...], test_corpus: tuple[str, ...],
                  valid_corpus: tuple[str, ...], test_by_speaker: bool, test_split: str, seed: int,
                  output: Path) -> None:
    """Build the folds of a protocol over MANIFEST and write them to a folder."""
    console = _console()
    utts = read_manifest(manifest)
    if protocol.startswith("meld4") and label_set is None:
        label_set = "4class"
    if label_set is not None:
        utts = apply_label_set(utts, label_set)  # logs a warning with the counts it drops
    folds = build_folds(utts, protocol, k=k, groups=_parse_groups(groups), n_valid=n_valid,
                        train_corpora=train_corpus, test_corpora=test_corpus, valid_corpora=valid_corpus,
                        test_by_speaker=test_by_speaker, test_split=test_split, seed=seed)
    index = read_folds_index(write_folds(folds, output, utts).parent)

    n = index["n_folds"]
    table = Table(title=f"{index['protocol']}: {n} fold{'s' if n != 1 else ''}, label set {index['label_set'] or 'all'}")
    table.add_column("fold", overflow="fold")
    for part in ("train", "valid", "test"):
        table.add_column(f"{part}\nutts (spk)", justify="right")
    table.add_column("test speakers")
    for fold, entry in zip(folds, index["folds"], strict=True):
        c = entry["counts"]
        test_spk = list(fold.info.get("test_speakers") or [])
        shown = ",".join(test_spk[:6]) + (f",… ({len(test_spk)})" if len(test_spk) > 6 else "")
        table.add_row(fold.name, *(f"{c[p]['n']} ({c[p]['speakers']})" for p in ("train", "valid", "test")),
                      shown)
    console.print(table)
    if not index["speaker_independent"]:
        why = ("conversations that share speakers were kept whole" if protocol == "dialogue-kfold"
               else "the corpus's official split; e.g. MELD characters")
        console.print(f"[yellow]note:[/] speaker_independent=False: speakers are shared between train and test ({why})")
    console.print(f"wrote {len(folds)} fold files and index.json to {output}")


@click.command("stats")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--max-rows", default=MAX_ROWS, show_default=True, help="Speakers listed before the rest is summed.")
def stats_command(manifest: Path, max_rows: int) -> None:
    """Counts of MANIFEST by class, by speaker and class x speaker, and its duration."""
    console = _console()
    s = summarize(read_manifest(manifest))
    console.print(f"{manifest}: {s.n} utterances, {len(s.speakers)} speakers, {len(s.classes)} labels, "
                  f"{s.hours:.3f} h ({s.seconds:.1f} s)"
                  + (f"; {s.n_no_duration} utterances without duration" if s.n_no_duration else ""))
    if len(s.corpora) > 1:
        console.print("corpora: " + ", ".join(f"{c}={n}" for c, n in s.corpora.items()))

    classes = Table(title="by class")
    classes.add_column("label")
    classes.add_column("utterances", justify="right")
    classes.add_column("%", justify="right")
    for label, n in s.classes.items():
        classes.add_row(label, str(n), f"{100 * n / s.n:.1f}")
    console.print(classes)

    speakers = list(s.speakers)
    if len(speakers) > max_rows:  # list the speakers with most utterances, sum the rest
        speakers.sort(key=lambda spk: -s.speakers[spk])
    shown, rest = speakers[:max_rows], speakers[max_rows:]
    top = f" (top {max_rows} of {len(speakers)} by utterances)" if rest else ""
    by_spk = Table(title="by speaker" + top)
    by_spk.add_column("speaker")
    by_spk.add_column("utterances", justify="right")
    by_spk.add_column("minutes", justify="right")
    def minutes(spks: list[str]) -> str:
        return "-" if s.n_no_duration == s.n else f"{sum(s.speaker_seconds[x] for x in spks) / 60:.1f}"

    for spk in shown:
        by_spk.add_row(spk, str(s.speakers[spk]), minutes([spk]))
    if rest:
        by_spk.add_row(f"… {len(rest)} more speakers", str(sum(s.speakers[x] for x in rest)), minutes(rest))
    console.print(by_spk)

    labels = list(s.classes)
    cols, other = labels[:MAX_LABEL_COLUMNS], labels[MAX_LABEL_COLUMNS:]
    cross = Table(title="class x speaker" + top)
    cross.add_column("speaker")
    for label in cols:
        cross.add_column(label, justify="right")
    if other:
        cross.add_column(f"{len(other)} other labels", justify="right")

    def row(name: str, counts: dict[str, int]) -> None:
        cells = [str(counts.get(lab, 0)) for lab in cols]
        if other:
            cells.append(str(sum(counts.get(lab, 0) for lab in other)))
        cross.add_row(name, *cells)

    for spk in shown:
        row(spk, s.cross[spk])
    if rest:
        summed: dict[str, int] = {}
        for spk in rest:
            for lab, n in s.cross[spk].items():
                summed[lab] = summed.get(lab, 0) + n
        row(f"+{len(rest)} more", summed)
    console.print(cross)


def _turn_range(text: str) -> tuple[int, int]:
    """``"8-20"`` -> (8, 20); ``"12"`` -> (12, 12)."""
    lo, _, hi = text.partition("-")
    try:
        return int(lo), int(hi or lo)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a turn count or range like 8-20", param_hint="--turns") from None


def _write_pseudo(path: Path, turns: list[Segment]) -> str:
    write_manifest(path, turns)
    convs = conversations(turns)
    return (f"{path}: {len(convs)} conversations, {len(turns)} turns, "
            f"same emotion on {100 * same_label_rate(convs):.1f} % of consecutive turns")


@click.command("pseudo")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Manifest to write (JSONL); with --folds a folder with one manifest per fold.")
@click.option("--folds", "folds_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folds of MANIFEST: each part's conversations use that part's speakers only, and the "
                   "turns' split field names the part (train/dev/test).")
@click.option("--kind", type=click.Choice(list(KINDS)), default="sticky", show_default=True,
              help="sticky: Markov emotions (context helps); iid: the control (context cannot help).")
@click.option("--stay", default=0.7, show_default=True, help="sticky: probability of keeping the emotion.")
@click.option("--turns", "turn_range", default="8-20", show_default=True, help="Turns per conversation (a range).")
@click.option("--speakers", type=int, default=None,
              help="Speakers per conversation, taking turns (default: 2 for RAVDESS, else 1).")
@click.option("--weights", type=click.Choice(["uniform", "pool"]), default="uniform", show_default=True,
              help="Emotion distribution: uniform over classes, or the manifest's label frequencies.")
@click.option("-n", "--conversations", "n_conversations", type=int, default=None,
              help="Conversations (per fold part); default: about as many turns as segments.")
@click.option("--label-set", default=None, help="Classes to keep (default: the folds' label set, else all).")
@click.option("--seed", default=0, show_default=True)
def pseudo_command(manifest: Path, output: Path, folds_dir: Path | None, kind: str, stay: float, turn_range: str,
                   speakers: int | None, weights: str, n_conversations: int | None, label_set: str | None,
                   seed: int) -> None:
    """Build pseudo-conversations from the segments of MANIFEST and write them as manifests."""
    lo, hi = _turn_range(turn_range)
    spec = PseudoSpec(kind=kind, stay=stay, min_turns=lo, max_turns=hi, speakers=speakers,  # type: ignore[arg-type]
                      weights=weights, seed=seed)
    segs: list[Segment] = read_manifest(manifest)
    if folds_dir is not None and label_set is None:
        label_set = read_folds_index(folds_dir).get("label_set")
    if label_set is not None:
        segs = list(apply_label_set(segs, label_set))
    if folds_dir is None:
        if output.is_dir():
            raise SpokenemoError(f"{output} is a folder", hint="without --folds, -o names one JSONL file")
        click.echo(_write_pseudo(output, pseudo_conversations(segs, n_conversations, spec)))
        return
    for fold in read_folds(folds_dir):
        parts = {part: fold.select(segs, part) for part in ("train", "valid", "test")}
        turns = pseudo_parts(parts, n_conversations, spec, name=f"pseudo-{kind}-{fold.name}")
        path = output / (fold_file_name(fold.name).removesuffix(".json") + ".jsonl")
        click.echo(_write_pseudo(path, turns))


COMMANDS = [prepare_command, folds_command, stats_command, pseudo_command]
