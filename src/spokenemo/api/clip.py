"""One clip from file to answer: emotion (the recogniser), evidence and a grounded "why", transcript.

>>> from spokenemo.api.clip import explain_clip
>>> result = explain_clip("clip.wav")                                   # doctest: +SKIP
>>> result.label, result.probabilities, result.explanation.text         # doctest: +SKIP
>>> result.to_dict()["evidence"]["baseline"]                            # doctest: +SKIP

The steps, each stated in the answer:

1. speech check (:mod:`spokenemo.audio.speech`): without enough speech, no emotion and the reason;
2. the recogniser (:mod:`spokenemo.api.recogniser`): label and calibrated probabilities;
3. cue evidence (:mod:`spokenemo.api.evidence`) against the stated baseline: the speaker's
   ``reference`` clips when given, else the training medians (the answer says which);
4. the grounded explanation: every sentence true of the measured cues by construction, the cues
   that support and oppose the emotion, the runner-up;
5. the transcript, only where the ASR model covers the language heard
   (:mod:`spokenemo.models.language`); ``asr="none"`` skips it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from spokenemo.api.evidence import explain_evidence, measure_evidence, reference_baseline
from spokenemo.api.recogniser import ClipAnswer, recognise
from spokenemo.audio import load_audio
from spokenemo.audio.speech import MIN_SPEECH_SECONDS
from spokenemo.features.evidence import Evidence, Explanation
from spokenemo.models.language import Transcript, transcribe_checked
from spokenemo.protocols.calibration import UNCERTAIN_MARGIN
from spokenemo.systems.ser.recogniser import Recogniser

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class ClipExplanation:
    """The recogniser's answer for one clip with its evidence, explanation and transcript."""

    answer: ClipAnswer
    evidence: Evidence | None
    explanation: Explanation | None
    transcript: Transcript | None

    @property
    def label(self) -> str | None:
        return self.answer.label

    @property
    def probabilities(self) -> dict[str, float]:
        return self.answer.probabilities

    @property
    def no_speech_reason(self) -> str | None:
        return self.answer.no_speech_reason

    def to_dict(self) -> dict[str, Any]:
        out = self.answer.to_dict()
        out["explanation"] = None if self.explanation is None else self.explanation.to_dict()
        out["evidence"] = out["explanation"].pop("evidence") if out["explanation"] else (
            None if self.evidence is None else self.evidence.to_dict())
        out["transcript"] = None if self.transcript is None else self.transcript.to_dict()
        return out


def explain_clip(file: str | PathLike[str], *, recogniser: str | PathLike[str] | Recogniser | None = None,
                 reference: str | PathLike[str] | Sequence[str | PathLike[str]] | None = None,
                 text: str | None = None, asr: str = "auto", asr_model: str | PathLike[str] | None = None,
                 start: float | None = None, end: float | None = None,
                 min_speech_seconds: float = MIN_SPEECH_SECONDS, vad: str = "auto",
                 margin: float = UNCERTAIN_MARGIN) -> ClipExplanation:
    """Which emotion ``file`` (or its ``start``-``end`` span) expresses, and why (module docstring).

    Raises
    ------
    AudioError
        The file (or a reference clip) is missing or not audio.
    ModelNotFoundError
        No recogniser folder (the default or ``recogniser``).
    """
    wave = load_audio(file, sr=SAMPLE_RATE, start=start, end=end)
    answer = recognise(wave, recogniser=recogniser, min_speech_seconds=min_speech_seconds, vad=vad, margin=margin)
    answer = ClipAnswer(str(file), *[getattr(answer, f) for f in ("label", "probabilities", "normalisation",
                                                                   "uncertain_between", "speech")])
    if answer.label is None:
        return ClipExplanation(answer, None, None, None)
    baseline = "training" if reference is None else reference_baseline(reference, exclude=file)
    evidence = measure_evidence(wave, sr=SAMPLE_RATE, baseline=baseline)
    explanation = explain_evidence(evidence, answer.probabilities, emotion=answer.label)
    if text is not None:
        heard = Transcript(text, "given")
    else:
        heard = transcribe_checked(wave, backend=asr, model_path=None if asr_model is None else str(Path(asr_model)))
    return ClipExplanation(answer, evidence, explanation, heard)
