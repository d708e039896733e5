"""``ser``: speech emotion recognition from a frozen speech encoder's layers and a trained head.

- :mod:`.system`: the registered system and its presets;
- :mod:`.config`: its options;
- :mod:`.encoders`: registers the models layer's speech encoders with the ``encoded`` feature;
- :mod:`.inputs`, :mod:`.view`: layers, pooling, standardisation (global or per speaker) and the
  validation-speaker rule;
- :mod:`.training`: the torch heads trained through the platform's loop (needs torch);
- :mod:`.probe`: the logistic-regression probe.

The method, its options and its numbers: docs/methods/ser.md.
"""
