"""The Python API of spokenemo: one module to import.

>>> import spokenemo.api as se
>>> segments = se.prepare("ravdess", "data/ravdess")                  # doctest: +SKIP
>>> se.write_manifest("ravdess.jsonl", segments)                      # doctest: +SKIP
>>> folds = se.speaker_kfold(segments, k=5)                           # doctest: +SKIP
>>> se.extract_cues("clip.wav").pitch                                 # doctest: +SKIP
>>> se.recognise("clip.wav").label          # the shipped recogniser    # doctest: +SKIP
>>> se.explain_clip("clip.wav").explanation.text   # emotion, cue evidence, grounded why  # doctest: +SKIP
>>> se.timeline("call.mp3", speakers=2).summary()   # emotion over time, per speaker  # doctest: +SKIP
>>> se.explain("clip.wav").emotion          # with the default student   # doctest: +SKIP
>>> se.explain("silence.wav").no_speech_reason   # no student is loaded for it  # doctest: +SKIP
'silent'
>>> se.detect_speech_in_file("clip.wav").segments                      # doctest: +SKIP
>>> se.predict("runs/model", "ravdess.jsonl", folds="folds/", fold="fold1").metrics.ua   # doctest: +SKIP
>>> se.train("configs/aecotd-cpu.yaml", "runs/model", overrides=["data.fold=fold1"])      # doctest: +SKIP
>>> se.run_experiment("configs/ravdess-4class.yaml", "runs/ravdess", systems=["cue-lr"])  # doctest: +SKIP

Everything here is re-exported from the layers below (``core`` ... ``experiment``) or a thin
function over them; the apps (CLI, web page, demo) sit above this module. Importing it does not
import torch: the student's modules load when a function that needs them is called. Inputs are
checked before a model is loaded: :func:`explain` on a missing file and :func:`predict` on a bad
manifest fail at once, not after loading a student. Speech is checked before any model is
asked (:mod:`spokenemo.audio.speech`): :func:`explain` answers a silent, noisy or too short clip
with ``emotion=None`` and ``no_speech_reason`` without loading a student, and :func:`predict`
leaves such rows unpredicted and unscored. :func:`calibrate` fits a student's temperature on
validation rows (:mod:`spokenemo.protocols.calibration`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spokenemo.api.abhinaya import majority_vote, run_abhinaya_experiment, table_4_9_subsets, vote_results
from spokenemo.api.care import care_encoder, care_encoder_name, extract_care, pretrain_care
from spokenemo.api.clip import ClipExplanation, explain_clip
from spokenemo.api.convert import (
    convert,
    convert_pairs,
    default_converter_path,
    load_converter,
    read_pairs,
    train_converter,
)
from spokenemo.api.erc import load_erc_model, predict_erc, train_erc, write_erc
from spokenemo.api.evidence import (
    Baseline,
    Evidence,
    Faithfulness,
    check_faithfulness,
    evidence_for_spans,
    explain_evidence,
    measure_evidence,
    reference_baseline,
)
from spokenemo.api.evidence_files import faithfulness_of_file
from spokenemo.api.moe import fit_mister_e, load_mister_e
from spokenemo.api.moe_regimes import regime_table, run_regime, speech_dominant, text_dominant
from spokenemo.api.recogniser import (
    ClipAnswer,
    Recogniser,
    Recognition,
    default_recogniser_path,
    load_recogniser,
    recognise,
    train_recogniser,
)
from spokenemo.api.silver import (
    label_silver,
    silver_agreement,
    silver_labels,
    silver_pool,
    train_silver_encoder,
)
from spokenemo.api.timeline import NoSpeechError, Timeline, TimelineSegment, timeline
from spokenemo.api.timeline_score import score_timeline
from spokenemo.audio import AudioInfo, audio_info, load_audio
from spokenemo.audio.speech import MIN_SPEECH_SECONDS, SpeechReport, detect_speech, detect_speech_in_file
from spokenemo.core.config import parse_override
from spokenemo.core.errors import SpokenemoError
from spokenemo.data import (
    Conversation,
    Recording,
    Segment,
    available_corpora,
    conversations,
    prepare,
    read_manifest,
    write_manifest,
)
from spokenemo.experiment import ExperimentResult, RunOptions
from spokenemo.experiment import load_config as load_experiment_config
from spokenemo.experiment import run_experiment as _run_experiment
from spokenemo.features.cues import CueExtractionConfig, Thresholds, render_cue_text
from spokenemo.features.cues import extract_file as extract_cues
from spokenemo.features.cues import extract_manifest as extract_cue_table
from spokenemo.protocols import (
    Fold,
    apply_label_set,
    build_folds,
    compute_metrics,
    cross_corpus,
    dialogue_kfold,
    get_label_set,
    leave_one_session_out,
    leave_one_speaker_out,
    official_split,
    read_folds,
    speaker_kfold,
    summarize,
    write_folds,
)
from spokenemo.protocols.calibration import (
    UNCERTAIN_MARGIN,
    Calibration,
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    reliability_table,
    uncertain_between,
)
from spokenemo.systems import aecotd
from spokenemo.systems.aecotd.answer import Explanation
from spokenemo.systems.aecotd.config import StudentConfig, config_from_dict
from spokenemo.systems.aecotd.config import load_config as load_student_config
from spokenemo.systems.aecotd.cuetext import CueTable, read_cue_table
from spokenemo.systems.aecotd.default_model import default_model_path, find_default_model
from spokenemo.systems.aecotd.model_dir import StudentInfo, read_info
from spokenemo.systems.aecotd.targets import (
    SpeakerReference,
    Targets,
    check_audio,
    read_targets,
    reference_files,
)
from spokenemo.systems.aecotd.training_data import read_key_list

if TYPE_CHECKING:  # the student's modules import torch: for annotations only
    from spokenemo.systems.aecotd.manifest_prediction import ManifestPrediction
    from spokenemo.systems.aecotd.prediction import Student

__all__ = [
    "Baseline", "ClipAnswer", "ClipExplanation", "Evidence", "Faithfulness", "Recogniser", "Recognition",
    "check_faithfulness", "default_recogniser_path", "evidence_for_spans", "explain_clip", "explain_evidence",
    "faithfulness_of_file", "load_recogniser", "measure_evidence", "recognise", "reference_baseline",
    "train_recogniser", "care_encoder", "care_encoder_name", "extract_care", "pretrain_care", "label_silver", "silver_agreement",
    "silver_labels", "silver_pool", "train_silver_encoder", "NoSpeechError", "Timeline", "TimelineSegment", "timeline", "score_timeline",
    "MIN_SPEECH_SECONDS", "UNCERTAIN_MARGIN",
    "train_erc", "predict_erc", "load_erc_model", "write_erc", "fit_mister_e", "load_mister_e", "regime_table",
    "run_regime", "speech_dominant", "text_dominant", "majority_vote", "run_abhinaya_experiment",
    "table_4_9_subsets", "vote_results", "convert", "convert_pairs", "default_converter_path", "load_converter",
    "read_pairs", "train_converter",
    "AudioInfo", "Calibration", "Conversation", "CueExtractionConfig", "CueTable", "ExperimentResult",
    "Explanation", "Fold", "Recording", "RunOptions", "Segment", "SpeakerReference", "SpeechReport",
    "SpokenemoError", "StudentConfig", "StudentInfo", "Targets", "Thresholds", "apply_label_set",
    "apply_temperature", "audio_info", "available_corpora", "build_folds", "calibrate", "check_audio",
    "check_model", "check_speech", "compute_metrics", "conversations", "cross_corpus", "default_model",
    "detect_speech", "detect_speech_in_file", "dialogue_kfold", "expected_calibration_error",
    "explain", "export_model", "extract_cue_table", "extract_cues", "find_default_model", "fit_temperature",
    "get_label_set",
    "leave_one_session_out", "leave_one_speaker_out", "load_audio", "load_experiment_config", "load_student",
    "load_student_config", "official_split", "parse_override", "predict", "prepare", "read_cue_table",
    "read_folds", "read_key_list",
    "read_manifest", "read_targets", "reference_files", "reference_minimum", "reliability_table",
    "render_cue_text", "run_experiment", "speaker_kfold", "speaker_reference", "summarize", "train",
    "uncertain_between", "uses_speaker_medians", "write_folds", "write_manifest",
]

def default_model() -> Path:
    """The default student folder: ``$SPOKENEMO_MODEL``, else the checkout's ``models/spokenemo-default``.

    Raises
    ------
    ModelNotFoundError
        Neither exists; the hint says how to get one.
    """
    return default_model_path()


def _is_loaded(model: Any) -> bool:
    return model is not None and not isinstance(model, (str, PathLike))


def check_model(model: str | PathLike[str] | None = None) -> StudentInfo:
    """What a student folder (default: :func:`default_model`) holds, read without loading it.

    Raises
    ------
    ModelNotFoundError
        The folder is missing or not a complete student.
    """
    return read_info(default_model_path() if model is None else Path(model))


def load_student(model: str | PathLike[str] | None = None, *, base_model: str | None = None,
                 device: str = "auto", precision: str = "fp32") -> Student:
    """Load a student model folder (default: :func:`default_model`); see
    :func:`spokenemo.systems.aecotd.prediction.load_student`."""
    folder = default_model_path() if model is None else Path(model)
    read_info(folder)  # a wrong folder is reported before torch is imported
    return aecotd.load_student(folder, base_model=base_model, device=device, precision=precision)


def _student(model: Any, base_model: str | None, precision: str = "fp32") -> Student:
    return model if _is_loaded(model) else load_student(model, base_model=base_model, precision=precision)


def speaker_reference(student: Student, paths: Sequence[str | PathLike[str]]) -> SpeakerReference:
    """Cues of other clips of one speaker (files or folders), for a speaker-relative student."""
    return aecotd.speaker_reference(student, paths)


def uses_speaker_medians(student: Student) -> bool:
    """Whether the student words cues against each speaker's own medians (then give a reference)."""
    return aecotd.uses_speaker_medians(student)


def reference_minimum(student: Student) -> int:
    """How many readable clips a speaker reference needs (0 for a student without speaker medians)."""
    return aecotd.reference_minimum(student)


def check_speech(file: str | PathLike[str], *, start: float | None = None, end: float | None = None,
                 min_speech_seconds: float = MIN_SPEECH_SECONDS, vad: str = "auto") -> SpeechReport | None:
    """Whether ``file`` (or its ``start``-``end`` segment) holds speech; None when ``min_speech_seconds <= 0``.

    See :mod:`spokenemo.audio.speech` for the rule and the reasons.

    Raises
    ------
    AudioError
        The file is missing or not audio.
    """
    check_audio(file)
    if min_speech_seconds <= 0:
        return None
    return detect_speech_in_file(file, start=start, end=end, min_speech_seconds=min_speech_seconds, backend=vad)


def explain(file: str | PathLike[str], model: str | PathLike[str] | Student | None = None, *,
            reference: SpeakerReference | str | PathLike[str] | Sequence[str | PathLike[str]] | None = None,
            text: str | None = None, asr: str = "auto", asr_model: str | PathLike[str] | None = None,
            start: float | None = None, end: float | None = None, max_new_tokens: int = 160,
            base_model: str | None = None, min_speech_seconds: float = MIN_SPEECH_SECONDS, vad: str = "auto",
            uncertain_margin: float = UNCERTAIN_MARGIN) -> Explanation:
    """Which emotion ``file`` expresses, how sure the student is, from which cues, and why; or "no speech".

    Parameters
    ----------
    file : path
        An audio file; it is checked before the student is loaded.
    model : path or Student, optional
        A student folder, a loaded student, or None for :func:`default_model`.
    reference : SpeakerReference, path or paths, optional
        Other clips (files or folders) of the same speaker, for a speaker-relative student; they
        are found (and a folder without audio refused) before the student is loaded.
    text, asr, asr_model, start, end, max_new_tokens :
        See :func:`spokenemo.systems.aecotd.explanation.explain`.
    base_model : str, optional
        Use this base model instead of the recorded one (when ``model`` is a folder).
    min_speech_seconds, vad :
        The speech check (:func:`check_speech`); 0 skips it. Without enough speech the answer
        has ``emotion=None`` and ``no_speech_reason``, and no student is loaded or asked.
    uncertain_margin : float
        Top-two probabilities closer than this set ``Explanation.uncertain_between``.

    Raises
    ------
    AudioError
        ``file`` is missing or not audio (before any model is loaded).
    ModelNotFoundError
        ``model`` (or the default) is not a student folder (checked before the speech).
    """
    check_audio(file)
    if isinstance(reference, (str, PathLike)):
        reference = [reference]
    clips = None if reference is None or isinstance(reference, SpeakerReference) else reference_files(reference)
    if not _is_loaded(model):
        check_model(model)
    speech = check_speech(file, start=start, end=end, min_speech_seconds=min_speech_seconds, vad=vad)
    if speech is not None and not speech.is_speech:
        return Explanation.without_speech(speech)
    student = _student(model, base_model)
    if clips is not None:
        reference = aecotd.speaker_reference(student, clips)
    return aecotd.explain(student, file, text, asr=asr, asr_model=asr_model, start=start, end=end,
                          max_new_tokens=max_new_tokens, reference=reference, speech=speech,
                          min_speech_seconds=min_speech_seconds, vad=vad, uncertain_margin=uncertain_margin)


def predict(model: str | PathLike[str] | Student | None, manifest: str | PathLike[str] | Sequence[Segment] | Targets,
            *, cues: str | PathLike[str] | CueTable | None = None, keys: Sequence[str] | None = None,
            folds: str | PathLike[str] | None = None, fold: str | None = None, part: str = "test",
            base_model: str | None = None, precision: str = "fp32", **options: Any) -> ManifestPrediction:
    """Predict the emotions of a manifest (or of a fold's part of it) and score the labelled rows.

    The manifest, the key selection and the cue table are read and checked before the student
    is loaded. ``options`` go to :func:`spokenemo.systems.aecotd.manifest_prediction.predict_manifest`
    (``out``, ``mode``, ``explain``, ``batch_size``, ``asr``, ``progress``, ``min_speech_seconds``,
    ``vad``, ...). Rows without a label are predicted and left out of the metrics
    (``report["unlabelled"]`` counts them). Rows without enough speech are not predicted, not
    scored, and counted (``report["no_speech"]``, ``result.no_speech``).
    """
    source = Path(manifest) if isinstance(manifest, (str, PathLike)) else manifest
    targets = read_targets(source, keys=keys, folds=folds, fold=fold, part=part)
    table = read_cue_table(cues) if cues is not None and not isinstance(cues, CueTable) else cues
    student = _student(model, base_model, precision)
    return aecotd.predict_manifest(student, targets, cues=table, **options)


def calibrate(model: str | PathLike[str] | Student | None, manifest: str | PathLike[str] | Sequence[Segment] | Targets,
              *, folds: str | PathLike[str] | None = None, fold: str | None = None, part: str = "valid",
              cues: str | PathLike[str] | CueTable | None = None, keys: Sequence[str] | None = None,
              base_model: str | None = None, write: bool = True, **options: Any) -> Calibration:
    """Fit a student's temperature on labelled validation rows; ``write`` saves it with the model.

    The manifest is checked before the student is loaded. Afterwards :func:`explain` and
    :func:`predict` with that model folder report temperature-scaled probabilities. ``options``
    go to :func:`spokenemo.systems.aecotd.manifest_prediction.calibrate_student`.
    """
    source = Path(manifest) if isinstance(manifest, (str, PathLike)) else manifest
    targets = read_targets(source, keys=keys, folds=folds, fold=fold, part=part)
    table = read_cue_table(cues) if cues is not None and not isinstance(cues, CueTable) else cues
    student = _student(model, base_model)
    fit = importlib.import_module("spokenemo.systems.aecotd.manifest_prediction").calibrate_student
    # the rows are selected already: fold and part are recorded with the temperature
    return fit(student, targets, cues=table, fold=fold, part=part, write=write, **options)


def train(config: str | PathLike[str] | Mapping[str, Any] | StudentConfig, out: str | PathLike[str], *,
          overrides: Sequence[str] | Mapping[str, Any] | None = None, **options: Any) -> Path:
    """Train an AECoTD student as ``config`` says (a YAML path, a mapping or a StudentConfig) into ``out``.

    ``overrides`` are ``KEY=VALUE`` strings or a ``{dotted: value}`` mapping; ``options`` go to
    :func:`spokenemo.systems.aecotd.training.train` (``resume``, ``stop_after_steps``, ``on_log``,
    ``data``). Returns the model folder.
    """
    sets = dict(overrides) if isinstance(overrides, Mapping) else list(overrides or [])
    if isinstance(config, StudentConfig):
        cfg = config_from_dict(config.model_dump(mode="json"), overrides=sets) if sets else config
    elif isinstance(config, Mapping):
        cfg = config_from_dict(dict(config), overrides=sets)
    else:
        cfg = load_student_config(Path(config), overrides=sets)
    return aecotd.train(cfg, Path(out), **options)


def export_model(src: str | PathLike[str], dst: str | PathLike[str], *, dtype: str = "float16") -> Path:
    """A slim, shippable copy of a trained student folder (float16 adapter, no checkpoints)."""
    return aecotd.export_model_dir(Path(src), Path(dst), dtype=dtype)


def run_experiment(config: str | PathLike[str], out: str | PathLike[str], *, options: RunOptions | None = None,
                   **choices: Any) -> ExperimentResult:
    """Run an experiment YAML into ``out`` (finished folds are resumed) and write its report.

    ``choices`` build :class:`~spokenemo.experiment.RunOptions` when ``options`` is not given
    (``systems=["cue-lr"]``, ``folds=["fold1"]``, ``seeds=[0]``, ``ablations=True``, ...).
    """
    return _run_experiment(Path(config), Path(out), options if options is not None else RunOptions(**choices))
