"""ABHINAYA's speech members over the shared ``encoded`` feature store.

- ``abhinaya-s1`` (**S1**): a frozen speech encoder's frames, softmax layer weights, attentive
  statistics pooling (:class:`~spokenemo.models.heads.AttentiveStatsHead`) and a classifier,
  trained with WFL. Offline: Whisper-base; the thesis: WavLM-large with its transformer trained.
- ``abhinaya-s2`` (**S2 stand-in**): another encoder's pooled layers (mean and std per layer),
  softmax layer weights and a classifier, trained with WFL. Offline: a CARE model folder
  (``care:DIR``) or any registered encoder; the thesis: SALMONN-13B with ASP over its last layer.

Inputs are standardised with the training part's statistics (kept as buffers of the model, so a
saved member carries them; :class:`spokenemo.systems.abhinaya.modules.Standardised`). Torch is
imported only when a member trains or predicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spokenemo.data.manifest import Segment
from spokenemo.features.encoded import select_layers
from spokenemo.systems.abhinaya.config import SpeechFramesConfig, SpeechPooledConfig
from spokenemo.systems.abhinaya.members import TrainedMember, modules
from spokenemo.systems.base import Requirements, preset
from spokenemo.systems.context import TaskContext
from spokenemo.systems.registry import register_system
from spokenemo.systems.speech_encoders import register_speech_name

S1_LABEL = "S1 stand-in: Whisper-base frames (all layers) + ASP + {loss} (thesis: WavLM-large)"
S2_LABEL = "S2 stand-in: CARE pooled layers + layer weights + FFN + {loss} (thesis: SALMONN-13B)"


class _SpeechMember(TrainedMember):
    needs_audio = True
    features = ("encoded",)
    frames_layout = False

    @classmethod
    def requirements(cls, config: Any) -> Requirements:  # type: ignore[override]
        return Requirements(audio=True, features={"encoded": {"encoders": [register_speech_name(config.encoder)],
                                                              "frames": cls.frames_layout}})

    @classmethod
    def fingerprint_parts(cls, config: Any, context: TaskContext) -> dict[str, Any]:  # type: ignore[override]
        provider = context.features.get("encoded")
        layout = "frames" if cls.frames_layout else "pooled"
        return {"encoded": provider.encoder_fingerprint(register_speech_name(config.encoder), layout)}

    def _provider(self) -> Any:
        return self.require_context().features.get("encoded")

    def after_build(self, train_items: Sequence[Any]) -> None:
        """Standardise with the training part's statistics."""
        self.model.set_statistics(*modules().input_statistics(train_items, self.frames_layout))


@register_system("abhinaya-s1", SpeechFramesConfig)
class SpeechFramesMember(_SpeechMember):
    """S1: frames + ASP + WFL (see the module docstring)."""

    config: SpeechFramesConfig
    frames_layout = True
    stands_for = "S1 (WavLM-large + ASP; offline stand-in: frozen Whisper-base frames)"
    presets = {f"abhinaya-s1-{loss}": preset(S1_LABEL.format(loss=loss.upper()), loss=loss)
               for loss in ("ce", "wce", "wfl", "vs")}

    def items(self, segments: Sequence[Segment]) -> list[Any]:
        c = self.config
        frames = self._provider().frames(list(segments), register_speech_name(c.encoder))
        out: list[Any] = []
        for f in frames:
            if f is None:
                out.append(None)
                continue
            f = f[select_layers(f.shape[0], c.layers)][:, : c.max_frames * c.frame_stride]
            if c.frame_stride > 1:
                n = max(1, f.shape[1] // c.frame_stride)
                f = f[:, : n * c.frame_stride].reshape(f.shape[0], n, c.frame_stride, f.shape[2]).mean(axis=2)
            out.append(np.asarray(f, dtype=np.float16))
        return out

    def shapes_of(self, item: Any) -> dict[str, Any]:
        return {"n_layers": int(item.shape[0]), "dim": int(item.shape[2])}

    def build_model(self, shapes: dict[str, Any], n_classes: int) -> Any:
        return modules().frames_model(shapes["n_layers"], shapes["dim"], n_classes, self.config.hidden,
                                      self.config.dropout)

    def collate(self, items: Sequence[Any]) -> tuple[Any, ...]:
        return modules().pad_stack([np.asarray(a, dtype=np.float32) for a in items], axis=1)


@register_system("abhinaya-s2", SpeechPooledConfig)
class SpeechPooledMember(_SpeechMember):
    """S2 stand-in: pooled layers + layer weights + FFN + WFL (see the module docstring)."""

    config: SpeechPooledConfig
    stands_for = "S2 (SALMONN-13B + ASP; offline stand-in: a CARE model's pooled layers)"
    presets = {f"abhinaya-s2-{loss}": preset(S2_LABEL.format(loss=loss.upper()), loss=loss)
               for loss in ("ce", "wce", "wfl", "vs")}

    def items(self, segments: Sequence[Segment]) -> list[Any]:
        pooled = self._provider().pooled(list(segments), register_speech_name(self.config.encoder))
        chosen = pooled[:, select_layers(pooled.shape[1], self.config.layers)]
        flat = chosen.reshape(len(segments), chosen.shape[1], -1)  # (n, L, 2 dim): mean and std
        return [None if np.isnan(row).all() else row.astype(np.float32) for row in flat]

    def shapes_of(self, item: Any) -> dict[str, Any]:
        return {"n_layers": int(item.shape[0]), "dim": int(item.shape[1])}

    def build_model(self, shapes: dict[str, Any], n_classes: int) -> Any:
        return modules().pooled_model(shapes["n_layers"], shapes["dim"], n_classes, self.config.hidden,
                                      self.config.dropout)

    def collate(self, items: Sequence[Any]) -> tuple[Any, ...]:
        return (modules().torch.from_numpy(np.stack(items)),)


__all__ = ["SpeechFramesMember", "SpeechPooledMember"]
