"""Options of the ``ser`` system (:class:`SerConfig`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from spokenemo.systems.base import SystemConfig

Head = Literal["superb", "asp", "linear", "probe"]


class SerConfig(SystemConfig):
    """Options of ``ser``: a frozen speech encoder's layers + a trained head.

    Parameters
    ----------
    encoder : str or list of str
        Registered speech encoder(s) (``whisper-base``, ``whisper-tiny.en``, ``logmel``, ...).
        Several: their features are fused (each encoder's layers reduced on their own, then
        concatenated).
    layers : "all", "last" or list of int
        Which layers of each encoder the head reads (0 = the input to the first transformer
        layer; negative indices count from the last).
    head : {"superb", "asp", "linear", "probe"}
        ``superb``: softmax-weighted layers, mean pooling, 2-layer FFN (hidden ``hidden``);
        ``asp``: the same layer weights on frames, attentive statistics pooling, the FFN;
        ``linear``: one linear layer (torch); ``probe``: logistic regression (scikit-learn,
        ``C``, balanced classes) on the flattened pooled features.
    pooling : {"mean", "mean+std"}
        What the pooled heads read per layer: the mean over frames (the thesis), or mean and
        standard deviation. ``asp`` pools its frames itself and ignores it.
    speaker_norm : bool
        Z-score each speaker with that speaker's own statistics where the speaker has at least
        ``min_speaker_segments`` segments, else with the global training statistics
        (:mod:`spokenemo.features.encoded.normalise`).
    epochs, lr, batch_size, hidden, dropout, weight_decay : training of the torch heads (AdamW,
        constant learning rate, class-balanced cross-entropy; thesis: 50 epochs, lr 1e-4,
        batch 32, hidden 256).
    patience : int, optional
        Stop when the validation UA has not improved for this many epochs.
    valid_fraction : float
        A fold without a validation part: this share of its training speakers (rounded up, at
        least one) is held out to choose the epoch.
    refit : bool
        After choosing the epoch on speakers held out from the training part, train again on the
        whole training part for that many epochs.
    C : float
        Inverse regularisation of the ``probe`` head.
    device : str
        Where torch heads train (``auto``, ``cpu``, ``cuda``).
    """

    encoder: str | list[str] = "whisper-base"
    layers: Literal["all", "last"] | list[int] = "all"
    head: Head = "superb"
    pooling: Literal["mean", "mean+std"] = "mean"
    speaker_norm: bool = False
    min_speaker_segments: int = Field(10, ge=2)
    epochs: int = Field(50, ge=1)
    lr: float = Field(1e-4, gt=0)
    batch_size: int = Field(32, ge=1)
    hidden: int = Field(256, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    patience: int | None = Field(None, ge=1)
    valid_fraction: float = Field(0.2, gt=0, lt=1)
    refit: bool = True
    C: float = Field(0.1, gt=0)
    device: str = "auto"

    @field_validator("encoder")
    @classmethod
    def _some_encoder(cls, v: str | list[str]) -> str | list[str]:
        names = [v] if isinstance(v, str) else v
        if not names or any(not n.strip() for n in names):
            raise ValueError("name at least one encoder")
        if len(set(names)) != len(names):
            raise ValueError(f"an encoder is listed twice: {names}")
        return v

    @field_validator("layers")
    @classmethod
    def _some_layers(cls, v: str | list[int]) -> str | list[int]:
        if isinstance(v, list) and not v:
            raise ValueError("layers: give 'all', 'last' or at least one index")
        return v

    @property
    def encoders(self) -> list[str]:
        """The encoder names as a list."""
        return [self.encoder] if isinstance(self.encoder, str) else list(self.encoder)

    @property
    def needs_frames(self) -> bool:
        return self.head == "asp"
