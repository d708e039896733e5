"""``explain(student, wav)``: which emotion, how sure, from which cues, and why.

>>> student = load_student("runs/ravdess-fold1")                  # doctest: +SKIP
>>> e = explain(student, "clip.wav", text="Kids are talking by the door")  # doctest: +SKIP
>>> e.emotion, e.probabilities, e.cue_text, e.explanation         # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cuetext import cues_of_file, render
from .inference import student_cue_settings
from .inputs import StudentInput
from .prediction import Student, predict


@dataclass
class Explanation:
    """The student's answer for one clip.

    Attributes
    ----------
    emotion : str
        Predicted label.
    probabilities : dict
        Label -> probability (label scoring).
    transcript : str
        Given or recognised text.
    transcript_source : str
        ``"given"`` or the ASR backend name.
    cues : dict
        Raw cue values (pitch in Hz, intensity in dBFS, rates in syll/s, segment lists).
    cue_text : str
        The cue text the student read.
    explanation : str or None
        The generated chain of thought (None for students trained without one).
    """

    emotion: str
    probabilities: dict[str, float]
    transcript: str
    transcript_source: str
    cues: dict[str, Any] = field(default_factory=dict)
    cue_text: str = ""
    explanation: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"emotion": self.emotion, "probabilities": self.probabilities, "transcript": self.transcript,
                "transcript_source": self.transcript_source, "cues": self.cues, "cue_text": self.cue_text,
                "explanation": self.explanation}


def explain(student: Student, wav_path: str | Path, text: str | None = None, *, asr: str = "auto",
            asr_model: str | Path | None = None, start: float | None = None, end: float | None = None,
            max_new_tokens: int = 160) -> Explanation:
    """Predict and explain the emotion of one audio file.

    Parameters
    ----------
    student : Student
        From :func:`spokenemo.aecotd.prediction.load_student`.
    wav_path : path
        Any audio file :func:`spokenemo.audio.load_audio` reads.
    text : str, optional
        The transcript; without it, an ASR backend transcribes the clip.
    asr, asr_model : see :func:`spokenemo.asr.get_transcriber`.
    start, end : float, optional
        Segment of the file in seconds.
    max_new_tokens : int
        Bound on the explanation's length.

    Raises
    ------
    AudioError
        The file cannot be read (missing, not audio, empty, too short).
    """
    from ..audio import load_audio

    samples = load_audio(wav_path, start=start, end=end, sr=16000)
    source = "given"
    if text is None:
        from ..asr import resolve_backend, transcribe

        text, source = transcribe(samples, backend=asr, model_path=asr_model), resolve_backend(asr, asr_model)
    cfg, thresholds, extraction = student_cue_settings(student)
    raw: dict[str, Any] = {}
    cue_text = ""
    if thresholds is not None:
        cues = cues_of_file(wav_path, extraction, start=start, end=end)
        raw = cues.to_row()
        cue_text = render(cues, thresholds, cfg)
    pred = predict(student, [StudentInput(key=str(wav_path), transcript=text, cue_text=cue_text)],
                   explain=student.cot, max_new_tokens=max_new_tokens)[0]
    return Explanation(emotion=str(pred.predicted), probabilities=pred.probabilities, transcript=text,
                       transcript_source=source, cues=raw, cue_text=cue_text, explanation=pred.explanation)
