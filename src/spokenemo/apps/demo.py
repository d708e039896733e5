"""``make demo``: the main job on the embedded defaults.

For every clip in a folder (default: the RAVDESS clips in ``tests/data``) it computes the
acoustic cues, draws the cue plot, and answers "which emotion, and why":

- by default with the shipped recogniser (``models/recogniser-4class``, Whisper-base + a linear
  head; :mod:`spokenemo.api.clip`): calibrated probabilities, cue evidence against the speaker's
  other clips in the folder, the cues that support and oppose the answer, and a grounded
  explanation; an accuracy summary over the clips whose label the model can answer;

- with a trained student (``--model DIR``, else the default one when there is one:
  ``$SPOKENEMO_MODEL`` or the checkout's ``models/spokenemo-default``, see
  :mod:`spokenemo.systems.aecotd.default_model`): label probabilities by scoring, and the student's
  explanation;
- otherwise with the embedded LLM (SmolLM2-135M-Instruct) reading the cues zero-shot through
  the blind teacher prompt, for ``--explain N`` clips (it is a 135M model: read its words as a
  demonstration of the pipeline, not as a judgement).

It prints a table (file, emotion, probability, the coarse cue words, the explanation) and
writes ``index.html`` (audio player, cue plot, probabilities, cues, explanation per clip).
``--limit N`` keeps the first N clips (one per emotion first) for a quick look.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spokenemo import api
from spokenemo.api.clip import explain_clip
from spokenemo.api.recogniser import default_recogniser_path, load_recogniser
from spokenemo.apps.web import ClipResult, write_explanation_page
from spokenemo.core.errors import SpokenemoError
from spokenemo.data.manifest import Segment
from spokenemo.features.cues import CueExtractionConfig, Thresholds, analyse, load_for_cues, plot_cues
from spokenemo.llm.factory import get_backend
from spokenemo.llm.prompts import load_template
from spokenemo.systems.aecotd.default_model import REPO_ROOT
from spokenemo.systems.aecotd.teacher import build_requests, parse_teacher_output

DEFAULT_CLIPS = REPO_ROOT / "tests" / "data" / "ravdess"
FOUR_CLASSES = ("angry", "happy", "neutral", "sad")
_WORD = re.compile(r"([A-Z][A-Za-z ]*?): ([a-z][a-z -]*)\.")


def coarse_words(cue_text: str) -> str:
    """The word-valued cues of a cue text, compactly: ``"pitch high, intensity strong, ..."``."""
    return ", ".join(f"{name.lower()} {word}" for name, word in _WORD.findall(cue_text))


def _pick(utts: list[Segment], limit: int | None) -> list[Segment]:
    """The first ``limit`` clips, one per 4-class emotion first (all clips when no limit)."""
    if limit is None or limit >= len(utts):
        return utts
    order = sorted(utts, key=lambda u: (u.label not in FOUR_CLASSES, u.speaker or "", u.label or "", u.key))
    chosen: list[Segment] = []
    seen: set[str | None] = set()
    for u in order:
        if u.label in FOUR_CLASSES and u.label not in seen:
            chosen.append(u)
            seen.add(u.label)
    chosen.extend(u for u in order if u not in chosen)
    keep = {u.key for u in chosen[:limit]}
    return [u for u in utts if u.key in keep]


@dataclass
class _Clip:
    utt: Segment
    result: ClipResult
    row: dict


def _analyse_clips(utts: list[Segment], plots: Path, config: CueExtractionConfig) -> list[_Clip]:
    clips = []
    for i, u in enumerate(utts):
        y = load_for_cues(u.path, config=config)
        tracks, cues = analyse(y, config)
        row = cues.to_row() | {"key": u.key, "speaker": u.speaker, "corpus": u.corpus}
        plot = plot_cues(y, tracks, cues, plots / f"{i:03d}-{Path(u.path).stem}.png", config=config,
                         title=f"{Path(u.path).name} (annotated: {u.label})")
        clips.append(_Clip(u, ClipResult(Path(u.path), emotion="", transcript=u.text, true_label=u.label,
                                         plot=plot, signal=y), row))
    return clips


def _explain_with_student(clips: list[_Clip], model: Path, console: Console,
                          speaker_clips: dict[str, list[str]]) -> str:
    """Explain each clip; a speaker-relative student words a speaker's cues against the medians of
    all of that speaker's clips in the folder (unlabelled)."""
    student = api.load_student(model)
    relative = api.uses_speaker_medians(student)
    # a speaker needs as many clips as the model's thresholds ask for own medians
    need = api.reference_minimum(student)
    refs = {spk: api.speaker_reference(student, paths) for spk, paths in speaker_clips.items()
            if relative and len(paths) >= need}
    for c in clips:
        e = api.explain(c.utt.path, student, text=c.utt.text, reference=refs.get(c.utt.speaker or ""))
        # no emotion for a clip without speech: show why ("no speech: ...")
        c.result.emotion, c.result.probabilities = e.emotion or e.verdict, e.probabilities
        c.result.cue_text, c.result.explanation = e.cue_text, e.explanation or ""
    if relative:
        return f"student {model}; cue words against each speaker's own clips"
    return f"student {model}"


def _explain_with_recogniser(clips: list[_Clip], folder: Path, speaker_clips: dict[str, list[str]]) -> str:
    """The recogniser's answer per clip, with cue evidence against the speaker's other clips in the
    folder (unlabelled) and the grounded explanation."""
    recogniser = load_recogniser(folder)
    for c in clips:
        others = [p for p in speaker_clips.get(c.utt.speaker or "", []) if p != str(c.utt.path)]
        e = explain_clip(c.utt.path, recogniser=recogniser, reference=others or None, text=c.utt.text)
        r = c.result
        r.classes = recogniser.classes
        if e.label is None:
            r.emotion = f"no speech: {e.no_speech_reason}"
            continue
        r.emotion, r.probabilities = e.label, e.probabilities
        ex = e.explanation
        if ex is not None:
            r.explanation = ex.text
            r.supports, r.opposes = [x.phrase for x in ex.supports], [x.phrase for x in ex.opposes]
            r.baseline = ex.evidence.baseline.description if ex.evidence.baseline else "no baseline"
        if e.answer.uncertain_between:
            r.note = "uncertain between " + " and ".join(e.answer.uncertain_between)
    return f"recogniser {folder.name} (Whisper-base + linear head); cue evidence against each speaker's other clips"


def _explain_zero_shot(clips: list[_Clip], thresholds: Thresholds, n: int, console: Console) -> str:
    for c in clips:
        c.result.cue_text = api.render_cue_text(c.row, thresholds, speaker=c.utt.speaker)
        c.result.emotion = "(not asked)"
    # one clip per 4-class emotion first, so a short demo still shows the contrast
    order = sorted(clips, key=lambda c: (c.utt.label not in FOUR_CLASSES, c.utt.speaker or "", c.utt.label or ""))
    chosen, seen = [], set()
    for c in order:
        if len(chosen) < n and (c.utt.label not in seen or len(seen) >= len(FOUR_CLASSES)):
            chosen.append(c)
            seen.add(c.utt.label)
    if not chosen:
        return "no LLM (--explain 0)"
    console.print(f"loading the embedded LLM to explain {len(chosen)} clips zero-shot ...")
    backend = get_backend("embedded")
    template = load_template("teacher_blind")
    requests, _ = build_requests([c.utt for c in chosen], {c.utt.key: c.result.cue_text for c in chosen},
                                 template, labels=list(FOUR_CLASSES))
    for c, req in zip(chosen, requests, strict=True):
        out = backend.chat(req.messages, max_tokens=96)
        parsed = parse_teacher_output(out.text, out.reasoning, labels=FOUR_CLASSES)
        c.result.emotion = parsed.label or "(no label in answer)"
        c.result.explanation = parsed.explanation.strip()
    return "embedded SmolLM2-135M-Instruct, zero-shot (no trained student found)"


def run(clips_dir: Path, out: Path, model: Path | None, n_explain: int, limit: int | None = None) -> Path:
    """Analyse (and explain) the clips of ``clips_dir``, print the table, write ``out/index.html``.

    ``model``: a recogniser folder, a trained student folder, or None for the zero-shot embedded
    LLM; ``limit``: keep that many clips (one per emotion first).
    """
    console = Console(width=None if Console().is_terminal else 180)
    t0 = time.perf_counter()
    everything = api.prepare("ravdess", clips_dir)
    speaker_clips: dict[str, list[str]] = {}
    for u in everything:
        speaker_clips.setdefault(u.speaker or "", []).append(str(u.path))
    utts = _pick(everything, limit)
    out.mkdir(parents=True, exist_ok=True)
    api.write_manifest(out / "manifest.jsonl", utts)
    console.print(f"[bold]{clips_dir}[/]: {api.summarize(utts).line()}")

    config = CueExtractionConfig()
    clips = _analyse_clips(utts, out / "plots", config)
    # Words need medians; without a trained model, the demo clips' own medians (per speaker when
    # a speaker has several clips) stand in for a training fold.
    thresholds = Thresholds.fit([c.row for c in clips], speaker_relative=True)
    if model is not None and (model / "recogniser.json").is_file():
        source = _explain_with_recogniser(clips, model, speaker_clips)
    elif model is not None:
        source = _explain_with_student(clips, model, console, speaker_clips)
    else:
        source = _explain_zero_shot(clips, thresholds, n_explain, console)

    table = Table(title=f"which emotion, and why ({source})", show_lines=True)
    for col in ("file", "annotated", "emotion", "p", "cues", "explanation"):
        table.add_column(col, overflow="fold")
    for c in clips:
        r = c.result
        p = f"{r.probabilities.get(r.emotion, float('nan')):.2f}" if r.probabilities else "-"
        cues = coarse_words(r.cue_text) or r.cue_text or "; ".join(r.supports[:3])
        table.add_row(r.path.name, r.true_label or "", r.emotion, p, cues,
                      r.explanation[:300])
    console.print(table)
    scored = [c.result for c in clips if c.result.scored]
    if scored:
        right = sum(r.correct for r in scored)
        console.print(f"{right} of {len(scored)} clips with a label among the model's classes right; their speakers "
                      "may be in the model's training data (held-out-speaker numbers: the model card)")
    where = clips_dir.name if clips_dir.is_absolute() else clips_dir  # no machine paths on the page
    page = write_explanation_page([c.result for c in clips], out, subtitle=f"{len(clips)} clips from {where}; {source}")
    console.print(f"page: {page}  ({time.perf_counter() - t0:.1f} s)")
    return page


def _default_model(student: bool) -> Path | None:
    if not student:
        try:
            return default_recogniser_path()
        except SpokenemoError:
            pass
    return api.find_default_model()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m spokenemo.apps.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="a RAVDESS-layout folder of clips")
    parser.add_argument("-o", "--out", type=Path, default=Path("runs/demo"), help="output folder")
    parser.add_argument("--model", type=Path, default=None,
                        help="recogniser or trained student folder (default: the shipped recogniser "
                             "models/recogniser-4class; with --student: $SPOKENEMO_MODEL, else the checkout's "
                             "models/spokenemo-default when present, else the zero-shot embedded LLM)")
    parser.add_argument("--student", action="store_true", help="explain with the AECoTD student instead")
    parser.add_argument("--explain", type=int, default=4, help="clips the zero-shot LLM explains without a student")
    parser.add_argument("--limit", type=int, default=None, help="only this many clips (one per emotion first)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        model = args.model if args.model is not None else _default_model(args.student)
        run(args.clips, args.out, model, args.explain, args.limit)
    except SpokenemoError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
