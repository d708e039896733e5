"""Cue measurements of one segment, in units a person can hear: :func:`measure_cues`.

All values come from one set of :class:`~spokenemo.features.evidence.tracks.VoiceTracks`:

=====================  ======  ==================================================================
cue                    unit    definition
=====================  ======  ==================================================================
pitch                  Hz      median F0 of the voiced frames
pitch_range            st      ``12*log2(p90 / p10)`` of the voiced frames' F0
pitch_variability      st      standard deviation of ``12*log2(f0 / median)`` over voiced frames
loudness               dBFS    level of the mean frame energy over sounding frames
loudness_variability   dB      standard deviation of the frame level over sounding frames
speech_rate            syll/s  syllable nuclei / length of the sounding span (leading and
                               trailing silence excluded)
articulation_rate      syll/s  syllable nuclei / time of sounding frames
pause_count            --      silent stretches of >= 0.2 s inside the sounding span
pause_length           s       their mean length (not measured without a pause)
jitter, shimmer        %       frame-level F0 perturbation and cycle-amplitude shimmer
hnr                    dB      autocorrelation harmonics-to-noise ratio of voiced frames
spectral_tilt          dB      alpha ratio ``E[1-5 kHz] / E[50 Hz-1 kHz]`` (higher = flatter)
=====================  ======  ==================================================================

Syllable nuclei, pauses, jitter, shimmer, HNR and tilt use the definitions of
:mod:`spokenemo.features.cues.syllables` and :mod:`spokenemo.features.cues.extended`, on these tracks.

Voiced frames more than 10 semitones from the segment's median pitch (creak, a tracker's octave
error) are left out of every pitch measure. The contour (:class:`Contour`) is measured on the
sounding span only: a robust (Theil-Sen) line through the voiced frames' pitch in semitones gives
the change from the first to the last voiced frame; seven equal
segments of the span give the shape and the peak position. A cue that cannot be measured
(silence, too little voiced speech, no pause) is ``None`` with its reason in ``missing``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import librosa
import numpy as np
from scipy.stats import theilslopes

from spokenemo.core.errors import ConfigError
from spokenemo.features.cues.extended import (
    hnr_tracks,
    jitter_tracks,
    pauses,
    shimmer_cycles,
    spectral_tilt_db,
)
from spokenemo.features.cues.syllables import intensity_peaks, select_nuclei
from spokenemo.features.cues.tracks import FrameTracks
from spokenemo.features.evidence.catalogue import CONTOUR_JND_ST, CUE_NAMES
from spokenemo.features.evidence.tracks import (
    DB_FLOOR,
    FMAX,
    FMIN,
    SR,
    VoiceTracks,
    default_tracker,
    voice_tracks,
)

MIN_VOICED_FRAMES = 10
MIN_CONTOUR_FRAMES = 20
MIN_SPAN_S = 0.3
MIN_PAUSE_S = 0.2
N_CONTOUR_SEGMENTS = 7
#: Voiced frames farther than this from the segment's median pitch are tracker errors (creak,
#: octave jumps) and are left out of every pitch measure.
OUTLIER_ST = 10.0


@dataclass(frozen=True)
class Contour:
    """Shape of the pitch over the sounding span.

    Attributes
    ----------
    shape : ``rising``, ``falling``, ``level``, ``rise-fall``, ``fall-rise``, or None (not measured).
    change_st : pitch change from the first to the last voiced frame (fitted line), semitones.
    peak_position : where the highest segment lies, 0 (start) to 1 (end) of the sounding span.
    segments_st : median pitch of each of 7 equal parts of the span, semitones re the segment's
        median pitch (None: too few voiced frames in that part).
    loudness_change_db : loudness change over the sounding span (fitted line), dB.
    reason : why the shape was not measured.
    """

    shape: str | None = None
    change_st: float | None = None
    peak_position: float | None = None
    segments_st: tuple[float | None, ...] = ()
    loudness_change_db: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CueMeasures:
    """The measured cues of one segment (see the module table)."""

    values: dict[str, float | None]
    missing: dict[str, str]
    contour: Contour
    duration: float
    sounding_s: float
    voiced_s: float
    syllables: int
    tracker: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CueMeasures:
        contour = dict(data.get("contour") or {})
        contour["segments_st"] = tuple(contour.get("segments_st") or ())
        return cls(values=dict(data["values"]), missing=dict(data.get("missing") or {}), contour=Contour(**contour),
                   duration=float(data["duration"]), sounding_s=float(data["sounding_s"]),
                   voiced_s=float(data["voiced_s"]), syllables=int(data["syllables"]),
                   tracker=str(data["tracker"]), extra=dict(data.get("extra") or {}))


def _frame_tracks(vt: VoiceTracks) -> FrameTracks:
    """The cue-package view of the tracks (to reuse its pause and voice-quality measures)."""
    level = vt.level_db
    return FrameTracks(sr=vt.sr, n_fft=vt.n_fft, hop_length=vt.hop_length, n_samples=vt.n_samples, pitch=vt.f0,
                       voiced=vt.voiced, sounding=vt.sounding, intensity_db=level, rms=10.0 ** (level / 20.0),
                       signal_rms=0.0, noise_db=float(np.percentile(level, 5)),
                       peak_db=float(np.percentile(level, 99)), silence_db=vt.silence_db, db_floor=DB_FLOOR,
                       magnitude=vt.magnitude)


def _syllables(ft: FrameTracks) -> int:
    level = ft.intensity_db
    peaks = intensity_peaks(level)
    allowed = ft.sounding & (level >= ft.noise_db + 20.0)
    return int(select_nuclei(level, peaks[allowed[peaks]], 2.0).size)


def _pitch_values(f0: np.ndarray) -> dict[str, float]:
    st = 12.0 * np.log2(f0 / np.median(f0))
    lo, hi = np.percentile(f0, [10, 90])
    return {"pitch": float(np.median(f0)), "pitch_range": float(12.0 * np.log2(hi / lo)),
            "pitch_variability": float(np.std(st))}


def _line_change(t: np.ndarray, v: np.ndarray) -> float:
    """Change of a robust (Theil-Sen) line over ``t``'s extent."""
    slope = theilslopes(v, t)[0]
    return float(slope * (t[-1] - t[0]))


def drop_pitch_outliers(vt: VoiceTracks) -> VoiceTracks:
    """The tracks with voiced frames more than :data:`OUTLIER_ST` from the median pitch unvoiced."""
    voiced = vt.voiced
    if voiced.sum() < 3:
        return vt
    st = np.zeros_like(vt.f0)
    st[voiced] = 12.0 * np.log2(vt.f0[voiced] / np.median(vt.f0[voiced]))
    keep = voiced & (np.abs(st) <= OUTLIER_ST)
    return replace(vt, f0=np.where(keep, vt.f0, 0.0))


def measure_contour(vt: VoiceTracks) -> Contour:
    """The pitch contour (and loudness change) on the sounding span (see :class:`Contour`)."""
    a, b = vt.span
    period = vt.frame_period
    sounding_idx = np.flatnonzero(vt.sounding)
    loud = (_line_change(sounding_idx * period, vt.level_db[sounding_idx])
            if sounding_idx.size >= MIN_VOICED_FRAMES else None)
    idx = np.flatnonzero(vt.voiced)
    if idx.size < MIN_CONTOUR_FRAMES:
        return Contour(loudness_change_db=loud, reason=f"too little voiced speech ({idx.size * period:.2f} s)")
    st = 12.0 * np.log2(vt.f0[idx] / np.median(vt.f0[idx]))
    change = _line_change(idx * period, st)
    edges = np.linspace(a, b, N_CONTOUR_SEGMENTS + 1)
    segs: list[float | None] = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (idx >= lo) & (idx < hi)
        segs.append(float(np.median(st[inside])) if inside.sum() >= 3 else None)
    valid = [(i, v) for i, v in enumerate(segs) if v is not None]
    peak_i = max(valid, key=lambda iv: iv[1])[0]
    peak = (peak_i + 0.5) / N_CONTOUR_SEGMENTS
    first, last = valid[0][1], valid[-1][1]
    inner = [v for i, v in valid[1:-1]]
    if change >= CONTOUR_JND_ST:
        shape = "rising"
    elif change <= -CONTOUR_JND_ST:
        shape = "falling"
    elif inner and max(inner) - max(first, last) >= CONTOUR_JND_ST:
        shape = "rise-fall"
    elif inner and min(first, last) - min(inner) >= CONTOUR_JND_ST:
        shape = "fall-rise"
    else:
        shape = "level"
    return Contour(shape=shape, change_st=change, peak_position=peak, segments_st=tuple(segs),
                   loudness_change_db=loud)


def _empty(reason: str, duration: float, tracker: str) -> CueMeasures:
    return CueMeasures(values={c: None for c in CUE_NAMES}, missing={c: reason for c in CUE_NAMES},
                       contour=Contour(reason=reason), duration=duration, sounding_s=0.0, voiced_s=0.0,
                       syllables=0, tracker=tracker)


def _measure_tracks(y: np.ndarray, vt: VoiceTracks) -> tuple[dict[str, float | None], dict[str, str], int]:
    ft = _frame_tracks(vt)
    values: dict[str, float | None] = {c: None for c in CUE_NAMES}
    missing: dict[str, str] = {}
    level = vt.level_db[vt.sounding]
    values["loudness"] = float(10.0 * np.log10(np.mean(10.0 ** (level / 10.0))))
    values["loudness_variability"] = float(np.std(level))
    n_syl = _syllables(ft)
    span_s, phon_s = vt.span_seconds, float(vt.sounding.sum()) * vt.frame_period
    if span_s >= MIN_SPAN_S:
        values["speech_rate"] = n_syl / span_s
        values["articulation_rate"] = n_syl / phon_s
        count, length = pauses(ft, MIN_PAUSE_S)
        values["pause_count"] = float(count)
        values["pause_length"] = length if count else None
        if not count:
            missing["pause_length"] = "no pause"
    else:
        for c in ("speech_rate", "articulation_rate", "pause_count", "pause_length"):
            missing[c] = f"too short ({span_s:.2f} s of sound)"
    f0 = vt.f0[vt.voiced]
    if f0.size >= MIN_VOICED_FRAMES:
        values.update(_pitch_values(f0))
        values["jitter"] = jitter_tracks(ft)
        values["shimmer"] = shimmer_cycles(y, ft, vt.f0)
        values["hnr"] = hnr_tracks(ft, FMIN, FMAX)
    else:
        for c in ("pitch", "pitch_range", "pitch_variability", "jitter", "shimmer", "hnr"):
            missing[c] = f"too little voiced speech ({f0.size * vt.frame_period:.2f} s)"
    values["spectral_tilt"] = spectral_tilt_db(ft)
    return values, missing, n_syl


def measure_cues(y: np.ndarray, sr: int = SR, *, tracker: str | None = None) -> CueMeasures:
    """Measure every cue of one segment.

    Parameters
    ----------
    y : np.ndarray, 1-D
        Mono signal (full scale 1.0); resampled to 16 kHz when ``sr`` differs.
    sr : int
        Its sample rate.
    tracker : ``"pyin"`` (default) or ``"praat"``.

    Returns
    -------
    CueMeasures
        Unmeasurable cues are None, with the reason in ``missing`` (never an exception for
        silence or a short signal).
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ConfigError(f"expected a mono 1-D signal, got shape {y.shape}", hint="average the channels first")
    if sr != SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=SR).astype(np.float32)
    duration = y.size / SR
    name = tracker or default_tracker()
    if y.size < 1024 or not np.any(np.abs(y) > 1e-5):
        return _empty("silent" if y.size >= 1024 else f"too short ({duration:.3f} s)", duration, name)
    vt = drop_pitch_outliers(voice_tracks(y, SR, tracker=name))
    if not vt.sounding.any():
        return _empty("silent", duration, name)
    values, missing, n_syl = _measure_tracks(y, vt)
    return CueMeasures(values=values, missing=missing, contour=measure_contour(vt), duration=duration,
                       sounding_s=float(vt.sounding.sum()) * vt.frame_period,
                       voiced_s=float(vt.voiced.sum()) * vt.frame_period, syllables=n_syl, tracker=name)
