"""The cue numbers the student reads, as features for the cue baselines.

The experiment's cue feature (:class:`spokenemo.features.providers.CueFeatures`) extracts one cue
table per experiment with :func:`spokenemo.features.cues.extract_manifest`:
per utterance, from one set of frame tracks, the four coarse cues and the fine cues for every
segment count an experiment can ask for (:func:`segment_counts`: the config's n and Table 4's
1, 3, 5, 7, 9), so the n sweep never re-reads audio. The same table feeds the student's prompts.

>>> cue_vector({"pitch": 200.0, "intensity": -20.0, "speech_rate": 4.0, "articulation_rate": 5.0,
...             "pitch_seg_2": [0.1, 0.9], "intensity_seg_2": [1.0, 0.0]}, coarse=True, fine=True, n=2)
[200.0, -20.0, 4.0, 5.0, 0.1, 0.9, 1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spokenemo.core.errors import SpokenemoError

#: The n values of the AECoTD paper's Table 4 (fine-cue segments): always extracted, so the sweep
#: never re-reads audio.
N_SWEEP = (1, 3, 5, 7, 9)

COARSE_ORDER = ("pitch", "intensity", "speech_rate", "articulation_rate")


def segment_counts(config_n: int, extra: Iterable[int] = ()) -> tuple[int, ...]:
    """The fine-cue segment counts to compute: the config's n, Table 4's sweep and ``extra``."""
    return tuple(sorted({int(config_n), *N_SWEEP, *(int(n) for n in extra)}))


def cue_vector(row: Mapping[str, Any], *, coarse: bool, fine: bool, n: int | None = None) -> list[float]:
    """The numbers of one cue row: 4 coarse (Hz, dBFS, syll/s, syll/s), then n pitch and n
    intensity segment values.

    Raises
    ------
    SpokenemoError
        The row has no fine cues for ``n`` (extracted with other segment counts).
    """
    out: list[float] = []
    if coarse:
        out += [float(row[c]) for c in COARSE_ORDER]
    if fine:
        if n is None:
            raise SpokenemoError("cue_vector: fine cues need the segment count n")
        try:
            out += [float(v) for v in row[f"pitch_seg_{n}"]] + [float(v) for v in row[f"intensity_seg_{n}"]]
        except KeyError:
            raise SpokenemoError(f"cue row has no fine cues for n={n}",
                                 hint="extract cues with this segment count (it is part of the cache fingerprint)") from None
    return out
