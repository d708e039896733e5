"""**(ours)** Emotion-dependent spectral shape for the WORLD renderer, in the place of the vocoder's ``e_bar``.

The thesis's vocoder hears ``e_bar`` (Eq. 5.11), so the converted spectrum can change with the emotion
(effort, spectral tilt); the WORLD renderer keeps the source's envelope and would change only F0 and
timing. This module learns, by ridge regression on the training clips, the mean log-power of the
voiced frames' envelope in ``n_bands`` mel-spaced bands from ``[e_bar ; s]``; at transfer the source's
envelope is multiplied, band by band (interpolated over FFT bins), by
``exp(W_e (e_bar_ref - e_bar_src))``: the change the model attributes to the emotion alone, with the
speaker part cancelled. ``strength`` scales it (1 = as learnt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import Ridge


def band_edges(n_bins: int, sr: int, n_bands: int) -> np.ndarray:
    """FFT-bin centres of ``n_bands`` mel-spaced bands over 0 .. sr/2 (``n_bands`` values)."""
    mel = np.linspace(0, 2595 * np.log10(1 + (sr / 2) / 700), n_bands)
    hz = 700 * (10 ** (mel / 2595) - 1)
    return hz / (sr / 2) * (n_bins - 1)


def band_log_power(sp: np.ndarray, f0: np.ndarray, sr: int, n_bands: int = 24) -> np.ndarray:
    """Mean over voiced frames (all frames if none) of the log envelope sampled at the band centres."""
    frames = sp[f0 > 0] if np.any(f0 > 0) else sp
    log_sp = np.log(np.maximum(frames, 1e-12)).mean(axis=0)
    return np.interp(band_edges(sp.shape[1], sr, n_bands), np.arange(sp.shape[1]), log_sp)


@dataclass
class EnvelopeStyle:
    """Ridge weights from ``[e_bar ; s]`` to band log-powers (see the module docstring)."""

    coef: np.ndarray          # (n_bands, e_dim + s_dim)
    intercept: np.ndarray     # (n_bands,)
    e_dim: int
    sr: int = 16000

    @property
    def n_bands(self) -> int:
        return int(self.coef.shape[0])

    @classmethod
    def fit(cls, e_bars: np.ndarray, speakers: np.ndarray, bands: Sequence[np.ndarray], *, alpha: float = 1.0,
            sr: int = 16000) -> EnvelopeStyle:
        """Fit on per-clip ``e_bar`` (n, e_dim), ``s`` (n, s_dim) and band log-powers (n, n_bands)."""
        x = np.hstack([e_bars, speakers])
        ridge = Ridge(alpha=alpha).fit(x, np.stack(bands))
        return cls(ridge.coef_.astype(np.float32), ridge.intercept_.astype(np.float32), e_bars.shape[1], sr)

    def delta(self, e_ref: np.ndarray, e_src: np.ndarray) -> np.ndarray:
        """Band log-power change from the emotion embeddings alone, ``(n_bands,)``."""
        return self.coef[:, :self.e_dim] @ (np.asarray(e_ref) - np.asarray(e_src))

    def apply(self, sp: np.ndarray, delta: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """``sp`` with every frame multiplied by ``exp(strength * delta)`` interpolated over the FFT bins."""
        gain = np.interp(np.arange(sp.shape[1]), band_edges(sp.shape[1], self.sr, self.n_bands), delta)
        return np.ascontiguousarray(sp * np.exp(strength * gain)[None, :])

    def save(self, path: str | Path) -> None:
        np.savez(path, coef=self.coef, intercept=self.intercept, e_dim=self.e_dim, sr=self.sr)

    @classmethod
    def load(cls, path: str | Path) -> EnvelopeStyle:
        with np.load(path) as z:
            return cls(z["coef"], z["intercept"], int(z["e_dim"]), int(z["sr"]))
