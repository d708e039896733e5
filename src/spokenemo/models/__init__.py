"""Models shared by systems: the base causal LLM with LoRA (:mod:`~spokenemo.models.causal_lm`),
offline speech recognition (:mod:`~spokenemo.models.asr`) and tiny random models for tests
(:mod:`~spokenemo.models.tiny`). Speech and text encoders exposing every layer come next (#14).
"""
