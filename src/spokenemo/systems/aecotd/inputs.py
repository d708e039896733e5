"""What the student reads, and the thin adapters to the layers below it.

A :class:`StudentInput` is one utterance as the student sees it: transcript and cue text (and,
for training, the label and the teacher's reasoning). This module also holds the adapters to
the prompt templates (:mod:`spokenemo.llm.prompts`), the teacher cache
(:mod:`spokenemo.systems.aecotd.teacher`) and the cues (:mod:`spokenemo.features.cues`), so the rest of the
student code does not depend on their internals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError
from spokenemo.llm.prompts import PromptTemplate, load_template, parse_template
from spokenemo.systems.aecotd.teacher import NO_TRANSCRIPT, load_teacher_outputs


@dataclass(frozen=True)
class StudentInput:
    """One utterance for the student.

    Attributes
    ----------
    key : str
    transcript : str
    cue_text : str
        Rendered cues (empty for the text-only ablation).
    label : str, optional
        True label (training target; carried through prediction for scoring, never shown).
    reasoning : str, optional
        Teacher chain of thought (training only).
    """

    key: str
    transcript: str
    cue_text: str
    label: str | None = None
    reasoning: str | None = None


# --- prompt templates -------------------------------------------------------------------------
#: The only target layout the student code implements (label first, so it can be scored).
STUDENT_TARGET = "{label}<think>{reasoning}</think>"


def _check_student(template: Any) -> Any:
    if template.kind != "student":
        raise ConfigError(f"prompt template {template.name!r} is a {template.kind} template",
                          hint="the student needs a template of kind: student (e.g. 'student')")
    if template.target != STUDENT_TARGET:
        raise ConfigError(f"prompt template {template.name!r}: target {template.target!r} is not supported",
                          hint=f"the student's target must be {STUDENT_TARGET!r}")
    return template


def load_prompt_template(name: str = "student") -> PromptTemplate:
    """The student prompt template: a shipped name or a YAML path (:func:`spokenemo.llm.prompts.load_template`)."""
    return _check_student(load_template(name))


def render_prompt_messages(template: Any, transcript: str, cue_text: str, labels: Sequence[str]) -> list[dict[str, str]]:
    """Chat messages of one student prompt (never the label of the utterance).

    An empty transcript is shown as the teacher shows it (``(no transcript)``), so both
    prompts read the same.
    """
    return template.render(transcript=transcript_text(transcript), cues=cue_text, labels=list(labels))


def template_record(template: Any) -> dict[str, Any]:
    """JSON record of a template, with its full text, stored in the model directory."""
    text = _template_text(template)
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != template.sha256:
        raise ConfigError(f"prompt template {template.name!r}: its file changed while training ran",
                          hint="train again")
    return {"name": template.name, "version": template.version, "sha256": template.sha256,
            "source": template.source, "text": text}


def _template_text(template: Any) -> str:
    source = Path(template.source)
    if source.is_file():
        return source.read_text(encoding="utf-8")
    resource = resources.files("spokenemo.llm.prompts") / f"{template.name}.yaml"
    return resource.read_text(encoding="utf-8")


def template_from_record(record: dict[str, Any]) -> PromptTemplate:
    """The template a model was trained with, rebuilt from the text saved with it."""
    template = parse_template(record["text"], f"{record.get('name', 'student')} (saved with the model)")
    if template.sha256 != record.get("sha256"):
        raise ConfigError("the prompt template saved with the model does not match its recorded sha256",
                          hint="the model directory was edited; retrain or restore prompt.json")
    return _check_student(template)


# --- teacher cache ----------------------------------------------------------------------------
def load_teacher(path: str | Path) -> dict[str, dict[str, Any]]:
    """Valid teacher outputs by utterance key (:func:`spokenemo.systems.aecotd.teacher.load_teacher_outputs`)."""
    return load_teacher_outputs(path, valid_only=True)


def transcript_text(text: str | None) -> str:
    """The transcript as prompts show it: the teacher's placeholder when there is none."""
    return (text or "").strip() or NO_TRANSCRIPT
