"""Options of the ``mister-e`` system (:class:`MisterEConfig`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from spokenemo.systems.base import SystemConfig

#: Inputs that carry no information by construction (seeded Gaussian vectors per source segment).
RANDOM = "random"
#: The text input that fine-tunes a causal LM with LoRA in phase 1 (``llm_base`` names the LM).
LLM = "llm"
EGEMAPS = "egemaps"
#: ``feature:<name>``: any registered feature provider's matrix (either modality; used by tests).
FEATURE_PREFIX = "feature:"


class MisterEConfig(SystemConfig):
    """Options of ``mister-e`` (thesis values in docs/methods/mister-e.md; defaults: the small CPU version).

    Inputs
    ------
    text_input : str
        ``minilm`` / ``mpnet`` / ``hf:/folder`` (a frozen text encoder's sentence vector),
        ``llm`` (:class:`~spokenemo.models.moe.utterance.LlmUtteranceEncoder` on ``llm_base``,
        LoRA fine-tuned in phase 1), ``random`` (an uninformative stream) or ``feature:<name>``
        (a registered feature provider's matrix).
    speech_input : str
        A registered speech encoder (``whisper-base``: its pooled layers from the ``encoded``
        feature), ``egemaps`` (eGeMAPSv02 functionals), ``random`` or ``feature:<name>``.
    speech_layers, speech_pooling : which pooled encoder layers and statistics are read.
    random_dim : size of a ``random`` stream.

    Phase 1 (one utterance head per modality, focal loss, epoch chosen on validation WF1)
    -------------------------------------------------------------------------------------
    head_hidden, head_dropout, phase1_epochs, phase1_lr, phase1_batch_size;
    llm_base, llm_max_tokens, llm_lora_r, llm_lora_alpha : the ``llm`` text input.

    Phase 2 (conversations; the epoch with the best validation WF1 is kept)
    ----------------------------------------------------------------------
    variant : ``moe`` (MiSTER-E), ``feat-moe`` or ``monolithic`` (ablations).
    gate : ``thesis`` (FC + softmax) or ``mlp`` (public code: hidden 10, temperature 2).
    can_hidden, can_layers, can_dropout, mm_hidden, mm_heads, mm_layers, mm_dropout, fused : sizes.
    gamma, alpha, lam, tau, kl, detach_reference, supervise_experts, contrastive_scope : the loss
        (:class:`~spokenemo.models.moe.loss.MoeLossSettings`; ``supervise_experts=False`` is No-Loss-MoE).
    epochs, lr, batch_size (conversations), weight_decay, max_grad_norm : AdamW training.
    collapse_threshold : stop with :class:`~spokenemo.models.moe.errors.GateCollapseError` when one
        expert's mean gate weight on the validation turns reaches it (None: never), from epoch
        ``collapse_after`` on.
    device : ``auto``, ``cpu`` or ``cuda``.
    """

    text_input: str = "minilm"
    speech_input: str = "whisper-base"
    speech_layers: Literal["all", "last"] | list[int] = "last"
    speech_pooling: Literal["mean", "mean+std"] = "mean+std"
    random_dim: int = Field(64, ge=1)
    head_hidden: int = Field(256, ge=1)
    head_dropout: float = Field(0.1, ge=0, lt=1)
    phase1_epochs: int = Field(30, ge=1)
    phase1_lr: float = Field(1e-3, gt=0)
    phase1_batch_size: int = Field(64, ge=1)
    llm_base: str = "embedded"
    llm_max_tokens: int = Field(64, ge=4)
    llm_lora_r: int = Field(8, ge=1)
    llm_lora_alpha: float = Field(32, gt=0)
    variant: Literal["moe", "feat-moe", "monolithic"] = "moe"
    gate: Literal["thesis", "mlp"] = "thesis"
    can_hidden: int = Field(128, ge=1)
    can_layers: int = Field(2, ge=1)
    can_dropout: float = Field(0.2, ge=0, lt=1)
    mm_hidden: int = Field(120, ge=1)
    mm_heads: int = Field(4, ge=1)
    mm_layers: int = Field(2, ge=1)
    mm_dropout: float = Field(0.5, ge=0, lt=1)
    fused: int = Field(256, ge=1)
    gamma: float = Field(2.0, ge=0)
    alpha: float = Field(0.1, ge=0)
    lam: float = Field(1.0, ge=0)
    tau: float = Field(1.0, gt=0)
    kl: Literal["directional", "symmetric"] = "directional"
    detach_reference: bool = False
    supervise_experts: bool = True
    contrastive_scope: Literal["conversation", "batch"] = "conversation"
    epochs: int = Field(30, ge=1)
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(8, ge=1)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float | None = Field(1.0, gt=0)
    collapse_threshold: float | None = Field(0.995, gt=0.34, le=1)
    collapse_after: int = Field(3, ge=1)
    device: str = "auto"

    @field_validator("text_input", "speech_input")
    @classmethod
    def _named(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("name an input (an encoder, 'random', ...)")
        return v.strip()

    @field_validator("mm_heads")
    @classmethod
    def _heads(cls, v: int, info) -> int:  # noqa: ANN001 - pydantic's ValidationInfo
        hidden = info.data.get("mm_hidden")
        if hidden is not None and hidden % v:
            raise ValueError(f"mm_hidden ({hidden}) must be divisible by mm_heads ({v})")
        return v
