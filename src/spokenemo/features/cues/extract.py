"""All cues of one utterance from one set of frame tracks: :func:`extract_cues`.

Coarse cues (docs/methods/aecotd.md, section 1):

- ``pitch``: mean of the voiced frames' pitch in Hz (0 when no frame is voiced);
- ``intensity``: RMS of the whole signal in dBFS, ``20*log10(rms)`` (floored at ``db_floor``);
- ``speech_rate``: syllable nuclei / total duration (syll/s);
- ``articulation_rate``: syllable nuclei / phonation time (syll/s; 0 without phonation), where
  phonation time = sounding frames x hop (capped at the duration).

Fine cues: :mod:`spokenemo.features.cues.fine`; extended cues: :mod:`spokenemo.features.cues.extended`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.audio import load_audio
from spokenemo.features.cues.config import CueExtractionConfig
from spokenemo.features.cues.extended import extended_cues
from spokenemo.features.cues.fine import FineCues, fine_cues
from spokenemo.features.cues.syllables import syllable_nuclei
from spokenemo.features.cues.tracks import FrameTracks, compute_tracks, to_db
from spokenemo.features.cues.vocabulary import COARSE_CUES, EXTENDED_CUES

_SEGMENT_COLUMN = re.compile(r"^(pitch|intensity)_seg_(\d+)$")


def segment_column(cue: str, n: int) -> str:
    """Column holding the ``n`` normalised segment values of ``cue`` (``pitch_seg_7``)."""
    return f"{cue}_seg_{n}"


@dataclass(frozen=True)
class UtteranceCues:
    """The cues of one utterance.

    Attributes
    ----------
    coarse : dict
        ``pitch`` (Hz), ``intensity`` (dBFS), ``speech_rate`` and ``articulation_rate`` (syll/s).
    fine : dict
        ``{n: FineCues}`` for every segment count computed.
    extended : dict
        Extended cues by name (empty unless asked for).
    duration : float
        Seconds.
    syllables : int
        Syllable nuclei found.
    phonation_time : float
        Seconds of sounding frames.
    """

    coarse: dict[str, float]
    fine: dict[int, FineCues]
    duration: float
    syllables: int
    phonation_time: float
    extended: dict[str, float] = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        """Every utterance-level cue by name (coarse and extended)."""
        return {**self.coarse, **self.extended}

    def to_row(self) -> dict[str, Any]:
        """A flat, JSON-ready dict: raw values, then ``pitch_seg_N``/``intensity_seg_N`` lists."""
        row: dict[str, Any] = {"duration": self.duration, "syllables": self.syllables,
                               "phonation_time": self.phonation_time}
        row.update(self.coarse)
        row.update(self.extended)
        for n, cues in sorted(self.fine.items()):
            row[segment_column("pitch", n)] = list(cues.pitch)
            row[segment_column("intensity", n)] = list(cues.intensity)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> UtteranceCues:
        """Rebuild from :meth:`to_row` output (or a row of a cue table)."""
        missing = [c for c in COARSE_CUES if c not in row]
        if missing:
            raise KeyError(f"cue row lacks {missing}; it was not written by spokenemo.features.cues")
        fine: dict[int, dict[str, tuple[float, ...]]] = {}
        for col, value in row.items():
            m = _SEGMENT_COLUMN.match(str(col))
            if m and value is not None:
                fine.setdefault(int(m.group(2)), {})[m.group(1)] = tuple(float(v) for v in value)
        return cls(
            coarse={c: float(row[c]) for c in COARSE_CUES},
            fine={n: FineCues(pitch=d.get("pitch", ()), intensity=d.get("intensity", ())) for n, d in fine.items()},
            duration=float(row.get("duration", 0.0) or 0.0),
            syllables=int(row.get("syllables", 0) or 0),
            phonation_time=float(row.get("phonation_time", 0.0) or 0.0),
            extended={c: float(row[c]) for c in EXTENDED_CUES if row.get(c) is not None},
        )


def phonation_time(tracks: FrameTracks) -> float:
    """Seconds of sounding frames (frames x hop), at most the duration."""
    return min(float(tracks.sounding.sum()) * tracks.frame_period, tracks.duration)


def coarse_cues(tracks: FrameTracks, n_syllables: int) -> dict[str, float]:
    """The four coarse cues (module docstring) from tracks and the syllable count."""
    pitch = float(tracks.pitch[tracks.voiced].mean()) if tracks.voiced.any() else 0.0
    duration = tracks.duration
    phonation = phonation_time(tracks)
    return {
        "pitch": pitch,
        "intensity": float(to_db(tracks.signal_rms, tracks.db_floor)),
        "speech_rate": n_syllables / duration if duration > 0 else 0.0,
        "articulation_rate": n_syllables / phonation if phonation > 0 else 0.0,
    }


def cues_from_tracks(tracks: FrameTracks, config: CueExtractionConfig | None = None,
                     y: np.ndarray | None = None) -> UtteranceCues:
    """Every cue asked for by ``config`` from already computed tracks."""
    cfg = config or CueExtractionConfig()
    nuclei = syllable_nuclei(tracks, cfg)
    return UtteranceCues(
        coarse=coarse_cues(tracks, int(nuclei.size)),
        fine=fine_cues(tracks, cfg),
        duration=tracks.duration,
        syllables=int(nuclei.size),
        phonation_time=phonation_time(tracks),
        extended=extended_cues(tracks, cfg, y) if cfg.extended else {},
    )


def analyse(y: np.ndarray, config: CueExtractionConfig | None = None, *,
            keep_magnitude: bool = False) -> tuple[FrameTracks, UtteranceCues]:
    """Tracks and cues of one signal (tracks are what :func:`spokenemo.features.cues.plot.plot_cues` draws)."""
    cfg = config or CueExtractionConfig()
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"expected a non-empty mono 1-D signal, got shape {y.shape}")
    tracks = compute_tracks(y, cfg, keep_magnitude=keep_magnitude)
    return tracks, cues_from_tracks(tracks, cfg, y)


def extract_cues(y: np.ndarray, config: CueExtractionConfig | None = None) -> UtteranceCues:
    """All cues of one mono signal at ``config.sr``.

    Parameters
    ----------
    y : np.ndarray, 1-D
        The signal (full scale 1.0), e.g. from :func:`spokenemo.audio.load_audio`.
    config : CueExtractionConfig, optional
        Settings (reference defaults when omitted).

    Returns
    -------
    UtteranceCues

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(32000) / 16000
    >>> cues = extract_cues(0.1 * np.sin(2 * np.pi * 220 * t))
    >>> round(cues.coarse["pitch"])
    220
    """
    return analyse(y, config)[1]


def load_for_cues(path: str | Path, *, start: float | None = None, end: float | None = None,
                  config: CueExtractionConfig | None = None) -> np.ndarray:
    """Load (a segment of) an audio file at the cue sample rate (typed AudioError on bad input)."""
    cfg = config or CueExtractionConfig()
    return load_audio(path, start=start, end=end, sr=cfg.sr)


def extract_file(path: str | Path, *, start: float | None = None, end: float | None = None,
                 config: CueExtractionConfig | None = None) -> UtteranceCues:
    """:func:`extract_cues` of an audio file (or a ``start``/``end`` segment of it)."""
    return extract_cues(load_for_cues(path, start=start, end=end, config=config), config)
