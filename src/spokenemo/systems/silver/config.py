"""Options of the ``silver-text`` system (:class:`SilverTextConfig`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from spokenemo.systems.head_options import HeadTrainingConfig


class SilverTextConfig(HeadTrainingConfig):
    """Options of ``silver-text``: a text encoder (silver-pre-trained or not) + a trained head.

    Parameters
    ----------
    encoder : str
        A registered text encoder: ``minilm``, ``mpnet``, ``silver-<name>`` (trained by
        ``spokenemo silver train``) or ``hf:/path``.
    mode : {"frozen", "finetune"}
        ``frozen`` (default, thesis.md 2.2 item 4): the SUPERB head on the frozen encoder's layer
        means; ``finetune``: the encoder trains with the head (``ft_epochs``, ``ft_lr``).
    epochs, lr, batch_size, hidden, dropout, weight_decay, patience : the head's training (AdamW,
        constant rate; the epoch with the best validation weighted F1 is kept).
    balanced : bool
        Class-balanced cross-entropy (off: plain cross-entropy, as SUPERB).
    max_length : int
        Token limit of the fine-tuned mode.
    feature_batch : int
        Sentences per encoder pass when computing frozen features.
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    """

    encoder: str = "minilm"
    mode: Literal["frozen", "finetune"] = "frozen"
    epochs: int = Field(20, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    patience: int | None = Field(5, ge=1)
    balanced: bool = False
    ft_epochs: int = Field(3, ge=1)
    ft_lr: float = Field(3e-5, gt=0)
    max_length: int = Field(64, ge=4)
    feature_batch: int = Field(64, ge=1)
