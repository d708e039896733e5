"""MiSTER-E in the two imbalance regimes of thesis.md 4.5 (docs/methods/mister-e.md, "Results").

- **text-dominant**: MELD 7-class text conversations (official train / dev / test split), the
  speech stream replaced by seeded random vectors (uninformative);
- **speech-dominant**: RAVDESS pseudo-conversations (sticky emotions, stay 0.7; two actors per
  conversation; built inside each part of the RAVDESS-20 speaker folds, so no speaker is in two
  parts), speech = Whisper-base pooled last layer; the text is RAVDESS's two fixed sentences
  (uninformative).

:func:`run_regime` trains every system row on every fold and seed and writes one JSON line per
(row, fold, seed) to ``results.jsonl``: the test WF1 and UA of the mixture, of each expert and of
each phase-1 unimodal head, and the mean gate weight per expert. Rows already there are skipped, so
a stopped run resumes; a run stopped by a collapsed gate or NaN logits is recorded as
``{"stopped": message}`` and the others go on. :func:`regime_table` summarises them (mean +- std
over seeds of the per-seed mean over folds).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.api.moe import fit_mister_e
from spokenemo.core.fileio import append_jsonl
from spokenemo.data.conversation import natural_key
from spokenemo.data.manifest import Segment
from spokenemo.data.pseudo import pseudo_parts
from spokenemo.data.recipes.meld import prepare_meld
from spokenemo.data.recipes.ravdess import prepare as prepare_ravdess
from spokenemo.features.providers import FeatureBank
from spokenemo.models.moe.errors import ExpertOutputError, GateCollapseError
from spokenemo.protocols.metrics import compute_metrics
from spokenemo.protocols.speaker_folds import speaker_kfold

log = logging.getLogger(__name__)

#: System rows of the comparison: name -> MisterEConfig options (besides the regime's inputs).
ROWS: dict[str, dict[str, Any]] = {
    "mister-e": {},
    "monolithic": {"variant": "monolithic"},
    "feat-moe": {"variant": "feat-moe"},
}
#: Further ablation rows (``spokenemo moe regimes --rows``).
ABLATION_ROWS: dict[str, dict[str, Any]] = {
    "no-loss": {"supervise_experts": False},
    "alpha0": {"alpha": 0.0},
    "lambda0": {"lam": 0.0},
    "mlp-gate": {"gate": "mlp"},
}
ALL_ROWS: dict[str, dict[str, Any]] = {**ROWS, **ABLATION_ROWS}
EXPERT_COLUMNS = ("speech", "text", "multimodal")
#: The thesis's per-corpus loss settings and batch sizes (section 4.3), used as they are (not tuned here):
#: MELD for the MELD regime, IEMOCAP for the acted pseudo-conversations.
THESIS_MELD = {"lam": 1.0, "alpha": 1e-3, "tau": 0.05, "batch_size": 32}
THESIS_IEMOCAP = {"lam": 2.0, "alpha": 0.1, "tau": 1.0, "batch_size": 8}


@dataclass
class Regime:
    """A regime's data: its classes, inputs and folds ``(name, train, valid, test)``."""

    name: str
    classes: list[str]
    inputs: dict[str, Any]
    folds: list[tuple[str, list[Segment], list[Segment], list[Segment]]]
    informative: str


def text_dominant(meld_root: str | Path, *, max_train_dialogues: int | None = None) -> Regime:
    """MELD text (official split) with a random speech stream; optionally the first training dialogues only."""
    segs = prepare_meld(meld_root, with_duration=False)
    parts = {p: [u for u in segs if u.split == p] for p in ("train", "dev", "test")}
    if max_train_dialogues is not None:
        keep = sorted({str(u.dialogue) for u in parts["train"]}, key=natural_key)[:max_train_dialogues]
        parts["train"] = [u for u in parts["train"] if u.dialogue in set(keep)]
    classes = sorted({str(u.label) for u in segs})
    return Regime("text-dominant (MELD text + random speech)", classes,
                  {"text_input": "minilm", "speech_input": "random", **THESIS_MELD},
                  [("official", parts["train"], parts["dev"], parts["test"])], "text")


def speech_dominant(ravdess_root: str | Path, *, folds: Sequence[int] = (1, 2, 3, 4, 5), seed: int = 0) -> Regime:
    """RAVDESS-20 pseudo-conversations (8 classes) with the two fixed sentences as text."""
    segs = prepare_ravdess(ravdess_root, with_duration=False)
    groups = [[f"{a:02d}" for a in range(4 * k - 3, 4 * k + 1)] for k in range(1, 6)]
    out = []
    for k, fold in enumerate(speaker_kfold(segs, groups=groups, n_valid=2), start=1):
        if k not in folds:
            continue
        parts = {p: fold.select(segs, p) for p in ("train", "valid", "test")}
        turns = pseudo_parts(parts, seed=seed, name=f"ravdess-f{k}")
        by = {s: [u for u in turns if u.split == s] for s in ("train", "dev", "test")}
        out.append((fold.name, by["train"], by["dev"], by["test"]))
    classes = sorted({str(u.label) for u in segs})
    return Regime("speech-dominant (RAVDESS pseudo-conversations + fixed-sentence text)", classes,
                  {"text_input": "minilm", "speech_input": "whisper-base", "speech_layers": "last",
                   "speech_pooling": "mean+std", **THESIS_IEMOCAP}, out, "speech")


def _scores(y: list[str], probs: np.ndarray, classes: list[str]) -> dict[str, float]:
    pred = [classes[i] for i in probs.argmax(1)]
    m = compute_metrics(y, pred, classes)
    return {"wf1": float(m.weighted_f1), "ua": float(m.ua)}


def _done(path: Path) -> set[tuple[str, str, int]]:
    if not path.is_file():
        return set()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["row"], r["fold"], int(r["seed"])) for r in rows}


def run_regime(regime: Regime, out_dir: str | Path, *, seeds: Sequence[int] = (0, 1, 2),
               rows: Mapping[str, Mapping[str, Any]] = ROWS, features_dir: str | Path | None = None,
               cache_dir: str | Path | None = None, **options: Any) -> Path:
    """Train and test every row x fold x seed (module docstring); returns ``results.jsonl``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    done = _done(results)
    bank = FeatureBank(Path(features_dir or out / "features"), lambda name: {})  # one per run: encoders load once
    for seed in seeds:
        for fold, train, valid, test in regime.folds:
            for row, row_options in rows.items():
                if (row, fold, seed) in done:
                    continue
                t0, c0 = time.perf_counter(), time.process_time()
                try:
                    system = fit_mister_e(train, valid, classes=regime.classes, out_dir=out / row / fold, seed=seed,
                                          test=test, features=bank, cache_dir=Path(cache_dir or out / "cache"),
                                          **{**regime.inputs, **options, **row_options})
                except (ExpertOutputError, GateCollapseError) as err:  # recorded, and the other rows go on
                    append_jsonl(results, {"row": row, "fold": fold, "seed": seed, "stopped": err.message})
                    log.warning("%s %s seed %d stopped: %s", row, fold, seed, err.message)
                    continue
                res = system.outputs(test)
                y = [str(u.label) for u in test]
                record: dict[str, Any] = {"row": row, "fold": fold, "seed": seed, "n_test": len(test),
                                          **_scores(y, res.probs, regime.classes),
                                          "seconds": round(time.perf_counter() - t0, 1),
                                          "cpu_seconds": round(time.process_time() - c0, 1),
                                          "epoch": system.info["phase2"]["epoch"]}
                for name, p in res.experts.items():
                    record.update({f"{k}_{name}": v for k, v in _scores(y, p, regime.classes).items()})
                for name, p in res.unimodal.items():
                    record.update({f"{k}_phase1_{name}": v for k, v in _scores(y, p, regime.classes).items()})
                if res.gate is not None:
                    means = res.gate.mean(axis=0)
                    record.update({f"gate_{n}": float(v) for n, v in zip(EXPERT_COLUMNS, means, strict=True)})
                append_jsonl(results, record)
                log.info("%s %s seed %d: WF1 %.3f (%.0f s)", row, fold, seed, record["wf1"], record["seconds"])
    return results


def _seed_means(rows: list[dict[str, Any]], row: str, column: str) -> dict[int, float]:
    """Seed -> mean over folds of ``column`` for system ``row``."""
    by_seed: dict[int, list[float]] = {}
    for r in rows:
        if r["row"] == row and column in r:
            by_seed.setdefault(int(r["seed"]), []).append(float(r[column]))
    return {seed: float(np.mean(v)) for seed, v in sorted(by_seed.items())}


def _per_seed(rows: list[dict[str, Any]], row: str, column: str) -> list[float]:
    return list(_seed_means(rows, row, column).values())


def stopped_runs(results: str | Path) -> dict[str, list[str]]:
    """``row -> ["fold seed N: message", ...]`` of the runs a safeguard stopped (collapsed gate, NaN)."""
    out: dict[str, list[str]] = {}
    for line in Path(results).read_text().splitlines():
        r = json.loads(line) if line.strip() else {}
        if "stopped" in r:
            out.setdefault(r["row"], []).append(f"{r['fold']} seed {r['seed']}: {r['stopped']}")
    return out


def regime_table(results: str | Path) -> dict[str, dict[str, tuple[float, float, int]]]:
    """``row -> column -> (mean, std, n_seeds)`` over seeds of the per-seed mean over folds."""
    rows = [r for r in (json.loads(line) for line in Path(results).read_text().splitlines() if line.strip())
            if "stopped" not in r]
    out: dict[str, dict[str, tuple[float, float, int]]] = {}
    for row in dict.fromkeys(r["row"] for r in rows):
        cols = dict.fromkeys(k for r in rows if r["row"] == row for k in r
                             if k.startswith(("wf1", "ua", "gate_")))
        out[row] = {}
        for col in cols:
            vals = _per_seed(rows, row, col)
            out[row][col] = (float(np.mean(vals)), float(np.std(vals)), len(vals))
    return out


def _paired(rows: list[dict[str, Any]], a: tuple[str, str], b: tuple[str, str]) -> tuple[float, float, int]:
    """Mean and std over the seeds both have of ``a - b`` (``(row, column)`` pairs; per-seed means
    over folds); NaN when they share no seed."""
    x, y = _seed_means(rows, *a), _seed_means(rows, *b)
    seeds = sorted(set(x) & set(y))
    if not seeds:
        return float("nan"), float("nan"), 0
    d = np.asarray([x[s] - y[s] for s in seeds])
    return float(np.mean(d)), float(np.std(d)), len(seeds)


def regime_evidence(results: str | Path, informative: str) -> list[dict[str, Any]]:
    """The evidence points of thesis.md 4.5 with their numbers: each ``{"claim", "value", "spread",
    "seeds", "held"}`` (value = mean over seeds of the per-seed difference; spread = its std)."""
    rows = [r for r in (json.loads(line) for line in Path(results).read_text().splitlines() if line.strip())
            if "stopped" not in r]
    present = {r["row"] for r in rows}
    other = "text" if informative == "speech" else "speech"
    best = max(EXPERT_COLUMNS, key=lambda e: np.mean(_per_seed(rows, "mister-e", f"wf1_{e}") or [-1.0]))
    checks: list[tuple[str, tuple[str, str], tuple[str, str], bool]] = [
        (f"MiSTER-E >= its best expert ({best})", ("mister-e", "wf1"), ("mister-e", f"wf1_{best}"), True),
        (f"gate weight: {informative} expert > {other} expert", ("mister-e", f"gate_{informative}"),
         ("mister-e", f"gate_{other}"), False),
    ]
    for row, strict in (("monolithic", False), ("feat-moe", False), ("no-loss", True)):
        if row in present:
            claim = f"MiSTER-E > {row}" if not strict else f"{row} is not better than MiSTER-E"
            checks.append((claim, ("mister-e", "wf1"), (row, "wf1"), strict))
    out = []
    for claim, a, b, weak in checks:
        value, spread, n = _paired(rows, a, b)
        out.append({"claim": claim, "value": value, "spread": spread, "seeds": n,
                    "held": bool(value >= 0 if weak else value > 0)})
    return out
