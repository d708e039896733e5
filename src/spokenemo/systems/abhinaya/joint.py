"""ABHINAYA's speech+text member, ``abhinaya-st1`` (**ST1 stand-in**).

The thesis appends the transcript to SALMONN-7B's speech input, fine-tunes it with LoRA and pools
its last layer with ASP, trained with the VS loss. The offline stand-in keeps that shape with one
small transformer trained from scratch over the sequence **[speech frames ; text tokens]**:

- speech: one layer of a frozen speech encoder's frames (Whisper-base, last layer), averaged over
  ``frame_stride`` frames, layer-normalised and projected to ``d_model``;
- text: a frozen text encoder's last-layer token states (MiniLM), layer-normalised and projected;
- a modality embedding and a learned position embedding per part, ``n_layers`` transformer
  encoder layers with a padding mask, attentive statistics pooling over all positions, and a
  classifier; VS loss by default (:class:`spokenemo.systems.abhinaya.modules.JointTransformer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spokenemo.core.errors import SpokenemoError
from spokenemo.data.manifest import Segment
from spokenemo.systems.abhinaya import texttokens
from spokenemo.systems.abhinaya.config import JointConfig
from spokenemo.systems.abhinaya.members import TrainedMember, modules
from spokenemo.systems.base import Requirements, preset
from spokenemo.systems.context import TaskContext
from spokenemo.systems.registry import register_system
from spokenemo.systems.speech_encoders import register_speech_name

ST1_LABEL = "ST1 stand-in: transformer over [Whisper-base frames ; MiniLM tokens] + ASP + {loss} (thesis: SALMONN-7B)"


@register_system("abhinaya-st1", JointConfig)
class JointMember(TrainedMember):
    """ST1 stand-in (see the module docstring)."""

    config: JointConfig
    needs_audio = True
    needs_text = True
    features = ("encoded",)
    stands_for = "ST1 (SALMONN-7B + transcript + LoRA + ASP; stand-in: small transformer over speech+text)"
    presets = {f"abhinaya-st1-{loss}": preset(ST1_LABEL.format(loss=loss.upper()), loss=loss)
               for loss in ("ce", "wce", "wfl", "vs")}

    @classmethod
    def requirements(cls, config: JointConfig) -> Requirements:  # type: ignore[override]
        return Requirements(audio=True, text=True,
                            features={"encoded": {"encoders": [register_speech_name(config.encoder)], "frames": True}})

    @classmethod
    def fingerprint_parts(cls, config: JointConfig, context: TaskContext) -> dict[str, Any]:  # type: ignore[override]
        provider = context.features.get("encoded")
        return {"encoded": provider.encoder_fingerprint(register_speech_name(config.encoder), "frames")}

    def _speech(self, segments: Sequence[Segment]) -> list[np.ndarray | None]:
        c = self.config
        frames = self.require_context().features.get("encoded").frames(list(segments), register_speech_name(c.encoder))
        out: list[np.ndarray | None] = []
        for f in frames:
            if f is None:
                out.append(None)
                continue
            x = np.asarray(f[c.layer], dtype=np.float32)[: c.max_frames * c.frame_stride]
            n = max(1, x.shape[0] // c.frame_stride)
            x = x[: n * c.frame_stride].reshape(n, -1, x.shape[1]).mean(axis=1) if x.shape[0] >= c.frame_stride else x
            out.append(x.astype(np.float16))
        return out

    def items(self, segments: Sequence[Segment]) -> list[Any]:
        speech = self._speech(segments)
        text = texttokens.token_states(self.config.text_encoder, [u.text for u in segments], self.config.max_tokens)
        dims = [t.shape[1] for t in text if t is not None]
        if not dims:
            raise SpokenemoError("abhinaya-st1: no segment has a transcript", hint="transcribe the audio first")
        blank = np.zeros((1, dims[0]), dtype=np.float16)
        return [None if s is None else (s, blank if t is None else t) for s, t in zip(speech, text, strict=True)]

    def shapes_of(self, item: Any) -> dict[str, Any]:
        return {"speech_dim": int(item[0].shape[1]), "text_dim": int(item[1].shape[1])}

    def build_model(self, shapes: dict[str, Any], n_classes: int) -> Any:
        c = self.config
        return modules().JointTransformer(shapes["speech_dim"], shapes["text_dim"], n_classes, d_model=c.d_model,
                                n_heads=c.n_heads, n_layers=c.n_layers, hidden=c.hidden, dropout=c.dropout,
                                max_len=max(c.max_frames, c.max_tokens))

    def collate(self, items: Sequence[Any]) -> tuple[Any, ...]:
        return modules().joint_collate(items)


__all__ = ["JointMember"]
