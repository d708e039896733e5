"""What the student reads, and the thin adapters to the layers below it.

A :class:`StudentInput` is one utterance as the student sees it: transcript and cue text (and,
for training, the label and the teacher's reasoning). This module also holds the adapters to
the prompt templates (:mod:`spokenemo.prompts`), the teacher cache
(:mod:`spokenemo.aecotd.teacher`) and the cues (:mod:`spokenemo.cues`), so the rest of the
student code does not depend on their internals.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError


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
class _PlaceholderTemplate:
    """Private stand-in for the student template until spokenemo.prompts exists."""

    name = "student"
    version = "placeholder-1"
    system = "You are an expert in speech emotion recognition."
    user = ("Transcript: {transcript}\n{cues}\n"
            "Which emotion does the speaker express? Answer with the emotion first, then explain.")

    @property
    def text(self) -> str:
        return json.dumps({"system": self.system, "user": self.user})

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def render(self, *, transcript: str, cues: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.user.format(transcript=transcript, cues=cues).replace("\n\n", "\n")}]


def load_prompt_template(name: str = "student") -> Any:
    """The student prompt template ``name``."""
    if name != "student":
        raise ConfigError(f"unknown student prompt template {name!r}", hint="use 'student'")
    return _PlaceholderTemplate()


def template_record(template: Any) -> dict[str, Any]:
    """JSON record of a template (stored in the model directory)."""
    return {"name": template.name, "version": template.version, "sha256": template.sha256, "text": template.text}


def template_from_record(record: dict[str, Any]) -> Any:
    """The template a model was trained with, from its record."""
    template = load_prompt_template(record.get("name", "student"))
    if template.sha256 != record.get("sha256"):
        raise ConfigError(f"the prompt template {record.get('name')!r} changed since the model was trained "
                          f"(sha256 {record.get('sha256', '')[:12]} -> {template.sha256[:12]})",
                          hint="retrain the student with this version of spokenemo")
    return template


# --- teacher cache ----------------------------------------------------------------------------
def load_teacher(path: str | Path) -> dict[str, dict[str, Any]]:
    """Valid teacher outputs by utterance key."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: teacher cache not found", hint="run `spokenemo teach` first, or set target.cot: false")
    rows: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("valid", True):
                rows[row["key"]] = row
    return rows
