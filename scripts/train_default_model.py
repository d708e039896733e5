"""Build the default student (``models/spokenemo-default``) from the corpora in ../shared/data.

The recipe (``configs/spokenemo-multicorpus.yaml`` holds the training settings):

1. RAVDESS, nEMO and the Korean emotional TTS sample, mapped to 4 classes (angry, happy,
   neutral, sad), minus the held-out speakers (``--holdout``: RAVDESS actors 01-04, nEMO TP0,
   Korean emh); a training set balanced over (corpus, class) cells, at most ``--per-cell``
   utterances per cell, chosen with a seeded shuffle.
2. Cues of every chosen utterance, worded against each speaker's own medians
   (``cues.speaker_relative``), so recording gain and voice range cancel across corpora.
3. The bundled SmolLM2-135M teacher (llama.cpp, label-conditioned, greedy) explains each one;
   answers that fail validation are asked again with sampling (``--attempts``); utterances
   without a valid answer are left out of training (``target.on_missing_teacher: drop``).
4. LoRA training of the bundled student with the config, then a slim copy of the model
   directory (adapter in float16 + metadata; no checkpoints, no tokenizer copy) in ``--export``.
5. The held-out speakers are scored (at most ``--eval-per-cell`` utterances per corpus and
   class; each speaker's medians from their own unlabelled utterances): ``heldout.metrics.json``.

Every step resumes: rerunning after an interruption reuses the manifest, the cue table, the
teacher cache and the training checkpoints under ``--work``.

    python scripts/train_default_model.py --work runs/default-model-v2 --export runs/default-model-v2/export
"""

from __future__ import annotations

import argparse
import logging
import random
from collections import defaultdict
from pathlib import Path

from spokenemo.data import read_manifest, write_manifest
from spokenemo.data.recipes import prepare
from spokenemo.features.cues.batch import extract_manifest
from spokenemo.llm import get_backend
from spokenemo.protocols.labels import apply_label_set, get_label_set
from spokenemo.systems.aecotd import load_config
from spokenemo.systems.aecotd.cuetext import fit_thresholds, read_cue_table, render, text_config
from spokenemo.systems.aecotd.teacher import run_teacher
from spokenemo.systems.aecotd.training import train

CORPORA = {"ravdess": "ravdess", "nemo": "nemo", "korean_emotiontts": "korean_emotiontts"}


#: Speakers kept out of training: the model card's held-out numbers are measured on them, and the
#: RAVDESS clips of ``make demo`` (tests/data: actors 01-04) are among them.
HELDOUT = "ravdess:01,02,03,04;nemo:TP0;korean_emotiontts:emh"


def parse_speakers(spec: str) -> dict[str, set[str]]:
    """``"corpus:a,b;corpus2:c"`` -> ``{corpus: {a, b}, corpus2: {c}}``."""
    out: dict[str, set[str]] = defaultdict(set)
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        corpus, _, speakers = part.partition(":")
        if corpus not in CORPORA or not speakers:
            raise SystemExit(f"--holdout: cannot read {part!r} (want corpus:spk,spk with corpus in {sorted(CORPORA)})")
        out[corpus].update(s.strip() for s in speakers.split(",") if s.strip())
    return dict(out)


def balanced_set(data_root: Path, per_cell: int, seed: int, heldout: dict[str, set[str]], *,
                 held_out_part: bool = False) -> list:
    """At most ``per_cell`` utterances per (corpus, class), by a seeded shuffle of each cell.

    The training part (default) leaves the ``heldout`` speakers out; ``held_out_part`` takes only them.
    """
    rng = random.Random(seed)
    chosen = []
    for recipe, folder in CORPORA.items():
        utts = apply_label_set(prepare(recipe, data_root / folder), "4class")
        utts = [u for u in utts if (str(u.speaker) in heldout.get(recipe, set())) == held_out_part]
        cells: dict[str, list] = defaultdict(list)
        for u in utts:
            cells[str(u.label)].append(u)
        for label in sorted(cells):
            cell = sorted(cells[label], key=lambda u: u.key)
            rng.shuffle(cell)
            chosen.extend(cell[:per_cell])
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"), help="folder with the corpora")
    ap.add_argument("--config", type=Path, default=Path("configs/spokenemo-multicorpus.yaml"))
    ap.add_argument("--work", type=Path, default=Path("runs/default-model"))
    ap.add_argument("--export", type=Path, default=Path("runs/default-model/export"))
    ap.add_argument("--per-cell", type=int, default=50, help="training utterances per (corpus, class) at most")
    ap.add_argument("--holdout", default=HELDOUT, help="speakers left out of training, 'corpus:spk,spk;...'")
    ap.add_argument("--eval-per-cell", type=int, default=25, help="held-out utterances per (corpus, class) scored")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--attempts", type=int, default=3, help="teacher answers per utterance at most (retries sample)")
    ap.add_argument("--stage", choices=["teacher", "all"], default="all", help="stop after the teacher")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)

    heldout = parse_speakers(args.holdout)
    manifest = work / "manifest.jsonl"
    if not manifest.is_file():
        write_manifest(manifest, balanced_set(args.data, args.per_cell, args.seed, heldout))
    utts = read_manifest(manifest)
    logging.info("training set: %d utterances in %s", len(utts), manifest)

    keys = work / "train_keys.txt"
    keys.write_text("".join(f"{u.key}\n" for u in utts), encoding="utf-8")
    cue_table = work / "cues.parquet"
    extract_manifest(utts, cue_table)

    cfg = load_config(args.config, overrides={
        "data.manifest": str(manifest), "data.train_keys": str(keys), "data.cues": str(cue_table),
        "data.teacher": str(work / "teacher.jsonl")})
    table = read_cue_table(cue_table)
    thresholds = fit_thresholds([table.rows[u.key] for u in utts if u.key in table.rows], cfg.cues)
    tconfig = text_config(cfg.cues)
    texts = {u.key: render(table.rows[u.key], thresholds, tconfig) for u in utts if u.key in table.rows}
    summary = run_teacher(utts, texts, work / "teacher.jsonl", backend=get_backend("llamacpp", n_threads=1),
                          labels=list(get_label_set(cfg.data.label_set).names),
                          seed=args.seed,  # shuffled: a stopped run covers every corpus
                          attempts=args.attempts)
    logging.info("teacher: %d asked, %d valid, %d cached", summary.todo, summary.valid, summary.cached)
    if args.stage == "teacher":
        return
    model_dir = work / "model"
    train(cfg, model_dir)
    from spokenemo.systems.aecotd.export import export_model_dir

    export_model_dir(model_dir, args.export)
    logging.info("exported %s", args.export)
    evaluate_heldout(args, heldout, model_dir)


def evaluate_heldout(args: argparse.Namespace, heldout: dict[str, set[str]], model_dir: Path) -> None:
    """Score the held-out speakers once, then report per corpus and pooled. Their cue medians come
    from their own unlabelled utterances, as for any new speaker. A finished predictions file is reused."""
    import json

    from spokenemo.protocols import compute_metrics
    from spokenemo.systems.aecotd import load_student
    from spokenemo.systems.aecotd.manifest_prediction import predict_manifest
    from spokenemo.systems.aecotd.prediction import INVALID

    test = args.work / "heldout.jsonl"
    if not test.is_file():
        write_manifest(test, balanced_set(args.data, args.eval_per_cell, args.seed, heldout, held_out_part=True))
    utts = read_manifest(test)
    preds_file = args.work / "heldout.predictions.jsonl"
    if not preds_file.is_file():
        predict_manifest(load_student(model_dir), utts, out=preds_file, protocol=f"held-out speakers {args.holdout}")
    rows = [json.loads(line) for line in preds_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    corpus_of = {u.key: u.corpus for u in utts}
    labels = sorted({r["label"] for r in rows})
    report: dict = {"holdout": {c: sorted(s) for c, s in heldout.items()}, "per_cell": args.eval_per_cell}
    for name in [None, *CORPORA]:
        part = [r for r in rows if name is None or corpus_of.get(r["key"]) == name]
        if not part:
            continue
        m = compute_metrics([r["label"] for r in part], [r["predicted"] or INVALID for r in part], labels)
        report[name or "all"] = {"n": len(part), **{k: m.to_dict()[k] for k in ("ua", "wa", "macro_f1", "weighted_f1")},
                                 "confusion": m.to_dict()["confusion"], "labels": labels}
        logging.info("held-out %s: %s", name or "all", report[name or "all"])
    report["baselines"] = cue_baselines(args.work / "cues.parquet", utts, labels, args.work / "heldout.cues.parquet")
    logging.info("same split, cue baselines: %s", report["baselines"])
    (args.work / "heldout.metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def cue_baselines(train_cues: Path, test_utts: list, labels: list[str], test_cues: Path) -> dict:
    """UA of the cue-number baselines on the same split: logistic regression on the student's
    cue numbers (4 coarse + 2 x 7 segments), raw and z-scored per speaker, and the majority class."""
    import numpy as np

    from spokenemo.features.cue_vectors import cue_vector
    from spokenemo.features.cues import read_cue_table as read_rows
    from spokenemo.features.cues import speaker_of
    from spokenemo.protocols import compute_metrics
    from spokenemo.systems.baselines.estimators import fit_predict, speaker_zscore

    extract_manifest(test_utts, test_cues)
    train_rows, test_rows = list(read_rows(train_cues)), list(read_rows(test_cues))
    out = {}
    for name, kind, z in (("cue-lr", "cue-lr", False), ("cue-lr-speaker-z", "cue-lr", True),
                          ("majority", "majority", False)):
        xs = []
        for rows in (train_rows, test_rows):
            x = np.array([cue_vector(r, coarse=True, fine=True, n=7) for r in rows], dtype=float)
            xs.append(speaker_zscore(x, [str(speaker_of(r)) for r in rows]) if z else x)
        pred = fit_predict(kind, {}, xs[0], [r["label"] for r in train_rows], xs[1])
        out[name] = round(compute_metrics([r["label"] for r in test_rows], pred, labels).ua, 4)
    return out


if __name__ == "__main__":
    main()
