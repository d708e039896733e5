"""The jointly trained style part of S2S-ZEST: emotion encoder, F0 and duration predictors (Eq. 5.7).

``L_all = lambda_e L_emo-tot + lambda_f L_f0 + lambda_d L_dur`` with ``lambda_e = 1000``,
``lambda_f = 1``, ``lambda_d = 10``; ``L_f0 = ||f - f_hat||_1`` over all frames (unvoiced targets are
0 and stay in the loss), ``L_dur = (1/T') ||d - d_hat||^2``. The speaker vector ``s`` comes from the
separately trained, then frozen :class:`~spokenemo.models.zest.nets.SpeakerModule`.
:func:`collate` pads a list of examples (dicts of numpy arrays) into one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from spokenemo.models.zest.nets import EmotionEncoder
from spokenemo.models.zest.predictors import DurationPredictor, F0Predictor


@dataclass(frozen=True)
class StyleSizes:
    """Sizes and loss weights of :class:`StyleModel` (thesis values by default)."""

    n_units: int = 100
    n_emotions: int = 5
    n_speakers: int = 16
    frame_dim: int = 512
    s_dim: int = 256
    dim: int = 256
    heads: int = 4
    emotion_layers: int = 1
    f0_blocks: int = 1
    dropout: float = 0.1
    adv_spk: float = 1.0
    lambda_e: float = 1000.0
    lambda_f: float = 1.0
    lambda_d: float = 10.0
    log_durations: bool = False


class StyleModel(nn.Module):
    """Emotion encoder + F0 predictor + duration predictor, trained with the joint loss (Eq. 5.7)."""

    def __init__(self, sizes: StyleSizes) -> None:
        super().__init__()
        self.sizes = sizes
        self.emotion = EmotionEncoder(sizes.n_emotions, sizes.n_speakers, in_dim=sizes.frame_dim, dim=sizes.dim,
                                      heads=sizes.heads, layers=sizes.emotion_layers, dropout=sizes.dropout,
                                      adv_weight=sizes.adv_spk)
        self.f0 = F0Predictor(sizes.n_units, s_dim=sizes.s_dim, e_dim=sizes.dim, dim=sizes.dim, heads=sizes.heads,
                              blocks=sizes.f0_blocks, dropout=sizes.dropout)
        self.duration = DurationPredictor(sizes.n_units, s_dim=sizes.s_dim, e_dim=sizes.dim, dim=sizes.dim,
                                          dropout=sizes.dropout, log_domain=sizes.log_durations)

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """The joint loss of one batch and its parts."""
        z = self.sizes
        e, e_bar = self.emotion(batch["frames"], batch["frame_mask"])
        l_emo, parts = self.emotion.loss(e_bar, batch["emotion"], batch["speaker"])
        f_hat = self.f0(batch["units"], batch["frame_mask"], batch["s"], e, batch["frame_mask"])
        mask = batch["frame_mask"].to(f_hat.dtype)
        l_f0 = ((f_hat - batch["f0"]).abs() * mask).sum() / mask.sum().clamp_min(1.0)
        d_hat = self.duration(batch["runs"], batch["run_mask"], batch["s"], e_bar)
        rmask = batch["run_mask"].to(d_hat.dtype)
        l_dur = (((d_hat - self.duration.target(batch["durations"])) ** 2) * rmask).sum() / rmask.sum().clamp_min(1.0)
        total = z.lambda_e * l_emo + z.lambda_f * l_f0 + z.lambda_d * l_dur
        return total, {**parts, "l_f0": l_f0.item(), "l_dur": l_dur.item()}


def _pad(arrays: Sequence[np.ndarray], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(a) for a in arrays)
    shape = (len(arrays), n, *np.asarray(arrays[0]).shape[1:])
    out = torch.zeros(shape, dtype=dtype)
    mask = torch.zeros(len(arrays), n, dtype=torch.bool)
    for i, a in enumerate(arrays):
        out[i, :len(a)] = torch.as_tensor(np.asarray(a), dtype=dtype)
        mask[i, :len(a)] = True
    return out, mask


def collate(examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Pad examples with ``frames`` (T, D), ``units`` (T,), ``f0`` (T,), ``runs``/``durations`` (R,),
    ``s`` (s_dim,), ``emotion`` and ``speaker`` (ints) into one batch."""
    frames, frame_mask = _pad([x["frames"] for x in examples], torch.float32)
    units, _ = _pad([x["units"] for x in examples], torch.long)
    f0, _ = _pad([x["f0"] for x in examples], torch.float32)
    runs, run_mask = _pad([x["runs"] for x in examples], torch.long)
    durations, _ = _pad([x["durations"] for x in examples], torch.float32)
    return {"frames": frames, "frame_mask": frame_mask, "units": units, "f0": f0, "runs": runs,
            "run_mask": run_mask, "durations": durations,
            "s": torch.as_tensor(np.stack([x["s"] for x in examples]), dtype=torch.float32),
            "emotion": torch.as_tensor([x["emotion"] for x in examples], dtype=torch.long),
            "speaker": torch.as_tensor([x["speaker"] for x in examples], dtype=torch.long)}
