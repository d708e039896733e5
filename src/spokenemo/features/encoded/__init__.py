"""Speech-encoder features: the per-layer store, the ``encoded`` provider, standardisation.

- :mod:`~spokenemo.features.encoded.store`: :class:`EncodedStore` (float16 per-layer mean and
  std, or frames, per segment; fingerprinted by the encoder; resumable; per-segment errors) and
  :data:`ENCODER_LOOKUPS`, through which the layer holding the encoders makes them available.
- :mod:`~spokenemo.features.encoded.provider`: the feature provider ``encoded``.
- :mod:`~spokenemo.features.encoded.normalise`: :class:`Standardiser` (global training
  statistics, or each speaker's own where the speaker has enough segments).
"""

from spokenemo.features.encoded.normalise import MIN_SPEAKER_SEGMENTS, Standardiser
from spokenemo.features.encoded.provider import EncodedFeatures, select_layers
from spokenemo.features.encoded.store import (
    ENCODER_LOOKUPS,
    EncodedStore,
    FrameEncoder,
    file_identity,
    get_encoder_lookup,
    pool_hidden_states,
)

__all__ = ["ENCODER_LOOKUPS", "MIN_SPEAKER_SEGMENTS", "EncodedFeatures", "EncodedStore", "FrameEncoder",
           "Standardiser", "file_identity", "get_encoder_lookup", "pool_hidden_states", "select_layers"]
