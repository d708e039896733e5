"""``care``: CARE pre-training and the downstream system (issue #17; docs/methods/care.md).

- :mod:`.config`: the pre-training settings (``configs/care-*.yaml``);
- :mod:`.data`, :mod:`.targets`: transcripts, split, crops, the cached teacher targets;
- :mod:`.pretrain`: pre-training through :func:`spokenemo.train.loop.fit` (needs torch);
- :mod:`.encoders`: CARE encoder names in the speech-encoder registry;
- :mod:`.system`: the registered ``care`` system (CARE levels through the ``ser`` SUPERB head).
"""
