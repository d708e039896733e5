"""A trained S2S-ZEST converter: analysis modules, transfer (Eqs. 5.8-5.11) and the WORLD renderer.

Transfer: units ``t'`` with durations ``d`` and the speaker vector ``s`` come from the source;
``E_ref`` and ``e_bar_ref`` from the reference. ``d_hat = D(t', s, e_bar_ref)`` is clipped to +-40 %
of ``d``, rounded, at least 1 frame (Eq. 5.8); ``t_conv = dup(t', d_hat)`` (Eq. 5.9);
``f_hat = F0(t_conv, s + E_ref)`` (Eq. 5.10); the WORLD renderer applies ``d_hat`` and ``f_hat`` to the
source's envelope and aperiodicity (in the place of Eq. 5.11's vocoder on CPU).

Folder layout: ``zest.json`` (config, classes, unit layer, training summary), ``units.npz`` (k-means
centres), ``weights.pt`` (speaker FC layers and style model, float16 to keep the folder small),
``envelope.npz`` (optional, **ours**: :mod:`spokenemo.models.zest.envelope`, applied when
``transfer.envelope_strength`` or the call's ``envelope_strength`` is not 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.core.fileio import atomic_write
from spokenemo.models.zest.envelope import EnvelopeStyle
from spokenemo.models.zest.nets import SpeakerModule
from spokenemo.models.zest.pitch import require_voiced, world_analyse
from spokenemo.models.zest.style import StyleModel, StyleSizes
from spokenemo.models.zest.units import UnitTokenizer, dedup, duplicate
from spokenemo.models.zest.world import render
from spokenemo.systems.zest.analysis import SAMPLE_RATE, Analyser, ClipAnalysis, check_clip
from spokenemo.systems.zest.config import ZestConfig
from spokenemo.systems.zest.transfer import F0_MODES, clip_durations, relative_f0

META = "zest.json"


@dataclass
class Conversion:
    """A converted clip and what the transfer decided."""

    wave: np.ndarray
    sr: int
    source_durations: np.ndarray
    durations: np.ndarray
    f0: np.ndarray
    source_f0: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


class ZestConverter:
    """Tokenizer + speaker module + style model of one training run (module docstring)."""

    def __init__(self, config: ZestConfig, tokenizer: UnitTokenizer, speaker: SpeakerModule, style: StyleModel,
                 emotions: list[str], speakers: list[str], summary: dict[str, Any] | None = None,
                 envelope: EnvelopeStyle | None = None) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.speaker = speaker.eval()
        self.style = style.eval()
        self.emotions = emotions
        self.speakers = speakers
        self.summary = summary or {}
        self.envelope = envelope
        self.analyser = Analyser(config.units.encoder, [tokenizer.layer, config.style.emotion_layer],
                                 config.transfer.f0_method)
        self.world_method = "dio" if config.transfer.f0_method == "yaapt" else config.transfer.f0_method

    # -- embeddings -------------------------------------------------------------------------------------
    @torch.no_grad()
    def speaker_vector(self, a: ClipAnalysis) -> torch.Tensor:
        return self.speaker(torch.as_tensor(a.dvector, dtype=torch.float32)[None])

    @torch.no_grad()
    def emotion_frames(self, a: ClipAnalysis) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``E`` (1, T, dim), ``e_bar`` (1, dim) and the frame mask of one clip."""
        frames = torch.as_tensor(a.layers[self.config.style.emotion_layer].astype(np.float32))[None]
        mask = torch.ones(frames.shape[:2], dtype=torch.bool)
        e, e_bar = self.style.emotion(frames, mask)
        return e, e_bar, mask

    @torch.no_grad()
    def predict_f0(self, units: np.ndarray, s: torch.Tensor, e: torch.Tensor, e_mask: torch.Tensor) -> np.ndarray:
        u = torch.as_tensor(units, dtype=torch.long)[None]
        return self.style.f0(u, torch.ones_like(u, dtype=torch.bool), s, e, e_mask)[0].numpy()

    @torch.no_grad()
    def predict_durations(self, runs: np.ndarray, s: torch.Tensor, e_bar: torch.Tensor) -> np.ndarray:
        r = torch.as_tensor(runs, dtype=torch.long)[None]
        pred = self.style.duration(r, torch.ones_like(r, dtype=torch.bool), s, e_bar)
        return self.style.duration.to_frames(pred)[0].numpy()

    # -- transfer ---------------------------------------------------------------------------------------
    def units(self, a: ClipAnalysis) -> np.ndarray:
        return self.tokenizer.tokenize(a.layers[self.tokenizer.layer].astype(np.float32))

    def convert(self, source: np.ndarray, reference: np.ndarray, *, use_duration: bool | None = None,
                f0_mode: str | None = None, envelope_strength: float | None = None) -> Conversion:
        """Source's words and voice in the reference's style (16 kHz mono float32 in and out).

        Raises
        ------
        AudioTooShortError
            Either clip is shorter than 0.5 s.
        NoVoicedFramesError
            The source or the reference has no voiced frame.
        """
        source = check_clip(source, "source")
        reference = check_clip(reference, "reference")
        src, ref = self.analyser.analyse_many([source, reference])
        require_voiced(src.f0, "source")
        require_voiced(ref.f0, "reference")
        return self.convert_analysed(source, src, ref, use_duration=use_duration, f0_mode=f0_mode,
                                     envelope_strength=envelope_strength)

    def convert_analysed(self, source: np.ndarray, src: ClipAnalysis, ref: ClipAnalysis, *,
                         use_duration: bool | None = None, f0_mode: str | None = None,
                         envelope_strength: float | None = None) -> Conversion:
        """:meth:`convert` on analysed clips (the source's waveform is needed for WORLD)."""
        t = self.transfer_plan(src, ref, use_duration=use_duration, f0_mode=f0_mode)
        world = world_analyse(source, SAMPLE_RATE, self.world_method)
        strength = self.config.transfer.envelope_strength if envelope_strength is None else envelope_strength
        if strength and self.envelope is None:
            raise ConfigError("this converter has no envelope-style model (envelope.npz)",
                              hint="fit one with spokenemo.systems.zest.train.add_envelope(FOLDER), or use strength 0")
        if strength and self.envelope is not None:
            delta = self.envelope.delta(self.emotion_frames(ref)[1][0].numpy(), self.emotion_frames(src)[1][0].numpy())
            world.sp = self.envelope.apply(world.sp, delta, strength)
        wave = render(world, t["source_durations"], t["durations"], t["f0"])
        return Conversion(wave, SAMPLE_RATE, t["source_durations"], t["durations"], t["f0"], src.f0,
                          {"runs": t["runs"]})

    def transfer_plan(self, src: ClipAnalysis, ref: ClipAnalysis, *, use_duration: bool | None = None,
                      f0_mode: str | None = None) -> dict[str, np.ndarray]:
        """Eqs. 5.8-5.10: runs, source and converted durations, and the converted F0 per output frame."""
        cfg = self.config.transfer
        use_duration = cfg.use_duration if use_duration is None else use_duration
        f0_mode = f0_mode or cfg.f0_mode
        if f0_mode not in F0_MODES:
            raise ConfigError(f"f0_mode must be one of {F0_MODES}, got {f0_mode!r}")
        runs, d_src = dedup(self.units(src))
        s = self.speaker_vector(src)
        e_ref, e_bar_ref, m_ref = self.emotion_frames(ref)
        d_new = (clip_durations(self.predict_durations(runs, s, e_bar_ref), d_src, cfg.clip) if use_duration
                 else d_src.copy())
        t_conv = duplicate(runs, d_new)
        f0 = self.predict_f0(t_conv, s, e_ref, m_ref)
        if f0_mode == "relative":
            e_src, _, m_src = self.emotion_frames(src)
            own = self.predict_f0(duplicate(runs, d_src), s, e_src, m_src)
            f0 = relative_f0(f0, own, src.f0)
        return {"runs": runs, "source_durations": d_src, "durations": d_new, "f0": f0}

    # -- folder -----------------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(folder / "units.npz")
        state = {"speaker": {k: v.half() for k, v in self.speaker.state_dict().items()},
                 "style": {k: v.half() for k, v in self.style.state_dict().items()}}
        torch.save(state, folder / "weights.pt")
        if self.envelope is not None:
            self.envelope.save(folder / "envelope.npz")
        meta = {"format": 1, "config": self.config.model_dump(), "emotions": self.emotions,
                "speakers": self.speakers, "sizes": self.style.sizes.__dict__, "speaker_dim": self.speaker.dim,
                "summary": self.summary}
        with atomic_write(folder / META) as fh:
            fh.write(json.dumps(meta, indent=1, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ZestConverter:
        folder = Path(folder)
        if not (folder / META).is_file():
            raise ModelNotFoundError(f"{folder}: not a S2S-ZEST converter folder (no {META})",
                                     hint="train one with `spokenemo convert-train configs/zest-ravdess.yaml -o DIR`")
        meta = json.loads((folder / META).read_text())
        config = ZestConfig.model_validate(meta["config"])
        sizes = StyleSizes(**meta["sizes"])
        speaker = SpeakerModule(len(meta["speakers"]), len(meta["emotions"]), dim=meta["speaker_dim"],
                                adv_weight=config.speaker.adv_weight)
        style = StyleModel(sizes)
        state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
        speaker.load_state_dict({k: v.float() for k, v in state["speaker"].items()})
        style.load_state_dict({k: v.float() for k, v in state["style"].items()})
        envelope = EnvelopeStyle.load(folder / "envelope.npz") if (folder / "envelope.npz").is_file() else None
        return cls(config, UnitTokenizer.load(folder / "units.npz"), speaker, style, meta["emotions"],
                   meta["speakers"], meta.get("summary"), envelope)
