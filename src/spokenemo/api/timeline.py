"""Emotion over time in a long recording: ``timeline(path) -> Timeline``.

>>> from spokenemo.api.timeline import timeline
>>> tl = timeline("interview.mp4", speakers=2)                  # doctest: +SKIP
>>> tl.segments[0].speaker, tl.segments[0].emotion              # doctest: +SKIP
('S1', 'neutral')
>>> tl.summary()["share"]["S2"]                                 # doctest: +SKIP
{'angry': 0.12, 'happy': 0.31, 'neutral': 0.45, 'sad': 0.12}
>>> tl.write("interview.vtt")                                   # doctest: +SKIP

The stages, each timed (wall and CPU seconds in :attr:`Timeline.timings`); after the VAD, the
emotion stage runs beside the speaker and cue stages in two threads
(:mod:`spokenemo.api.timeline_stages`):

1. **decode + VAD**: the file is decoded in blocks (:mod:`spokenemo.audio.stream`; memory bounded,
   any format the audio layer reads, video included) while Silero VAD runs on each block
   (:mod:`spokenemo.audio.segmentation`); segments are merged/split into ``[min_len, max_len]``.
   No speech at all is a :class:`NoSpeechError`, never an emotion.
2. **speakers** (optional): Resemblyzer d-vectors per segment, clustered
   (:mod:`spokenemo.models.speakers`); ``speakers=N`` fixes the count, ``None`` estimates it,
   ``1`` skips the step.
3. **emotion**: the recogniser (default: the shipped one, :func:`spokenemo.api.recogniser.load_recogniser`)
   gives class probabilities per segment, each padded with ``pad`` seconds of silence (its
   training clips had about 1 s around the speech); a recogniser that offers ``features`` and
   ``probabilities_from_features`` gets every segment's speaker, so it can normalise each speaker
   with their own statistics. ``smooth=k`` averages each segment's probabilities with up to ``k``
   neighbouring segments of the same speaker on each side (weights ``1 / (1 + distance)``).
4. **explanations**: per segment, the cues measured **against the same speaker's other segments**
   in the recording (:mod:`spokenemo.api.timeline_explain`); ``explainer=False`` skips them.
"""

from __future__ import annotations

import importlib
import inspect
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from spokenemo.api.timeline_explain import Explainer, default_explainer, explain_segments
from spokenemo.api.timeline_outputs import FORMATS, write_timeline
from spokenemo.api.timeline_result import TimelineData, TimelineSegment
from spokenemo.api.timeline_stages import (
    RECOGNISER_PAD,
    EmotionWork,
    Progress,
    Stages,
    finish_probabilities,
    resolve_recogniser,
    smooth_probabilities,
    speaker_stage,
)
from spokenemo.audio.segmentation import (
    DEFAULT_MAX_GAP,
    DEFAULT_MAX_LEN,
    DEFAULT_MIN_LEN,
    check_lengths,
    segment_speech,
)
from spokenemo.audio.speech import MIN_SPEECH_SECONDS
from spokenemo.audio.stream import AudioReader
from spokenemo.core.errors import AudioError, SpokenemoError

__all__ = ["NoSpeechError", "RecogniserLike", "Timeline", "TimelineData", "TimelineSegment", "timeline"]



class NoSpeechError(AudioError):
    """The recording holds no speech (or too little): no emotion is given for it."""


class RecogniserLike(Protocol):
    """What :func:`timeline` needs of a recogniser."""

    labels: list[str]

    def predict_proba(self, signals: list[np.ndarray], sr: int = 16000) -> np.ndarray: ...


class Timeline(TimelineData):
    """The result of :func:`timeline`: the data (:class:`TimelineData`), files and a figure."""

    def write(self, path: str | Path, format: str | None = None) -> Path:
        """Write as ``json``, ``csv``, ``vtt`` or ``srt`` (default: from the suffix)."""
        return write_timeline(self, path, format)

    def plot(self, path: str | Path | None = None) -> Any:
        """The timeline figure (saved to ``path`` when given); see :mod:`spokenemo.api.timeline_plot`."""
        return importlib.import_module("spokenemo.api.timeline_plot").plot_timeline(self, path)



def _no_speech(path: Path, probs: np.ndarray, backend: str, duration: float) -> NoSpeechError:
    peak = float(probs.max()) if probs.size else 0.0
    return NoSpeechError(path, f"no speech found in {duration:.1f} s (speech probability at most {peak:.2f}, "
                         f"detector {backend}): no emotion can be given",
                         hint="check that the file holds speech and that the right audio track is used")


def _after_vad(model: Any, reader: AudioReader, spans: list[tuple[float, float]], explainer: Any,
               speakers: int | None, strict: bool, workers: int, pad: float, stages: Stages,
               progress: Progress | None) -> tuple[np.ndarray, list[str], dict[str, Any], Any]:
    """Emotion beside speakers-then-cues-then-emotion (see :mod:`spokenemo.api.timeline_stages`)."""
    speech = float(sum(e - s for s, e in spans))
    measure = explainer if hasattr(explainer, "measure_all") else None
    if inspect.ismethod(getattr(model, "encoder", None)):
        model.encoder()  # build a lazily loaded encoder once, before two threads want it
    work = EmotionWork(model, reader, spans, pad, progress)

    def speakers_then_cues() -> Any:
        who, info = stages.run("speakers", lambda: speech,
                               lambda: speaker_stage(reader, spans, speakers, strict, progress))
        measures = None if measure is None else stages.run(
            "explain", lambda: speech, lambda: measure.measure_all(reader, spans, progress))
        if workers > 1:
            work.help()
        return who, info, measures

    wall = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="timeline") as pool:
        helper = pool.submit(work.help) if workers > 1 else None
        who, info, measures = pool.submit(speakers_then_cues).result()
        if helper is not None:
            helper.result()
    rows = work.rows()
    stages.record("emotion", time.perf_counter() - wall, work.cpu_s, speech)
    return finish_probabilities(model, rows, who), who, info, measures


def timeline(path: str | Path, *, recogniser: Any = None, explainer: Explainer | bool | None = None,
             speakers: int | None = None, min_len: float = DEFAULT_MIN_LEN, max_len: float = DEFAULT_MAX_LEN,
             max_gap: float = DEFAULT_MAX_GAP, smooth: int = 0, vad: str = "auto", strict_speakers: bool = False,
             workers: int = 2, pad: float = RECOGNISER_PAD, progress: Progress | None = None,
             workdir: str | Path | None = None) -> Timeline:
    """Emotion over time in a recording (see the module docstring).

    Parameters
    ----------
    path : str or Path
        Any audio or video file the audio layer reads.
    recogniser : object, folder or None
        ``.labels`` and ``.predict_proba(signals, sr)``; a folder or None loads one.
    explainer : callable, False or None
        ``(signal, speaker's other segments, probabilities) -> dict``; None: the default (cue
        evidence against the speaker's other segments); False: no explanations.
    speakers : int or None
        Speakers to find (None: estimate; 1: no speaker step).
    min_len, max_len, max_gap : float
        Segment length range and the longest pause a merge bridges (seconds).
    smooth : int
        Same-speaker neighbours each side averaged into each segment's probabilities.
    vad : str
        Speech detector backend (``"auto"``: Silero when installed).
    strict_speakers : bool
        Raise instead of warn when fewer voices are found than ``speakers``.
    pad : float
        Seconds of silence put around each segment for the recogniser (its training clips had about 1 s).
    workers : int
        Threads after the VAD (2: emotion beside speakers and cues; 1: one after the other).
    progress : callable, optional
        ``progress(stage, done, total)``; stage ``"decode+vad"`` counts seconds, the others segments.

    Raises
    ------
    AudioError
        The file cannot be read. :class:`NoSpeechError`: it holds no speech.
    SpeakerCountError
        ``strict_speakers`` and fewer voices than ``speakers``.
    """
    check_lengths(min_len, max_len, max_gap)
    if smooth < 0 or pad < 0:
        raise SpokenemoError(f"smooth and pad must be >= 0, got smooth={smooth}, pad={pad}")
    model = resolve_recogniser(recogniser)
    chosen = None if explainer is False else (explainer if callable(explainer) else default_explainer())
    stages, wall = Stages(), time.perf_counter()
    with AudioReader(path, workdir=workdir) as reader:
        def on_block(block: Any) -> None:
            if progress:
                progress("decode+vad", block.end_s, float("nan"))

        spans, track, backend = stages.run("decode+vad", lambda: reader.duration, lambda: segment_speech(
            reader.blocks(), min_len=min_len, max_len=max_len, max_gap=max_gap, backend=vad, on_block=on_block))
        spans = [(s, min(e, reader.duration)) for s, e in spans if s < reader.duration]
        if sum(e - s for s, e in spans) < MIN_SPEECH_SECONDS:
            raise _no_speech(reader.path, track, backend, reader.duration)
        probs, who, info, measures = _after_vad(model, reader, spans, chosen, speakers, strict_speakers, workers,
                                                pad, stages, progress)
        probs = smooth_probabilities(probs, who, smooth)
        labels = list(model.labels)
        segments = [TimelineSegment(s, e, spk, labels[int(np.argmax(p))], dict(zip(labels, map(float, p), strict=True)))
                    for (s, e), spk, p in zip(spans, who, probs, strict=True)]
        if measures is not None:
            chosen.finish(segments, measures)  # type: ignore[union-attr]
        elif chosen is not None:
            speech = float(sum(e - s for s, e in spans))
            stages.run("explain", lambda: speech, lambda: explain_segments(reader, segments, chosen, progress))
        duration = reader.duration
    stages.timings["total"] = {"wall_s": round(time.perf_counter() - wall, 3), "audio_s": round(duration, 3)}
    settings = {"min_len": min_len, "max_len": max_len, "max_gap": max_gap, "smooth": smooth, "vad": backend,
                "speakers": speakers, "workers": workers, "pad": pad,
                "recogniser": str(getattr(model, "folder", None) or type(model).__name__)}
    return Timeline(str(path), duration, labels, segments, track, backend, info, settings, stages.timings)


__all__ += ["FORMATS", "smooth_probabilities"]
