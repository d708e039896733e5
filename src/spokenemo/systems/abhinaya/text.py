"""ABHINAYA's text members on the (ASR or reference) transcript of each segment.

- ``abhinaya-t1`` (**T1**): zero-shot. ``backend: lexicon`` (the offline stand-in) counts the NRC
  emotion lexicon's words (``nrclex``) per emotion and maps them onto the task's classes (anger ->
  angry, disgust, fear -> fearful, joy -> happy, sadness -> sad, surprise -> surprised; no emotion
  word -> neutral). Any LLM backend kind (thesis: LLaMA-3.3-70B) is asked the thesis's one-word
  prompt instead (:mod:`.prompt`).
- ``abhinaya-t2`` (**T2**): the last layer's token states + attentive statistics pooling + a
  classifier, trained with the VS loss. Offline stand-in: a *frozen* text encoder (``minilm``);
  with ``lora_base`` a causal LM (SmolLM2 offline, LLaMA-3.1-8B on a GPU, a tiny random Llama in
  tests) is fine-tuned with LoRA together with the head (:mod:`.lora`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.lazy import optional_import
from spokenemo.data.manifest import Segment
from spokenemo.systems.abhinaya import texttokens
from spokenemo.systems.abhinaya.config import LexiconConfig, TextConfig
from spokenemo.systems.abhinaya.members import TrainedMember, modules
from spokenemo.systems.abhinaya.prompt import llm_labels
from spokenemo.systems.base import Predictions, System, preset
from spokenemo.systems.context import FoldContext
from spokenemo.systems.registry import register_system

#: NRC lexicon emotions -> canonical class names (the others -- trust, anticipation, positive,
#: negative -- carry no class).
NRC_TO_CLASS = {"anger": "angry", "disgust": "disgust", "fear": "fearful", "joy": "happy", "sadness": "sad",
                "surprise": "surprised"}
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def lexicon_scores(text: str | None, lexicon: Any) -> dict[str, int]:
    """Class -> number of the text's lexicon words with that emotion (lower-cased word tokens)."""
    words = _WORD.findall((text or "").lower())
    lexicon.load_token_list(words)
    counts = dict(lexicon.raw_emotion_scores)
    return {cls: int(counts.get(nrc, 0)) for nrc, cls in NRC_TO_CLASS.items()}


def lexicon_row(scores: dict[str, int], classes: Sequence[str]) -> np.ndarray:
    """A probability row over ``classes``: the lexicon counts of the classes the task has,
    normalised; no count for any of them -> neutral (uniform when the task has no neutral)."""
    row = np.array([float(scores.get(c, 0)) for c in classes])
    if row.sum() > 0:
        return row / row.sum()
    if "neutral" in classes:
        return np.eye(len(classes))[list(classes).index("neutral")]
    return np.full(len(classes), 1.0 / len(classes))


@register_system("abhinaya-t1", LexiconConfig)
class ZeroShotText(System):
    """T1: zero-shot on the transcript (see the module docstring); nothing is trained."""

    config: LexiconConfig
    needs_text = True
    seeded = False
    presets = {"abhinaya-t1-lexicon": preset("T1 stand-in: NRC emotion lexicon (thesis: LLaMA-3.3-70B zero-shot)")}

    def __init__(self, config: LexiconConfig) -> None:
        super().__init__(config)
        self.classes: list[str] = []

    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.context = context
        self.classes = list(context.labels) or sorted({str(u.label) for u in train})
        self.info["member"] = "T1 (LLaMA-3.3-70B zero-shot; stand-in: " + self.config.backend + ")"

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        if not self.classes:
            raise SpokenemoError("system 'abhinaya-t1' is not fitted", hint="call fit() first (it reads the classes)")
        if self.config.backend == "lexicon":
            nrclex = optional_import("nrclex", extra="lexicon", purpose="the T1 lexicon stand-in")
            lexicon = nrclex.NRCLex()
            probs = np.array([lexicon_row(lexicon_scores(u.text, lexicon), self.classes) for u in segments])
            return Predictions(self.classes, probs.reshape(len(segments), len(self.classes)))
        labels = llm_labels([u.text for u in segments], self.classes, self.config)
        self.info["n_unparsed"] = sum(x is None for x in labels)
        return Predictions.one_hot(labels, self.classes)

    def save_state(self, folder: Path) -> None:
        (folder / "classes.txt").write_text("\n".join(self.classes) + "\n", encoding="utf-8")

    def load_state(self, folder: Path) -> None:
        self.classes = (folder / "classes.txt").read_text(encoding="utf-8").split()


@register_system("abhinaya-t2", TextConfig)
class TextMember(TrainedMember):
    """T2: text tokens + ASP + VS (see the module docstring)."""

    config: TextConfig
    needs_text = True
    stands_for = "T2 (LLaMA-3.1-8B + LoRA + ASP; offline stand-in: frozen MiniLM tokens + ASP)"
    presets = {f"abhinaya-t2-{loss}": preset(f"T2 stand-in: frozen MiniLM last-layer tokens + ASP + {loss.upper()} "
                                             "(thesis: LLaMA-3.1-8B + LoRA)", loss=loss)
               for loss in ("ce", "wce", "wfl", "vs")}

    def _lora(self) -> Any:
        return optional_import("spokenemo.systems.abhinaya.lora", extra="llm", purpose="the T2 LoRA member")

    def items(self, segments: Sequence[Segment]) -> list[Any]:
        texts = [u.text for u in segments]
        if self.config.lora_base:
            return [t.strip() if t and t.strip() else None for t in texts]
        return texttokens.token_states(self.config.text_encoder, texts, self.config.max_tokens)

    def shapes_of(self, item: Any) -> dict[str, Any]:
        return {"dim": 0} if self.config.lora_base else {"dim": int(item.shape[-1])}

    def build_model(self, shapes: dict[str, Any], n_classes: int) -> Any:
        c = self.config
        if c.lora_base:
            return self._lora().LoraTextClassifier(c.lora_base, n_classes, hidden=c.hidden, dropout=c.dropout,
                                                   max_tokens=c.max_tokens)
        return modules().tokens_model(shapes["dim"], n_classes, c.hidden, c.dropout)

    def after_build(self, train_items: Sequence[Any]) -> None:
        if not self.config.lora_base:
            stacked = np.concatenate([a.astype(np.float64) for a in train_items])
            self.model.set_statistics(stacked.mean(axis=0)[None], stacked.std(axis=0)[None])

    def collate(self, items: Sequence[Any]) -> tuple[Any, ...]:
        if self.config.lora_base:
            assert self.model is not None
            return self.model.tokenize(list(items))  # type: ignore[operator]
        return modules().pad_stack([np.asarray(a, dtype=np.float32)[None] for a in items], axis=1)


__all__ = ["NRC_TO_CLASS", "TextMember", "ZeroShotText", "lexicon_row", "lexicon_scores"]
