"""Options of the ``ser`` system (:class:`SerConfig`)."""

from __future__ import annotations

from pydantic import Field, field_validator

from spokenemo.systems.head_options import Head, SpeechHeadConfig

__all__ = ["Head", "SerConfig"]


class SerConfig(SpeechHeadConfig):
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
    min_speaker_segments: int = Field(10, ge=2)
    lr: float = Field(1e-4, gt=0)
    C: float = Field(0.1, gt=0)

    @field_validator("encoder")
    @classmethod
    def _some_encoder(cls, v: str | list[str]) -> str | list[str]:
        names = [v] if isinstance(v, str) else v
        if not names or any(not n.strip() for n in names):
            raise ValueError("name at least one encoder")
        if len(set(names)) != len(names):
            raise ValueError(f"an encoder is listed twice: {names}")
        return v

    @property
    def encoders(self) -> list[str]:
        """The encoder names as a list."""
        return [self.encoder] if isinstance(self.encoder, str) else list(self.encoder)

    @property
    def needs_frames(self) -> bool:
        return self.head == "asp"
