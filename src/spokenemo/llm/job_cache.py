"""The cache of :mod:`spokenemo.llm.jobs`, read back: answer history, the best row per key.

Rows are keyed by (``key``, ``prompt_sha256``, ``model``); a row with ``raw: null`` records a
backend failure (no answer, not an attempt).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def answered(row: Mapping[str, Any]) -> bool:
    """Whether a cache row holds a model answer (rows of backend failures do not)."""
    return row.get("raw") is not None


def cache_key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(row.get("key")), str(row.get("prompt_sha256")), str(row.get("model")))


@dataclass
class AnswerHistory:
    """What the cache holds for one prompt: how many answers (backend failures excluded) and
    whether one of them is valid."""

    answers: int = 0
    valid: bool = False

    def needs_retry(self, attempts: int) -> bool:
        """Answered, never validly, and fewer than ``attempts`` answers so far."""
        return 0 < self.answers < attempts and not self.valid


def answer_history(rows: Iterable[Mapping[str, Any]], model: str | None) -> dict[tuple[str, str], AnswerHistory]:
    """``(key, prompt_sha256) -> AnswerHistory`` over the cache rows of ``model`` (any model when
    ``None``): the attempt count of every prompt, read back from the cache."""
    out: dict[tuple[str, str], AnswerHistory] = {}
    for row in rows:
        if not answered(row) or (model is not None and str(row.get("model")) != model):
            continue
        history = out.setdefault((str(row.get("key")), str(row.get("prompt_sha256"))), AnswerHistory())
        history.answers += 1
        history.valid = history.valid or bool(row.get("valid"))
    return out


def best_rows(rows: Iterable[Mapping[str, Any]], *, valid_only: bool = True,
              keep: Callable[[Mapping[str, Any]], bool] | None = None) -> dict[str, dict[str, Any]]:
    """The answer to use per key: the last valid row, or the last answered row when none is
    valid (only with ``valid_only=False``); an invalid later answer never hides a valid earlier
    one. ``keep(row)`` filters rows first (a model, a mode, a prompt)."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not answered(row) or (valid_only and not row.get("valid")):
            continue
        if keep is not None and not keep(row):
            continue
        kept = out.get(row["key"])
        if kept is not None and kept.get("valid") and not row.get("valid"):
            continue
        out[row["key"]] = dict(row)
    return out


def failure_kind(failure: str) -> str:
    """The first reason of a failure, without its specifics (for counting)."""
    first = failure.split("; ")[0]
    return re.sub(r"\s*\(.*?\)|'[^']*'", "", first).replace("  ", " ").strip()


def attempt_seed(retry_seed: int, attempt: int) -> int:
    """The sampling seed of attempt ``attempt`` (the backend adds each conversation's offset in
    its batch); attempts are 100,003 apart so their seeds do not collide for realistic batches."""
    return (int(retry_seed) * 1_000_003 + int(attempt) * 100_003) % 2**31
