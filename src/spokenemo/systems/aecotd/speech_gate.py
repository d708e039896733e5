"""Which manifest rows hold speech: checked before a student is asked about any of them.

A row whose audio (or its ``start``-``end`` segment) holds less than ``min_speech_seconds`` of
speech (:mod:`spokenemo.audio.speech`) is not predicted: it is written to the predictions file
with ``"predicted": null`` and its ``"no_speech"`` reason, counted in the report, and left out of
the metrics. A row without audio (text and a cue table only) cannot be checked and is predicted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spokenemo.audio.speech import MIN_SPEECH_SECONDS, SpeechReport, detect_speech_in_file
from spokenemo.core.errors import AudioError
from spokenemo.data.manifest import Segment

__all__ = ["SpeechGate", "check_speech_rows", "no_speech_row"]

log = logging.getLogger(__name__)
#: Rows listed by name in a report (all are counted).
LISTED = 50


@dataclass
class SpeechGate:
    """Result of :func:`check_speech_rows`.

    Attributes
    ----------
    no_speech : dict
        Key -> :class:`SpeechReport` of each row without enough speech.
    failed : dict
        Key -> error of each row whose audio could not be read.
    checked, unchecked : int
        Rows checked, and rows without audio to check.
    backends : set of str
        Detectors that ran.
    seconds : float
        Wall time of the checks.
    min_speech_seconds : float
        The rule (0: no check was made).
    """

    no_speech: dict[str, SpeechReport] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    checked: int = 0
    unchecked: int = 0
    backends: set[str] = field(default_factory=set)
    seconds: float = 0.0
    min_speech_seconds: float = MIN_SPEECH_SECONDS

    def excluded(self, key: str) -> bool:
        return key in self.no_speech or key in self.failed

    def to_dict(self) -> dict[str, Any]:
        listed = dict(list(self.no_speech.items())[:LISTED])
        return {"min_speech_seconds": self.min_speech_seconds, "checked": self.checked,
                "unchecked": self.unchecked, "no_speech": len(self.no_speech),
                "backends": sorted(self.backends), "seconds": round(self.seconds, 2),
                "rows": {k: r.message for k, r in listed.items()}}


def check_speech_rows(utterances: Sequence[Segment], base_dir: str | Path | None = None, *,
                      min_speech_seconds: float = MIN_SPEECH_SECONDS, vad: str = "auto") -> SpeechGate:
    """Check every row with audio for speech (``min_speech_seconds <= 0``: check nothing)."""
    gate = SpeechGate(min_speech_seconds=min_speech_seconds)
    if min_speech_seconds <= 0:
        return gate
    began = time.perf_counter()
    for u in utterances:
        path = u.audio_path(base_dir)
        if path is None:
            gate.unchecked += 1
            continue
        try:
            report = detect_speech_in_file(path, start=u.start, end=u.end, min_speech_seconds=min_speech_seconds,
                                           backend=vad)
        except AudioError as err:
            gate.failed[u.key] = str(err)
            log.warning("skipping %s: %s", u.key, err)
            continue
        gate.checked += 1
        if report.backend != "none":  # refused before any detector ran: too short or silent
            gate.backends.add(report.backend)
        if not report.is_speech:
            gate.no_speech[u.key] = report
            log.info("no speech in %s: %s", u.key, report.message)
    gate.seconds = time.perf_counter() - began
    return gate


def no_speech_row(u: Segment, report: SpeechReport, label: str | None) -> dict[str, Any]:
    """The predictions-file row of a row without speech: no prediction, the reason instead."""
    return {"key": u.key, "label": label, "predicted": None, "probabilities": {}, "no_speech": report.reason,
            "speech": report.to_json()}
