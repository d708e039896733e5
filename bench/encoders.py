"""Benchmark: Whisper encoder features, PyTorch (every layer) vs CTranslate2 (last layer), side by side.

Run from the repository root::

    .venv/bin/python bench/encoders.py --limit 40               # 40 RAVDESS clips, evenly spaced
    .venv/bin/python bench/encoders.py --model whisper-tiny.en   # the other packaged model

On the same decoded clips (``../shared/data/ravdess``) and the same unpadded log-mel input:

- **torch**: ``get_speech_encoder("whisper-base")``, all 7 hidden states (PyTorch, float32);
- **ct2**: ``get_speech_encoder("whisper-base-ct2")``, the last layer only (CTranslate2), for each
  ``--ct2-compute-types`` (float32 = the same arithmetic as torch; int8 = quantised, the ASR setting).

Each is timed with ``time.process_time`` (CPU seconds of this process, all its threads) with one
intra-op thread, and reported as CPU seconds per audio second (the log-mel, included in both, is
also timed alone). Then each runs in a process pool of 1 and 2 workers (one thread each; clips
sent as arrays): wall time, audio seconds per wall second and the scaling ratio. The 1-minute load
average is printed with the figures, since other jobs may share the cores.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from spokenemo.audio import load_audio  # noqa: E402
from spokenemo.models.encoders import SpeechEncoder, get_speech_encoder  # noqa: E402
from spokenemo.models.encoders.logmel import whisper_log_mel  # noqa: E402

SR = 16000
_WORKER: dict[str, SpeechEncoder] = {}


def list_clips(data: Path, limit: int | None) -> list[Path]:
    found = sorted(data.glob("ravdess/Actor_*/*.flac"))
    if not found:
        raise SystemExit(f"no RAVDESS audio under {data}")
    if limit is not None and limit < len(found):
        found = [found[i] for i in np.linspace(0, len(found) - 1, limit).round().astype(int)]
    return found


def make_encoder(kind: str, model: str, threads: int) -> SpeechEncoder:
    """``kind`` is ``"torch"`` or ``"ct2-<compute type>"``."""
    torch.set_num_threads(threads)
    if kind == "torch":
        return get_speech_encoder(model)
    return get_speech_encoder(f"{model}-ct2", compute_type=kind.split("-", 1)[1], threads=threads)


def cpu_per_audio_s(encoder: SpeechEncoder, waves: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """CPU seconds per audio second of ``encoder.encode`` and each clip's mean last-layer vector."""
    encoder.encode(waves[0])  # warm-up
    t0 = time.process_time()
    last = [encoder.encode(w).layer(-1).mean(0) for w in waves]
    return (time.process_time() - t0) / (sum(w.size for w in waves) / SR), np.stack(last)


def _init_worker(kind: str, model: str, threads: int) -> None:
    _WORKER["enc"] = make_encoder(kind, model, threads)


def _encode_chunk(waves: list[np.ndarray]) -> int:
    return sum(_WORKER["enc"].encode(w).n_frames for w in waves)


def pool_run(kind: str, model: str, waves: list[np.ndarray], processes: int, threads: int) -> float:
    """Wall seconds to encode ``waves`` with a pool of ``processes`` workers (after a warm-up)."""
    ctx = multiprocessing.get_context("spawn")
    chunks = [waves[i::processes * 4] for i in range(processes * 4)]
    with ctx.Pool(processes, initializer=_init_worker, initargs=(kind, model, threads)) as pool:
        pool.map(_encode_chunk, [waves[:1]] * processes)  # start and warm every worker
        t0 = time.perf_counter()
        pool.map(_encode_chunk, chunks, chunksize=1)
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=40, help="RAVDESS clips (evenly spaced); 0 = all")
    ap.add_argument("--model", default="whisper-base", choices=["whisper-base", "whisper-tiny.en"])
    ap.add_argument("--ct2-compute-types", nargs="+", default=["float32", "int8"])
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="pool sizes for the scaling run")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads per process")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    clips = list_clips(args.data, args.limit or None)
    waves = [load_audio(c, sr=SR) for c in clips]
    audio_s = sum(w.size for w in waves) / SR
    load_start = os.getloadavg()[0]
    kinds = ["torch", *(f"ct2-{t}" for t in args.ct2_compute_types)]

    t0 = time.process_time()
    for w in waves:
        whisper_log_mel(w)
    logmel = (time.process_time() - t0) / audio_s
    rows: dict[str, dict[str, float]] = {}
    vectors = {}
    for kind in kinds:
        rows[kind] = {}
        rows[kind]["cpu_per_audio_s"], vectors[kind] = cpu_per_audio_s(make_encoder(kind, args.model, args.threads),
                                                                        waves)
    for kind in kinds:
        a, b = vectors["torch"], vectors[kind]
        rows[kind]["pooled_cosine_vs_torch"] = float(np.mean((a * b).sum(1) / np.linalg.norm(a, axis=1)
                                                             / np.linalg.norm(b, axis=1)))
        for p in args.processes:
            wall = pool_run(kind, args.model, waves, p, args.threads)
            rows[kind][f"audio_s_per_wall_s_{p}p"] = audio_s / wall
    load_end = os.getloadavg()[0]

    res = {"model": args.model, "clips": len(clips), "audio_s": audio_s, "cpu_count": os.cpu_count(),
           "threads_per_process": args.threads, "load_avg_1min": [load_start, load_end],
           "logmel_cpu_per_audio_s": logmel, "encoders": rows}
    print(f"{args.model}: {len(clips)} RAVDESS clips, {audio_s:.0f} s of audio; {args.threads} thread(s) per "
          f"process; load average {load_start:.1f} -> {load_end:.1f} on {os.cpu_count()} cores")
    print(f"log-mel alone (inside every row): {logmel:.4f} CPU s per audio s")
    for kind, row in rows.items():
        what = "all layers" if kind == "torch" else "last layer"
        scale = "".join(f", {p} proc {row[f'audio_s_per_wall_s_{p}p']:.1f} audio s/wall s" for p in args.processes)
        if len(args.processes) > 1:
            first, last = args.processes[0], args.processes[-1]
            scale += (f" (x{row[f'audio_s_per_wall_s_{last}p'] / row[f'audio_s_per_wall_s_{first}p']:.2f} "
                      f"from {first} to {last})")
        print(f"{kind:12s} ({what}): {row['cpu_per_audio_s']:.4f} CPU s per audio s; mean-pooled last layer "
              f"cosine vs torch {row['pooled_cosine_vs_torch']:.5f}{scale}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
