"""Results as JSON, and the few fields the page draws read the same whatever shape the result has.

:func:`jsonable` turns a result object (``to_json()``, ``to_dict()``, a dataclass, numpy values)
into plain JSON. :func:`clip_view` and :func:`page_segments` pick what the page shows (label,
verdict, explanation text, transcript, cue tracks) from a single-clip or timeline result; they
read both the student's answer (``emotion``, ``cues``, explanation as text) and the recogniser's
(``label``, ``evidence``, explanation as ``{"text": ...}``).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["clip_view", "cue_series", "jsonable", "page_segments", "text_of"]

EMOTION_KEYS = ("emotion", "label", "predicted")
#: Unit of the fine cues: 0 = the clip's lowest 0.5 s window, 1 = its highest.
RELATIVE = "0-1 within the clip"


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, paths, tuples, dataclasses and ``to_json()``/``to_dict()``
    objects made JSON-ready. NaN and infinities become None (JSON has no such numbers)."""
    for method in ("to_json", "to_dict"):
        if callable(getattr(value, method, None)) and not isinstance(value, type):
            return jsonable(getattr(value, method)())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def text_of(value: Any) -> str | None:
    """A text, or the ``"text"`` of a dict (nested), or None."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return text_of(value.get("text"))
    return None


def _emotion(row: dict[str, Any]) -> Any:
    return next((row[k] for k in EMOTION_KEYS if row.get(k) is not None), None)


def cue_series(raw: dict[str, Any]) -> dict[str, Any]:
    """Pitch and intensity over the clip's segments, for the cue plot, with their units.

    From the student's fine cues (``pitch_seg_N``, ``intensity_seg_N``, the finest N: each segment's
    mean between the clip's lowest and highest 0.5 s window, 0 to 1) or the evidence's pitch
    contour (``evidence.contour.segments_st``, semitones); plus the means (Hz, dBFS).
    """
    cues = raw.get("cues") if isinstance(raw.get("cues"), dict) else {}
    series: dict[str, Any] = {}
    for name, unit in (("pitch", RELATIVE), ("intensity", RELATIVE)):
        keys = sorted((k for k in cues if k.startswith(f"{name}_seg_")), key=lambda k: int(k.rsplit("_", 1)[1]))
        if keys and isinstance(cues[keys[-1]], list):
            series[name], series[f"{name}_unit"] = cues[keys[-1]], unit
        if isinstance(cues.get(name), (int, float)):
            series[f"{name}_mean"] = cues[name]
    evidence = raw.get("evidence") if isinstance(raw.get("evidence"), dict) else {}
    contour = evidence.get("contour") if isinstance(evidence.get("contour"), dict) else {}
    if "pitch" not in series and isinstance(contour.get("segments_st"), list):
        series["pitch"], series["pitch_unit"] = contour["segments_st"], "st"
    return series


def _comparisons(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The evidence's cue comparisons (cue, value, baseline, unit, direction), where the result has them."""
    evidence = raw.get("evidence") if isinstance(raw.get("evidence"), dict) else {}
    rows = evidence.get("cues") if isinstance(evidence.get("cues"), list) else []
    return [{k: r.get(k) for k in ("cue", "value", "baseline", "unit", "direction", "reason")}
            for r in rows if isinstance(r, dict)]


def clip_view(raw: dict[str, Any], result: Any = None) -> dict[str, Any]:
    """What the page shows of one clip's result (its JSON ``raw``; ``result`` for its ``verdict``)."""
    emotion = _emotion(raw)
    pair = raw.get("uncertain_between")
    verdict = getattr(result, "verdict", None)
    if not isinstance(verdict, str):
        verdict = f"uncertain between {pair[0]} and {pair[1]}" if pair and emotion else emotion
    return {"emotion": emotion, "verdict": verdict, "probabilities": raw.get("probabilities") or {},
            "explanation_text": text_of(raw.get("explanation")), "transcript_text": text_of(raw.get("transcript")),
            "cue_text": raw.get("cue_text") if isinstance(raw.get("cue_text"), str) else None,
            "cue_plot": cue_series(raw), "comparisons": _comparisons(raw)}


def page_segments(raw: Any) -> list[dict[str, Any]]:
    """Segments of a timeline (its JSON) as the page draws them: start, end, speaker, emotion, probabilities."""
    rows = raw.get("segments", []) if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    return [{"start": float(row["start"]), "end": float(row["end"]),
             "speaker": None if row.get("speaker") is None else str(row["speaker"]),
             "emotion": _emotion(row), "probabilities": row.get("probabilities") or {},
             "explanation": text_of(row.get("explanation"))}
            for row in rows if isinstance(row, dict) and "start" in row and "end" in row]
