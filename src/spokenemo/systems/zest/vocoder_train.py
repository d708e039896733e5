"""Training the S2S-ZEST vocoder (Eq. 5.11) on a converter's units, F0, ``s`` and ``e_bar``.

A GAN needs two optimizers stepped in turn (discriminators, then generator), which the platform's
single-loss :func:`spokenemo.train.loop.fit` does not do, so this module keeps its own short loop:
random fixed-length windows (``segment_frames`` unit frames and the matching samples), AdamW
(lr 1e-4, betas 0.8 / 0.99 as in BigVGAN), one discriminator and one generator step per batch. The
F0 input is the target F0 (teacher forcing, an option the method page names) so the vocoder can be
trained before or apart from the F0 predictor. On CPU only the tiny config runs (tests); the full
config is meant for a GPU (``device="cuda"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from spokenemo.models.zest.vocoder import (
    Discriminators,
    Generator,
    LogMel,
    VocoderConfig,
    discriminator_loss,
    generator_losses,
)


@dataclass
class VocoderItem:
    """One clip: units and F0 per 20 ms frame, ``s``, ``e_bar`` and the waveform."""

    units: np.ndarray
    f0: np.ndarray
    s: np.ndarray
    e_bar: np.ndarray
    wave: np.ndarray


def window_batch(items: Sequence[VocoderItem], frames: int, hop: int, rng: np.random.Generator
                 ) -> dict[str, torch.Tensor]:
    """A batch of random ``frames``-long windows (clips shorter than that are zero-padded)."""
    cols: dict[str, list[Any]] = {"units": [], "f0": [], "s": [], "e_bar": [], "wave": []}
    for it in items:
        n = min(len(it.units), len(it.wave) // hop)
        a = int(rng.integers(0, max(n - frames, 0) + 1))
        u = np.zeros(frames, np.int64)
        f = np.zeros(frames, np.float32)
        w = np.zeros(frames * hop, np.float32)
        m = min(frames, n - a)
        u[:m], f[:m] = it.units[a:a + m], it.f0[a:a + m]
        w[:m * hop] = it.wave[a * hop:(a + m) * hop]
        for k, v in (("units", u), ("f0", f), ("s", it.s), ("e_bar", it.e_bar), ("wave", w)):
            cols[k].append(v)
    return {k: torch.as_tensor(np.stack(v)) for k, v in cols.items()}


class VocoderTrainer:
    """Generator, discriminators, their optimizers and one training step."""

    def __init__(self, cfg: VocoderConfig, *, lr: float = 1e-4, device: str = "cpu", seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.cfg = cfg
        self.device = torch.device(device)
        self.gen = Generator(cfg).to(self.device)
        self.disc = Discriminators(cfg).to(self.device)
        self.mel = LogMel(cfg.sample_rate).to(self.device)
        self.opt_g = torch.optim.AdamW(self.gen.parameters(), lr, betas=(0.8, 0.99))
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), lr, betas=(0.8, 0.99))

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One discriminator and one generator update; the losses."""
        b = {k: v.to(self.device) for k, v in batch.items()}
        fake = self.gen(b["units"], b["f0"], b["s"], b["e_bar"])
        real = b["wave"][:, :fake.shape[1]]
        d_loss = discriminator_loss(self.disc(real), self.disc(fake.detach()))
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        g_loss, parts = generator_losses(self.disc(real), self.disc(fake), self.mel(real), self.mel(fake))
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()
        return {"d": d_loss.item(), "g": g_loss.item(), **parts}

    def fit(self, items: Sequence[VocoderItem], *, steps: int, batch_size: int = 16, segment_frames: int = 32,
            seed: int = 0) -> list[dict[str, float]]:
        """``steps`` updates on random windows of ``items``; the loss rows."""
        rng = np.random.default_rng(seed)
        rows = []
        for _ in range(steps):
            pick = rng.integers(0, len(items), size=batch_size)
            rows.append(self.step(window_batch([items[i] for i in pick], segment_frames, self.cfg.hop, rng)))
        return rows

    @torch.no_grad()
    def synthesise(self, units: np.ndarray, f0: np.ndarray, s: np.ndarray, e_bar: np.ndarray) -> np.ndarray:
        """Waveform of one clip (float32)."""
        self.gen.eval()
        t = lambda x, dt: torch.as_tensor(np.asarray(x), dtype=dt, device=self.device)[None]  # noqa: E731
        y = self.gen(t(units, torch.long), t(f0, torch.float32), t(s, torch.float32), t(e_bar, torch.float32))
        self.gen.train()
        return y[0].cpu().numpy()
