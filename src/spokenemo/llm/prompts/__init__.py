"""Prompt templates: YAML files shipped in this package, versioned and hashed.

A template file holds::

    name: teacher_label          # how load_template() finds it
    version: 3                   # bump when the wording changes (outputs are cached per hash anyway)
    kind: teacher_label          # teacher_label | teacher_blind | student
    description: ...
    messages:                    # chat messages; {field} placeholders, {{ and }} for literal braces
      - role: system
        content: ...
    target: "{label}<think>{reasoning}</think>"   # student templates only

``sha256`` is the hash of the file's text, so any edit gives a new hash. Rules checked on load:
blind-teacher and student templates must not show ``{label}`` in their messages (the label would
leak into the input); a label-conditioned teacher template must show it; a student template needs a
target with ``{label}`` and ``{reasoning}``.

>>> t = load_template("teacher_label")
>>> messages = t.render(transcript="Kids are talking by the door.", cues="Pitch: high. ...",
...                     label="angry", labels="angry, calm, ...")
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from spokenemo.core.errors import ConfigError

KINDS = ("teacher_label", "teacher_blind", "student")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ROLES = ("system", "user", "assistant")


def placeholders(text: str) -> list[str]:
    """The ``{field}`` names in ``text``, in order of first use (``{{``/``}}`` are literal braces)."""
    seen: dict[str, None] = {}
    for m in _PLACEHOLDER.finditer(text):
        if m.group(1):
            seen.setdefault(m.group(1), None)
    return list(seen)


def fill(text: str, values: dict[str, str], where: str = "template") -> str:
    """Replace ``{field}`` placeholders with ``values``; ``{{``/``}}`` become ``{``/``}``.

    Raises ``ConfigError`` naming the missing fields.
    """
    missing = [n for n in placeholders(text) if n not in values]
    if missing:
        raise ConfigError(f"{where} needs the field(s) {', '.join(missing)}, which were not given",
                          hint=f"pass {', '.join(f'{n}=...' for n in missing)} to render()")

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values[m.group(1)]

    return _PLACEHOLDER.sub(sub, text)


def _as_text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if value is None:
        raise ConfigError(f"prompt field {name!r} is None", hint=f"pass a string for {name}")
    return str(value)


def messages_sha256(messages: list[dict[str, str]]) -> str:
    """sha256 of rendered chat messages (canonical JSON), the cache key of a teacher call."""
    canonical = json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded template. ``fields`` are the placeholders its messages use; ``text`` is the file's
    text (what ``sha256`` hashes)."""

    name: str
    version: str
    kind: str
    sha256: str
    messages: tuple[dict[str, str], ...]
    description: str = ""
    target: str | None = None
    source: str = ""
    fields: tuple[str, ...] = field(default=())
    text: str = field(default="", repr=False)

    def render(self, **values: Any) -> list[dict[str, str]]:
        """Chat messages with the placeholders filled (fields the template does not use are ignored).

        Lists (e.g. ``labels``) are joined with ``", "``.
        """
        text_values = {k: _as_text(k, v) for k, v in values.items() if k in self.fields}
        missing = [f for f in self.fields if f not in text_values]
        if missing:
            raise ConfigError(f"template {self.name!r} needs the field(s) {', '.join(missing)}",
                              hint=f"pass {', '.join(f'{n}=...' for n in missing)} to render()")
        return [{"role": m["role"], "content": fill(m["content"], text_values, f"template {self.name!r}")}
                for m in self.messages]

    def render_target(self, **values: Any) -> str:
        """The student's training target, e.g. ``angry<think>...</think>``."""
        if self.target is None:
            raise ConfigError(f"template {self.name!r} ({self.kind}) has no target",
                              hint="use a student template (kind: student)")
        used = placeholders(self.target)
        return fill(self.target, {k: _as_text(k, v) for k, v in values.items() if k in used},
                    f"target of template {self.name!r}")

    def identity(self) -> dict[str, str]:
        """What a cached output records about the template."""
        return {"template": self.name, "template_version": self.version, "template_sha256": self.sha256}


def parse_template(text: str, source: str = "<string>") -> PromptTemplate:
    """Build a :class:`PromptTemplate` from YAML text, checking the rules in the module docstring."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}", hint="fix the template file") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a template must be a YAML mapping with name, version, kind, messages",
                          hint="see spokenemo/llm/prompts/teacher_label.yaml for an example")
    for key in ("name", "version", "kind", "messages"):
        if key not in data:
            raise ConfigError(f"{source}: the template has no {key!r}", hint=f"add a {key}: line")
    kind = data["kind"]
    if kind not in KINDS:
        raise ConfigError(f"{source}: kind {kind!r} is unknown", hint=f"use one of {', '.join(KINDS)}")
    raw_messages = data["messages"]
    if not isinstance(raw_messages, list) or not raw_messages:
        raise ConfigError(f"{source}: messages must be a non-empty list", hint="add - role: ... content: ... items")
    messages = []
    for i, m in enumerate(raw_messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
            raise ConfigError(f"{source}: message {i} must have role (system/user/assistant) and a content string",
                              hint="fix that message")
        messages.append({"role": m["role"], "content": m["content"].strip("\n")})
    used = placeholders("\n".join(m["content"] for m in messages))
    if kind in ("teacher_blind", "student") and "label" in used:
        raise ConfigError(f"{source}: a {kind} template must not show {{label}} in its messages (it would leak the "
                          "answer)", hint="remove {label} from the messages")
    if kind == "teacher_label" and "label" not in used:
        raise ConfigError(f"{source}: a teacher_label template must show the annotated {{label}}",
                          hint="add {label} to the last user message, or use kind: teacher_blind")
    target = data.get("target")
    if kind == "student" and (not isinstance(target, str)
                              or not {"label", "reasoning"} <= set(placeholders(target))):
        raise ConfigError(f"{source}: a student template needs a target with {{label}} and {{reasoning}}",
                              hint='add target: "{label}<think>{reasoning}</think>"')
    return PromptTemplate(
        name=str(data["name"]), version=str(data["version"]), kind=kind,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), messages=tuple(messages),
        description=str(data.get("description", "")).strip(), target=target, source=source, fields=tuple(used),
        text=text)


def list_templates() -> list[str]:
    """Names of the templates shipped with spokenemo."""
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def load_template(name_or_path: str | Path) -> PromptTemplate:
    """Load a shipped template by name (``"teacher_label"``) or a user template from a YAML path.

    Raises
    ------
    ConfigError : unknown name, unreadable file, or a template that breaks the rules.
    """
    text_name = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or text_name.endswith((".yaml", ".yml")) or "/" in text_name
    if looks_like_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(f"prompt template file {path} does not exist",
                              hint=f"pass an existing YAML file or one of: {', '.join(list_templates())}")
        return parse_template(path.read_text(encoding="utf-8"), str(path))
    resource = resources.files(__name__) / f"{text_name}.yaml"
    if not resource.is_file():
        raise ConfigError(f"no prompt template named {text_name!r}",
                          hint=f"use one of: {', '.join(list_templates())}, or a path to your own YAML file")
    return parse_template(resource.read_text(encoding="utf-8"), f"spokenemo/llm/prompts/{text_name}.yaml")


__all__ = ["KINDS", "PromptTemplate", "fill", "list_templates", "load_template", "messages_sha256",
           "parse_template", "placeholders"]
