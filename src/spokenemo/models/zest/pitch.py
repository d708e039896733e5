"""F0 for S2S-ZEST: WORLD analysis (``pyworld``) at 5 ms and the F0 target at the units' 20 ms.

The thesis uses YAAPT F0 with unvoiced frames set to 0 (Eq. 5.4). Offline both ``pyworld``
(``harvest`` or ``dio`` + ``stonemask``) and YAAPT (``amfm_decompy``) install; WORLD is the default
because its analysis also gives the spectral envelope and aperiodicity the WORLD renderer
(:mod:`spokenemo.models.zest.world`) re-synthesises from. A 20 ms frame's F0 is the mean of its four
5 ms values when at least two are voiced, else 0.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
import types
from dataclasses import dataclass

import numpy as np

from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.core.lazy import optional_import

#: WORLD frame period (ms) and 5 ms frames per 20 ms unit frame.
WORLD_PERIOD_MS = 5.0
PER_UNIT = 4
F0_FLOOR, F0_CEIL = 60.0, 600.0
METHODS = ("harvest", "dio", "yaapt")
#: A clip needs this many voiced 20 ms frames, and this fraction of its frames voiced, to be converted.
MIN_VOICED_FRAMES = 10
MIN_VOICED_FRACTION = 0.15


class NoVoicedFramesError(SpokenemoError):
    """The audio holds no voiced frame (no F0 to transfer or predict from)."""


@dataclass
class WorldFeatures:
    """WORLD analysis of one clip at :data:`WORLD_PERIOD_MS`.

    Attributes
    ----------
    f0 : (N,) float64, Hz, 0 where unvoiced.
    sp : (N, bins) spectral envelope.  ap : (N, bins) aperiodicity.  sr : sample rate.
    """

    f0: np.ndarray
    sp: np.ndarray
    ap: np.ndarray
    sr: int


def _pyworld() -> types.ModuleType:
    """``pyworld``; its 0.3.5 ``__init__`` asks ``pkg_resources`` (gone from current setuptools) for its
    version only, so a stand-in answering that is put in place while it imports, then removed."""
    if "pyworld" in sys.modules or importlib.util.find_spec("pkg_resources") is not None:
        return optional_import("pyworld", extra="zest", purpose="WORLD F0 analysis and re-synthesis")
    stub = types.ModuleType("pkg_resources")
    stub.get_distribution = lambda name: types.SimpleNamespace(version=importlib.metadata.version(name))  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = stub
    try:
        return optional_import("pyworld", extra="zest", purpose="WORLD F0 analysis and re-synthesis")
    finally:
        sys.modules.pop("pkg_resources", None)


def world_f0(wave: np.ndarray, sr: int, method: str = "harvest") -> np.ndarray:
    """F0 at 5 ms with WORLD ``harvest`` or ``dio`` + ``stonemask`` (Hz, 0 unvoiced)."""
    pw = _pyworld()
    x = np.ascontiguousarray(wave, dtype=np.float64)
    if method == "harvest":
        f0, t = pw.harvest(x, sr, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=WORLD_PERIOD_MS)
    elif method == "dio":
        f0, t = pw.dio(x, sr, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=WORLD_PERIOD_MS)
        f0 = pw.stonemask(x, f0, t, sr)
    else:
        raise ConfigError(f"WORLD F0 method must be harvest or dio, got {method!r}")
    return f0


def world_analyse(wave: np.ndarray, sr: int, method: str = "harvest") -> WorldFeatures:
    """F0, spectral envelope (CheapTrick) and aperiodicity (D4C) of one clip."""
    pw = _pyworld()
    x = np.ascontiguousarray(wave, dtype=np.float64)
    f0 = world_f0(x, sr, method)
    t = np.arange(len(f0)) * WORLD_PERIOD_MS / 1000.0
    sp = pw.cheaptrick(x, f0, t, sr)
    ap = pw.d4c(x, f0, t, sr)
    return WorldFeatures(f0, sp, ap, sr)


def yaapt_f0(wave: np.ndarray, sr: int, frame_ms: float = 20.0) -> np.ndarray:
    """YAAPT F0 (``amfm_decompy``) every ``frame_ms`` (Hz, 0 unvoiced), frames centred like the units'."""
    basic = optional_import("amfm_decompy.basic_tools", extra="zest", purpose="YAAPT F0")
    yaapt = optional_import("amfm_decompy.pYAAPT", extra="zest", purpose="YAAPT F0")
    signal = basic.SignalObj(np.asarray(wave, np.float64), sr)
    pitch = yaapt.yaapt(signal, frame_length=35.0, frame_space=frame_ms, f0_min=F0_FLOOR, f0_max=F0_CEIL)
    return np.asarray(pitch.samp_values, np.float64)


def to_unit_rate(f0_5ms: np.ndarray, n_frames: int) -> np.ndarray:
    """20 ms F0 from 5 ms F0: mean of the voiced quarter-frames when at least two are voiced, else 0."""
    need = n_frames * PER_UNIT
    f0 = np.zeros(need)
    f0[:min(need, len(f0_5ms))] = f0_5ms[:need]
    blocks = f0.reshape(n_frames, PER_UNIT)
    voiced = (blocks > 0).sum(1)
    mean = np.where(voiced > 0, blocks.sum(1) / np.maximum(voiced, 1), 0.0)
    return np.where(voiced >= 2, mean, 0.0).astype(np.float32)


def unit_f0(wave: np.ndarray, sr: int, n_frames: int, method: str = "harvest") -> np.ndarray:
    """The F0 target of one clip at the units' 50 Hz: ``(n_frames,)`` Hz, 0 where unvoiced."""
    if method not in METHODS:
        raise ConfigError(f"F0 method must be one of {METHODS}, got {method!r}")
    if method == "yaapt":
        f0 = yaapt_f0(wave, sr)
        out = np.zeros(n_frames, np.float32)
        out[:min(n_frames, len(f0))] = f0[:n_frames]
        return out
    return to_unit_rate(world_f0(wave, sr, method), n_frames)


def require_voiced(f0: np.ndarray, what: str, *, min_frames: int = MIN_VOICED_FRAMES,
                   min_fraction: float = MIN_VOICED_FRACTION) -> None:
    """Raise :class:`NoVoicedFramesError` unless ``f0`` has at least ``min_frames`` voiced frames making up
    ``min_fraction`` of it (white noise gets 3-8 % sporadic voiced frames from DIO, RAVDESS speech 30-60 %)."""
    f0 = np.asarray(f0)
    voiced = int((f0 > 0).sum())
    if voiced < min_frames or voiced < min_fraction * max(len(f0), 1):
        raise NoVoicedFramesError(f"{what}: no voiced frame found (only {voiced} of {len(f0)} frames have a pitch)",
                                  hint="give a clip with voiced speech (not silence, whisper or noise)")
