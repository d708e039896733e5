"""Benchmark of the AECoTD student on the bundled SmolLM2-135M-Instruct, side by side in one run.

1. Training: LoRA steps (batch 1, ~250-token examples shaped like real student examples) in
   fp32 and under bf16 autocast; tokens/s and peak memory. Each precision runs in its own
   subprocess so its peak RSS (CPU) or peak CUDA memory is its own.
2. Prediction with a trained student (``--model``): utterances/s of label scoring (one packed
   forward pass per batch) against free greedy generation of the whole answer
   (``label<think>...</think>``, one utterance at a time as ``explain`` does, and batched), and
   against generation stopped as soon as ``<think>`` appears; on the same utterances, with how
   often the generated decision equals the scored one and how many outputs were unparseable.

    python bench/student.py --model runs/ravdess-fold1 --manifest m.jsonl --cues cues.parquet \
        --folds folds --fold fold1 --limit 32 -o bench-student.json

Without ``--manifest`` the 4-class clips of tests/data/ravdess are used (cues computed from the
audio with the model's settings). Without ``--model`` only the training part runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REASONING = ("The pitch is high and the intensity is strong. Over the utterance the pitch rises from 0.12 to "
             "1.00 and falls at the end, while the intensity stays high: an energetic, tense voice that "
             "sounds angry rather than happy, since the words themselves are neutral.")
CUES = ("Pitch: high. Intensity: strong. Speech rate: fast. Articulation rate: slow.\n"
        "Pitch by segment: [0.12, 0.35, 0.80, 1.00, 0.64, 0.22, 0.00]. "
        "Intensity by segment: [0.50, 0.41, 0.93, 0.77, 0.30, 0.05, 0.00].")


def _peak_mb(device: str) -> float:
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def train_worker(precision: str, steps: int, threads: int | None) -> dict:
    """LoRA steps on the bundled model; runs in a subprocess (see main)."""
    import torch

    from spokenemo.models.causal_lm import add_lora, autocast, load_base_model, load_tokenizer, pick_device
    from spokenemo.systems.aecotd.config import LoraSection
    from spokenemo.systems.aecotd.examples import collate, encode_example
    from spokenemo.systems.aecotd.inputs import load_prompt_template, render_prompt_messages
    from spokenemo.systems.aecotd.loss import weighted_cross_entropy
    from spokenemo.systems.aecotd.tokens import end_of_turn_ids

    if threads:
        torch.set_num_threads(threads)
    device = pick_device("auto")
    tok = load_tokenizer("embedded")
    messages = render_prompt_messages(load_prompt_template("student"), "Kids are talking by the door", CUES,
                                      ["angry", "happy", "neutral", "sad"])
    ex = encode_example(tok, messages, "angry", REASONING, eot=end_of_turn_ids(tok))
    batch = collate([ex], tok.pad_token_id)
    model = add_lora(load_base_model("embedded", device=device), LoraSection())
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    bf16 = precision == "bf16"
    times = []
    for _ in range(steps + 1):  # the first step warms up kernels and is not counted
        t0 = time.perf_counter()
        ids = batch["input_ids"].to(device)
        with autocast(bf16, device):
            out = model(input_ids=ids, use_cache=False)
        loss = weighted_cross_entropy(out.logits, ids, batch["weights"].to(device))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    per_step = sum(times[1:]) / steps
    return {"precision": precision, "device": str(device), "threads": torch.get_num_threads(),
            "tokens_per_step": len(ex), "steps": steps, "s_per_step": per_step,
            "tokens_per_s": len(ex) / per_step, "peak_memory_mb": _peak_mb(device.type), "loss": float(loss)}


def run_training(steps: int, threads: int | None) -> list[dict]:
    rows = []
    for precision in ("fp32", "bf16"):
        cmd = [sys.executable, __file__, "--_train", precision, "--train-steps", str(steps)]
        if threads:
            cmd += ["--threads", str(threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def _fixture_utterances() -> list:
    from spokenemo.data.manifest import Segment

    emotions = {"01": "neutral", "03": "happy", "04": "sad", "05": "angry"}
    texts = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
    utts = []
    for path in sorted((REPO / "tests" / "data" / "ravdess").glob("Actor_*/*.flac")):
        p = path.stem.split("-")
        if p[2] in emotions:
            utts.append(Segment(key=path.stem, path=str(path), label=emotions[p[2]], speaker=p[6],
                                  corpus="ravdess", text=texts[p[4]]))
    return utts


def run_prediction(args: argparse.Namespace) -> dict:
    import torch

    from spokenemo.data.manifest import read_manifest
    from spokenemo.protocols import apply_label_set
    from spokenemo.systems.aecotd import load_student, predict
    from spokenemo.systems.aecotd.cuetext import read_cue_table
    from spokenemo.systems.aecotd.manifest_prediction import build_inputs, select_keys

    if args.threads:
        torch.set_num_threads(args.threads)
    student = load_student(args.model, precision=args.precision)
    if args.manifest:
        utts = select_keys(read_manifest(args.manifest), folds=args.folds, fold=args.fold)
    else:
        utts = _fixture_utterances()
    utts = list(apply_label_set(utts, student.info.label_set))[: args.limit]
    table = read_cue_table(args.cues) if args.cues else None
    inputs, _ = build_inputs(student, utts, cue_table=table)
    predict(student, inputs[:2], batch_size=2)  # warm-up
    t0 = time.perf_counter()
    scored = predict(student, inputs, batch_size=args.batch_size)
    t_score = time.perf_counter() - t0
    n_gen = min(len(inputs), args.generate_limit)
    runs = {"generate_full_batch1": (True, 1), f"generate_full_batch{args.batch_size}": (True, args.batch_size),
            f"generate_until_think_batch{args.batch_size}": (False, args.batch_size)}
    result = {"model": str(args.model), "utterances": len(inputs), "batch_size": args.batch_size,
              "precision": args.precision, "threads": torch.get_num_threads(),
              "scoring": {"utt_per_s": len(inputs) / t_score, "seconds": t_score,
                          "accuracy": sum(p.predicted == p.label for p in scored) / len(scored)}}
    for name, (full, batch) in runs.items():
        t0 = time.perf_counter()
        gen = predict(student, inputs[:n_gen], mode="generate", explain=full, batch_size=batch,
                      max_new_tokens=args.max_new_tokens)
        seconds = time.perf_counter() - t0
        tokens = [len(student.tokenizer(g.generated or "", add_special_tokens=False)["input_ids"]) for g in gen]
        result[name] = {"utt_per_s": n_gen / seconds, "seconds": seconds, "utterances": n_gen,
                        "mean_generated_tokens": sum(tokens) / len(tokens), "max_new_tokens": args.max_new_tokens,
                        "agree": sum(g.predicted == s.predicted for g, s in zip(gen, scored, strict=False)),
                        "of": n_gen, "unparseable": sum(not g.valid for g in gen),
                        "speedup_of_scoring": (len(inputs) / t_score) / (n_gen / seconds)}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="trained student directory (prediction part)")
    ap.add_argument("--manifest", type=Path)
    ap.add_argument("--cues", type=Path)
    ap.add_argument("--folds", type=Path)
    ap.add_argument("--fold")
    ap.add_argument("--limit", type=int, default=32, help="utterances scored")
    ap.add_argument("--generate-limit", type=int, default=8, help="utterances generated (slow)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="prediction precision")
    ap.add_argument("--train-steps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("-o", "--output", type=Path)
    ap.add_argument("--_train", choices=["fp32", "bf16"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._train:
        print(json.dumps(train_worker(args._train, args.train_steps, args.threads)))
        return
    result: dict = {}
    if not args.skip_training:
        result["training"] = run_training(args.train_steps, args.threads)
        for row in result["training"]:
            print(f"train {row['precision']:>4}: {row['tokens_per_s']:7.1f} tok/s  {row['s_per_step']:6.2f} s/step "
                  f"({row['tokens_per_step']} tokens)  peak {row['peak_memory_mb']:7.0f} MB  [{row['device']}, "
                  f"{row['threads']} threads]")
    if args.model:
        pred = run_prediction(args)
        result["prediction"] = pred
        print(f"predict: {pred['utterances']} utterances, batch {pred['batch_size']}, {pred['precision']}")
        print(f"  label scoring              {pred['scoring']['utt_per_s']:7.3f} utt/s  "
              f"(accuracy {pred['scoring']['accuracy']:.3f})")
        for name, g in pred.items():
            if name.startswith("generate"):
                print(f"  {name:<26} {g['utt_per_s']:7.3f} utt/s  ({g['mean_generated_tokens']:.0f} tokens generated "
                      f"on average)  same decision as scoring: {g['agree']}/{g['of']} (unparseable "
                      f"{g['unparseable']})  scoring is x{g['speedup_of_scoring']:.1f} faster")
    if args.output:
        args.output.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
