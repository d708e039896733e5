"""Models shared by systems: the base causal LLM with LoRA (:mod:`~spokenemo.models.causal_lm`),
speech and text encoders exposing every layer (:mod:`~spokenemo.models.encoders`), offline speech
recognition (:mod:`~spokenemo.models.asr`) and tiny random models for tests
(:mod:`~spokenemo.models.tiny`).
"""
