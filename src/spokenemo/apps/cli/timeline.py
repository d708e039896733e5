"""``spokenemo timeline FILE``, ``spokenemo longform build``, ``spokenemo timeline-score``.

- ``timeline`` runs :func:`spokenemo.api.timeline.timeline` on a long recording (audio or video)
  with a progress bar, writes JSON/CSV/WebVTT/SRT (``-o``, ``--format``) and the figure
  (``--plot``), and prints the summary. A recording without speech gets no emotion: the reason is
  printed and the exit status is 3.
- ``longform build`` makes labelled long recordings from a corpus (:mod:`spokenemo.data.longform`).
- ``timeline-score`` scores a timeline JSON against an RTTM reference
  (:mod:`spokenemo.api.timeline_score`).
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from spokenemo.core.errors import ConfigError

NO_SPEECH_EXIT = 3
FORMATS = ("json", "csv", "vtt", "srt")


def _api(name: str) -> ModuleType:
    return importlib.import_module(f"spokenemo.api.{name}")


class _Bars:
    """One tqdm bar per stage on stderr (stages after the VAD run in two threads)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, tqdm] = {}
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: float, total: float) -> None:
        if not self.enabled:
            return
        with self._lock:
            bar = self.bars.get(stage)
            if bar is None:
                unit = "s" if stage == "decode+vad" else "seg"
                bar = self.bars[stage] = tqdm(total=None if total != total else round(total, 1), desc=stage,
                                              unit=unit, file=sys.stderr, position=len(self.bars), leave=True,
                                              dynamic_ncols=True)
            bar.n = round(done, 1)
            bar.refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _show_summary(tl: Any) -> None:
    summary = tl.summary()
    console = Console(highlight=False, soft_wrap=True)
    table = Table(title=f"share of speech time per emotion ({len(tl.segments)} segments, {tl.duration:.1f} s)")
    table.add_column("speaker")
    table.add_column("speech s", justify="right")
    for lab in tl.labels:
        table.add_column(lab, justify="right")
    for who, share in summary["share"].items():
        table.add_row(who, f"{summary['speech_seconds'][who]:.1f}", *[f"{share.get(lab, 0) * 100:.0f}%" for lab in tl.labels])
    console.print(table)
    for m in summary["strongest"]:
        why = (m["explanation"] or "").split(". ")[0]
        console.print(f"  {m['start']:8.1f}-{m['end']:.1f} s  {m['speaker']}  {m['emotion']} ({m['probability']:.2f})"
                      + (f": {why[:200]}" if why else ""))


@click.command("timeline")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the timeline here.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Output format (default: from the -o suffix).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Save the timeline figure (PNG/SVG/PDF).")
@click.option("--speakers", type=click.IntRange(min=1), help="Number of speakers (default: estimated; 1: no speaker step).")
@click.option("--strict-speakers", is_flag=True, help="Fail (instead of warning) when fewer voices are found than --speakers.")
@click.option("--min-len", default=1.0, show_default=True, type=float, help="Shortest segment (s) merging aims for.")
@click.option("--max-len", default=8.0, show_default=True, type=float, help="Longest segment (s); longer ones are split.")
@click.option("--max-gap", default=0.5, show_default=True, type=float, help="Longest pause (s) a merge may bridge.")
@click.option("--smooth", default=0, show_default=True, type=click.IntRange(min=0),
              help="Average each segment's probabilities with this many same-speaker neighbours on each side.")
@click.option("--pad", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds of silence put around each segment for the recogniser (its training clips had ~1 s).")
@click.option("--no-explain", is_flag=True, help="Skip the cue explanations (faster).")
@click.option("--recogniser", "folder", type=click.Path(file_okay=False, path_type=Path), help="Recogniser folder.")
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
def timeline_command(file: Path, output: Path | None, fmt: str | None, plot: Path | None, speakers: int | None,
                     strict_speakers: bool, min_len: float, max_len: float, max_gap: float, smooth: int,
                     pad: float, no_explain: bool, folder: Path | None, quiet: bool) -> None:
    """Emotion over time in a long recording FILE (audio or video): segments, speakers, emotions, why.

    \b
    spokenemo timeline interview.mp4 -o interview.vtt --plot interview.png --speakers 2
    spokenemo timeline call.flac -o call.json --smooth 1

    Exit status: 0 done, 3 no speech in FILE, 2 an error.
    """
    if output is None and plot is None and quiet:
        raise ConfigError("nothing to do: --quiet without -o or --plot", hint="add -o OUT.json or --plot FIG.png")
    if fmt and output is None:
        raise ConfigError("--format needs -o OUT", hint="e.g. -o talk.vtt --format vtt")
    api = _api("timeline")
    bars = _Bars(not quiet)
    try:
        tl = api.timeline(file, recogniser=folder, explainer=False if no_explain else None, speakers=speakers,
                          min_len=min_len, max_len=max_len, max_gap=max_gap, smooth=smooth, pad=pad,
                          strict_speakers=strict_speakers, progress=bars)
    except api.NoSpeechError as err:
        bars.close()
        click.secho(f"no speech: {err}", fg="yellow", err=True)
        sys.exit(NO_SPEECH_EXIT)
    bars.close()
    if output is not None:
        tl.write(output, fmt)
    if plot is not None:
        tl.plot(plot)
    if not quiet:
        _show_summary(tl)
        for what in (output, plot):
            if what is not None:
                click.echo(f"wrote {what}")


@click.group("longform")
def longform_group() -> None:
    """Labelled long recordings built from corpus clips (to test timelines)."""


@longform_group.command("build")
@click.argument("corpus")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("-n", "--recordings", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--duration", default=120.0, show_default=True, type=float, help="Length of each recording (s).")
@click.option("--speakers", default=2, show_default=True, type=click.IntRange(min=2), help="Speakers per recording.")
@click.option("--only-speakers", help="Comma-separated speaker ids to draw from (e.g. held-out speakers: 19,20).")
@click.option("--label-set", default="4class", show_default=True, help="Keep clips of these classes ('' = all).")
@click.option("--noise-snr", type=float, help="White noise this many dB below the mean speech power.")
@click.option("--seed", default=0, show_default=True, type=int)
def longform_build_command(corpus: str, root: Path, output: Path, recordings: int, duration: float, speakers: int,
                           only_speakers: str | None, label_set: str, noise_snr: float | None, seed: int) -> None:
    """Join clips of CORPUS (release at ROOT) into labelled two-or-more-speaker recordings.

    \b
    spokenemo longform build ravdess ../shared/data/ravdess -o runs/longform --only-speakers 19,20
    """
    data = importlib.import_module("spokenemo.data")
    longform = importlib.import_module("spokenemo.data.longform")
    segments = data.prepare(corpus, root)
    if only_speakers:
        wanted = {s.strip() for s in only_speakers.split(",") if s.strip()}
        segments = [s for s in segments if s.speaker in wanted]
    if label_set:
        segments = list(importlib.import_module("spokenemo.protocols").apply_label_set(segments, label_set))
    spec = longform.LongformSpec(speakers=speakers, duration=duration, noise_snr=noise_snr)
    built = longform.build_longform(segments, output, n_recordings=recordings, spec=spec, seed=seed)
    for rec in built:
        click.echo(f"{rec.path}  {rec.duration:.1f} s  {len(rec.turns)} clips  "
                   f"{len({t.speaker for t in rec.turns})} speakers  labels: {rec.rttm}")
    click.echo(f"manifest: {output / 'manifest.jsonl'}")


@click.command("timeline-score")
@click.argument("reference", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("timeline", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--recording", help="Recording of REFERENCE to score (default: the timeline's file name).")
@click.option("--tolerance", default=0.5, show_default=True, type=float, help="Boundary match tolerance (s).")
@click.option("--json", "as_json", is_flag=True, help="Print every number as JSON.")
def timeline_score_command(reference: Path, timeline: Path, recording: str | None, tolerance: float,
                           as_json: bool) -> None:
    """Score a TIMELINE (JSON from `spokenemo timeline`) against a REFERENCE RTTM: EDER, frame UA,
    boundary F1, speaker purity and coverage."""
    scores = _api("timeline_score").score_timeline(reference, timeline, recording=recording, tolerance=tolerance)
    if as_json:
        click.echo(json.dumps(scores, indent=1))
        return
    b, s = scores["boundary"], scores["speaker"]
    click.echo(f"EDER (ZED, pauses neutral) {scores['eder'] * 100:.1f} %   EDER over labelled speech "
               f"{scores['eder_speech'] * 100:.1f} %")
    click.echo(f"frame UA {scores['frame_ua'] * 100:.1f} %  (strict {scores['frame_ua_strict'] * 100:.1f} %, "
               f"uncovered {scores['frame_uncovered'] * 100:.1f} % of labelled time)")
    click.echo(f"boundary F1 {b['f1'] * 100:.1f} % (P {b['precision'] * 100:.1f}, R {b['recall'] * 100:.1f}, "
               f"±{tolerance:g} s)   speaker purity {s['purity'] * 100:.1f} %  coverage {s['coverage'] * 100:.1f} %")


COMMANDS = [timeline_command, longform_group, timeline_score_command]
