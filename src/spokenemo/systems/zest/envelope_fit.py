"""Fitting the **(ours)** envelope-style regression (:mod:`spokenemo.models.zest.envelope`) of a converter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spokenemo.audio import load_audio
from spokenemo.models.zest.envelope import EnvelopeStyle, band_log_power
from spokenemo.models.zest.pitch import world_analyse
from spokenemo.systems.zest.analysis import SAMPLE_RATE, ClipAnalysis
from spokenemo.systems.zest.converter import ZestConverter
from spokenemo.systems.zest.corpus import Clip


def fit_envelope(conv: ZestConverter, clips: Sequence[Clip], analyses: Sequence[ClipAnalysis], *,
                 alpha: float = 1.0) -> EnvelopeStyle:
    """Ridge from ``[e_bar ; s]`` to the voiced frames' band log-powers of the training clips."""
    bands, e_bars, speakers = [], [], []
    for clip, a in zip(clips, analyses, strict=True):
        world = world_analyse(load_audio(clip.path, sr=SAMPLE_RATE), SAMPLE_RATE, conv.world_method)
        bands.append(band_log_power(world.sp, world.f0, SAMPLE_RATE))
        e_bars.append(conv.emotion_frames(a)[1][0].numpy())
        speakers.append(conv.speaker_vector(a)[0].numpy())
    return EnvelopeStyle.fit(np.stack(e_bars), np.stack(speakers), bands, alpha=alpha, sr=SAMPLE_RATE)
