"""The CARE graph (thesis Fig. 3.1), generic over its speech and text backbones.

::

    inputs -> front end (frozen) -> common layers 1..Nc -> acoustic layers (Nc+1..) -> final -> FC -> y_acoust
                                             |
                                             +-> [down conv (T / 3) -> text layer (frozen) -> up conv (x 3),
                                                  cropped / zero-padded to T] x K -> mean over real frames -> y_sem

:class:`CareModel.forward` returns a :class:`CareOutput` with every level (the front end's output,
each common layer, each acoustic layer, each semantic level), the pooled semantic vector and the
acoustic prediction. Unless ``acoustic_updates_common``, the acoustic branch reads the common
encoder's output *detached*: the acoustic loss trains the acoustic layers and the FC but never the
common encoder (the authors' ``train_pase.py`` zeroes those gradients with hooks; ``detach`` gives
the same gradients). Which parameters train is set by :meth:`CareModel.set_trainable`.

:meth:`CareModel.levels` stacks the downstream layer outputs (thesis 1.4). Every level has the
width ``text_dim + speech_dim``: ``[semantic slot ; acoustic slot]``. The front end and the common
layers fill the acoustic slot and are duplicated into the semantic slot when the widths are equal
(the thesis's 768 -> 1536), zero otherwise. When the acoustic and semantic branches have the same
depth, upper level ``l`` is ``[semantic_l ; acoustic_l]`` (the thesis); otherwise (Whisper-base:
3 acoustic layers, MiniLM: 6 text layers) the acoustic levels and then the semantic levels follow
each in its own slot, the other slot zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from spokenemo.core.errors import AudioTooShortError
from spokenemo.models.care.backbones import SpeechBackbone, TextStack, build_speech, build_text
from spokenemo.models.care.config import CareModelConfig, CareShapeError

Branch = Literal["both", "acoustic", "semantic"]
BRANCHES: tuple[str, ...] = ("both", "acoustic", "semantic")


@dataclass
class CareOutput:
    """Everything one forward pass computes (``B`` clips, ``T`` frames)."""

    common: list[torch.Tensor]  #: front end output, then each common layer: (B, T, Ds)
    acoustic: list[torch.Tensor]  #: each acoustic layer (the last after the final norm): (B, T, Ds)
    semantic: list[torch.Tensor]  #: each semantic level after its up adapter: (B, T, Dt)
    pooled: torch.Tensor  #: (B, Dt): mean of the last semantic level over real frames
    acoustic_pred: torch.Tensor  #: (B, T, A)
    mask: torch.Tensor  #: (B, T) bool, True on real frames


def fit_length(x: torch.Tensor, n: int) -> torch.Tensor:
    """``x`` ``(B, T', D)`` cropped or zero-padded to ``n`` frames (the authors' code)."""
    if x.shape[1] >= n:
        return x[:, :n]
    return torch.cat([x, x.new_zeros(x.shape[0], n - x.shape[1], x.shape[2])], dim=1)


class CareModel(nn.Module):
    """The CARE graph (module docstring). Build it with :func:`build_care`."""

    def __init__(self, config: CareModelConfig, speech: SpeechBackbone, text: TextStack) -> None:
        super().__init__()
        self.config, self.speech, self.text = config, speech, text
        n = len(speech.layers)
        if n < config.n_common + config.n_acoustic:
            raise CareShapeError(f"the speech backbone has {n} layers, fewer than n_common + n_acoustic "
                                 f"({config.n_common} + {config.n_acoustic})")
        ds, dt, k = speech.dim, text.dim, config.kernel
        self.speech_dim, self.text_dim = ds, dt
        if config.uses_adapters:
            self.down = nn.ModuleList(nn.Conv1d(ds if i == 0 else dt, dt, k, stride=config.stride)
                                      for i in range(len(text.layers)))
            self.up = nn.ModuleList(nn.ConvTranspose1d(dt, dt, k, stride=config.stride,
                                                       output_padding=min(1, config.stride - 1))
                                    for _ in range(len(text.layers)))
            self.project = None
        else:
            self.down = self.up = None
            self.project = nn.Linear(ds, dt) if ds != dt else None
        self.acoustic_fc = nn.Linear(ds, config.target_dim)
        self.set_trainable()

    def set_trainable(self) -> None:
        """Freeze what the config keeps frozen (front end unless ``train_frontend``; text layers
        unless ``semantic`` trains them; backbone layers beyond the two encoders)."""
        c = self.config
        for p in self.parameters():
            p.requires_grad_(True)
        if not c.train_frontend:
            for module in self.speech.frontend_modules():
                module.requires_grad_(False)
        for layer in list(self.speech.layers)[c.n_common + c.n_acoustic:]:
            layer.requires_grad_(False)
        self.text.requires_grad_(c.trains_text)

    @property
    def min_frames(self) -> int:
        """Fewest frames the semantic branch takes: one adapter window (``kernel``)."""
        return self.config.kernel if self.config.uses_adapters else 1

    def min_samples(self) -> int:
        """Fewest samples that give :attr:`min_frames` frames."""
        return self.speech.samples_for(self.min_frames)

    def forward(self, inputs: torch.Tensor, n_frames: torch.Tensor | None = None) -> CareOutput:
        """``inputs``: the backbone's batched input (``featurize`` of each clip, same length);
        ``n_frames`` ``(B,)``: real frames of each clip (None: all)."""
        x = self.speech.frontend(inputs)
        b, t, _ = x.shape
        if t < self.min_frames:
            raise AudioTooShortError("<batch>", f"{t} frames is shorter than one adapter window ({self.min_frames} "
                                     f"frames, kernel {self.config.kernel}, stride {self.config.stride})",
                                     hint=f"give at least {self.min_samples()} samples per clip")
        frames = torch.arange(t, device=x.device)[None, :]
        mask = frames < (n_frames.to(x.device)[:, None] if n_frames is not None else torch.full((b, 1), t,
                                                                                              device=x.device))
        common, state = [x], None
        for i in range(self.config.n_common):
            x, state = self.speech.run_layer(i, x, state)
            common.append(x)
        semantic = self._semantic(x, t)
        a = x if self.config.acoustic_updates_common else x.detach()
        a_state = state.detach() if isinstance(state, torch.Tensor) and not self.config.acoustic_updates_common \
            else state
        acoustic = []
        for i in range(self.config.n_common, self.config.n_common + self.config.n_acoustic):
            a, a_state = self.speech.run_layer(i, a, a_state)
            acoustic.append(a)
        acoustic[-1] = self.speech.final(acoustic[-1])
        m = mask[..., None].to(semantic[-1].dtype)
        pooled = (semantic[-1] * m).sum(1) / m.sum(1).clamp_min(1.0)
        return CareOutput(common, acoustic, semantic, pooled, self.acoustic_fc(acoustic[-1]), mask)

    def _semantic(self, x: torch.Tensor, t: int) -> list[torch.Tensor]:
        out = []
        if self.down is None:
            h = self.project(x) if self.project is not None else x
            for j in range(len(self.text.layers)):
                h = self.text.run_layer(j, h)
                out.append(h)
            return out
        h = x
        for j in range(len(self.text.layers)):
            h = self.down[j](h.transpose(1, 2)).transpose(1, 2)
            h = self.text.run_layer(j, h)
            h = fit_length(self.up[j](h.transpose(1, 2)).transpose(1, 2), t)
            out.append(h)
        return out

    # --- downstream ---------------------------------------------------------------------------
    def level_count(self, branch: Branch = "both") -> int:
        """Downstream levels of ``branch`` (see :meth:`levels`)."""
        c, k = self.config, len(self.text.layers)
        lower = 1 + c.n_common
        if branch == "acoustic":
            return lower + c.n_acoustic
        if branch == "semantic":
            return lower + k
        return lower + (k if k == c.n_acoustic else k + c.n_acoustic)

    def level_dim(self, branch: Branch = "both") -> int:
        return self.speech_dim if branch == "acoustic" else self.speech_dim + self.text_dim

    def levels(self, out: CareOutput, branch: Branch = "both") -> torch.Tensor:
        """``(n_levels, B, T, D)``: the downstream layer outputs of ``branch`` (module docstring)."""
        if branch not in BRANCHES:
            raise CareShapeError(f"unknown CARE branch {branch!r}", hint=f"one of {', '.join(BRANCHES)}")
        if branch == "acoustic":
            return torch.stack([*out.common, *out.acoustic])
        dup = self.speech_dim == self.text_dim

        def slots(sem: torch.Tensor | None, ac: torch.Tensor | None) -> torch.Tensor:
            ref = ac if ac is not None else sem
            b, t = ref.shape[:2]  # type: ignore[union-attr]
            s = sem if sem is not None else ref.new_zeros(b, t, self.text_dim)  # type: ignore[union-attr]
            a = ac if ac is not None else ref.new_zeros(b, t, self.speech_dim)  # type: ignore[union-attr]
            return torch.cat([s, a], dim=-1)

        rows = [slots(h if dup else None, h) for h in out.common]
        if branch == "semantic":
            rows += [slots(s, None) for s in out.semantic]
        elif len(out.semantic) == len(out.acoustic):
            rows += [slots(s, a) for s, a in zip(out.semantic, out.acoustic, strict=True)]
        else:
            rows += [slots(None, a) for a in out.acoustic] + [slots(s, None) for s in out.semantic]
        return torch.stack(rows)


def build_care(config: CareModelConfig, *, seed: int = 0) -> CareModel:
    """The graph a config describes; random parts (adapters, FC, random backbones) seeded by ``seed``."""
    torch.manual_seed(seed)
    return CareModel(config, build_speech(config), build_text(config))


def parameter_counts(model: CareModel) -> dict[str, int]:
    """Parameters in total, trainable, and at inference (without the acoustic FC)."""
    total = sum(p.numel() for p in model.parameters())
    return {"total": total, "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "inference": total - sum(p.numel() for p in model.acoustic_fc.parameters())}
