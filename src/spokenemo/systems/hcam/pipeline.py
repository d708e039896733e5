"""The three HCAM stages end to end on conversations: fit, predict at any level, save and load.

Levels (what predicts): ``"<modality>-1"`` (stage I, per utterance), ``"<modality>-2"`` (stage
II, context in one modality), ``"fusion"`` (stage III over frozen stage-II outputs) and
``"joint"`` (the non-hierarchical variant: stages II and III trained together on frozen stage-I
embeddings). :meth:`HcamPipeline.fit` trains the levels a configuration needs (``levels=`` may
ask for more, so one fit gives every row of a comparison); each stage is frozen before the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spokenemo.core.errors import SpokenemoError
from spokenemo.data.conversation import Conversation
from spokenemo.models.hcam import (
    CoAttentionFusion,
    ContextualGRU,
    JointContextFusion,
    SpeechUtteranceEncoder,
    TextUtteranceEncoder,
)
from spokenemo.models.turns import pad_turns
from spokenemo.systems.hcam.config import HcamConfig
from spokenemo.systems.hcam.inputs import make_source, pad_items
from spokenemo.systems.hcam.stages import StageRecord, flat_predictions, run_batches, train_stage

#: Turns whose stage-I inputs are read at a time when embedding them.
CHUNK = 1024
#: Every level, in training order, and the levels each one reads.
ORDER = ("speech-1", "text-1", "speech-2", "text-2", "fusion", "joint")
INPUTS = {"speech-1": (), "text-1": (), "speech-2": ("speech-1",), "text-2": ("text-1",),
          "fusion": ("speech-2", "text-2"), "joint": ("speech-1", "text-1")}


def levels_for(config: HcamConfig) -> list[str]:
    """The levels a configuration trains, in training order (its own level last)."""
    out = [f"{m}-1" for m in config.modalities]
    if config.stage >= 2:
        out += [f"{m}-2" for m in config.modalities] if config.hierarchical else []
    if config.stage == 3:
        out.append("fusion" if config.hierarchical else "joint")
    return out


def target_level(config: HcamConfig) -> str:
    return levels_for(config)[-1]


def _fwd_utt(m: Any, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return m(b["x"], b["mask"])


def _fwd_pair(m: Any, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return m(b["s"], b["t"], b["mask"])


class HcamPipeline:
    """Trained HCAM stages (module docstring). ``classes`` fixes the label order."""

    def __init__(self, config: HcamConfig, classes: Sequence[str]) -> None:
        self.config, self.classes = config, list(classes)
        self.index = {c: i for i, c in enumerate(self.classes)}
        self.sources = {m: make_source(config, m) for m in config.modalities}
        self.models: dict[str, torch.nn.Module] = {}
        self.records: list[StageRecord] = []

    # --- building blocks ------------------------------------------------------------------------
    def _new(self, level: str) -> torch.nn.Module:
        c, n = self.config, len(self.classes)
        if level == "speech-1":
            src = self.sources["speech"]
            return SpeechUtteranceEncoder(src.dim, n, channels=c.cnn_channels, frame_pool=c.frame_pool, dropout=c.dropout,
                                          backbone=src.backbone())
        if level == "text-1":
            src = self.sources["text"]
            return TextUtteranceEncoder(src.dim, n, hidden=c.gru_hidden, proj=c.text_proj, dropout=c.dropout,
                                        backbone=src.backbone())
        if level.endswith("-2"):
            dim_in = self._dims()[level.split("-")[0]]
            return ContextualGRU(dim_in, n, dim=c.dim, heads=c.heads, dropout=c.dropout)
        if level == "fusion":
            return CoAttentionFusion(c.dim, c.dim, n, dim=c.dim, heads=c.heads, dropout=c.dropout)
        dims = self._dims()
        return JointContextFusion(dims["speech"], dims["text"], n, dim=c.dim, heads=c.heads, dropout=c.dropout)

    def _dims(self) -> dict[str, int]:
        c = self.config
        return {"speech": c.cnn_channels, "text": 2 * c.gru_hidden}

    def _labels(self, convs: Sequence[Conversation]) -> list[list[int]]:
        return [[self.index[str(s.label)] for s in c] for c in convs]

    # --- per-turn features of each level ---------------------------------------------------------
    def utterance_embeddings(self, modality: str, convs: Sequence[Conversation]) -> tuple[list[np.ndarray], np.ndarray]:
        """Stage-I embeddings per conversation ``(T_i, D)`` and the flat stage-I probabilities.

        Turns are read in chunks of :data:`CHUNK`, so only one chunk's inputs are in memory.
        """
        segs = [s for c in convs for s in c]
        src, model, reps, probs = self.sources[modality], self.models[f"{modality}-1"], [], []
        for at in range(0, len(segs), CHUNK):
            arrays = src.arrays(segs[at:at + CHUNK])

            def collate(rows: list[int], arrays: list[np.ndarray] = arrays) -> dict[str, torch.Tensor]:
                return dict(zip(("x", "mask"), pad_items([arrays[r] for r in rows], src.pad), strict=True))
            logits, r, batches = run_batches(model, _fwd_utt, collate, len(arrays), self.config.batch_utterances,
                                             self.config.device)
            reps += r
            probs.append(flat_predictions(logits, batches))
        flat = torch.cat(reps).numpy() if reps else np.zeros((0, 1))
        return _split(flat, convs), (np.concatenate(probs) if probs else np.zeros((0, len(self.classes))))

    def context_outputs(self, modality: str, emb: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        """Stage-II representations per conversation and flat stage-II probabilities."""
        logits, reps, batches = run_batches(self.models[f"{modality}-2"], _fwd_utt, lambda rows: _turn_batch(emb, rows),
                                            len(emb), self.config.batch_conversations, self.config.device)
        return _unpad(reps, batches), flat_predictions(logits, batches)

    def pair_outputs(self, level: str, s: list[np.ndarray], t: list[np.ndarray]) -> np.ndarray:
        logits, _, batches = run_batches(self.models[level], _fwd_pair, lambda rows: _pair_batch(s, t, rows),
                                         len(s), self.config.batch_conversations, self.config.device)
        return flat_predictions(logits, batches)

    # --- fit --------------------------------------------------------------------------------------
    def fit(self, train: Sequence[Conversation], select: Sequence[Conversation], *, seed: int, work_dir: Path,
            levels: Sequence[str] | None = None) -> None:
        """Train ``levels`` (default :func:`levels_for`) in order, each on the frozen outputs of the last.

        A level below a requested one that is already trained (e.g. stage I, reused for another
        set of conversations) is run, not trained again.
        """
        todo = set(levels or levels_for(self.config))
        needed = set(todo)
        for level in reversed(ORDER):
            if level in needed:
                needed |= set(INPUTS[level])
        absent = sorted(needed - todo - set(self.models))
        if absent or not todo <= set(ORDER):
            raise SpokenemoError(f"hcam: cannot train {sorted(todo)}: levels {absent or sorted(todo - set(ORDER))} "
                                 f"are neither trained nor asked for", hint=f"levels are {', '.join(ORDER)}")
        y_train, y_sel = self._labels(train), self._labels(select)
        flat_sel = np.array([v for row in y_sel for v in row], dtype=np.int64)
        feats: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        for level in (lv for lv in ORDER if lv in needed):
            if level in todo:
                torch.manual_seed(seed)
                model = self.models[level] = self._new(level).to(self.config.device)
                self.records.append(self._fit_level(level, model, train, select, y_train, flat_sel, feats, seed,
                                                    work_dir))
            mod = level.split("-")[0]
            if level.endswith("-1") and needed & {f"{mod}-2", "joint"}:
                feats[level] = (self.utterance_embeddings(mod, train)[0],
                                self.utterance_embeddings(mod, select)[0] if select else [])
            elif level.endswith("-2") and "fusion" in needed:
                tr, sel = feats[f"{mod}-1"]
                feats[level] = (self.context_outputs(mod, tr)[0], self.context_outputs(mod, sel)[0] if sel else [])

    def _fit_level(self, level: str, model: torch.nn.Module, train: Sequence[Conversation],
                   select: Sequence[Conversation], y_train: list[list[int]], flat_sel: np.ndarray,
                   feats: dict[str, Any], seed: int, work_dir: Path) -> StageRecord:
        c, ep = self.config, self.config.epochs
        common = {"config": c, "seed": seed, "work_dir": work_dir, "classes": self.classes}
        if level.endswith("-1"):
            mod = level.split("-")[0]
            src = self.sources[mod]
            x_tr = src.arrays([s for conv in train for s in conv])
            y_tr = np.array([v for row in y_train for v in row], dtype=np.int64)
            x_sel = src.arrays([s for conv in select for s in conv]) if select else []

            def utt(xs: list[np.ndarray], ys: np.ndarray) -> Any:
                return lambda rows: {**dict(zip(("x", "mask"), pad_items([xs[r] for r in rows], src.pad), strict=True)),
                                     "y": torch.as_tensor(ys[rows])}
            lr = c.lr_finetune if c.finetune else c.lr
            return train_stage(level, model, _fwd_utt, utt(x_tr, y_tr), n_train=len(x_tr),
                               batch_size=c.batch_utterances, epochs=ep[0], lr=lr,
                               select=(utt(x_sel, flat_sel), len(x_sel), flat_sel) if select else None, **common)
        y_sel = [list(x) for x in _split(flat_sel, select)] if select else []
        if level.endswith("-2"):
            tr, sel = feats[level.replace("-2", "-1")]
            return train_stage(level, model, _fwd_utt, lambda rows: _turn_batch(tr, rows, y_train), n_train=len(tr),
                               batch_size=c.batch_conversations, epochs=ep[1], lr=c.lr,
                               select=((lambda rows: _turn_batch(sel, rows, y_sel)), len(sel), flat_sel) if select else None,
                               **common)
        key = "-2" if level == "fusion" else "-1"
        (s_tr, s_sel), (t_tr, t_sel) = feats[f"speech{key}"], feats[f"text{key}"]
        return train_stage(level, model, _fwd_pair, lambda rows: _pair_batch(s_tr, t_tr, rows, y_train),
                           n_train=len(s_tr), batch_size=c.batch_conversations, epochs=ep[2], lr=c.lr,
                           select=((lambda rows: _pair_batch(s_sel, t_sel, rows, y_sel)), len(s_sel), flat_sel)
                           if select else None, **common)

    # --- predict ----------------------------------------------------------------------------------
    def predict(self, convs: Sequence[Conversation], levels: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Flat per-turn probabilities (conversation then turn order) of each trained level asked for."""
        levels = list(levels or [lv for lv in levels_for(self.config) if lv in self.models])
        missing = [lv for lv in levels if lv not in self.models]
        if missing:
            raise SpokenemoError(f"hcam: levels {missing} are not trained (trained: {sorted(self.models)})")
        out: dict[str, np.ndarray] = {}
        emb: dict[str, list[np.ndarray]] = {}
        ctx: dict[str, list[np.ndarray]] = {}
        for mod in self.config.modalities:
            if any(lv.startswith(mod) or lv in ("fusion", "joint") for lv in levels):
                emb[mod], out[f"{mod}-1"] = self.utterance_embeddings(mod, convs)
            if f"{mod}-2" in self.models and any(lv == f"{mod}-2" or lv == "fusion" for lv in levels):
                ctx[mod], out[f"{mod}-2"] = self.context_outputs(mod, emb[mod])
        if "fusion" in levels:
            out["fusion"] = self.pair_outputs("fusion", ctx["speech"], ctx["text"])
        if "joint" in levels:
            out["joint"] = self.pair_outputs("joint", emb["speech"], emb["text"])
        return {lv: out[lv] for lv in levels}

    # --- save / load ------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        torch.save({lv: {k: v.cpu() for k, v in m.state_dict().items()} for lv, m in self.models.items()},
                   folder / "hcam_models.pt")

    def load(self, folder: Path) -> None:
        states = torch.load(folder / "hcam_models.pt", map_location="cpu", weights_only=True)
        for level, state in states.items():
            model = self._new(level)
            model.load_state_dict(state)
            self.models[level] = model.to(self.config.device).eval()


def _split(flat: np.ndarray, convs: Sequence[Conversation]) -> list[np.ndarray]:
    out, at = [], 0
    for c in convs:
        out.append(flat[at:at + len(c)])
        at += len(c)
    return out


def _unpad(reps: Sequence[torch.Tensor], batches: Sequence[dict[str, torch.Tensor]]) -> list[np.ndarray]:
    out = []
    for r, b in zip(reps, batches, strict=True):
        for i in range(len(r)):
            out.append(r[i][b["mask"][i]].numpy())
    return out


def _turn_batch(emb: list[np.ndarray], rows: list[int], labels: list[list[int]] | None = None) -> dict[str, torch.Tensor]:
    tb = pad_turns([emb[r] for r in rows], None if labels is None else [labels[r] for r in rows])
    batch = {"x": tb.x, "mask": tb.mask}
    return batch if tb.y is None else {**batch, "y": tb.y}


def _pair_batch(s: list[np.ndarray], t: list[np.ndarray], rows: list[int],
                labels: list[list[int]] | None = None) -> dict[str, torch.Tensor]:
    a = pad_turns([s[r] for r in rows], None if labels is None else [labels[r] for r in rows])
    b = pad_turns([t[r] for r in rows])
    batch = {"s": a.x, "t": b.x, "mask": a.mask}
    return batch if a.y is None else {**batch, "y": a.y}
