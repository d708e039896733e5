"""Names, units and words of every utterance-level cue.

A value strictly above its threshold gets the first word, any other value the second.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CueWords:
    """How one utterance-level cue is named and worded.

    Attributes
    ----------
    name : str
        Column name in cue tables (``"speech_rate"``).
    label : str
        Name in the cue text (``"Speech rate"``).
    above, below : str
        Word for a value strictly above the threshold / for any other value.
    unit : str
        Unit of the raw value (shown when no thresholds are given).
    fmt : str
        Format of the raw value.
    """

    name: str
    label: str
    above: str
    below: str
    unit: str
    fmt: str = "{:.2f}"

    def raw(self, value: float) -> str:
        """The raw value with its unit (``"182.3 Hz"``)."""
        text = self.fmt.format(value)
        return f"{text} {self.unit}" if self.unit else text


COARSE: tuple[CueWords, ...] = (
    CueWords("pitch", "Pitch", "high", "low", "Hz", "{:.1f}"),
    CueWords("intensity", "Intensity", "strong", "weak", "dBFS", "{:.1f}"),
    CueWords("speech_rate", "Speech rate", "fast", "slow", "syll/s"),
    CueWords("articulation_rate", "Articulation rate", "fast", "slow", "syll/s"),
)

EXTENDED: tuple[CueWords, ...] = (
    CueWords("pitch_range", "Pitch range", "wide", "narrow", "st", "{:.1f}"),
    CueWords("pitch_variability", "Pitch variability", "high", "low", "st"),
    CueWords("intensity_variability", "Intensity variability", "high", "low", "dB", "{:.1f}"),
    CueWords("pause_count", "Pauses", "many", "few", "", "{:.0f}"),
    CueWords("pause_length", "Pause length", "long", "short", "s"),
    CueWords("jitter", "Jitter", "high", "low", "%"),
    CueWords("shimmer", "Shimmer", "high", "low", "%"),
    CueWords("hnr", "HNR", "high", "low", "dB", "{:.1f}"),
    CueWords("spectral_tilt", "Spectral tilt", "flat", "steep", "dB", "{:.1f}"),
)

COARSE_CUES: tuple[str, ...] = tuple(c.name for c in COARSE)
EXTENDED_CUES: tuple[str, ...] = tuple(c.name for c in EXTENDED)
#: Every cue that can be turned into a word, by name.
WORDS: dict[str, CueWords] = {c.name: c for c in COARSE + EXTENDED}


def word_for(name: str, value: float, threshold: float) -> str:
    """The word for ``value`` against ``threshold`` (strictly above -> first word)."""
    cue = WORDS[name]
    return cue.above if value > threshold else cue.below
