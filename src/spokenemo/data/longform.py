"""Labelled long recordings built from corpus clips: a seeded test bed for emotion over time.

:func:`build_longform` joins clips of two or more speakers into recordings that sound like a
conversation, about ``duration`` seconds long (clips are added until it is reached): turns alternate between speakers (the next speaker is drawn among the others), a
turn holds ``turn_clips`` clips of one speaker separated by short pauses, turns are separated by
longer pauses, and white noise at ``noise_snr`` dB below the mean speech power can be laid over
the whole recording. The leading and trailing non-speech of every clip is trimmed (``trim="vad"``:
from the first to the last speech frame Silero VAD finds, plus 50 ms; ``"energy"``: frames more
than ``trim_db`` below the clip's loudest 10 ms frame, which kept breaths and room noise around
some RAVDESS takes), so a label covers speech, not the pauses the corpus left around it. Everything is drawn from ``random.Random(seed)``: the same clips, seed
and settings give the same recordings, byte for byte.

For each recording ``NAME`` it writes, in ``out_dir``:

- ``NAME.flac``: 16 kHz mono, 16-bit, written clip by clip (memory stays at one clip);
- ``NAME.rttm``: one RTTM line per clip, ``SPEAKER NAME 1 <start> <duration> <emotion> <NA>
  <speaker> <NA> <NA>`` (the standard ten fields; the emotion sits in the orthography field, so
  tools that read speakers from RTTM still can);

and one ``manifest.jsonl`` for all of them: a :class:`~spokenemo.data.manifest.Segment` per placed
clip (``path`` = the recording, ``start``/``end`` = its span there, ``label``, ``speaker``,
``dialogue`` = the recording, ``turn``, and ``extra.source`` = the clip's own key).
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from spokenemo.audio.io import load_audio
from spokenemo.audio.segmentation import long_form_backend
from spokenemo.audio.speech import detect_speech
from spokenemo.core.errors import SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.core.speakers import speaker_of
from spokenemo.data.manifest import Segment, write_manifest

__all__ = ["LongformError", "LongformRecording", "LongformSpec", "Turn", "build_longform", "read_rttm", "trim_clip",
           "trim_silence"]

RATE = 16000
TRIMS = ("vad", "energy", None)
#: Seconds kept around the speech the VAD finds in a clip when trimming.
VAD_MARGIN = 0.05


class LongformError(SpokenemoError):
    """Long recordings cannot be built as asked (too few speakers or clips, bad settings)."""


@dataclass(frozen=True)
class LongformSpec:
    """How the recordings are built (see the module docstring). Seconds throughout."""

    speakers: int = 2
    duration: float = 120.0
    turn_clips: tuple[int, int] = (1, 3)
    pause: tuple[float, float] = (0.4, 1.5)
    inner_pause: tuple[float, float] = (0.15, 0.5)
    noise_snr: float | None = None
    trim: str | None = "vad"
    trim_db: float = 40.0

    def check(self) -> None:
        lo, hi = self.turn_clips
        ok = (self.speakers >= 2 and self.duration > 0 and 1 <= lo <= hi
              and 0 <= self.pause[0] <= self.pause[1] and 0 <= self.inner_pause[0] <= self.inner_pause[1]
              and self.trim in TRIMS and self.trim_db > 0)
        if not ok:
            raise LongformError(f"unusable long-recording settings: {self}",
                                hint="use speakers >= 2, duration > 0, 1 <= turn clips min <= max, "
                                f"pause ranges with 0 <= low <= high, trim one of {TRIMS}, trim_db > 0")


@dataclass(frozen=True)
class Turn:
    """One placed clip: ``label`` by ``speaker`` from ``start`` to ``end`` seconds."""

    start: float
    end: float
    speaker: str
    label: str
    source: str = ""


@dataclass
class LongformRecording:
    """A built recording, its label file, and its clips in order."""

    name: str
    path: Path
    rttm: Path
    duration: float
    turns: list[Turn] = field(default_factory=list)


def trim_silence(x: np.ndarray, trim_db: float | None, sr: int = RATE) -> np.ndarray:
    """``x`` without leading/trailing 10 ms frames more than ``trim_db`` below its loudest frame."""
    if trim_db is None or x.size == 0:
        return x
    hop = max(1, sr // 100)
    n = x.size // hop
    if n == 0:
        return x
    power = (x[: n * hop].astype(np.float64) ** 2).reshape(n, hop).mean(axis=1)
    loud = np.flatnonzero(power >= power.max() * 10 ** (-trim_db / 10))
    return x[loud[0] * hop: min(x.size, (loud[-1] + 1) * hop)]


def trim_clip(x: np.ndarray, spec: LongformSpec) -> np.ndarray:
    """``x`` cut to its speech: from the VAD's first speech frame to its last (plus :data:`VAD_MARGIN`),
    or by energy (:func:`trim_silence`), as ``spec.trim`` says; energy when the VAD finds nothing."""
    if spec.trim is None:
        return x
    if spec.trim == "vad":
        found = detect_speech(x, RATE, min_speech_seconds=0.0, backend=long_form_backend())
        if found.segments:
            a = max(0, round((found.segments[0][0] - VAD_MARGIN) * RATE))
            b = min(x.size, round((found.segments[-1][1] + VAD_MARGIN) * RATE))
            return x[a:b]
    return trim_silence(x, spec.trim_db)


def _pool(segments: Sequence[Segment]) -> dict[str, list[Segment]]:
    pool: dict[str, list[Segment]] = defaultdict(list)
    for s in segments:
        if s.label is None or s.path is None:
            continue
        pool[speaker_of(s)].append(s)
    return {k: sorted(v, key=lambda s: s.key) for k, v in sorted(pool.items())}


def _plan(rng: random.Random, pool: dict[str, list[Segment]], spec: LongformSpec) -> Iterator[tuple[Segment, float]]:
    """(clip, pause before it), endlessly: turns of one speaker, then another."""
    chosen = rng.sample(sorted(pool), spec.speakers)
    queues = {spk: rng.sample(pool[spk], len(pool[spk])) for spk in chosen}
    speaker, first = rng.choice(chosen), True
    while True:
        for i in range(rng.randint(*spec.turn_clips)):
            if not queues[speaker]:
                queues[speaker] = rng.sample(pool[speaker], len(pool[speaker]))
            pause = rng.uniform(*(spec.inner_pause if i and not first else spec.pause))
            yield queues[speaker].pop(), round(pause, 3)
            first = False
        speaker = rng.choice([s for s in chosen if s != speaker])


def _load(clip: Segment, root: Path | None, spec: LongformSpec) -> np.ndarray:
    path = clip.audio_path(root)
    assert path is not None
    return trim_clip(load_audio(path, start=clip.start, end=clip.end, sr=RATE), spec)


def _noise_level(plan: Iterator[tuple[Segment, float]], root: Path | None, spec: LongformSpec,
                 ) -> tuple[float, list[tuple[Segment, float]]]:
    """Noise RMS for ``spec.noise_snr`` from the mean power of the first 20 planned clips (kept for writing)."""
    if spec.noise_snr is None:
        return 0.0, []
    ahead = list(itertools.islice(plan, 20))
    power = float(np.mean([np.mean(_load(clip, root, spec).astype(np.float64) ** 2) for clip, _ in ahead]))
    return float(np.sqrt(power / 10 ** (spec.noise_snr / 10))), ahead


def _write_recording(name: str, plan: Iterator[tuple[Segment, float]], out_dir: Path, root: Path | None,
                     spec: LongformSpec, rng: random.Random) -> LongformRecording:
    level, ahead = _noise_level(plan, root, spec)
    noise = np.random.default_rng(rng.getrandbits(32))
    path, rttm = out_dir / f"{name}.flac", out_dir / f"{name}.rttm"
    turns: list[Turn] = []
    at = 0
    with sf.SoundFile(str(path), "w", RATE, 1, subtype="PCM_16", format="FLAC") as out:
        for clip, pause in itertools.chain(ahead, plan):
            if at >= spec.duration * RATE:
                break
            gap = np.zeros(round(pause * RATE), np.float32)
            x = _load(clip, root, spec)
            for piece in (gap, x):
                if level:
                    piece = piece + noise.normal(0.0, level, piece.size).astype(np.float32)
                out.write(np.clip(piece, -1.0, 1.0))
            start = at + gap.size
            at = start + x.size
            assert clip.label is not None
            turns.append(Turn(round(start / RATE, 4), round(at / RATE, 4), speaker_of(clip), clip.label, clip.key))
        tail = np.zeros(round(spec.pause[0] * RATE), np.float32)
        out.write(tail + (noise.normal(0.0, level, tail.size).astype(np.float32) if level else 0))
        at += tail.size
    with atomic_write(rttm) as f:
        for t in turns:
            f.write(f"SPEAKER {name} 1 {t.start:.4f} {t.end - t.start:.4f} {t.label} <NA> {t.speaker} <NA> <NA>\n")
    return LongformRecording(name, path, rttm, at / RATE, turns)


def build_longform(segments: Sequence[Segment], out_dir: str | Path, *, n_recordings: int = 1,
                   spec: LongformSpec | None = None, seed: int = 0, name: str = "longform",
                   root: str | Path | None = None) -> list[LongformRecording]:
    """Build ``n_recordings`` labelled long recordings from clips (see the module docstring).

    Parameters
    ----------
    segments : sequence of Segment
        Labelled clips with audio (``label``, ``path``, speaker); apply a label set first.
    out_dir : str or Path
        Created if missing; recordings, RTTM files and ``manifest.jsonl`` go there.
    n_recordings : int
        How many recordings.
    spec : LongformSpec, optional
        Speakers per recording, target length, pauses, noise, trimming.
    seed : int
        Everything random is drawn from it.
    name : str
        Recordings are ``{name}-000``, ``{name}-001``, ...
    root : str or Path, optional
        Folder relative clip paths are resolved against.

    Raises
    ------
    LongformError
        Fewer speakers with labelled audio than ``spec.speakers``, or unusable settings.
    """
    spec = spec or LongformSpec()
    spec.check()
    if n_recordings < 1:
        raise LongformError(f"n_recordings must be at least 1, got {n_recordings}")
    pool = _pool(segments)
    if len(pool) < spec.speakers:
        raise LongformError(f"{spec.speakers} speakers per recording were asked, but the clips hold "
                            f"{len(pool)} speaker(s) with a label and audio",
                            hint="give clips of more speakers, or lower the speaker count")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = None if root is None else Path(root)
    rng = random.Random(seed)
    built = [_write_recording(f"{name}-{i:03d}", _plan(rng, pool, spec), out, base, spec, rng)
             for i in range(n_recordings)]
    rows = [Segment(key=f"{rec.name}/{j:04d}", path=rec.path.name, start=t.start, end=t.end, label=t.label,
                    speaker=t.speaker, dialogue=rec.name, turn=j, duration=round(t.end - t.start, 4),
                    extra={"source": t.source})
            for rec in built for j, t in enumerate(rec.turns)]
    write_manifest(out / "manifest.jsonl", rows)
    return built


def read_rttm(path: str | Path) -> dict[str, list[Turn]]:
    """Turns per recording from an RTTM file written by :func:`build_longform` (other RTTM: label ``<NA>``)."""
    p = Path(path)
    if not p.is_file():
        raise LongformError(f"{p}: no such RTTM file", hint="give the .rttm file written next to the recording")
    turns: dict[str, list[Turn]] = defaultdict(list)
    for number, line in enumerate(p.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith((";", "#")):
            continue
        if len(fields) < 8 or fields[0] != "SPEAKER":
            raise LongformError(f"{p}:{number}: not an RTTM SPEAKER line: {line!r}",
                                hint="each line: SPEAKER <file> <chnl> <tbeg> <tdur> <emotion> <NA> <speaker> <NA> <NA>")
        try:
            start, dur = float(fields[3]), float(fields[4])
        except ValueError as err:
            raise LongformError(f"{p}:{number}: start/duration are not numbers: {line!r}") from err
        turns[fields[1]].append(Turn(start, round(start + dur, 4), fields[7], fields[5]))
    return dict(turns)
