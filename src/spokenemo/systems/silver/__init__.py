"""Silver-label pre-training for text emotion recognition (thesis.md 2; docs/methods/silver-labels.md).

- :mod:`.pool`: the unlabelled pool (text manifests with labels hidden, or ASR transcripts); test
  splits never enter it; empty and non-English transcripts are kept with a reason;
- :mod:`.parse`: the thesis prompt (verbatim) and the answer parser;
- :mod:`.labellers`: ``llm`` (any LLM backend), ``vader`` and ``textblob`` on the cached LLM job
  engine, and reading the silver labels back;
- :mod:`.quality`: agreement with a gold sentiment column (MELD);
- :mod:`.student`: the silver stage (encoder + head on the first token, the platform's loop; torch);
- :mod:`.encoders`: trained silver encoders registered as text encoders ``silver-<name>``;
- :mod:`.features`, :mod:`.downstream`: frozen layer means + SUPERB head, or fine-tuning (torch);
- :mod:`.system`: the registered system ``silver-text`` and its presets.
"""
