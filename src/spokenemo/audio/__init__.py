"""Audio input: decode any common audio/video file to mono float32 at a chosen rate, check it, and
cut long recordings into windows.

>>> from spokenemo.audio import load_audio, audio_info
>>> y = load_audio("clip.mp4", start=1.5, end=4.0)   # doctest: +SKIP  (16 kHz mono float32)
>>> audio_info("clip.flac").duration                  # doctest: +SKIP

Errors are the typed :class:`spokenemo.core.errors.AudioError` family; doubtful but usable input
(clipping, near-silence, a few NaN samples) gives an :class:`AudioWarning`.
"""

from spokenemo.audio.checks import (
    AudioWarning,
    ClippingWarning,
    NonFiniteSamplesWarning,
    QuietAudioWarning,
    TruncatedAudioWarning,
    loudest_dbfs,
    validate_audio,
)
from spokenemo.audio.io import RESAMPLE_QUALITY, AudioInfo, audio_info, load_audio
from spokenemo.audio.windows import (
    LAST_POLICIES,
    Window,
    iter_windows,
    sample_windows,
    stream_windows,
    windows,
)

__all__ = [
    "LAST_POLICIES",
    "RESAMPLE_QUALITY",
    "AudioInfo",
    "AudioWarning",
    "ClippingWarning",
    "NonFiniteSamplesWarning",
    "QuietAudioWarning",
    "TruncatedAudioWarning",
    "Window",
    "audio_info",
    "iter_windows",
    "load_audio",
    "loudest_dbfs",
    "sample_windows",
    "stream_windows",
    "validate_audio",
    "windows",
]
