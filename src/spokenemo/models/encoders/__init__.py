"""Speech and text encoders exposing every layer (issue #14).

The interface (:mod:`~spokenemo.models.encoders.base`): a :class:`SpeechEncoder` maps a mono 16 kHz
waveform to :class:`EncoderOutput` ``(n_layers, n_frames, dim)`` plus the frame rate. Encoders are
picked by name (:mod:`~spokenemo.models.encoders.registry`): the packaged Whisper base and tiny.en
in PyTorch (:mod:`~spokenemo.models.encoders.whisper`, weights read from CTranslate2's
``model.bin`` by :mod:`~spokenemo.models.encoders.whisper_ct2`), CTranslate2 itself (last layer),
log-mel, eGeMAPS low-level descriptors, and local transformers folders; text encoders likewise
(:mod:`~spokenemo.models.encoders.text`). Importing this package does not import torch.
"""

from spokenemo.models.encoders.base import EncoderOutput, SpeechEncoder, TextEncoderOutput
from spokenemo.models.encoders.registry import (
    SPEECH_ENCODERS,
    TEXT_ENCODERS,
    get_speech_encoder,
    get_text_encoder,
    register_speech_encoder,
)

__all__ = ["SPEECH_ENCODERS", "TEXT_ENCODERS", "EncoderOutput", "SpeechEncoder", "TextEncoderOutput",
           "get_speech_encoder", "get_text_encoder", "register_speech_encoder"]
