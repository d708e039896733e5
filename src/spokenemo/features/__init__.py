"""What systems read from a segment, computed once and cached: acoustic cues, eGeMAPS, feature
providers by name, and one executor that maps a function over a manifest (processes or Dask,
resumable, per-item errors).

- :mod:`~spokenemo.features.cues`: the AECoTD cues (docs/methods/aecotd.md).
- :mod:`~spokenemo.features.egemaps`: eGeMAPSv02 functionals (openSMILE, optional).
- :mod:`~spokenemo.features.encoded`: per-layer speech-encoder features (pooled or frames), float16.
- :mod:`~spokenemo.features.providers`: :class:`~spokenemo.features.providers.FeatureBank` and
  :func:`~spokenemo.features.providers.register_feature`.
- :mod:`~spokenemo.features.cue_vectors`: cue rows as number vectors.
- :mod:`~spokenemo.features.executor`: :func:`~spokenemo.features.executor.run_items`.
"""
