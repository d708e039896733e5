"""Using a trained student: load it, predict labels (with probabilities), explain them.

>>> student = load_student("runs/ravdess-fold1")                       # doctest: +SKIP
>>> preds = predict(student, [StudentInput("u1", "Kids are talking by the door", cue_text)])  # doctest: +SKIP
>>> preds[0].predicted, preds[0].probabilities                          # doctest: +SKIP

Two ways to get the label:

- ``mode="score"`` (default): every candidate label is scored after the prompt in one
  batched forward pass (:func:`spokenemo.systems.aecotd.scoring.score_candidates`), the prediction is
  the most likely one and the probabilities are the softmax of the scores over the label set.
  With ``explain=True`` the explanation is then generated greedily after ``label<think>``.
- ``mode="generate"``: free greedy generation of ``label<think>...``, parsed back
  (:func:`~spokenemo.systems.aecotd.scoring.parse_generation`); an output that does not start with a
  known label is counted as invalid. Used for the parity check against scoring.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from peft import PeftModel
from transformers import AutoTokenizer

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.models.causal_lm import load_base_model, load_tokenizer, pick_device, quiet_peft, use_bf16
from spokenemo.systems.aecotd.inputs import StudentInput, render_prompt_messages, template_from_record
from spokenemo.systems.aecotd.model_dir import (
    ADAPTER_DIR,
    PROMPT_FILE,
    THRESHOLDS_FILE,
    TOKENIZER_DIR,
    StudentInfo,
    read_info,
    read_json,
)
from spokenemo.systems.aecotd.scoring import generate, parse_generation, score_candidates
from spokenemo.systems.aecotd.tokens import THINK_CLOSE, THINK_OPEN, encode_head, end_of_turn_ids, prompt_ids

INVALID = "(invalid)"


@dataclass
class Student:
    """A loaded student: model (adapter merged), tokenizer, label heads, prompt template, thresholds.

    Attributes
    ----------
    model, tokenizer : transformers objects
    info : StudentInfo
        The model directory's ``student.json``.
    model_dir : Path
    template : prompt template
        Renders ``(transcript, cue text)`` into chat messages.
    thresholds : dict
        Cue thresholds fitted at training time (JSON form).
    device : torch device
    bf16 : bool
        Whether inference runs under bf16 autocast.
    eot : list of int
        End-of-turn token ids.
    heads : list of list of int
        Token ids of each label's head (``label<think>``, or ``label`` + end of turn).
    """

    model: Any
    tokenizer: Any
    info: StudentInfo
    model_dir: Path
    template: Any
    thresholds: dict[str, Any]
    device: Any
    bf16: bool
    eot: list[int]
    heads: list[list[int]] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return list(self.info.labels)

    @property
    def cot(self) -> bool:
        return self.info.cot

    def messages(self, transcript: str, cue_text: str) -> list[dict[str, str]]:
        """The chat messages of one prompt."""
        return render_prompt_messages(self.template, transcript, cue_text, self.labels)

    def prompt_ids(self, transcript: str, cue_text: str) -> list[int]:
        return prompt_ids(self.tokenizer, self.messages(transcript, cue_text))


def load_student_tokenizer(model_dir: Path, base_model: str) -> Any:
    """The tokenizer in ``model_dir/tokenizer``, or the base model's when that folder is absent.

    Training uses the base model's tokenizer unchanged, so both give the same ids; an exported
    model of the embedded base ships without a copy. The pad token is EOS when there is none.
    """
    folder = model_dir / TOKENIZER_DIR
    if not folder.is_dir():
        return load_tokenizer(base_model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(f"{folder}: cannot load the tokenizer: {err}",
                                 hint="copy the model directory again, or delete tokenizer/ to use the base "
                                      "model's tokenizer") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_student(model_dir: str | Path, *, base_model: str | None = None, device: str = "auto",
                 precision: Literal["auto", "fp32", "bf16"] = "fp32", merge: bool = True) -> Student:
    """Load a student model directory for inference.

    Parameters
    ----------
    model_dir : path
        Written by :func:`spokenemo.systems.aecotd.training.train`, or a slim copy of one
        (:func:`spokenemo.systems.aecotd.export.export_model_dir`: float16 adapter, perhaps no tokenizer).
    base_model : str, optional
        Use this base model instead of the one recorded (e.g. a local copy of a hub model).
    device : str
        ``auto``, ``cpu``, ``cuda``...
    precision : {"fp32", "bf16", "auto"}
        bf16 autocast at inference (``auto``: where the hardware has native bf16).
    merge : bool
        Merge the LoRA weights into the base model (faster inference).

    Raises
    ------
    ModelNotFoundError
        Incomplete model directory, or the base model cannot be found.
    """
    model_dir = Path(model_dir)
    info = read_info(model_dir)
    dev = pick_device(device)
    tokenizer = load_student_tokenizer(model_dir, base_model or info.base_model)
    base = load_base_model(base_model or info.base_model, device=dev)
    if base.get_input_embeddings().weight.shape[0] < len(tokenizer):
        raise ModelNotFoundError(f"{model_dir}: the base model {base_model or info.base_model!r} has a smaller "
                                 "vocabulary than the student's tokenizer", hint="use the base model it was trained on")
    with quiet_peft():
        model = PeftModel.from_pretrained(base, str(model_dir / ADAPTER_DIR))
    if merge:
        model = model.merge_and_unload()
    model.eval()
    eot = end_of_turn_ids(tokenizer)
    template = template_from_record(read_json(model_dir / PROMPT_FILE))
    student = Student(model=model, tokenizer=tokenizer, info=info, model_dir=model_dir, template=template,
                      thresholds=read_json(model_dir / THRESHOLDS_FILE), device=dev,
                      bf16=use_bf16(precision, dev), eot=eot)
    student.heads = [encode_head(tokenizer, lab, info.cot, eot)[0] for lab in info.labels]
    return student


@dataclass
class Prediction:
    """The student's answer for one utterance.

    Attributes
    ----------
    key : str
    label : str or None
        The true label when known.
    predicted : str or None
        The predicted label; None when free generation gave no parseable label.
    probabilities : dict
        Label -> probability (scoring mode; empty in generation mode).
    scores : dict
        Label -> summed log-probability of its head.
    explanation : str or None
        The generated chain of thought, when asked for.
    generated : str or None
        Raw generated text (generation mode).
    """

    key: str
    label: str | None
    predicted: str | None
    probabilities: dict[str, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    explanation: str | None = None
    generated: str | None = None

    @property
    def valid(self) -> bool:
        return self.predicted is not None

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"key": self.key, "label": self.label, "predicted": self.predicted,
                               "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()}}
        if self.scores:
            row["scores"] = {k: round(v, 4) for k, v in self.scores.items()}
        if self.explanation is not None:
            row["explanation"] = self.explanation
        if self.generated is not None:
            row["generated"] = self.generated
            row["valid"] = self.valid
        return row


def _softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def _decode(student: Student, ids: Sequence[int]) -> str:
    return student.tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)


def _explanations(student: Student, prompts: Sequence[list[int]], labels: Sequence[str],
                  max_new_tokens: int) -> list[str]:
    heads = [student.heads[student.labels.index(lab)] for lab in labels]
    new = generate(student.model, student.tokenizer, [p + h for p, h in zip(prompts, heads, strict=True)],
                   max_new_tokens=max_new_tokens, stop_strings=[THINK_CLOSE], eos_ids=student.eot,
                   device=student.device, bf16=student.bf16)
    return [_decode(student, ids).split(THINK_CLOSE)[0].strip() for ids in new]


def predict(student: Student, inputs: Sequence[StudentInput], *, mode: Literal["score", "generate"] = "score",
            explain: bool = False, batch_size: int = 8, max_new_tokens: int = 160,
            progress: Callable[[int], None] | None = None) -> list[Prediction]:
    """Predict the emotion of each input (and explain it when asked).

    Parameters
    ----------
    student : Student
    inputs : sequence of StudentInput
        Transcript and cue text of each utterance (``label`` is carried through, never shown).
    mode : {"score", "generate"}
        Label scoring (one forward pass per batch; probabilities) or free generation (parsed).
    explain : bool
        Generate the chain of thought after the label (students trained with chain of thought).
    batch_size : int
        Utterances per forward pass / generation batch.
    max_new_tokens : int
        Bound on generated tokens (explanation, or the whole answer in generation mode).
    progress : callable, optional
        Called with the number of utterances done after each batch.
    """
    if mode not in ("score", "generate"):
        raise ConfigError(f"unknown prediction mode {mode!r}", hint="use 'score' or 'generate'")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    out: list[Prediction] = []
    labels = student.labels
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start:start + batch_size]
        prompts = [student.prompt_ids(x.transcript, x.cue_text) for x in chunk]
        if mode == "score":
            scores = score_candidates(student.model, prompts, student.heads, pad_id=student.tokenizer.pad_token_id,
                                      device=student.device, bf16=student.bf16).tolist()
            for x, row in zip(chunk, scores, strict=True):
                probs = _softmax(row)
                best = max(range(len(labels)), key=lambda j: row[j])
                out.append(Prediction(key=x.key, label=x.label, predicted=labels[best],
                                      probabilities=dict(zip(labels, probs, strict=True)),
                                      scores=dict(zip(labels, row, strict=True))))
            if explain and student.cot:
                texts = _explanations(student, prompts, [p.predicted for p in out[-len(chunk):]], max_new_tokens)
                for p, text in zip(out[-len(chunk):], texts, strict=True):
                    p.explanation = text
        else:
            stops = [] if explain or not student.cot else [THINK_OPEN]
            new = generate(student.model, student.tokenizer, prompts, max_new_tokens=max_new_tokens,
                           stop_strings=stops, eos_ids=student.eot, device=student.device, bf16=student.bf16)
            for x, ids in zip(chunk, new, strict=True):
                text = _decode(student, ids)
                label, reasoning = parse_generation(text, labels, cot=student.cot)
                out.append(Prediction(key=x.key, label=x.label, predicted=label, generated=text,
                                      explanation=reasoning if explain else None))
        if progress is not None:
            progress(len(out))
    return out
