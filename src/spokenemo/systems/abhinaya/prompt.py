"""T1 through an LLM: the thesis's one-word zero-shot prompt (authors' T1 script, paraphrased).

The system message asks for one of the task's classes in one word; the answer's first word that
names a class (by its canonical name or a common spelling: joy -> happy, fear -> fearful, ...)
is the label, otherwise None (no prediction; counted in the member's ``info``). Answers are not
cached here (the LLM job cache of :mod:`spokenemo.llm.jobs` is the place for long runs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from spokenemo.llm.factory import backend_from_settings
from spokenemo.protocols.labels import normalize_label

SYSTEM = ("You are an emotion recognizer capable of understanding the emotion within a text. "
          "Classify the following sentence into one of the {n} emotions: {names}. Reply with only 1 word.")


def messages(text: str | None, classes: Sequence[str]) -> list[dict[str, str]]:
    """The chat messages for one transcript."""
    return [{"role": "system", "content": SYSTEM.format(n=len(classes), names=", ".join(classes))},
            {"role": "user", "content": f"sentence: {(text or '').strip()}"}]


def parse_label(answer: str, classes: Sequence[str]) -> str | None:
    """The first word of ``answer`` that names one of ``classes`` (None if none does)."""
    for word in re.findall(r"[A-Za-z]+", answer or ""):
        try:
            label = normalize_label(word.lower())
        except Exception:  # an unknown word is just not a label
            continue
        if label in classes:
            return label
    return None


def llm_labels(texts: Sequence[str | None], classes: Sequence[str], config: Any) -> list[str | None]:
    """One label (or None) per transcript from the configured LLM backend."""
    backend = backend_from_settings(config.backend, config.backend_options)
    try:
        results = backend.chat_batch([messages(t, classes) for t in texts], max_tokens=config.max_tokens,
                                     temperature=0.0, return_exceptions=True)
    finally:
        backend.close()
    return [None if isinstance(r, BaseException) else parse_label(r.text, classes) for r in results]
