"""The answer for one clip (:class:`Explanation`): an emotion, or "no speech" and why.

A light module (no torch), so that :mod:`spokenemo.api` can answer "no speech" for a silent or
noisy clip without loading a student. The student's :func:`~spokenemo.systems.aecotd.explanation.explain`
fills the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spokenemo.audio.speech import SpeechReport
from spokenemo.systems.aecotd.targets import TRAINING_MEDIANS

__all__ = ["Explanation"]


@dataclass
class Explanation:
    """The student's answer for one clip, or why there is none.

    Attributes
    ----------
    emotion : str or None
        Predicted label; None when the clip holds no speech (then ``no_speech_reason`` says why
        and the student was not asked).
    probabilities : dict
        Label -> probability (label scoring; temperature-scaled when the model folder has a
        ``calibration.json``); empty without speech.
    transcript : str
        Given or recognised text.
    transcript_source : str
        ``"given"``, the ASR backend name, or ``"none"`` (no speech).
    cues : dict
        Raw cue values (pitch in Hz, intensity in dBFS, rates in syll/s, segment lists).
    cue_text : str
        The cue text the student read.
    explanation : str or None
        The generated chain of thought (None for students trained without one).
    relative_to : str
        What the cue words compare with: the speaker's reference clips or the training medians.
    no_speech_reason : str or None
        ``"too short"``, ``"silent"``, ``"no speech detected"`` or ``"too little speech"``
        (:mod:`spokenemo.audio.speech`); None when there is an emotion.
    speech : SpeechReport or None
        The speech check (None when it was skipped).
    uncertain_between : (str, str) or None
        The top two labels when their probabilities differ by less than the margin
        (:data:`spokenemo.protocols.calibration.UNCERTAIN_MARGIN`).
    temperature : float or None
        The calibration temperature applied to the probabilities (None: raw probabilities).
    """

    emotion: str | None
    probabilities: dict[str, float]
    transcript: str
    transcript_source: str
    cues: dict[str, Any] = field(default_factory=dict)
    cue_text: str = ""
    explanation: str | None = None
    relative_to: str = TRAINING_MEDIANS
    no_speech_reason: str | None = None
    speech: SpeechReport | None = None
    uncertain_between: tuple[str, str] | None = None
    temperature: float | None = None

    @classmethod
    def without_speech(cls, report: SpeechReport) -> Explanation:
        """The answer for a clip that holds no speech: no emotion, the reason instead."""
        return cls(emotion=None, probabilities={}, transcript="", transcript_source="none",
                   no_speech_reason=report.reason, speech=report)

    @property
    def is_speech(self) -> bool:
        return self.no_speech_reason is None

    @property
    def uncertain(self) -> bool:
        return self.uncertain_between is not None

    @property
    def verdict(self) -> str:
        """One line: ``"angry"``, ``"uncertain between happy and neutral"`` or ``"no speech: silent (...)"``."""
        if self.speech is not None and not self.speech.is_speech:
            return self.speech.message
        if self.no_speech_reason is not None:
            return f"no speech: {self.no_speech_reason}"
        if self.uncertain_between is not None:
            return "uncertain between {} and {}".format(*self.uncertain_between)
        return str(self.emotion)

    def to_json(self) -> dict[str, Any]:
        return {"emotion": self.emotion, "probabilities": self.probabilities, "transcript": self.transcript,
                "transcript_source": self.transcript_source, "cues": self.cues, "cue_text": self.cue_text,
                "explanation": self.explanation, "relative_to": self.relative_to,
                "no_speech_reason": self.no_speech_reason,
                "speech": self.speech.to_json() if self.speech is not None else None,
                "uncertain_between": list(self.uncertain_between) if self.uncertain_between else None,
                "temperature": self.temperature}
