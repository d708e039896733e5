"""Benchmark: the shipped recogniser per stage, side by side in one run (clips/s, CPU s per audio s).

Run from the repository root::

    .venv/bin/python bench/recogniser.py --limit 40        # 40 RAVDESS clips, evenly spaced

Stages (``--evidence`` and ``--transcript`` add the last two), each timed with ``time.process_time`` (CPU seconds of this process) and wall time, one
torch thread: decoding (16 kHz), the speech check (Silero VAD), the encoder (Whisper-base, all
layers, pooled), the heads (z-scoring + logistic regression + temperature), and the cue evidence
with the grounded explanation (``--evidence``). The 1-minute load average is printed with the
figures, since other jobs may share the cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from spokenemo.api.evidence import explain_evidence, measure_evidence  # noqa: E402
from spokenemo.api.recogniser import load_recogniser  # noqa: E402
from spokenemo.audio import load_audio  # noqa: E402
from spokenemo.audio.speech import detect_speech  # noqa: E402
from spokenemo.models.language import transcribe_checked  # noqa: E402

SR = 16000


class Stage:
    """CPU and wall seconds of one stage, summed over calls."""

    def __init__(self, name: str) -> None:
        self.name, self.cpu, self.wall = name, 0.0, 0.0

    def __enter__(self) -> Stage:
        self._c, self._w = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu += time.process_time() - self._c
        self.wall += time.perf_counter() - self._w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--evidence", action="store_true", help="also time cue evidence + explanation")
    parser.add_argument("--transcript", action="store_true",
                        help="also time the transcript (language ID with Whisper base + faster-whisper tiny.en)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    files = sorted(args.data.glob("ravdess/Actor_*/*.flac"))
    files = [files[i] for i in np.linspace(0, len(files) - 1, min(args.limit, len(files))).round().astype(int)]
    rec = load_recogniser()
    rec.features([np.zeros(SR, dtype=np.float32)])  # load the encoder outside the timing
    stages = {n: Stage(n) for n in ("decode", "speech check", "encoder (all layers, pooled)", "heads",
                                    "evidence + explanation", "transcript (language ID + ASR)")}
    if args.transcript:
        transcribe_checked(np.zeros(SR, dtype=np.float32) + 0.01)  # load both Whisper models untimed
    audio_seconds = 0.0
    for f in files:
        with stages["decode"]:
            wave = load_audio(f, sr=SR)
        audio_seconds += len(wave) / SR
        with stages["speech check"]:
            detect_speech(wave, SR)
        with stages["encoder (all layers, pooled)"]:
            X = rec.features([wave])
        with stages["heads"]:
            probs, _ = rec.probabilities_from_features(X)
        if args.evidence:
            with stages["evidence + explanation"]:
                answer = rec.answer(probs[0], "global")
                explain_evidence(measure_evidence(wave, sr=SR), answer.probabilities, emotion=answer.label)
        if args.transcript:
            with stages["transcript (language ID + ASR)"]:
                transcribe_checked(wave)
    n = len(files)
    print(f"{n} RAVDESS clips, {audio_seconds:.1f} s of audio; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores; one torch thread")
    print("| stage | CPU s per audio s | wall s per clip |")
    print("|---|---|---|")
    total_cpu = total_wall = 0.0
    for s in stages.values():
        if s.wall == 0:
            continue
        total_cpu, total_wall = total_cpu + s.cpu, total_wall + s.wall
        print(f"| {s.name} | {s.cpu / audio_seconds:.4f} | {s.wall / n:.3f} |")
    print(f"| **all** | {total_cpu / audio_seconds:.4f} | {total_wall / n:.3f} |")
    print(f"recogniser throughput: {n / total_wall:.2f} clips/s (wall), {audio_seconds / total_cpu:.1f} audio s per CPU s")


if __name__ == "__main__":
    main()
