"""Syllable nuclei from the intensity track (energy-based, after de Jong & Wempe 2009).

The exact rule (all levels in dB on the frame intensity track of :mod:`spokenemo.features.cues.tracks`):

1. **Peaks**: frames ``t`` with ``I[t] > I[t-1]`` and ``I[t] >= I[t+1]`` (outside the track
   counts as -inf, so a level still rising at the last frame is a peak; on a plateau the first
   frame is the peak).
2. **Loud enough**: ``I[t] >= noise + nucleus_above_noise_db`` (noise = the 5th percentile of
   the frame levels; 20 dB as in the paper), and the frame is *sounding* (above the silence
   threshold, i.e. not in a pause; ours: on recordings with digital silence the 5th percentile is
   the floor, and noise + 20 dB alone would accept ripples inside pauses). With
   ``nuclei_voiced_only`` the frame must also be voiced.
3. **Dip rule**: walking through the remaining peaks in time order, a peak is kept when the
   lowest level between it and the previously kept peak is at least ``nucleus_min_dip_db``
   (2 dB) below *both* peaks. Otherwise the two belong to one nucleus: the louder of the two stays
   the kept peak.

The syllable count is the number of kept peaks.
"""

from __future__ import annotations

import numpy as np

from spokenemo.features.cues.config import CueExtractionConfig
from spokenemo.features.cues.tracks import FrameTracks


def intensity_peaks(level: np.ndarray) -> np.ndarray:
    """Indices of local maxima of ``level`` (rule 1 above)."""
    if level.size == 0:
        return np.zeros(0, dtype=np.int64)
    padded = np.concatenate(([-np.inf], level, [-np.inf]))
    mid = padded[1:-1]
    return np.flatnonzero((mid > padded[:-2]) & (mid >= padded[2:]))


def select_nuclei(level: np.ndarray, candidates: np.ndarray, min_dip_db: float) -> np.ndarray:
    """Apply the dip rule (rule 3) to candidate peak indices in increasing order."""
    kept: list[int] = []
    for t in candidates.tolist():
        if not kept:
            kept.append(t)
            continue
        last = kept[-1]
        dip = float(level[last:t + 1].min())
        if min(level[last], level[t]) - dip >= min_dip_db:
            kept.append(t)
        elif level[t] > level[last]:
            kept[-1] = t
    return np.asarray(kept, dtype=np.int64)


def syllable_nuclei(tracks: FrameTracks, config: CueExtractionConfig | None = None) -> np.ndarray:
    """Frame indices of the syllable nuclei of one utterance.

    Parameters
    ----------
    tracks : FrameTracks
        The utterance's tracks.
    config : CueExtractionConfig, optional
        ``nucleus_above_noise_db``, ``nucleus_min_dip_db`` and ``nuclei_voiced_only``.

    Returns
    -------
    np.ndarray of int
        Increasing frame indices; ``len`` is the syllable count.
    """
    cfg = config or CueExtractionConfig()
    level = tracks.intensity_db
    peaks = intensity_peaks(level)
    allowed = tracks.sounding & (level >= tracks.noise_db + cfg.nucleus_above_noise_db)
    if cfg.nuclei_voiced_only:
        allowed = allowed & tracks.voiced
    return select_nuclei(level, peaks[allowed[peaks]], cfg.nucleus_min_dip_db)
