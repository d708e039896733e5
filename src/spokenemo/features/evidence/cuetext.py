"""Evidence read from an AECoTD cue text (``Pitch: high. Intensity: weak. ...``).

A teacher or student explanation can be checked against the cue text its prompt showed
(:func:`evidence_from_cue_text`): each coarse or extended word becomes a direction against the
thresholds behind the words (``high`` = above the median: +1), and the pitch segment list gives a
contour (rising when the mean of the last two voiced segments is at least 0.25 above the mean of
the first two, on the 0-1 scale of the list). The baseline is named ``cue-words``: sizes are
unknown, so "about the same" claims are unverifiable against it.
"""

from __future__ import annotations

import re

from spokenemo.features.cues.vocabulary import WORDS
from spokenemo.features.evidence.catalogue import CUE_NAMES
from spokenemo.features.evidence.evidence import Baseline, Comparison, Evidence

#: Cue-text names -> evidence cue names.
CUE_TEXT_NAMES = {"pitch": "pitch", "intensity": "loudness", "speech_rate": "speech_rate",
                  "articulation_rate": "articulation_rate", "pitch_range": "pitch_range",
                  "pitch_variability": "pitch_variability", "intensity_variability": "loudness_variability",
                  "pause_count": "pause_count", "pause_length": "pause_length", "jitter": "jitter",
                  "shimmer": "shimmer", "hnr": "hnr", "spectral_tilt": "spectral_tilt"}
CONTOUR_STEP = 0.25
_LIST = re.compile(r"Pitch by segment:\s*\[([^\]]*)\]", re.IGNORECASE)


def _contour(text: str) -> tuple[str | None, float | None]:
    m = _LIST.search(text)
    if not m:
        return None, None
    try:
        values = [float(v) for v in m.group(1).split(",") if v.strip()]
    except ValueError:
        return None, None
    voiced = [v for v in values if v > 0]
    if len(voiced) < 3:
        return None, None
    change = sum(voiced[-2:]) / 2 - sum(voiced[:2]) / 2
    shape = "rising" if change >= CONTOUR_STEP else ("falling" if change <= -CONTOUR_STEP else "level")
    return shape, change


def evidence_from_cue_text(text: str) -> Evidence:
    """Directions of the cue words (and the pitch-list contour) of one cue text."""
    comparisons = {name: Comparison(name, None, None, None, None, "not in the cue text") for name in CUE_NAMES}
    for spec in WORDS.values():
        m = re.search(rf"\b{re.escape(spec.label)}:\s*([A-Za-z]+)\.", text)
        if not m:
            continue
        word = m.group(1).lower()
        sign = 1 if word == spec.above else (-1 if word == spec.below else None)
        name = CUE_TEXT_NAMES[spec.name]
        if sign is not None:
            comparisons[name] = Comparison(name, None, None, float(sign), sign)
    shape, change = _contour(text)
    baseline = Baseline("cue-words", "typical recordings (the medians behind the cue words)", 0, {})
    notes = [] if shape else ["no pitch segment list with three voiced segments: contour unknown"]
    return Evidence(measures=None, baseline=baseline, comparisons=comparisons, contour_shape=shape,
                    contour_change=change, contour_unit="of the 0-1 segment scale", notes=notes)
