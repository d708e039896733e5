"""Options of the ``hcam`` system (docs/methods/hcam.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from spokenemo.systems.base import SystemConfig

Modality = Literal["speech", "text", "both"]


class HcamConfig(SystemConfig):
    """HCAM's settings.

    ``modality`` and ``stage`` choose what is trained and what predicts: a single modality up to
    stage 1 or 2, or both modalities up to stage 3 (fusion; ``hierarchical=False`` trains stages
    II and III together). With ``finetune`` the stage-I encoders are the speech / text models
    themselves (``hf:/local/folder``: HuBERT-large and RoBERTa on a GPU), trained at ``lr_finetune``;
    otherwise (the CPU plan) they are frozen and their outputs cached under ``cache_dir``.
    """

    modality: Modality = "both"
    stage: Literal[1, 2, 3] = 3
    hierarchical: bool = True
    speech_encoder: str = "whisper-base"
    text_encoder: str = "minilm"
    text_layers: int = Field(4, ge=1)
    finetune: bool = False
    cache_dir: str = "runs/hcam/cache"
    #: What a conversation of one turn does: an error (default), or it is kept (MELD has 88 of them).
    single_turn: Literal["error", "allow"] = "error"
    beta: float = Field(0.8, ge=0.0, le=1.0)
    temperature: float = Field(0.1, gt=0.0)
    lr: float = Field(1e-3, gt=0.0)
    lr_finetune: float = Field(1e-5, gt=0.0)
    max_grad_norm: float = Field(0.25, gt=0.0)
    epochs: list[int] = Field(default_factory=lambda: [10, 15, 15], min_length=3, max_length=3)
    patience: int | None = Field(4, ge=1)
    batch_utterances: int = Field(32, ge=1)
    batch_conversations: int = Field(32, ge=1)
    dim: int = Field(256, ge=2)
    heads: int = Field(4, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    cnn_channels: int = Field(256, ge=1)
    gru_hidden: int = Field(256, ge=1)
    #: (ours, CPU plan) width of a linear projection of the text tokens before the Bi-GRU (None: none).
    text_proj: int | None = Field(None, ge=1)
    #: (ours, CPU plan) speech frames averaged in time before the CNN (1: none).
    frame_pool: int = Field(1, ge=1)
    valid_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    max_seconds: float = Field(15.0, gt=0.0)
    max_tokens: int = Field(128, ge=4)
    device: str = "cpu"
    threads: int | None = Field(1, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> HcamConfig:
        if self.stage == 3 and self.modality != "both":
            raise ValueError("stage 3 (fusion) needs modality 'both'")
        if self.stage < 3 and self.modality == "both":
            raise ValueError(f"stage {self.stage} is per modality: set modality to 'speech' or 'text'")
        if not self.hierarchical and self.stage != 3:
            raise ValueError("hierarchical=False (stages II and III trained together) needs stage 3")
        if self.dim % self.heads or self.dim % 2:
            raise ValueError(f"dim ({self.dim}) must be even and divisible by heads ({self.heads})")
        return self

    @property
    def modalities(self) -> tuple[str, ...]:
        return ("speech", "text") if self.modality == "both" else (self.modality,)
