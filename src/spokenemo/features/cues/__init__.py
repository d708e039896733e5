"""Acoustic cues an LLM can read (docs/methods/aecotd.md, sections 1-2).

One STFT and one RMS track per utterance give frame tracks (pitch, intensity, voicing,
sounding frames); every cue is a slice of them:

- coarse cues: mean pitch, intensity, speech rate, articulation rate, worded against
  training-fold medians (:class:`Thresholds`);
- fine cues: mean pitch and intensity in n segments, normalised by sliding-window bounds;
- extended cues (ours, optional): pitch range/variability, intensity variability, pauses,
  jitter, shimmer, HNR, spectral tilt.

>>> from spokenemo.features.cues import extract_file, Thresholds, render_cue_text   # doctest: +SKIP
>>> cues = extract_file("clip.flac")                                       # doctest: +SKIP
>>> print(render_cue_text(cues, Thresholds.load("thresholds.json")))       # doctest: +SKIP
Pitch: high. Intensity: strong. Speech rate: fast. Articulation rate: slow.
Pitch by segment: [0.12, 0.35, 0.80, 1.00, 0.64, 0.22, 0.00]. Intensity by segment: [...].
"""

from spokenemo.features.cues.batch import BatchSummary, CueTablePaths, extract_manifest, read_cue_table
from spokenemo.features.cues.config import CUES_VERSION, LIBROSA_PIPTRACK_RANGE, CueExtractionConfig
from spokenemo.features.cues.extended import extended_cues
from spokenemo.features.cues.extract import (
    UtteranceCues,
    analyse,
    coarse_cues,
    cues_from_tracks,
    extract_cues,
    extract_file,
    load_for_cues,
    phonation_time,
    segment_column,
)
from spokenemo.features.cues.fine import FineCues, FineDetails, fine_cues, fine_details
from spokenemo.features.cues.piptrack import piptrack_pitch
from spokenemo.features.cues.plot import plot_cues
from spokenemo.features.cues.syllables import syllable_nuclei
from spokenemo.features.cues.text import CueTextConfig, format_segments, render_cue_text, render_table
from spokenemo.features.cues.thresholds import Thresholds
from spokenemo.features.cues.tracks import FrameTracks, compute_tracks, frame_rms, stft_magnitude
from spokenemo.features.cues.vocabulary import COARSE_CUES, EXTENDED_CUES, WORDS, CueWords

__all__ = [
    "COARSE_CUES",
    "CUES_VERSION",
    "EXTENDED_CUES",
    "LIBROSA_PIPTRACK_RANGE",
    "WORDS",
    "BatchSummary",
    "CueExtractionConfig",
    "CueTablePaths",
    "CueTextConfig",
    "CueWords",
    "FineCues",
    "FineDetails",
    "FrameTracks",
    "Thresholds",
    "UtteranceCues",
    "analyse",
    "coarse_cues",
    "compute_tracks",
    "cues_from_tracks",
    "extended_cues",
    "extract_cues",
    "extract_file",
    "extract_manifest",
    "fine_cues",
    "fine_details",
    "format_segments",
    "frame_rms",
    "load_for_cues",
    "phonation_time",
    "piptrack_pitch",
    "plot_cues",
    "read_cue_table",
    "render_cue_text",
    "render_table",
    "segment_column",
    "stft_magnitude",
    "syllable_nuclei",
]
