"""MiSTER-E building blocks (thesis chapter 4, docs/methods/mister-e.md): torch modules.

- :mod:`~spokenemo.models.moe.errors`: typed errors (light: no torch);
- :mod:`~spokenemo.models.moe.utterance`: phase-1 utterance encoders (:class:`UtteranceHead` on frozen
  embeddings, :class:`LlmUtteranceEncoder` = causal LM + LoRA + mean pooling + 2-layer FC head);
- :mod:`~spokenemo.models.moe.speech_llm`: a labelled *stand-in* speech LLM (Whisper encoder ->
  projector -> causal LM + LoRA);
- :mod:`~spokenemo.models.moe.context`: the Context Addition Network (temporal inception + Bi-GRU);
- :mod:`~spokenemo.models.moe.multimodal`: the cross-attention multimodal network;
- :mod:`~spokenemo.models.moe.gate`: the gate (thesis form and the public code's MLP variant);
- :mod:`~spokenemo.models.moe.mister_e`: the whole phase-2 model and its ablation variants;
- :mod:`~spokenemo.models.moe.loss`: the phase-2 losses (thesis Eqs. 4.20-4.27 and variants).

Import the submodules (they need torch); this package file imports nothing.
"""
