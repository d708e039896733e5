"""Settings of cue extraction (:class:`CueExtractionConfig`).

Defaults are the reference settings of the AECoTD method, docs/methods/aecotd.md (``n_fft`` 1024, hop 160 at
16 kHz, ``librosa.piptrack`` with fmin 65 / fmax 600 Hz, strongest bin per frame, syllable
nuclei 20 dB above the 5th-percentile noise floor with a 2 dB dip rule, 7 segments, 0.5 s
windows with 0.25 s step). Every option beyond the paper is off by default.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from spokenemo.core.errors import ConfigError

#: Bumped whenever a change in this package changes a cue value for the same settings, so cached
#: cue files computed by an older version are never reused (it is part of the fingerprint).
CUES_VERSION = 1

#: librosa.piptrack's own frequency range, kept for parity checks (``--librosa-range``).
LIBROSA_PIPTRACK_RANGE = (150.0, 4000.0)


class CueExtractionConfig(BaseModel):
    """How frame tracks and cues are computed from a signal.

    Parameters
    ----------
    sr : int
        Sample rate the signal must have (Hz); audio is loaded at this rate.
    n_fft : int
        STFT frame length in samples (Hann window, centred frames, zero padding): also the frame
        length of the RMS intensity track, so both tracks share one frame grid.
    hop_length : int
        Samples between frames (160 = 10 ms at 16 kHz).
    fmin, fmax : float
        Pitch search range in Hz. Bins with ``fmin <= f < fmax`` are searched, as in
        ``librosa.piptrack``. 65-600 Hz by default (ours): librosa's 150-4000 Hz misses low male
        voices and catches harmonics; see :data:`LIBROSA_PIPTRACK_RANGE`.
    pitch_backend : {"piptrack", "pyin", "praat"}
        ``piptrack`` (paper; fast, from the one STFT); ``pyin`` (``librosa.pyin``, slow, far fewer
        octave errors); ``praat`` (Praat's autocorrelation pitch via parselmouth).
    pitch_pick : {"strongest", "lowest"}
        Which piptrack peak is the frame's pitch: the one of largest magnitude (paper), or the
        lowest-frequency peak (ours, an option: on speech the strongest peak below 600 Hz is
        often the 2nd or 3rd harmonic, the lowest peak is close to F0).
    piptrack_threshold : float
        A bin is a pitch candidate when its magnitude exceeds this fraction of the frame's
        largest magnitude (over all bins), librosa's ``threshold``.
    gate_pitch_by_silence : bool
        Count a frame as voiced only when it has a pitch *and* is sounding (above the silence
        threshold); ours, an option. Off by default: every non-zero piptrack pitch counts, as
        the method's "average the non-zero per-frame pitches" says. piptrack finds a "pitch" in
        most frames of background noise; on RAVDESS (4 classes, 5 actor folds, logistic
        regression) the literal mean carried more emotion information (pitch alone: 38.0 vs
        34.1 % UA) and reproduces the reference numbers (coarse + fine: 54.1 % UA vs 53.8).
    db_floor : float
        Frame and utterance RMS levels are floored at this many dBFS (``amin = 1e-5`` as in
        ``librosa.amplitude_to_db``), so digital silence has a finite level.
    silence_below_peak_db : float
        Silence threshold = ``peak_percentile`` of the frame intensities minus this (de Jong &
        Wempe 2009 and Praat use 25 dB). Frames above it are "sounding": they make up the
        phonation time; frames at ``db_floor`` are never sounding.
    peak_percentile : float
        Percentile of frame intensity used as the utterance's peak level (99: robust to a click).
    noise_percentile : float
        Percentile of frame intensity used as the background noise level (5, paper).
    nucleus_above_noise_db : float
        A syllable nucleus must be at least this far above the noise level (20 dB, paper).
    nucleus_min_dip_db : float
        Two nuclei must be separated by a dip at least this deep below the lower of them (2 dB).
    nuclei_voiced_only : bool
        Keep only nuclei on voiced frames.
    n_segments : tuple of int
        Fine-cue segment counts to compute (7 in the paper; Table 4 sweeps 1-9). Every count is
        computed from the same tracks.
    window_s, step_s : float
        Sliding window (length, step) in seconds for the normalisation bounds F_min/F_max.
    intensity_mean : {"db", "energy"}
        How the intensity of a segment or window is averaged: mean of the frame levels in dB
        (default; "the mean intensity" read literally on the dB track), or the level of the mean
        frame energy (``10*log10(mean(rms**2))``, Praat's "energy" averaging, dominated by the
        loudest frames).
    pitch_flat_eps_hz, intensity_flat_eps_db : float
        When ``F_max - F_min`` is below this, the contour counts as flat and every non-silent
        segment gets 0.5. Chosen below the just-noticeable differences of pitch (~0.5 %) and
        loudness (~1 dB), and above the edge effects of centred frames on a steady tone.
    bounds_skip_silent_windows : bool
        Leave windows whose mean intensity is below the silence threshold out of F_min/F_max
        (ours, an option). Off: the bounds come from every window, as in the paper, so a
        leading silence sets the intensity F_min.
    extended : bool
        Also compute the extended cue set (:mod:`spokenemo.features.cues.extended`).
    voice_quality : {"tracks", "praat"}
        Jitter, shimmer and HNR from the frame tracks (cheap approximations) or from Praat.
    min_pause_s : float
        Shortest silent stretch between two sounding stretches that counts as a pause.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sr: int = Field(16000, gt=0)
    n_fft: int = Field(1024, ge=64)
    hop_length: int = Field(160, gt=0)
    fmin: float = Field(65.0, gt=0)
    fmax: float = Field(600.0, gt=0)
    pitch_backend: Literal["piptrack", "pyin", "praat"] = "piptrack"
    pitch_pick: Literal["strongest", "lowest"] = "strongest"
    piptrack_threshold: float = Field(0.1, gt=0, lt=1)
    gate_pitch_by_silence: bool = False
    db_floor: float = -100.0
    silence_below_peak_db: float = Field(25.0, gt=0)
    peak_percentile: float = Field(99.0, gt=0, le=100)
    noise_percentile: float = Field(5.0, ge=0, lt=100)
    nucleus_above_noise_db: float = Field(20.0, ge=0)
    nucleus_min_dip_db: float = Field(2.0, ge=0)
    nuclei_voiced_only: bool = False
    n_segments: tuple[int, ...] = (7,)
    window_s: float = Field(0.5, gt=0)
    step_s: float = Field(0.25, gt=0)
    intensity_mean: Literal["db", "energy"] = "db"
    pitch_flat_eps_hz: float = Field(1.0, ge=0)
    intensity_flat_eps_db: float = Field(0.5, ge=0)
    bounds_skip_silent_windows: bool = False
    extended: bool = False
    voice_quality: Literal["tracks", "praat"] = "tracks"
    min_pause_s: float = Field(0.2, gt=0)

    @field_validator("n_segments", mode="before")
    @classmethod
    def _segments(cls, v: Any) -> Any:
        if isinstance(v, int):
            v = (v,)
        values = tuple(v)
        if not values or any(not isinstance(n, int) or n < 1 for n in values):
            raise ValueError(f"n_segments must be positive integers, got {v!r}")
        return tuple(sorted(set(values)))

    @model_validator(mode="after")
    def _ranges(self) -> CueExtractionConfig:
        if self.fmax <= self.fmin:
            raise ValueError(f"fmax ({self.fmax}) must be above fmin ({self.fmin})")
        if self.fmax > self.sr / 2:
            raise ValueError(f"fmax ({self.fmax}) must not exceed the Nyquist frequency {self.sr / 2}")
        if self.sr / self.n_fft > self.fmin:
            raise ValueError(f"n_fft {self.n_fft} at {self.sr} Hz resolves {self.sr / self.n_fft:.1f} Hz bins, "
                             f"too coarse for fmin {self.fmin}")
        return self

    @classmethod
    def librosa_range(cls, **overrides: Any) -> CueExtractionConfig:
        """The settings with librosa.piptrack's own range, 150-4000 Hz (for parity checks)."""
        fmin, fmax = LIBROSA_PIPTRACK_RANGE
        return cls(**{"fmin": fmin, "fmax": fmax, **overrides})

    @classmethod
    def from_options(cls, options: dict[str, Any] | None = None, **overrides: Any) -> CueExtractionConfig:
        """Validate a dict of options (a YAML section), raising :class:`ConfigError` on bad ones."""
        try:
            return cls(**{**(options or {}), **overrides})
        except ValidationError as err:
            parts = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'cues'}: {e['msg']}" for e in err.errors())
            raise ConfigError(f"invalid cue settings: {parts}",
                              hint="see spokenemo.features.cues.CueExtractionConfig for the options") from None

    def fingerprint(self) -> str:
        """Short hash of the settings and :data:`CUES_VERSION` (names cached cue files)."""
        blob = json.dumps({"v": CUES_VERSION, **self.model_dump(mode="json")}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]
