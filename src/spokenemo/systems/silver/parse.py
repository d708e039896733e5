"""The labeller prompt (thesis.md 2.2, verbatim) and how an answer is read.

The default template keeps the thesis's instruction word for word as the system message and gives
the transcript as the user message. A user template is a YAML file in the format of
:mod:`spokenemo.llm.prompts` (``kind: teacher_blind``: the labeller is a teacher that is never
told a label) whose messages use the placeholder ``{sentence}``.

Parsing (**ours**, thesis.md 2.2): the label is the first of positive / negative / neutral in the
answer, as a whole word, case-insensitive; an answer naming none is invalid (kept in the cache with
the reason, counted, and dropped from the silver set).

>>> parse_sentiment("Sentiment: Negative.")
'negative'
>>> parse_sentiment("It is neither positive nor negative: neutral") is None
False
>>> parse_sentiment("I'm glad to have") is None
True
"""

from __future__ import annotations

import re
from pathlib import Path

from spokenemo.core.errors import ConfigError
from spokenemo.llm.prompts import PromptTemplate, load_template, parse_template

#: The three silver classes, in the order the student's head outputs them.
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

#: The thesis's labeller prompt, word for word (thesis.md 2.2).
THESIS_PROMPT = ("You are a sentiment classification bot. Given the [sentence], classify as positive, negative or "
                 "neutral sentiment. Please give the sentiment and no extra text as output.")

DEFAULT_TEMPLATE_TEXT = f"""name: silver_sentiment
version: 1
kind: teacher_blind
description: >
  Silver-label labeller (thesis.md 2.2): the thesis's prompt verbatim as the system message, the
  transcript as the user message.
messages:
  - role: system
    content: "{THESIS_PROMPT}"
  - role: user
    content: "{{sentence}}"
"""

_WORD = re.compile(r"\b(positive|negative|neutral)\b", re.IGNORECASE)


def parse_sentiment(answer: str | None) -> str | None:
    """The first of positive / negative / neutral named in ``answer`` (lower case), else None."""
    if not answer:
        return None
    found = _WORD.search(answer)
    return found.group(1).lower() if found else None


def default_template() -> PromptTemplate:
    """The thesis prompt as a :class:`~spokenemo.llm.prompts.PromptTemplate` (field ``sentence``)."""
    return parse_template(DEFAULT_TEMPLATE_TEXT, "spokenemo/systems/silver/parse.py (thesis prompt)")


def labeller_template(name_or_path: str | Path | None = None) -> PromptTemplate:
    """The default template (``None`` or ``"thesis"``) or a YAML template using ``{sentence}``.

    Raises
    ------
    ConfigError
        The template does not show ``{sentence}`` (the labeller would not see the transcript).
    """
    if name_or_path is None or str(name_or_path) == "thesis":
        return default_template()
    template = load_template(name_or_path)
    if "sentence" not in template.fields:
        raise ConfigError(f"labeller template {template.source}: its messages never show {{sentence}}",
                          hint="put {sentence} where the transcript goes (see silver/parse.py's default)")
    return template
