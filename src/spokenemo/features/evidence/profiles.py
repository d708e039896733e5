"""Emotion profiles: the direction each cue takes for each emotion, relative to neutral speech.

+1 = higher / louder / faster / wider / more / flatter tilt / rising contour than neutral speech,
-1 = the opposite, 0 = no consistent direction in the sources (the cue is then not used for or
against that emotion). Neutral is the reference: for it, a cue that stays *about the same* as the
baseline supports it and a noticeable change speaks against it.

Sources (our summary of their tables; the direction of a cell is what the sources agree on):

- **JL03**: Juslin, P. N., & Laukka, P. (2003). Communication of emotions in vocal expression and
  music performance: Different channels, same code? *Psychological Bulletin, 129*(5), 770-814
  (the cross-study summary of cues for anger, fear, happiness, sadness and tenderness: speech rate,
  voice intensity and its variability, high-frequency energy, F0 level, F0 variability, F0
  contour, microstructural irregularity).
- **BS96**: Banse, R., & Scherer, K. R. (1996). Acoustic profiles in vocal emotion expression.
  *Journal of Personality and Social Psychology, 70*(3), 614-636 (14 emotions, including disgust,
  hot and cold anger, panic and anxiety).
- **S03**: Scherer, K. R. (2003). Vocal communication of emotion: A review of research paradigms.
  *Speech Communication, 40*(1-2), 227-256 (the review table of acoustic changes per emotion,
  including pauses).

``calm`` follows JL03's *tenderness*; ``surprised`` is in none of the three summary tables and
gets only the cues on which studies of surprise commonly agree (high, widely moving, rising
pitch; ours, marked ``*``); ``disgust`` follows BS96 and S03, whose effects are small. HNR has no
consistent direction in these sources and is measured and shown, never used for or against.
"""

from __future__ import annotations

from dataclasses import dataclass

from spokenemo.features.evidence.catalogue import SPECS

CONTOUR = "contour"
PROFILE_CUES: tuple[str, ...] = ("pitch", "pitch_range", "pitch_variability", "loudness", "loudness_variability",
                                 "speech_rate", "articulation_rate", "pause_count", "pause_length", "jitter",
                                 "shimmer", "spectral_tilt", CONTOUR)

_ROWS: dict[str, dict[str, int]] = {
    # JL03: fast, loud, much intensity variability, much HF energy, high F0, much F0 variability,
    # rising contour, irregular microstructure; S03/JL03: few pauses.
    "angry": {"pitch": 1, "pitch_range": 1, "pitch_variability": 1, "loudness": 1, "loudness_variability": 1,
              "speech_rate": 1, "articulation_rate": 1, "pause_count": -1, "jitter": 1, "shimmer": 1,
              "spectral_tilt": 1, CONTOUR: 1},
    # JL03: fast, medium-high intensity, high F0, much F0 variability, rising contour, regular
    # microstructure; few pauses (S03).
    "happy": {"pitch": 1, "pitch_range": 1, "pitch_variability": 1, "loudness": 1, "loudness_variability": 1,
              "speech_rate": 1, "articulation_rate": 1, "pause_count": -1, "jitter": -1, "shimmer": -1,
              CONTOUR: 1},
    # JL03: slow, low intensity and little variability, little HF energy, low F0, little F0
    # variability, falling contour, irregular microstructure; S03: more and longer pauses.
    "sad": {"pitch": -1, "pitch_range": -1, "pitch_variability": -1, "loudness": -1, "loudness_variability": -1,
            "speech_rate": -1, "articulation_rate": -1, "pause_count": 1, "pause_length": 1, "jitter": 1,
            "shimmer": 1, "spectral_tilt": -1, CONTOUR: -1},
    # JL03: fast, high F0, rising contour, irregular microstructure (intensity and F0 variability
    # differ between studies and kinds of fear, BS96: panic vs anxiety).
    "fearful": {"pitch": 1, "speech_rate": 1, "articulation_rate": 1, "jitter": 1, "shimmer": 1, CONTOUR: 1},
    # JL03 tenderness: slow, low intensity and variability, little HF energy, low F0, little F0
    # variability, falling contour, regular microstructure.
    "calm": {"pitch": -1, "pitch_range": -1, "pitch_variability": -1, "loudness": -1, "loudness_variability": -1,
             "speech_rate": -1, "articulation_rate": -1, "jitter": -1, "shimmer": -1, "spectral_tilt": -1,
             CONTOUR: -1},
    # BS96 / S03: lower F0, slower; small effects.
    "disgust": {"pitch": -1, "speech_rate": -1, "articulation_rate": -1},
    # * ours: high, widely moving, rising pitch.
    "surprised": {"pitch": 1, "pitch_range": 1, "pitch_variability": 1, CONTOUR: 1},
    "neutral": {},
}

SOURCES: dict[str, str] = {
    "angry": "JL03, BS96 (hot anger), S03", "happy": "JL03, BS96 (elation), S03", "sad": "JL03, BS96, S03",
    "fearful": "JL03, BS96 (panic fear), S03", "calm": "JL03 (tenderness)", "disgust": "BS96, S03",
    "surprised": "ours*", "neutral": "reference",
}

#: Emotion names the profiles accept for others (``joy`` -> ``happy``...).
ALIASES = {"anger": "angry", "happiness": "happy", "joy": "happy", "sadness": "sad", "fear": "fearful",
           "surprise": "surprised", "disgusted": "disgust", "tenderness": "calm"}


@dataclass(frozen=True)
class Profile:
    """One emotion's expected direction per cue (0 where the sources show none)."""

    emotion: str
    directions: dict[str, int]
    source: str

    def expects(self, cue: str) -> int:
        return self.directions.get(cue, 0)


def canonical_emotion(name: str) -> str:
    key = name.strip().lower()
    return ALIASES.get(key, key)


def profile(emotion: str) -> Profile | None:
    """The profile of ``emotion`` (aliases accepted); None for an emotion the table lacks."""
    key = canonical_emotion(emotion)
    if key not in _ROWS:
        return None
    return Profile(key, {c: _ROWS[key].get(c, 0) for c in PROFILE_CUES}, SOURCES[key])


def profile_table() -> list[dict[str, str]]:
    """The table as rows of symbols (for docs and ``spokenemo evidence --profiles``)."""
    symbol = {1: "+", -1: "-", 0: "."}
    rows = []
    for emotion in _ROWS:
        p = profile(emotion)
        assert p is not None
        rows.append({"emotion": emotion, **{c: symbol[p.expects(c)] for c in PROFILE_CUES}, "sources": p.source})
    return rows


def cue_noun(cue: str) -> str:
    return "the pitch contour" if cue == CONTOUR else SPECS[cue].noun
