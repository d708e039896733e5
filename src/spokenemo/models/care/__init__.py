"""CARE: a speech encoder distilled from a text teacher and an acoustic teacher (issue #17).

- :mod:`.config` (light): the graph's options, named configurations, ablation flags, typed errors;
- :mod:`.backbones`, :mod:`.graph`: the torch graph (speech backbone split into common and
  acoustic encoders; frozen text layers between conv adapters);
- :mod:`.losses`: L = L_sem + lambda L_acoust;
- :mod:`.io`: model folders; :mod:`.encoder`: CARE as a :class:`~spokenemo.models.encoders.SpeechEncoder`.

Method and numbers: docs/methods/care.md. Importing this package does not import torch.
"""

from spokenemo.models.care.config import (
    CARE_PRESETS,
    CareModelConfig,
    CareShapeError,
    care_config,
    parse_care_name,
)

__all__ = ["CARE_PRESETS", "CareModelConfig", "CareShapeError", "care_config", "parse_care_name"]
