"""A BigVGAN-style vocoder for S2S-ZEST (Eq. 5.11), at any width: tiny in tests, full size on a GPU.

``x_hat = G([Emb(t) ; CNN-BiLSTM(f0) ; s ; e_bar])``: per 20 ms frame the unit embedding, an F0
encoding (log F0 and a voicing flag through a conv layer and a BiLSTM), and the speaker and emotion
vectors broadcast over time; transposed convolutions upsample by ``prod(upsample_rates)`` (320 at
16 kHz: 20 ms per frame), each followed by the mean of AMP blocks of kernels 3, 7, 11 (HiFi-GAN's
multi-receptive-field fusion; BigVGAN's anti-aliased activations are left out) (dilated convolutions with
Snake activations ``x + sin^2(alpha x) / alpha``, BigVGAN's periodic inductive bias). Discriminators:
multi-period (periods 2, 3, 5, 7, 11) and multi-resolution (STFT magnitudes); losses: least-squares
GAN, feature matching and log-mel L1 (weights 1 / 2 / 45, as in HiFi-GAN and BigVGAN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class VocoderConfig:
    """Sizes of the generator; :meth:`tiny` for tests, :meth:`full` for a GPU (about 14 M parameters)."""

    n_units: int = 100
    unit_dim: int = 128
    f0_dim: int = 64
    s_dim: int = 256
    e_dim: int = 256
    channels: int = 512
    upsample_rates: tuple[int, ...] = (8, 5, 4, 2)
    kernel_sizes: tuple[int, ...] = (16, 11, 8, 4)
    dilations: tuple[int, ...] = (1, 3, 5)
    resblock_kernels: tuple[int, ...] = (3, 7, 11)
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    resolutions: tuple[tuple[int, int], ...] = ((1024, 120), (2048, 240), (512, 50))
    disc_channels: int = 32
    sample_rate: int = 16000
    extra: dict = field(default_factory=dict)

    @property
    def hop(self) -> int:
        return int(np.prod(self.upsample_rates))

    @classmethod
    def tiny(cls, **kw: object) -> VocoderConfig:
        return cls(unit_dim=8, f0_dim=4, s_dim=8, e_dim=8, channels=16, resblock_kernels=(3,), periods=(2, 3),
                   resolutions=((256, 64),), disc_channels=4, **kw)  # type: ignore[arg-type]

    @classmethod
    def full(cls, **kw: object) -> VocoderConfig:
        return cls(**kw)  # type: ignore[arg-type]


class Snake(nn.Module):
    """``x + sin^2(alpha x) / alpha`` with a learnt ``alpha`` per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.sin(self.alpha * x) ** 2 / (self.alpha + 1e-9)


class AMPBlock(nn.Module):
    """Residual dilated convolutions with Snake activations."""

    def __init__(self, channels: int, dilations: tuple[int, ...], kernel: int = 3) -> None:
        super().__init__()
        self.acts = nn.ModuleList(Snake(channels) for _ in dilations)
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2)
                                   for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for act, conv in zip(self.acts, self.convs, strict=True):
            x = x + conv(act(x))
        return x


class Generator(nn.Module):
    """Frames of (units, F0, s, e_bar) -> waveform (see the module docstring)."""

    def __init__(self, cfg: VocoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.n_units, cfg.unit_dim)
        self.f0_conv = nn.Conv1d(2, cfg.f0_dim, 3, padding=1)
        self.f0_lstm = nn.LSTM(cfg.f0_dim, cfg.f0_dim // 2 or 1, batch_first=True, bidirectional=True)
        f0_out = 2 * (cfg.f0_dim // 2 or 1)
        self.pre = nn.Conv1d(cfg.unit_dim + f0_out + cfg.s_dim + cfg.e_dim, cfg.channels, 7, padding=3)
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        ch = cfg.channels
        for rate, k in zip(cfg.upsample_rates, cfg.kernel_sizes, strict=True):
            self.ups.append(nn.ConvTranspose1d(ch, ch // 2, k, rate, padding=(k - rate) // 2))
            ch //= 2
            self.blocks.append(nn.ModuleList(AMPBlock(ch, cfg.dilations, k) for k in cfg.resblock_kernels))
        self.post_act = Snake(ch)
        self.post = nn.Conv1d(ch, 1, 7, padding=3)

    def condition(self, units: torch.Tensor, f0: torch.Tensor, s: torch.Tensor, e_bar: torch.Tensor) -> torch.Tensor:
        """(B, C, T) conditioning frames."""
        t = units.shape[1]
        f = torch.stack([torch.log(f0.clamp_min(1.0)) * (f0 > 0), (f0 > 0).float()], 1)
        f, _ = self.f0_lstm(torch.relu(self.f0_conv(f)).transpose(1, 2))
        x = torch.cat([self.embed(units), f, s.unsqueeze(1).expand(-1, t, -1), e_bar.unsqueeze(1).expand(-1, t, -1)], -1)
        return x.transpose(1, 2)

    def forward(self, units: torch.Tensor, f0: torch.Tensor, s: torch.Tensor, e_bar: torch.Tensor) -> torch.Tensor:
        """Waveform (B, T * hop) in [-1, 1]."""
        x = self.pre(self.condition(units, f0, s, e_bar))
        for up, blocks in zip(self.ups, self.blocks, strict=True):
            x = up(F.leaky_relu(x, 0.1))
            x = sum(block(x) for block in blocks) / len(blocks)
        y = torch.tanh(self.post(self.post_act(x))).squeeze(1)
        return y[:, :units.shape[1] * self.cfg.hop]


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, ch: int) -> None:
        super().__init__()
        self.period = period
        chans = [1, ch, ch * 4, ch * 16]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0)) for a, b in zip(chans[:-1], chans[1:], strict=True))
        self.out = nn.Conv2d(chans[-1], 1, (3, 1), padding=(1, 0))

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, n = y.shape
        pad = (-n) % self.period
        x = F.pad(y, (0, pad), mode="reflect" if pad < n else "constant").view(b, 1, -1, self.period)
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            feats.append(x)
        return self.out(x).flatten(1), feats


class ResolutionDiscriminator(nn.Module):
    def __init__(self, n_fft: int, hop: int, ch: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.convs = nn.ModuleList([nn.Conv2d(1, ch, (3, 9), padding=(1, 4)),
                                    nn.Conv2d(ch, ch, (3, 9), (1, 2), padding=(1, 4)),
                                    nn.Conv2d(ch, ch, (3, 3), padding=(1, 1))])
        self.out = nn.Conv2d(ch, 1, (3, 3), padding=(1, 1))

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(y, self.n_fft, self.hop, window=torch.hann_window(self.n_fft, device=y.device),
                          return_complex=True).abs().unsqueeze(1)
        feats = []
        x = spec
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            feats.append(x)
        return self.out(x).flatten(1), feats


class Discriminators(nn.Module):
    """Multi-period and multi-resolution discriminators."""

    def __init__(self, cfg: VocoderConfig) -> None:
        super().__init__()
        self.items = nn.ModuleList([*(PeriodDiscriminator(p, cfg.disc_channels) for p in cfg.periods),
                                    *(ResolutionDiscriminator(n, h, cfg.disc_channels) for n, h in cfg.resolutions)])

    def forward(self, y: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [d(y) for d in self.items]


class LogMel(nn.Module):
    """Log-mel spectrogram (80 bands, 1024-point FFT, 10 ms hop at 16 kHz) for the reconstruction loss."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 1024, hop: int = 160, n_mels: int = 80) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("fb", _mel_filters(sample_rate, n_fft, n_mels), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(y, self.n_fft, self.hop, window=torch.hann_window(self.n_fft, device=y.device),
                          return_complex=True).abs()
        return torch.log(torch.clamp(self.fb @ spec, min=1e-5))


def _mel_filters(sr: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """Triangular mel filters (HTK mel scale), ``(n_mels, n_fft // 2 + 1)``."""
    mel = np.linspace(0, 2595 * math.log10(1 + (sr / 2) / 700), n_mels + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    bins = np.linspace(0, sr / 2, n_fft // 2 + 1)
    lo, mid, hi = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    fb = np.maximum(0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))
    return torch.as_tensor(fb, dtype=torch.float32)


def discriminator_loss(real: list, fake: list) -> torch.Tensor:
    """Least-squares GAN loss of the discriminators."""
    return sum(((1 - r[0]) ** 2).mean() + (f[0] ** 2).mean() for r, f in zip(real, fake, strict=True))  # type: ignore[return-value]


def generator_losses(real: list, fake: list, mel_real: torch.Tensor, mel_fake: torch.Tensor
                     ) -> tuple[torch.Tensor, dict[str, float]]:
    """Adversarial + 2 x feature matching + 45 x log-mel L1."""
    adv = sum(((1 - f[0]) ** 2).mean() for f in fake)
    fm = sum(F.l1_loss(b, a.detach()) for r, f in zip(real, fake, strict=True) for a, b in zip(r[1], f[1], strict=True))
    mel = F.l1_loss(mel_fake, mel_real)
    total = adv + 2 * fm + 45 * mel
    return total, {"adv": adv.item(), "fm": fm.item(), "mel": mel.item()}  # type: ignore[arg-type]
