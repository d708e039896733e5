"""Options of the ABHINAYA members and of the vote (docs/methods/abhinaya.md).

Defaults are the offline CPU stand-ins (thesis.md 0.3 and 5.4); the GPU models of the thesis are
other values of the same options (a local model folder for ``encoder`` / ``text_encoder`` /
``base``), run by the same code.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from spokenemo.systems.base import SystemConfig

Loss = Literal["ce", "wce", "wfl", "vs"]


class MemberConfig(SystemConfig):
    """Training options shared by the trained members.

    Parameters
    ----------
    loss : {"ce", "wce", "wfl", "vs"}
        Unweighted CE (the control), weighted CE, weighted focal loss (gamma 2), VS loss
        (thesis: WFL for the speech members, VS for the text and joint ones).
    epochs, lr, batch_size, weight_decay : AdamW training (the kept epoch has the best validation
        macro-F1). The thesis fine-tunes whole models with lr 1e-5 for 20 epochs; the heads over
        frozen encoders here use lr 1e-3.
    hidden, dropout : the classifier's hidden layer and its dropout.
    """

    loss: Loss = "wfl"
    epochs: int = Field(20, ge=1)
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(16, ge=1)
    weight_decay: float = Field(0.0, ge=0)
    hidden: int = Field(256, ge=1)
    dropout: float = Field(0.2, ge=0, lt=1)


class SpeechFramesConfig(MemberConfig):
    """S1: a speech encoder's frames + attentive statistics pooling (thesis: WavLM-large + ASP + WFL).

    Parameters
    ----------
    encoder : str
        Registered speech encoder (``whisper-base`` offline; ``hf:/path/wavlm-large`` on a GPU).
    layers : "all", "last" or list of int
        The layers the head weighs (softmax layer weights, as the SUPERB head).
    max_frames : int
        Frames kept per clip (the thesis cuts audio to 10 s: 500 Whisper frames).
    frame_stride : int
        Average every ``frame_stride`` frames (1 = all; 2 halves the head's work on a CPU).
    """

    encoder: str = "whisper-base"
    layers: Literal["all", "last"] | list[int] = "all"
    max_frames: int = Field(500, ge=1)
    frame_stride: int = Field(1, ge=1)


class SpeechPooledConfig(MemberConfig):
    """S2 stand-in: another encoder's pooled layers + layer weights + FFN (thesis: SALMONN-13B).

    Parameters
    ----------
    encoder : str
        Registered speech encoder; ``care:DIR`` (a pre-trained CARE model folder) is the default
        stand-in, any other name (``whisper-base``, ``egemaps-lld``, ``hf:/path``) works too.
    layers : "all", "last" or list of int
    """

    encoder: str = "care:runs/care/pretrain-A/best#both"
    layers: Literal["all", "last"] | list[int] = "all"


class LexiconConfig(SystemConfig):
    """T1: zero-shot text classification (thesis: LLaMA-3.3-70B prompted).

    Parameters
    ----------
    backend : str
        ``lexicon`` (the NRC emotion lexicon through ``nrclex``, the rule-based stand-in) or an LLM
        backend kind of :func:`spokenemo.llm.factory.get_backend` (``embedded``, ``openai``,
        ``transformers``, ``llamacpp``) asked with the thesis's one-word prompt.
    backend_options : dict
        Options of the LLM backend (``model``, ``base_url``, ...).
    max_tokens : int
        Tokens the LLM may answer with.
    """

    backend: str = "lexicon"
    backend_options: dict[str, Any] = Field(default_factory=dict)
    max_tokens: int = Field(8, ge=1)


class TextConfig(MemberConfig):
    """T2: a text model's last-layer tokens + ASP + classifier (thesis: LLaMA-3.1-8B + LoRA + ASP + VS).

    Parameters
    ----------
    text_encoder : str
        ``minilm`` / ``mpnet`` / ``hf:/path``: a **frozen** encoder (the CPU stand-in), token states
        of its last layer computed once per process.
    lora_base : str, optional
        A local causal-LM folder (SmolLM2, LLaMA-3.1-8B) or ``tiny`` (a random tiny Llama, tests):
        the model is fine-tuned with LoRA (r 8, alpha 32, dropout 0.1) together with the head;
        ``text_encoder`` is then unused.
    max_tokens : int
        Tokens kept per transcript.
    """

    loss: Loss = "vs"
    text_encoder: str = "minilm"
    lora_base: str | None = None
    max_tokens: int = Field(64, ge=1)


class JointConfig(MemberConfig):
    """ST1 stand-in: one small transformer over [speech frames ; text tokens] (thesis: SALMONN-7B
    with the transcript appended).

    Parameters
    ----------
    encoder : str
        Speech encoder whose frames (one layer) enter the transformer.
    layer : int
        Which of its layers (negative counts from the last).
    frame_stride : int
        Average every ``frame_stride`` speech frames (4: 12.5 frames/s from Whisper's 50).
    max_frames : int
        Speech frames kept (after the stride).
    text_encoder : str
        Frozen text encoder giving the token states (last layer).
    max_tokens : int
    d_model, n_heads, n_layers : the transformer.
    """

    loss: Loss = "vs"
    encoder: str = "whisper-base"
    layer: int = -1
    frame_stride: int = Field(4, ge=1)
    max_frames: int = Field(125, ge=1)
    text_encoder: str = "minilm"
    max_tokens: int = Field(64, ge=1)
    d_model: int = Field(128, ge=8)
    n_heads: int = Field(4, ge=1)
    n_layers: int = Field(1, ge=1)


class VoteConfig(SystemConfig):
    """The ensemble: members trained on the same fold, joined by majority vote (thesis.md 5.2).

    Parameters
    ----------
    members : list of mappings
        ``{name: S1, kind: abhinaya-s1, <options>}`` each; at least three.
    tie_breaker : str, optional
        The member whose label wins a tie (thesis: S2); default the first member.
    """

    members: list[dict[str, Any]] = Field(min_length=1)
    tie_breaker: str | None = None

    @field_validator("members")
    @classmethod
    def _named(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, m in enumerate(v):
            if not isinstance(m, dict) or "kind" not in m or "name" not in m:
                raise ValueError(f"member {i + 1}: give a mapping with 'name' and 'kind' (a registered system)")
        return v


class ImbalanceSection(BaseModel):
    """The experiment-config section ``imbalance:`` (read by :mod:`spokenemo.api.abhinaya`'s runner).

    Parameters
    ----------
    train_ratio : float, optional
        Long-tailed training subsample, head-to-tail ratio (thesis.md 5.4: 10); None keeps the
        training part as it is (MELD is long-tailed already).
    seed : int
        Seed of the subsamples (the same for every system seed, so members see the same data).
    balance_valid, balance_test : bool
        Cut every class of the validation / test part to the same count.
    train_limit : int, optional
        At most this many training examples, classes in proportion (a long-tailed corpus keeps its
        tail on a smaller CPU budget).
    test_per_class, valid_per_class : int, optional
        That count for the test / validation part (MELD test: 50; MSP-Podcast validation: 326);
        default the smallest class's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    train_ratio: float | None = Field(None, ge=1)
    seed: int = 0
    balance_valid: bool = False
    balance_test: bool = False
    test_per_class: int | None = Field(None, ge=1)
    valid_per_class: int | None = Field(None, ge=1)
    train_limit: int | None = Field(None, ge=1)
