"""Prompt templates: shipped files, versions, hashes, rendering and the label-leak rules."""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path

import pytest

from spokenemo.core.errors import ConfigError
from spokenemo.llm.prompts import (
    fill,
    list_templates,
    load_template,
    messages_sha256,
    parse_template,
    placeholders,
)

REPO = Path(__file__).resolve().parents[1]
CUES = ("Pitch: high. Intensity: strong. Speech rate: fast. Articulation rate: fast.\n"
        "Pitch by segment: [0.00, 0.20, 0.90, 1.00, 0.70, 0.40, 0.00]. "
        "Intensity by segment: [0.00, 0.50, 1.00, 0.90, 0.80, 0.50, 0.00].")
LABELS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


def test_shipped_templates_are_package_data():
    assert {"teacher_label", "teacher_blind", "student"} <= set(list_templates())
    folder = resources.files("spokenemo.llm.prompts")
    for name in ("teacher_label", "teacher_blind", "student"):
        assert (folder / f"{name}.yaml").is_file()
    # pyproject ships spokenemo/llm/prompts/* in wheels (the files sit in that folder).
    pyproject = (REPO / "pyproject.toml").read_text()
    section = pyproject.split("[tool.setuptools.package-data]", 1)[1]
    assert re.search(r'^spokenemo = \[[^\]]*"llm/prompts/\*"', section, re.M)


@pytest.mark.parametrize("name,kind", [("teacher_label", "teacher_label"), ("teacher_blind", "teacher_blind"),
                                       ("student", "student")])
def test_version_and_sha256_of_file_text(name, kind):
    t = load_template(name)
    text = (resources.files("spokenemo.llm.prompts") / f"{name}.yaml").read_text(encoding="utf-8")
    assert t.name == name and t.kind == kind
    assert t.version == str(re.search(r"^version:\s*(\S+)", text, re.M).group(1))
    assert t.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert t.text == text
    assert t.identity() == {"template": name, "template_version": t.version, "template_sha256": t.sha256}


def test_teacher_label_render_shows_label_cues_and_words_last():
    t = load_template("teacher_label")
    msgs = t.render(transcript="Kids are talking by the door", cues=CUES, label="angry", labels=LABELS)
    assert [m["role"] for m in msgs][0] == "system" and msgs[-1]["role"] == "user"
    last = msgs[-1]["content"]
    assert '"Kids are talking by the door"' in last and CUES in last and "Emotion heard: angry" in last
    assert "{" not in last  # every placeholder filled
    # the worked example (few-shot) is an assistant turn ending with the label line
    examples = [m["content"] for m in msgs if m["role"] == "assistant"]
    assert examples and examples[0].splitlines()[-1].startswith("Emotion: ")


def test_blind_teacher_never_sees_the_label_but_gets_the_choices():
    t = load_template("teacher_blind")
    assert "label" not in t.fields
    msgs = t.render(transcript="Dogs are sitting by the door", cues=CUES, label="fearful", labels=LABELS)
    text = "\n".join(m["content"] for m in msgs)
    assert "Emotion heard" not in text
    assert ", ".join(LABELS) in msgs[0]["content"]


def test_student_prompt_has_no_label_and_target_is_label_then_think():
    t = load_template("student")
    msgs = t.render(transcript="Kids are talking by the door", cues=CUES, label="sad")
    assert "sad" not in "\n".join(m["content"] for m in msgs)
    assert t.render_target(label="sad", reasoning="Low and slow.") == "sad<think>Low and slow.</think>"
    with pytest.raises(ConfigError, match="reasoning"):
        t.render_target(label="sad")


def test_missing_field_is_named():
    with pytest.raises(ConfigError, match=r"needs the field\(s\) cues"):
        load_template("teacher_label").render(transcript="x", label="sad")


def test_rendered_prompt_hash_is_canonical_json_sha256():
    msgs = [{"role": "user", "content": "héllo"}]
    expected = hashlib.sha256(json.dumps(msgs, ensure_ascii=False, sort_keys=True,
                                         separators=(",", ":")).encode("utf-8")).hexdigest()
    assert messages_sha256(msgs) == expected
    assert messages_sha256([{"content": "héllo", "role": "user"}]) == expected  # key order does not matter
    assert messages_sha256([{"role": "user", "content": "hello"}]) != expected


def test_placeholders_and_literal_braces():
    assert placeholders("a {x} b {{y}} {z} {x} {not a field}") == ["x", "z"]
    assert fill('{{"json": {v}}} {x}', {"v": "1", "x": "ok"}) == '{"json": 1} ok'


USER_TEMPLATE = """\
name: my_teacher
version: 2024-06
kind: teacher_label
messages:
  - role: user
    content: "Explain {label} for {transcript} with {cues}"
"""


def test_user_template_from_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(USER_TEMPLATE)
    t = load_template(path)
    assert (t.name, t.version, t.source) == ("my_teacher", "2024-06", str(path))
    assert t.render(transcript="T", cues="C", label="L") == [{"role": "user", "content": "Explain L for T with C"}]
    assert load_template(str(path)).sha256 == t.sha256


@pytest.mark.parametrize("text,message", [
    (USER_TEMPLATE.replace("kind: teacher_label", "kind: teacher_blind"), "must not show {label}"),
    (USER_TEMPLATE.replace("kind: teacher_label", "kind: student"), "must not show {label}"),
    (USER_TEMPLATE.replace("{label} ", ""), "must show the annotated {label}"),
    (USER_TEMPLATE.replace("kind: teacher_label", "kind: poet"), "kind 'poet' is unknown"),
    (USER_TEMPLATE.replace("version: 2024-06\n", ""), "has no 'version'"),
    (USER_TEMPLATE.replace("role: user", "role: narrator"), "message 0 must have role"),
    ("name: [unclosed", "not valid YAML"),
    ("- just a list", "must be a YAML mapping"),
    ("name: s\nversion: 1\nkind: student\nmessages:\n  - role: user\n    content: '{cues}'\n", "needs a target"),
])
def test_bad_templates_are_rejected_with_reason(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_template(text, "bad.yaml")


def test_unknown_name_and_missing_file():
    with pytest.raises(ConfigError, match="no prompt template named 'teacher_x'") as info:
        load_template("teacher_x")
    assert "teacher_label" in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_template("/nonexistent/template.yaml")
