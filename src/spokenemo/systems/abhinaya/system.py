"""Registers ABHINAYA's systems (thesis.md 5; docs/methods/abhinaya.md).

=============== ===================================================== =====================================
kind            member                                                offline stand-in
=============== ===================================================== =====================================
abhinaya-s1     S1: WavLM-large + ASP + WFL                           Whisper-base frames + ASP + WFL
abhinaya-s2     S2: SALMONN-13B + ASP + WFL                           CARE pooled layers + FFN + WFL
abhinaya-t1     T1: LLaMA-3.3-70B zero-shot prompt                    NRC lexicon (nrclex) or any LLM backend
abhinaya-t2     T2: LLaMA-3.1-8B + LoRA + ASP + VS                    frozen MiniLM tokens + ASP + VS (or
                                                                      SmolLM2 + LoRA with ``lora_base``)
abhinaya-st1    ST1: SALMONN-7B with the transcript + LoRA + ASP + VS transformer over [frames ; tokens] + VS
abhinaya        the majority vote of members (ties: S2's label)       the same
=============== ===================================================== =====================================
"""

from __future__ import annotations

from spokenemo.systems.abhinaya import ensemble, joint, speech, text  # noqa: F401 - registration

__all__ = ["ensemble", "joint", "speech", "text"]
