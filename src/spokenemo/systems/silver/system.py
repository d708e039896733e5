"""``silver-text``: a text encoder (plain, or silver-pre-trained) + the SUPERB head, per fold.

Frozen mode (default): every layer's token mean of each segment's transcript is computed once
per encoder (:mod:`~spokenemo.systems.silver.features`, cached in the experiment's ``features/``),
z-scored with the training part's statistics, and a SUPERB head is trained on it
(:mod:`~spokenemo.systems.silver.downstream`); the epoch is chosen on the validation part
(MELD / EmoryNLP dev). Fine-tuned mode trains the encoder with the head. A silver encoder that
has not been trained yet skips the row with a note naming the command that trains it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.cache import fingerprint
from spokenemo.core.errors import SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.core.lazy import optional_import
from spokenemo.core.sampling import stratified_subset
from spokenemo.data.manifest import Segment
from spokenemo.models.encoders.registry import LOCAL_PREFIX, TEXT_ENCODERS, get_text_encoder
from spokenemo.systems.base import Predictions, System, SystemUnavailable, preset
from spokenemo.systems.context import FoldContext, TaskContext
from spokenemo.systems.registry import register_system
from spokenemo.systems.silver.config import SilverTextConfig
from spokenemo.systems.silver.encoders import encoder_identity
from spokenemo.systems.silver.features import FeatureCache

STATE_FILE, HEAD_FILE = "silver_text.json", "head.pt"
FROZEN = "frozen, layer means + SUPERB head"
_CACHES: dict[tuple[str, str], FeatureCache] = {}


def _torch_part() -> Any:
    return optional_import("spokenemo.systems.silver.downstream", extra="llm", purpose="the silver-text heads")


def _label(encoder: str, what: str, mode: str = FROZEN) -> Any:
    return f"{encoder} ({what}), {mode}"


@register_system("silver-text", SilverTextConfig)
class SilverText(System):
    """Text encoder + head (module docstring)."""

    config: SilverTextConfig
    seeded = True
    needs_text = True
    presets = {
        "text-minilm": preset(_label("all-MiniLM-L6-v2", "no silver stage")),
        "text-mpnet": preset(_label("all-mpnet-base-v2", "no silver stage"), encoder="mpnet"),
        **{f"silver-minilm-{lab}": preset(_label("all-MiniLM-L6-v2", f"silver-pre-trained, {lab} labels"),
                                          encoder=f"silver-minilm-{lab}") for lab in ("vader", "textblob", "smollm2")},
        "silver-mpnet-vader": preset(_label("all-mpnet-base-v2", "silver-pre-trained, vader labels"),
                                     encoder="silver-mpnet-vader"),
        "text-minilm-finetune": preset(_label("all-MiniLM-L6-v2", "no silver stage", "fine-tuned"), mode="finetune"),
        "silver-minilm-vader-finetune": preset(_label("all-MiniLM-L6-v2", "silver, vader", "fine-tuned"),
                                               encoder="silver-minilm-vader", mode="finetune"),
    }

    def __init__(self, config: SilverTextConfig) -> None:
        super().__init__(config)
        self.classes: list[str] = []
        self.model: Any = None
        self.tokenizer: Any = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    @classmethod
    def fingerprint_parts(cls, config: SilverTextConfig, context: TaskContext) -> dict[str, Any]:  # type: ignore[override]
        return {"encoder": encoder_identity(config.encoder)}

    @classmethod
    def settings_text(cls, options: Any, seed: int, settings: Any, folds: Sequence[Any]) -> str:
        epochs = sorted({f.get("info", {}).get("epoch") for f in folds} - {None})
        return f"seed {seed}, {options.get('mode', 'frozen')}" + (f", epoch {epochs[0]}" if epochs else "")

    # --- encoder and features ---------------------------------------------------------------------
    def _check_encoder(self) -> None:
        name = self.config.encoder
        if not name.startswith(LOCAL_PREFIX) and name not in TEXT_ENCODERS:
            raise SystemUnavailable(f"text encoder {name!r} is not available (known: {', '.join(TEXT_ENCODERS)})",
                                    hint="train it: spokenemo silver label ... && spokenemo silver train --name "
                                         f"{name.removeprefix('silver-')} (set SPOKENEMO_SILVER_DIR to its root)")

    def _encoder(self) -> Any:
        return get_text_encoder(self.config.encoder, batch_size=self.config.feature_batch)

    def _features(self, segments: Sequence[Segment]) -> np.ndarray:
        context = self.require_context()
        fp = fingerprint({"encoder": encoder_identity(self.config.encoder), "layout": "layer-means-1"})
        cache_key = (str(context.out_dir), fp)
        cache = _CACHES.get(cache_key)
        if cache is None or not all(u.key in cache.rows for u in segments):
            everything = {u.key: u for u in [*context.segments, *segments]}
            cache = FeatureCache(Path(context.out_dir) / "features", fp)
            cache.load_or_compute(list(everything), [u.text or "" for u in everything.values()], self._encoder,
                                  self.config.feature_batch)
            _CACHES[cache_key] = cache
        return cache.take([u.key for u in segments])

    def _standard(self, X: np.ndarray) -> np.ndarray:
        assert self.mean is not None and self.std is not None
        return (X - self.mean) / self.std

    # --- fit / predict ----------------------------------------------------------------------------
    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.context = context
        self._check_encoder()
        options = getattr(context, "options", None)
        if getattr(options, "limit", None):
            train = stratified_subset(list(train), options.limit, context.seed)
        self.classes = list(context.labels) or sorted({str(u.label) for u in train})
        index = {c: i for i, c in enumerate(self.classes)}
        train = [u for u in train if str(u.label) in index]
        valid = [u for u in valid if str(u.label) in index]
        y = np.array([index[str(u.label)] for u in train])
        y_valid = np.array([index[str(u.label)] for u in valid]) if valid else None
        part = _torch_part()
        work = Path(context.work_dir)
        self.info["n_train_without_text"] = sum(not (u.text or "").strip() for u in train)
        if self.config.mode == "frozen":
            X = self._features(train)
            self.mean, self.std = X.mean(axis=0), X.std(axis=0) + 1e-6
            Xv = self._standard(self._features(valid)) if valid else None
            trained = part.train_frozen_head(self._standard(X), y, Xv, y_valid, n_classes=len(self.classes),
                                             options=self.config, seed=context.seed, work_dir=work,
                                             fingerprint=context.fingerprint)
        else:
            encoder = self._encoder()
            self.tokenizer = encoder.tokenizer
            encoder.model.train()
            trained = part.train_finetuned(encoder.model, self.tokenizer, [u.text or "" for u in train], y,
                                           [u.text or "" for u in valid], y_valid, n_classes=len(self.classes),
                                           options=self.config, seed=context.seed, work_dir=work,
                                           fingerprint=context.fingerprint)
        self.model = trained.model
        self.info.update(epoch=trained.epoch, valid_wf1_curve=[round(v, 4) for v in trained.curve],
                         encoder=self.config.encoder)

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        if self.model is None:
            raise SpokenemoError("system 'silver-text' is not fitted", hint="call fit() or load() first")
        part = _torch_part()
        if self.config.mode == "frozen":
            probs = part.head_probabilities(self.model, self._standard(self._features(segments)))
        else:
            probs = part.finetune_probabilities(self.model, self.tokenizer, [u.text or "" for u in segments],
                                                self.config.max_length)
        return Predictions(self.classes, probs)

    # --- save / load ------------------------------------------------------------------------------
    def save_state(self, folder: Path) -> None:
        if self.model is None:
            raise SpokenemoError("system 'silver-text' is not fitted; nothing to save")
        torch = optional_import("torch", extra="llm", purpose="saving the silver-text head")
        torch.save({k: v.detach().cpu() for k, v in self.model.state_dict().items()}, folder / HEAD_FILE)
        state = {"classes": self.classes, "encoder": encoder_identity(self.config.encoder)}
        if self.mean is not None and self.std is not None:
            np.savez(folder / "normaliser.npz", mean=self.mean, std=self.std)
        with atomic_write(folder / STATE_FILE) as fh:
            json.dump(state, fh, indent=1)

    def load_state(self, folder: Path) -> None:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        self.classes = list(state["classes"])
        torch = optional_import("torch", extra="llm", purpose="loading the silver-text head")
        weights = torch.load(folder / HEAD_FILE, map_location="cpu", weights_only=True)
        part = _torch_part()
        if self.config.mode == "frozen":
            norm = np.load(folder / "normaliser.npz")
            self.mean, self.std = norm["mean"], norm["std"]
            models = optional_import("spokenemo.models.heads", extra="llm", purpose="the SUPERB head")
            self.model = models.SuperbHead([self.mean.shape], len(self.classes), hidden=self.config.hidden,
                                           dropout=self.config.dropout)
        else:
            encoder = self._encoder()
            self.tokenizer = encoder.tokenizer
            self.model = part.FinetuneModel(encoder.model, len(self.classes), self.config.hidden, self.config.dropout)
        self.model.load_state_dict(weights)
        self.model.eval()
