"""The one cue text shared by teacher and student prompts (docs/methods/aecotd.md, section 3).

Default rendering (paper config, n = 7)::

    Pitch: high. Intensity: strong. Speech rate: fast. Articulation rate: slow.
    Pitch by segment: [0.12, 0.35, 0.80, 1.00, 0.64, 0.22, 0.00]. Intensity by segment: [...].

The paper's ablations are switches of :class:`CueTextConfig` (``coarse``, ``fine``,
``n_segments``); :meth:`CueTextConfig.variant` names them. Without thresholds the coarse words
cannot be chosen, and the raw values are rendered with their units instead
(``Pitch: 182.3 Hz. ...``).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from spokenemo.core.errors import ConfigError
from spokenemo.core.speakers import speaker_of_row
from spokenemo.features.cues.extract import UtteranceCues
from spokenemo.features.cues.thresholds import Thresholds
from spokenemo.features.cues.vocabulary import COARSE, EXTENDED, CueWords

COARSE_TEMPLATE = ("Pitch: {pitch}. Intensity: {intensity}. Speech rate: {speech_rate}. "
                   "Articulation rate: {articulation_rate}.")
EXTENDED_TEMPLATE = " ".join(f"{c.label}: {{{c.name}}}." for c in EXTENDED)
FINE_TEMPLATE = "Pitch by segment: {pitch_segments}. Intensity by segment: {intensity_segments}."

_FIELDS = {
    "coarse_template": {c.name for c in COARSE},
    "extended_template": {c.name for c in EXTENDED},
    "fine_template": {"pitch_segments", "intensity_segments", "n"},
}


class CueTextConfig(BaseModel):
    """How cues are rendered as text.

    Parameters
    ----------
    coarse, fine, extended : bool
        Which parts to render (paper: coarse and fine; extended is ours, off).
    n_segments : int
        Segment count of the fine lists (7 in the paper; the cues must have been extracted
        with this count).
    decimals : int
        Decimals of the segment values (2).
    coarse_template, extended_template, fine_template : str
        ``str.format`` templates; placeholders are the cue names (coarse/extended) or
        ``pitch_segments``, ``intensity_segments`` and ``n`` (fine).
    separator : str
        Joins the rendered parts (a newline).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    coarse: bool = True
    fine: bool = True
    extended: bool = False
    n_segments: int = Field(7, ge=1)
    decimals: int = Field(2, ge=0, le=6)
    coarse_template: str = COARSE_TEMPLATE
    extended_template: str = EXTENDED_TEMPLATE
    fine_template: str = FINE_TEMPLATE
    separator: str = "\n"

    @field_validator("coarse_template", "extended_template", "fine_template")
    @classmethod
    def _placeholders(cls, v: str, info: Any) -> str:
        allowed = _FIELDS[info.field_name]
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(v) if name is not None}
        except ValueError as err:
            raise ValueError(f"malformed template ({err})") from None
        bad = sorted(used - allowed)
        if bad:
            raise ValueError(f"unknown placeholder(s) {bad}; allowed: {sorted(allowed)}")
        return v

    @classmethod
    def variant(cls, name: str, **overrides: Any) -> CueTextConfig:
        """A named variant: ``paper`` (coarse + fine, n = 7), ``no-fine``, ``no-coarse``,
        ``text-only`` (no cues), ``extended`` (paper + extended cues) or ``n=K`` (K segments)."""
        presets: dict[str, dict[str, Any]] = {
            "paper": {}, "no-fine": {"fine": False}, "no-coarse": {"coarse": False},
            "text-only": {"coarse": False, "fine": False}, "extended": {"extended": True},
        }
        if name.startswith("n=") and name[2:].isdigit():
            return cls(**{"n_segments": int(name[2:]), **overrides})
        if name not in presets:
            raise ConfigError(f"unknown cue text variant {name!r}",
                              hint=f"use one of {', '.join(presets)} or n=K")
        return cls(**{**presets[name], **overrides})


def _words_or_raw(cues: tuple[CueWords, ...], values: Mapping[str, float], thresholds: Thresholds | None,
                  speaker: str | None) -> dict[str, str]:
    missing = [c.name for c in cues if values.get(c.name) is None]
    if missing:
        raise ConfigError(f"the cues lack {missing}", hint="extract them (extended cues need --extended)")
    if thresholds is None:
        return {c.name: c.raw(float(values[c.name])) for c in cues}
    limits = thresholds.for_speaker(speaker)
    absent = [c.name for c in cues if c.name not in limits]
    if absent:
        raise ConfigError(f"the thresholds have no value for {absent}",
                          hint="refit them on a cue table that has these cues")
    return {c.name: (c.above if float(values[c.name]) > limits[c.name] else c.below) for c in cues}


def format_segments(values: Any, decimals: int = 2) -> str:
    """``[0.12, 0.35, 1.00]``: values rounded to ``decimals``."""
    return "[" + ", ".join(f"{float(v):.{decimals}f}" for v in values) + "]"


def render_cue_text(cues: UtteranceCues | Mapping[str, Any], thresholds: Thresholds | None = None,
                    config: CueTextConfig | None = None, *, speaker: str | None = None) -> str:
    """Render the cue text of one utterance.

    Parameters
    ----------
    cues : UtteranceCues or mapping
        The utterance's cues, or its row of a cue table.
    thresholds : Thresholds, optional
        Medians for the words; without them the raw values (with units) are rendered.
    config : CueTextConfig, optional
        What to render (paper default).
    speaker : str, optional
        Speaker identity for speaker-relative thresholds (``"corpus/speaker"`` as in
        :func:`spokenemo.core.speakers.speaker_of_row`); taken from the row when ``cues`` is a table row.

    Returns
    -------
    str
        The text; empty for the ``text-only`` variant.

    Raises
    ------
    ConfigError
        The cues lack the asked segment count or extended cues, or the thresholds lack a cue.
    """
    cfg = config or CueTextConfig()
    if not isinstance(cues, UtteranceCues):
        if speaker is None:
            speaker = speaker_of_row(cues)
        cues = UtteranceCues.from_row(cues)
    values = cues.values()
    parts: list[str] = []
    if cfg.coarse:
        parts.append(cfg.coarse_template.format(**_words_or_raw(COARSE, values, thresholds, speaker)))
    if cfg.extended:
        parts.append(cfg.extended_template.format(**_words_or_raw(EXTENDED, values, thresholds, speaker)))
    if cfg.fine:
        fine = cues.fine.get(cfg.n_segments)
        if fine is None:
            have = ", ".join(str(n) for n in sorted(cues.fine)) or "none"
            raise ConfigError(f"no fine cues with {cfg.n_segments} segments (extracted: {have})",
                              hint=f"extract with n_segments including {cfg.n_segments}")
        parts.append(cfg.fine_template.format(pitch_segments=format_segments(fine.pitch, cfg.decimals),
                                              intensity_segments=format_segments(fine.intensity, cfg.decimals),
                                              n=cfg.n_segments))
    return cfg.separator.join(parts)


def render_table(rows: Iterable[Mapping[str, Any]], thresholds: Thresholds | None = None,
                 config: CueTextConfig | None = None) -> dict[str, str]:
    """Cue text of every row of a cue table, by ``key`` (each row's own speaker is used).

    With speaker-relative thresholds, call ``thresholds.with_speakers(rows)`` first so that the
    speakers of these rows (e.g. a test fold's) get their own medians.
    """
    return {str(row["key"]): render_cue_text(row, thresholds, config) for row in rows}
