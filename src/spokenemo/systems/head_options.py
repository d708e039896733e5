"""Options shared by every system that trains a torch head on frozen features.

``ser``, ``care`` and ``silver-text`` (and any new system with a trained head) take their head's
training options from :class:`HeadTrainingConfig`; systems on speech-encoder layers add the layer
and pooling options of :class:`SpeechHeadConfig`. A system changes a default by declaring the field
again (``lr: float = Field(1e-4, gt=0)``), never by copying the whole block.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from spokenemo.systems.base import SystemConfig

Head = Literal["superb", "asp", "linear", "probe"]


class HeadTrainingConfig(SystemConfig):
    """Training of a torch head: AdamW at a constant ``lr`` for ``epochs`` epochs of ``batch_size``.

    Parameters
    ----------
    epochs, lr, batch_size, weight_decay : the optimiser's schedule.
    hidden, dropout : the head's FFN width and dropout.
    patience : int, optional
        Stop when the validation score has not improved for this many epochs.
    device : str
        Where the head trains (``auto``, ``cpu``, ``cuda``).
    """

    epochs: int = Field(50, ge=1)
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(32, ge=1)
    hidden: int = Field(256, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    patience: int | None = Field(None, ge=1)
    device: str = "auto"


class SpeechHeadConfig(HeadTrainingConfig):
    """A head over a speech encoder's layers (``ser``, ``care``); see ``SerConfig`` for each option.

    Parameters
    ----------
    layers : "all", "last" or list of int
        Which layers the head reads (0 = the input to the first transformer layer).
    head : {"superb", "asp", "linear", "probe"}
        The head's kind (:mod:`spokenemo.models.heads`).
    pooling : {"mean", "mean+std"}
        What the pooled heads read per layer.
    speaker_norm : bool
        Z-score each speaker's features with that speaker's own statistics.
    valid_fraction : float
        Share of the training speakers held out to choose the epoch when a fold has no validation part.
    refit : bool
        Train again on the whole training part for the chosen number of epochs.
    """

    layers: Literal["all", "last"] | list[int] = "all"
    head: Head = "superb"
    pooling: Literal["mean", "mean+std"] = "mean"
    speaker_norm: bool = False
    valid_fraction: float = Field(0.2, gt=0, lt=1)
    refit: bool = True

    @field_validator("layers")
    @classmethod
    def _some_layers(cls, v: str | list[int]) -> str | list[int]:
        if isinstance(v, list) and not v:
            raise ValueError("layers: give 'all', 'last' or at least one index")
        return v
