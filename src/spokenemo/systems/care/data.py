"""Pre-training examples: transcripts (given, transcribed or skipped), the split, crops and batches.

- :func:`with_transcripts`: utterances without a transcript are transcribed with the packaged ASR
  (``missing_text: asr``) or left out (``skip``); either way they are counted.
- :func:`split`: a seeded random share of utterances for validation (thesis: 80/20 by utterance).
- :class:`Collate`: each clip zero-padded or randomly cropped to ``crop_seconds`` (validation: the
  first ``crop_seconds``), its acoustic targets cut at the same place (50 Hz = 320 samples per
  frame); the loss mask is True on frames that are real audio *and* have a target.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from spokenemo.audio import load_audio
from spokenemo.core.sampling import seeded_rank
from spokenemo.data.manifest import Segment
from spokenemo.models.asr import transcribe

log = logging.getLogger(__name__)
SAMPLE_RATE = 16000
SAMPLES_PER_FRAME = 320


@dataclass
class TranscriptReport:
    """What :func:`with_transcripts` did: utterances kept as given, transcribed, skipped."""

    given: int = 0
    transcribed: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"given": self.given, "transcribed": self.transcribed, "skipped": len(self.skipped),
                "skipped_keys": self.skipped[:20]}


def with_transcripts(segments: Sequence[Segment], missing_text: str = "skip", *, asr_backend: str = "auto",
                     asr: Callable[[Segment], str] | None = None) -> tuple[list[Segment], TranscriptReport]:
    """Segments with a transcript; the others transcribed (``asr``) or skipped, with a count.

    ``asr`` replaces the packaged transcriber (tests); an empty transcript counts as skipped."""
    report, out = TranscriptReport(), []
    for u in segments:
        if u.text and u.text.strip():
            report.given += 1
            out.append(u)
            continue
        if missing_text == "asr":
            text = asr(u) if asr else transcribe(str(u.path), backend=asr_backend, start=u.start, end=u.end)
            if text.strip():
                report.transcribed += 1
                out.append(u.model_copy(update={"text": text.strip(), "extra": {**u.extra, "text_from": "asr"}}))
                continue
        report.skipped.append(u.key)
    if report.skipped:
        log.warning("%d utterance(s) without a transcript skipped (missing_text=%s)", len(report.skipped),
                    missing_text)
    return out, report


def split(segments: Sequence[Segment], valid_fraction: float, seed: int) -> tuple[list[Segment], list[Segment]]:
    """``(train, valid)``: the ``valid_fraction`` of utterances with the lowest seeded hash validate."""
    order = sorted(segments, key=lambda u: seeded_rank(u.key, seed))
    n_valid = max(1, round(valid_fraction * len(order))) if len(order) > 1 else 0
    return order[n_valid:], order[:n_valid]


@dataclass
class Example:
    """One utterance: its waveform and both targets."""

    key: str
    wave: np.ndarray
    y_text: np.ndarray
    y_acoustic: np.ndarray


def load_examples(segments: Sequence[Segment], targets: Any) -> tuple[list[Example], list[str]]:
    """Examples of ``segments`` whose audio loads and whose targets exist; the keys left out."""
    out, missing = [], []
    for u in segments:
        y_text, frames = targets.text(u), targets.frames(u)
        if y_text is None or frames is None or len(frames) == 0:
            missing.append(u.key)
            continue
        wave = load_audio(str(u.path), start=u.start, end=u.end, sr=SAMPLE_RATE)
        out.append(Example(u.key, wave.astype(np.float32), np.asarray(y_text, np.float32), frames))
    return out, missing


class Collate:
    """Examples -> a batch of fixed-length crops (module docstring).

    Parameters
    ----------
    featurize : the backbone's per-clip input function.
    n_frames : the backbone's frame count for a number of samples.
    crop_seconds : clip length.
    random_crop : crop at a random place (training) or at the start (validation).
    seed : seeds the crop positions.
    """

    def __init__(self, featurize: Callable[[np.ndarray], np.ndarray], n_frames: Callable[[int], int],
                 crop_seconds: float, *, random_crop: bool = True, seed: int = 0) -> None:
        self.featurize, self.n_frames = featurize, n_frames
        self.samples = int(round(crop_seconds * SAMPLE_RATE))
        self.frames = n_frames(self.samples)
        self.random_crop = random_crop
        self.rng = np.random.default_rng(seed)

    def crop(self, example: Example) -> tuple[np.ndarray, np.ndarray, int, int]:
        """``(wave, targets, real frames, target frames)`` of one example."""
        wave, frames = example.wave, example.y_acoustic
        offset = 0
        if len(wave) > self.samples and self.random_crop:
            offset = int(self.rng.integers(0, len(wave) - self.samples + 1))
        real = wave[offset:offset + self.samples]
        start = int(round(offset / SAMPLES_PER_FRAME))
        target = frames[start:start + self.frames]
        padded = np.zeros(self.samples, np.float32)
        padded[:len(real)] = real
        y = np.zeros((self.frames, frames.shape[1]), np.float32)
        y[:len(target)] = target
        return padded, y, min(self.n_frames(len(real)), self.frames), len(target)

    def __call__(self, examples: list[Example]) -> dict[str, torch.Tensor]:
        waves, ys, n_real, n_target = zip(*(self.crop(e) for e in examples), strict=True)
        inputs = np.stack([self.featurize(w) for w in waves])
        frame = np.arange(self.frames)[None, :]
        mask = (frame < np.array(n_real)[:, None]) & (frame < np.array(n_target)[:, None])
        return {"inputs": torch.from_numpy(inputs), "n_frames": torch.as_tensor(n_real, dtype=torch.long),
                "y_text": torch.from_numpy(np.stack([e.y_text for e in examples])),
                "y_acoustic": torch.from_numpy(np.stack(ys)), "acoustic_mask": torch.from_numpy(mask)}
