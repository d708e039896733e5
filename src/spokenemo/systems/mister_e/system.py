"""``mister-e``: a mixture of speech and text experts for emotion in conversations (docs/methods/mister-e.md).

Per fold: phase 1 trains one utterance encoder per modality alone (a 2-layer FC head on frozen
vectors, or a LoRA-adapted causal LM for ``text_input: llm``); phase 2 freezes them and trains the
two Context Addition Networks, the multimodal network and the gate on whole conversations.
Segments must belong to dialogues (``dialogue`` + ``turn``), with no dialogue split between fold
parts. Ablations are options (``variant``, ``supervise_experts``, ``alpha``, ``lam``) and presets.
Besides :meth:`predict` (the mixture), :meth:`MisterESystem.outputs` gives each expert's
probabilities, the phase-1 unimodal heads' and the per-turn gate weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spokenemo.core.lazy import optional_import
from spokenemo.data.manifest import Segment
from spokenemo.systems.base import Predictions, Requirements, System, preset
from spokenemo.systems.context import FoldContext
from spokenemo.systems.mister_e.config import EGEMAPS, FEATURE_PREFIX, LLM, RANDOM, MisterEConfig
from spokenemo.systems.registry import register_system

SMALL = "MiSTER-E (small: MiniLM text + Whisper-base speech, phase-1 FC heads)"


def _pipeline() -> Any:
    return optional_import("spokenemo.systems.mister_e.pipeline", extra="llm", purpose="the mister-e system")


@register_system("mister-e", MisterEConfig)
class MisterESystem(System):
    """Speech, text and multimodal experts mixed by a gate (see the module docstring)."""

    config: MisterEConfig
    seeded = True
    presets = {
        "mister-e": preset(SMALL),
        "mister-e-monolithic": preset("monolithic (no experts; CAN features into the fusion network)",
                                      variant="monolithic"),
        "mister-e-feat-moe": preset("feat-MoE (the gate mixes representations)", variant="feat-moe"),
        "mister-e-no-loss": preset("No-Loss-MoE (only the mixture supervised)", supervise_experts=False),
        "mister-e-alpha0": preset("MiSTER-E, alpha = 0 (no KL)", alpha=0.0),
        "mister-e-lambda0": preset("MiSTER-E, lambda = 0 (no contrastive loss)", lam=0.0),
        "mister-e-mlp-gate": preset("MiSTER-E, public code's MLP gate", gate="mlp"),
        "mister-e-llm": preset("MiSTER-E, SmolLM2-135M + LoRA text encoder", text_input=LLM),
    }

    @classmethod
    def requirements(cls, config: MisterEConfig) -> Requirements:  # type: ignore[override]
        speech = config.speech_input
        features: dict[str, dict[str, Any]] = {}
        for value in (speech, config.text_input):
            if value.startswith(FEATURE_PREFIX):
                features[value[len(FEATURE_PREFIX):]] = {}
        if speech == EGEMAPS:
            features[EGEMAPS] = {}
        elif speech != RANDOM and not speech.startswith(FEATURE_PREFIX):
            features["encoded"] = {"encoders": [speech]}
        text = config.text_input != RANDOM and not config.text_input.startswith(FEATURE_PREFIX)
        return Requirements(audio=speech != RANDOM, text=text, features=features)

    #: Set to a folder to share text vectors and trained phase-1 encoders between rows (``pipeline.fit``).
    cache_dir: Path | None = None

    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.context = context
        self.fitted = _pipeline().fit(self.config, train, valid, context, context.labels, seed=context.seed,
                                      work_dir=Path(context.work_dir), cache_dir=self.cache_dir)
        self.info.update(self.fitted.info)

    def outputs(self, segments: Sequence[Segment]) -> Any:
        """:class:`~spokenemo.systems.mister_e.pipeline.Output` of ``segments`` (mixture, experts, gate)."""
        if getattr(self, "fitted", None) is None:
            raise RuntimeError("mister-e is not fitted; call fit() or load()")
        return self.fitted.predict(segments, self.require_context())

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        out = self.outputs(segments)
        return Predictions(list(self.fitted.classes), out.probs)

    def save_state(self, folder: Path) -> None:
        self.fitted.save(folder)

    def load_state(self, folder: Path) -> None:
        self.fitted = _pipeline().Fitted.load(folder, self.config)
