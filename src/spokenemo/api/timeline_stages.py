"""The stages of :func:`spokenemo.api.timeline.timeline` after the VAD, and how they share the cores.

After decoding and VAD, two lines of work run side by side in threads (torch and Praat release
the GIL while they compute, so two cores are used):

- **emotion**: the recogniser's encoder over every segment (``features``), or its
  ``predict_proba`` when it has no two-phase interface, batch after batch;
- **speakers, then cues, then emotion**: Resemblyzer d-vectors and clustering, then (default
  explainer) every segment's cue measurement, then this thread takes emotion batches too
  (:class:`EmotionWork`), since the recogniser is the slowest stage by far.

The recogniser is therefore called from two threads at once (the shipped one, a torch module in
inference, allows that); pass ``workers=1`` for one that does not.

Then the cheap finish: probabilities from the features with each segment's speaker (so a
speaker-aware recogniser uses each speaker's own statistics), smoothing, and the explanations.
Each stage's CPU time is its own thread's (``time.thread_time``), so stages that overlap are not
counted twice (the emotion stage adds up its batches' CPU time); ``audio_s_per_cpu_s`` is the audio (or speech) seconds the stage covered per CPU
second it used.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from spokenemo.audio.stream import AudioReader
from spokenemo.core.errors import MissingDependencyError, SpokenemoError
from spokenemo.models.speakers import SpeakerEncoder, cluster_speakers

__all__ = ["RECOGNISER_PAD", "EmotionWork", "Stages", "batches", "emotion_stage", "finish_probabilities", "resolve_recogniser", "smooth_probabilities",
           "speaker_stage"]

RATE = 16000
#: Segments handed to the recogniser / speaker encoder at once.
BATCH = 16
#: Seconds of silence put on each side of a segment before the recogniser sees it. The recognisers
#: here are trained on whole corpus clips, which hold about 1 s of non-speech around the speech
#: (100 RAVDESS training clips of speakers 01-16: median 1.02 s before, 0.88 s after, by Silero
#: VAD); a VAD-tight segment is out of that distribution (see docs/timeline.md for the effect).
RECOGNISER_PAD = 1.0
Progress = Callable[[str, float, float], None]


class Stages:
    """Wall and CPU seconds per stage (CPU of the running thread), with the audio seconds covered."""

    def __init__(self) -> None:
        self.timings: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def run(self, name: str, audio_seconds: Callable[[], float], fn: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        out = fn()
        self.record(name, time.perf_counter() - wall, time.thread_time() - cpu, audio_seconds())
        return out

    def record(self, name: str, wall: float, cpu: float, audio: float) -> None:
        with self._lock:
            self.timings[name] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "audio_s": round(audio, 3),
                                  "audio_s_per_cpu_s": round(audio / cpu, 1) if cpu > 0 else float("inf")}


def resolve_recogniser(recogniser: Any) -> Any:
    """A recogniser object, or one loaded from a folder (None: the default)."""
    if recogniser is None or isinstance(recogniser, (str, os.PathLike)):
        return importlib.import_module("spokenemo.api.recogniser").load_recogniser(recogniser)
    if not hasattr(recogniser, "predict_proba") or not hasattr(recogniser, "labels"):
        raise SpokenemoError(f"{type(recogniser).__name__} is not a recogniser",
                             hint="pass an object with .labels and .predict_proba(signals, sr), or a recogniser folder")
    return recogniser


def batches(reader: AudioReader, spans: Sequence[tuple[float, float]], progress: Progress | None,
            stage: str) -> Any:
    """Lists of up to :data:`BATCH` segment signals, read from the recording."""
    for a in range(0, len(spans), BATCH):
        yield [reader.read(s, e) for s, e in spans[a:a + BATCH]]
        if progress:
            progress(stage, min(a + BATCH, len(spans)), len(spans))


def speaker_stage(reader: AudioReader, spans: list[tuple[float, float]], speakers: int | None, strict: bool,
                  progress: Progress | None) -> tuple[list[str], dict[str, Any]]:
    """Speaker of each segment (``S1``, ``S2``, ...) and how it was decided."""
    if speakers == 1:
        return ["S1"] * len(spans), {"n_speakers": 1, "estimated": None, "asked": 1, "method": "none (one speaker)"}
    try:
        encoder = SpeakerEncoder()
    except MissingDependencyError:
        if speakers is not None:
            raise
        return ["S1"] * len(spans), {"n_speakers": 1, "estimated": None, "asked": None,
                                     "method": "none: resemblyzer is not installed (pip install 'spokenemo[speakers]')"}
    emb = np.concatenate([encoder.embed(b) for b in batches(reader, spans, progress, "speakers")])
    found = cluster_speakers(emb, n_speakers=speakers, strict=strict)
    return found.labels, {"n_speakers": found.n_speakers, "estimated": found.estimated, "asked": speakers,
                          "method": "resemblyzer d-vectors, Ward clustering",
                          "closest_centroids": {str(k): round(v, 3) for k, v in found.closest.items()}}


class EmotionWork:
    """The recogniser over every segment, in batches that any number of threads can take in turn.

    A thread calls :meth:`help` and processes the next untaken batch until none is left, so the
    thread that finished speakers and cues joins the emotion work. Each segment is given ``pad``
    seconds of silence on both sides (see :data:`RECOGNISER_PAD`). ``cpu_s`` adds up the CPU time
    of every batch, in whichever thread it ran.
    """

    def __init__(self, model: Any, reader: AudioReader, spans: list[tuple[float, float]], pad: float,
                 progress: Progress | None) -> None:
        self.model, self.reader, self.spans, self.progress = model, reader, spans, progress
        self.two_phase = hasattr(model, "features") and hasattr(model, "probabilities_from_features")
        self.pad = max(0, round(pad * RATE))
        self.results: list[np.ndarray | None] = [None] * -(-len(spans) // BATCH)
        self.cpu_s, self._next, self._done = 0.0, 0, 0
        self._lock = threading.Lock()

    def _run(self, i: int) -> np.ndarray:
        signals = [self.reader.read(s, e) for s, e in self.spans[i * BATCH:(i + 1) * BATCH]]
        if self.pad:
            signals = [np.pad(x, (self.pad, self.pad)) for x in signals]
        if self.two_phase:
            return np.asarray(self.model.features(signals, RATE))
        return np.asarray(self.model.predict_proba(signals, sr=RATE), dtype=np.float64)

    def help(self) -> None:
        """Process batches until none is left."""
        while True:
            with self._lock:
                i, self._next = self._next, self._next + 1
            if i >= len(self.results):
                return
            cpu = time.thread_time()
            out = self._run(i)
            with self._lock:
                self.results[i] = out
                self.cpu_s += time.thread_time() - cpu
                self._done += len(out)
                done = self._done
            if self.progress:
                self.progress("emotion", done, len(self.spans))

    def rows(self) -> tuple[str, np.ndarray]:
        """``("features", rows)`` for a two-phase recogniser, else ``("probabilities", rows)``."""
        self.help()  # whatever is left
        return ("features" if self.two_phase else "probabilities"), np.concatenate(self.results)  # type: ignore[arg-type]


def emotion_stage(model: Any, reader: AudioReader, spans: list[tuple[float, float]],
                  progress: Progress | None, pad: float = 0.0) -> tuple[str, np.ndarray]:
    """:class:`EmotionWork` done by the calling thread alone."""
    return EmotionWork(model, reader, spans, pad, progress).rows()


def finish_probabilities(model: Any, emotion: tuple[str, np.ndarray], who: list[str]) -> np.ndarray:
    """Probabilities per segment, with each segment's speaker for a two-phase recogniser."""
    kind, rows = emotion
    if kind == "features":
        return np.asarray(model.probabilities_from_features(rows, who)[0], dtype=np.float64)
    return rows


def smooth_probabilities(probs: np.ndarray, who: Sequence[str], k: int) -> np.ndarray:
    """Each row averaged with up to ``k`` same-speaker neighbours each side, weights ``1 / (1 + distance)``."""
    if k <= 0:
        return probs
    out = np.empty_like(probs)
    by_speaker: dict[str, list[int]] = {}
    for i, s in enumerate(who):
        by_speaker.setdefault(s, []).append(i)
    for rows in by_speaker.values():
        for pos, i in enumerate(rows):
            lo, hi = max(0, pos - k), min(len(rows), pos + k + 1)
            w = 1.0 / (1.0 + np.abs(np.arange(lo, hi) - pos))
            out[i] = (w[:, None] * probs[rows[lo:hi]]).sum(axis=0) / w.sum()
    return out
