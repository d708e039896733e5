"""``ser``: a frozen speech encoder's layers + a trained head (docs/methods/ser.md).

Per fold: the ``encoded`` feature (per-layer mean and std of every segment, cached) is read for
every segment of the task; the chosen layers and pooling of each encoder are standardised with
the training part's statistics or, with ``speaker_norm``, per speaker where the speaker has
enough segments (:mod:`spokenemo.features.encoded.normalise`); the head is trained (torch heads
through :mod:`spokenemo.systems.ser.training`, several seeds, epoch chosen on validation
speakers) or fitted (``probe``). A segment without features gets no prediction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.core.lazy import optional_import
from spokenemo.core.sampling import stratified_subset
from spokenemo.data.manifest import Segment
from spokenemo.features.encoded.normalise import summarise
from spokenemo.systems import speech_encoders  # noqa: F401 - registers the speech-encoder lookup
from spokenemo.systems.base import Predictions, Requirements, System, preset
from spokenemo.systems.context import FoldContext, TaskContext
from spokenemo.systems.registry import register_system
from spokenemo.systems.ser.config import SerConfig
from spokenemo.systems.ser.inputs import Normaliser, selection_split
from spokenemo.systems.ser.probe import Probe
from spokenemo.systems.ser.view import FeatureView

STATE_FILE, NORM_FILE, HEAD_FILE = "ser.json", "normaliser.npz", "head.pt"
log = logging.getLogger(__name__)
PROBE = "Whisper-base last layer, mean+std pooled, + logistic regression (C 0.1)"
PROBE_ALL = "Whisper-base all 7 layers, mean+std pooled, + logistic regression (C 1)"
SUPERB = "Whisper-base, all layers, SUPERB head (layer weights + mean pooling + FFN 256)"


def _training() -> Any:
    return optional_import("spokenemo.systems.ser.training", extra="llm", purpose="the ser heads")


@register_system("ser", SerConfig)
class SerSystem(System):
    """Speech encoder + head (see the module docstring)."""

    config: SerConfig
    seeded = True
    needs_audio = True
    features = ("encoded",)
    #: lr 1e-3 and dropout 0.2 (superb) and C 1 (probe-all) were chosen on validation speakers
    #: held out of the RAVDESS training folds (docs/methods/ser.md), never on test folds.
    presets = {
        "ser-whisper-base": preset(SUPERB, lr=1e-3, dropout=0.2),
        "ser-whisper-base-speaker-norm": preset(SUPERB + ", speaker normalisation", lr=1e-3, dropout=0.2,
                                                speaker_norm=True),
        "probe-whisper-base": preset(PROBE, head="probe", layers="last", pooling="mean+std", C=0.1),
        "probe-whisper-base-speaker-norm": preset(PROBE + ", speaker normalisation", head="probe", layers="last",
                                                  pooling="mean+std", C=0.1, speaker_norm=True),
        "probe-all-whisper-base": preset(PROBE_ALL, head="probe", pooling="mean+std", C=1.0),
        "probe-all-whisper-base-speaker-norm": preset(PROBE_ALL + ", speaker normalisation", head="probe",
                                                      pooling="mean+std", C=1.0, speaker_norm=True),
        "ser-asp-whisper-base": preset("Whisper-base, all layers, attentive statistics pooling head", head="asp",
                                       lr=1e-3, dropout=0.2),
    }

    def __init__(self, config: SerConfig) -> None:
        super().__init__(config)
        self.classes: list[str] = []
        self.normaliser: Normaliser | None = None
        self.head: Any = None  # a torch module or a Probe
        self.state: dict[str, Any] = {}
        self.head_shapes: list[tuple[int, int]] = []

    @classmethod
    def is_seeded(cls, config: SerConfig) -> bool:  # type: ignore[override]
        # the probe (scikit-learn lbfgs, no sampling) gives the same model for every seed
        return config.head != "probe"

    # --- declared needs ---------------------------------------------------------------------------
    @classmethod
    def requirements(cls, config: SerConfig) -> Requirements:  # type: ignore[override]
        return Requirements(audio=True, features={"encoded": {"encoders": config.encoders,
                                                              "frames": config.needs_frames}})

    @classmethod
    def fingerprint_parts(cls, config: SerConfig, context: TaskContext) -> dict[str, Any]:  # type: ignore[override]
        provider = context.features.get("encoded")
        layouts = ["pooled", "frames"] if config.needs_frames else ["pooled"]
        return {"encoded": {f"{n}/{lay}": provider.encoder_fingerprint(n, lay) for n in config.encoders
                            for lay in layouts}}

    @classmethod
    def settings_text(cls, options: Any, seed: int, settings: Any, folds: Sequence[Any]) -> str:
        epochs = sorted({f.get("info", {}).get("head", {}).get("epochs") for f in folds} - {None})
        chosen = f", epochs chosen {epochs[0]}-{epochs[-1]}" if epochs else ""
        return f"seed {seed}, head {options.get('head', 'superb')}{chosen}"

    # --- fit / predict ----------------------------------------------------------------------------
    def _view(self, extra: Sequence[Segment]) -> FeatureView:
        context = self.require_context()
        return FeatureView(context.features.get("encoded"), self.config, [*context.segments, *extra])

    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.context = context
        options = getattr(context, "options", None)
        if getattr(options, "limit", None):
            train = stratified_subset(list(train), options.limit, context.seed)
        self.classes = list(context.labels) or sorted({str(u.label) for u in train})
        view = self._view([*train, *valid])
        train_rows = [r for r in view.rows(train) if view.ok[r]]
        self.info["n_train_without_features"] = len(train) - len(train_rows)
        if not train_rows:
            raise SpokenemoError(f"ser: no training segment has {self.config.encoders} features",
                                 hint="see the errors in the encoded store's index.jsonl")
        self.normaliser = view.fit_normaliser(train_rows)
        view.apply(self.normaliser)
        if self.config.speaker_norm:
            self.info["speaker_norm_train"] = summarise([view.segments[r].key for r in train_rows],
                                                        [view.used[r] for r in train_rows])
        if self.config.head == "probe":
            y = [str(view.segments[r].label) for r in train_rows]
            self.head = Probe.fit(view.flat(train_rows), y, C=self.config.C, seed=context.seed)
            self.classes = self.head.classes
        else:
            self._fit_torch(view, train, valid, context)
        self.state = self._state_record(view, self.head_shapes)

    def _epochs(self) -> int:
        override = getattr(getattr(self.context, "options", None), "epochs", None)
        return max(1, int(round(override))) if override else self.config.epochs

    def _fit_torch(self, view: FeatureView, train: Sequence[Segment], valid: Sequence[Segment],
                   context: FoldContext) -> None:
        training = _training()
        fit_part, select_part, rule = selection_split(train, valid, context.seed, self.config.valid_fraction)
        index = {c: i for i, c in enumerate(self.classes)}

        def part(segments: Sequence[Segment]) -> tuple[Any, np.ndarray]:
            rows = [r for r in view.rows(segments) if view.ok[r] and str(view.segments[r].label) in index]
            inputs, rows = self._inputs(view, rows)
            return inputs, np.array([index[str(view.segments[r].label)] for r in rows], dtype=np.int64)

        held_out = not valid and bool(select_part)
        options = self.config.model_copy(update={"epochs": self._epochs()})
        head = training.train_head(self.config.head, part(fit_part), part(select_part) if select_part else None,
                                   n_classes=len(self.classes), options=options, seed=context.seed,
                                   work_dir=context.work_dir, fingerprint=context.fingerprint,
                                   refit_on=part(train) if held_out and self.config.refit else None, rule=rule)
        self.head, self.head_shapes = head.model, head.shapes
        self.info["head"] = head.record()

    def _inputs(self, view: FeatureView, rows: list[int]) -> tuple[Any, list[int]]:
        """HeadInputs of ``rows`` (frame heads: the rows whose frames exist)."""
        training = _training()
        if self.config.needs_frames:
            frames, rows = view.frames(self.normaliser, rows)
            return training.HeadInputs(frames, True), rows
        return training.HeadInputs(view.pooled(rows), False), rows

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        if self.head is None or self.normaliser is None:
            raise SpokenemoError("system 'ser' is not fitted", hint="call fit() or load() first")
        view = self._view(segments)
        view.apply(self.normaliser)
        rows = [r for r in view.rows(segments) if view.ok[r]]
        probs = np.full((len(segments), len(self.classes)), np.nan)
        if rows:
            if self.config.head == "probe":
                got, kept = self.head.probabilities(view.flat(rows)), rows
            else:
                inputs, kept = self._inputs(view, rows)
                got = _training().probabilities(self.head, inputs)
            at = {r: i for i, r in enumerate(kept)}
            for i, r in enumerate(view.rows(segments)):
                if r in at:
                    probs[i] = got[at[r]]
        self.info["n_test_without_features"] = int(np.isnan(probs).all(axis=1).sum())
        if self.config.speaker_norm:
            self.info["speaker_norm_test"] = summarise([u.key for u in segments],
                                                       [view.used[r] for r in view.rows(segments)])
        return Predictions(self.classes, probs)

    # --- save / load ------------------------------------------------------------------------------
    def _state_record(self, view: FeatureView, head_shapes: list[tuple[int, int]]) -> dict[str, Any]:
        provider = self.require_context().features.get("encoded")
        return {"classes": self.classes, "head": self.config.head, "head_shapes": [list(s) for s in head_shapes],
                "stream_shapes": [list(s.shape[1:]) for s in view.streams],
                "encoders": {n: provider.encoder_fingerprint(n) for n in self.config.encoders}}

    def save_state(self, folder: Path) -> None:
        if self.head is None or self.normaliser is None:
            raise SpokenemoError("system 'ser' is not fitted; nothing to save")
        np.savez(folder / NORM_FILE, **self.normaliser.state())
        if self.config.head == "probe":
            self.head.save(folder)
        else:
            _training().save_head(self.head, folder / HEAD_FILE)
        with atomic_write(folder / STATE_FILE) as fh:
            json.dump(self.state, fh, indent=1)
            fh.write("\n")

    def load_state(self, folder: Path) -> None:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        self.state, self.classes = state, list(state["classes"])
        limit = self.config.min_speaker_segments if self.config.speaker_norm else None
        dims = [f // 2 for _, f in state["stream_shapes"]]
        self.normaliser = Normaliser.from_state(dict(np.load(folder / NORM_FILE)), limit, self.config.needs_frames, dims)
        if self.config.head == "probe":
            self.head = Probe.load(folder)
        else:
            self.head = _training().load_head(self.config.head, state["head_shapes"], len(self.classes), self.config,
                                              folder / HEAD_FILE)
        if self.context is not None:
            provider = self.context.features.get("encoded")
            changed = [n for n, fp in state["encoders"].items() if provider.encoder_fingerprint(n) != fp]
            if changed:
                log.warning("%s: encoder(s) %s changed since this head was trained; its numbers may differ",
                            folder, changed)
