"""The S2S-ZEST training config (``configs/zest-*.yaml``), validated with pydantic.

Defaults are the thesis values (K = 100, lambda_adv^emo = 10, lambda_adv^spk = 1, lambda_e = 1000,
lambda_f = 1, lambda_d = 10, hidden 256, 4 heads, duration clipping +-40 %) with the offline
components of thesis.md 0.3 / 6.6; epochs and batch sizes are set per config.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from spokenemo.core.config import load_yaml_config


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSection(_Section):
    """RAVDESS actors and the five ESD-like classes; repetition 01 trains (thesis.md 6.6)."""

    root: str = "../shared/data/ravdess"
    actors: list[str] = Field(default_factory=lambda: [f"{i:02d}" for i in range(1, 17)])
    emotions: list[str] = Field(default_factory=lambda: ["neutral", "happy", "angry", "sad", "surprised"])
    repetitions: list[str] = Field(default_factory=lambda: ["01"])
    limit: int | None = None  # at most this many clips (tests)


class UnitsSection(_Section):
    encoder: str = "whisper-base"
    layer: int | None = None          # None: chosen by the unit-quality check among `candidates`
    candidates: list[int] = Field(default_factory=lambda: [2, 3, 4, 5, 6])
    k: int = 100
    normalise: str = "utterance"
    fraction: float = 0.1
    quality_corpus: str = "ravdess"   # utterances the unit-quality check runs on (the training clips)


class SpeakerSection(_Section):
    dim: int = 256
    adv_weight: float = 10.0
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3


class StyleSection(_Section):
    emotion_layer: int = -1           # encoder layer E is computed from (-1: the last)
    dim: int = 256
    heads: int = 4
    emotion_layers: int = 1
    f0_blocks: int = 1
    dropout: float = 0.1
    adv_weight: float = 1.0
    lambda_e: float = 1000.0
    lambda_f: float = 1.0
    lambda_d: float = 10.0
    log_durations: bool = False
    epochs: int = 200
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.01


class TransferSection(_Section):
    clip: float = 0.4                 # predicted durations clipped to +-40 % of the source's
    use_duration: bool = True         # False: the source durations (thesis Table 5.4 ablation)
    f0_mode: str = "absolute"         # "absolute" (thesis) or "relative" (ours: predictor bias removed)
    f0_method: str = "dio"            # WORLD dio + stonemask, harvest, or yaapt (targets only)
    envelope_strength: float = 0.0    # ours: emotion-dependent band gains on the source envelope (0: off)


class ZestConfig(_Section):
    name: str = "zest"
    seed: int = 0
    device: str = "cpu"
    data: DataSection = DataSection()
    units: UnitsSection = UnitsSection()
    speaker: SpeakerSection = SpeakerSection()
    style: StyleSection = StyleSection()
    transfer: TransferSection = TransferSection()
    cache_dir: str = "runs/zest/cache"


def load_zest_config(path: str | Path, overrides: list[str] | None = None) -> ZestConfig:
    """A ``configs/zest-*.yaml`` file validated as :class:`ZestConfig` (dotted overrides allowed)."""
    return load_yaml_config(ZestConfig, path, overrides, what="zest config")
