"""HCAM's CPU experiments (issue #19; docs/methods/hcam.md): every row of a comparison from one fit.

- :func:`meld_text`: MELD text, official split (train / dev selects / test), 7 classes, stage I
  vs stage II, weighted F1 on the test split, one row per seed.
- :func:`pseudo_speech`: RAVDESS pseudo-conversations (8 classes, speaker 5-fold, 2 validation
  actors): sticky and i.i.d. sets built from each fold part's own actors; stage I is trained on
  the sticky set's turns and reused for the i.i.d. set (the same utterances); stage II per
  modality, stage III (hierarchical) and the joint variant on each set, trained on more
  conversations of the same training utterances than stage I sees.

Frozen encoders, cached features, CPU sizes (:data:`CPU_OPTIONS`). Results go to a JSON file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.fileio import atomic_write
from spokenemo.data import prepare
from spokenemo.data.conversation import conversations
from spokenemo.data.pseudo import pseudo_parts, same_label_rate
from spokenemo.protocols.folds import build_folds
from spokenemo.protocols.labels import apply_label_set
from spokenemo.protocols.metrics import compute_metrics
from spokenemo.systems.hcam.config import HcamConfig
from spokenemo.systems.hcam.pipeline import HcamPipeline

#: The CPU plan's sizes (ours): frozen MiniLM / Whisper-base, smaller widths than the GPU config.
CPU_OPTIONS: dict[str, Any] = {"text_encoder": "minilm", "speech_encoder": "whisper-base", "text_proj": 128,
                               "gru_hidden": 64, "cnn_channels": 128, "frame_pool": 4, "dim": 128, "heads": 4,
                               "epochs": [6, 20, 20], "patience": 3, "lr": 1e-3, "threads": 1,
                               "single_turn": "allow"}


def _score(probs: np.ndarray, truth: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    m = compute_metrics(list(truth), [classes[i] for i in probs.argmax(1)], classes)
    return {"weighted_f1": round(100 * m.weighted_f1, 2), "ua": round(100 * m.ua, 2), "wa": round(100 * m.wa, 2)}


def _write(out: Path, rows: list[dict[str, Any]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as fh:
        json.dump(rows, fh, indent=1)
        fh.write("\n")


#: Stage-II settings tried on MELD, chosen per seed by dev weighted F1 (the stage-I model is shared).
MELD_STAGE2_VARIANTS: tuple[dict[str, Any], ...] = ({}, {"dropout": 0.3, "lr": 5e-4})


def meld_text(root: str | Path, out: str | Path, *, seeds: Sequence[int] = (0,), work_dir: str | Path,
              cache_dir: str = "runs/hcam/cache", variants: Sequence[dict[str, Any]] = MELD_STAGE2_VARIANTS,
              **options: Any) -> list[dict[str, Any]]:
    """MELD text stage I vs II on the official test split (module docstring).

    Stage I is trained once per seed; stage II once per entry of ``variants`` (option overrides)
    on that stage I, and the variant with the best dev weighted F1 is the row's ``text-2``.
    """
    segs = apply_label_set(prepare("meld", root, with_duration=False), "meld7")
    classes = sorted({str(s.label) for s in segs})
    parts = {p: conversations([s for s in segs if s.split == p]) for p in ("train", "dev", "test")}
    config = HcamConfig(**{**CPU_OPTIONS, "modality": "text", "stage": 2, "cache_dir": cache_dir, **options})
    truth = [str(s.label) for c in parts["test"] for s in c]
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        t0 = time.process_time()
        base = HcamPipeline(config, classes)
        wd = Path(work_dir) / f"meld-seed{seed}"
        base.fit(parts["train"], parts["dev"], seed=seed, work_dir=wd, levels=["text-1"])
        row: dict[str, Any] = {"task": "meld-text-7", "seed": seed,
                               "text-1": _score(base.predict(parts["test"], ["text-1"])["text-1"], truth, classes),
                               "stages": [base.records[0].as_dict()], "variants": []}
        for i, over in enumerate(variants):
            pipe = HcamPipeline(config.model_copy(update=over), classes)
            pipe.models["text-1"] = base.models["text-1"]
            pipe.fit(parts["train"], parts["dev"], seed=seed, work_dir=wd / f"v{i}", levels=["text-2"])
            record = pipe.records[-1].as_dict()
            score = _score(pipe.predict(parts["test"], ["text-2"])["text-2"], truth, classes)
            row["variants"].append({"options": over, "stage": record, "test": score})
        best = max(row["variants"], key=lambda v: v["stage"]["select_wf1"] or 0.0)
        row["text-2"], row["text-2-options"] = best["test"], best["options"]
        row["cpu_s"] = round(time.process_time() - t0, 1)
        rows.append(row)
        _write(Path(out), rows)
    return rows


def _pseudo_sets(segs: list[Any], fold: Any, seed: int, n_train: int) -> dict[str, dict[str, list[Any]]]:
    """Sticky and i.i.d. conversations per fold part; ``"pool"``: the training part's default-size
    sticky set (about one turn per utterance) on which stage I is trained."""
    parts = {p: fold.select(segs, p) for p in ("train", "valid", "test")}
    out: dict[str, dict[str, list[Any]]] = {
        kind: {p: conversations(pseudo_parts({p: parts[p]}, n_train if p == "train" else None, kind=kind, seed=seed))
               for p in parts} for kind in ("sticky", "iid")}
    out["pool"] = {"train": conversations(pseudo_parts({"train": parts["train"]}, kind="sticky", seed=seed))}
    return out


def pseudo_speech(root: str | Path, out: str | Path, *, seeds: Sequence[int] = (0,), folds: Sequence[int] = (1,),
                  work_dir: str | Path, cache_dir: str = "runs/hcam/cache", n_train: int = 240,
                  **options: Any) -> list[dict[str, Any]]:
    """RAVDESS pseudo-conversations, speech + text, every level on sticky and i.i.d. sets (module docstring).

    Stage I is trained once per fold and seed on the default-size training set (each utterance
    about once) and reused; stages II-III train on ``n_train`` conversations of each kind (the
    same utterances, recombined).
    """
    segs = list(apply_label_set(prepare("ravdess", root), "ravdess8"))
    classes = sorted({str(s.label) for s in segs})
    all_folds = build_folds(segs, "speaker-kfold", label_set="ravdess8", k=5, n_valid=2)
    config = HcamConfig(**{**CPU_OPTIONS, "modality": "both", "stage": 3, "cache_dir": cache_dir,
                           "batch_conversations": 8, **options})
    rows: list[dict[str, Any]] = []
    upper = ["speech-2", "text-2", "fusion", "joint"]
    for k in folds:
        fold = all_folds[k - 1]
        for seed in seeds:
            t0 = time.process_time()
            sets = _pseudo_sets(segs, fold, seed, n_train)
            pipe = HcamPipeline(config, classes)
            wd = Path(work_dir) / f"pseudo-{fold.name}-{seed}"
            pipe.fit(sets["pool"]["train"], sets["sticky"]["valid"], seed=seed, work_dir=wd / "stage1",
                     levels=["speech-1", "text-1"])
            row: dict[str, Any] = {"task": "ravdess8-pseudo", "fold": fold.name, "seed": seed}
            for kind in ("sticky", "iid"):
                conv = sets[kind]
                pipe.fit(conv["train"], conv["valid"], seed=seed, work_dir=wd / kind, levels=upper)
                probs = pipe.predict(conv["test"], ["speech-1", "text-1", *upper])
                truth = [str(s.label) for c in conv["test"] for s in c]
                row[kind] = {lv: _score(p, truth, classes) for lv, p in probs.items()}
                row[kind]["same_label_rate"] = round(same_label_rate(conv["test"]), 3)
            row["stages"] = [r.as_dict() for r in pipe.records]
            row["cpu_s"] = round(time.process_time() - t0, 1)
            rows.append(row)
            _write(Path(out), rows)
    return rows


def _ms(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.1f} ± {v.std():.1f}" if len(v) > 1 else f"{v.mean():.1f}"


def summary(rows: Sequence[dict[str, Any]], metric: str = "weighted_f1") -> dict[str, dict[str, str]]:
    """``{set: {level: "mean ± std"}}`` over the rows (population std over seeds and folds)."""
    out: dict[str, dict[str, str]] = {}
    for key in ("sticky", "iid") if rows and "sticky" in rows[0] else ("",):
        levels = [lv for lv, v in (rows[0][key] if key else rows[0]).items() if isinstance(v, dict) and metric in v]
        out[key or "test"] = {lv: _ms([(r[key] if key else r)[lv][metric] for r in rows]) for lv in levels}
    return out


def paired(rows: Sequence[dict[str, Any]], a: str, b: str, key: str = "", metric: str = "weighted_f1") -> str:
    """``b - a`` per row as ``mean ± std (wins/n)``: how often level ``b`` beats level ``a``."""
    d = np.array([(r[key] if key else r)[b][metric] - (r[key] if key else r)[a][metric] for r in rows])
    return f"{d.mean():+.1f} ± {d.std():.1f} ({int((d > 0).sum())}/{len(d)})"
