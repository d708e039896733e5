"""Benchmark: octave errors of pitch trackers measured against each other on real clips.

Run from the repository root (one core, ``nice``)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/pitch_trackers.py --per-actor 2 --nemo 20 \
        -o runs/evidence/pitch_trackers.json

Trackers, all on the cue grid (10 ms hop, 65-600 Hz search range, 16 kHz):

- ``pyin``: ``librosa.pyin`` (frame 1024; ISC licence);
- ``praat``: Praat's ``To Pitch (ac)`` through parselmouth (GPL-3.0), Praat's default
  thresholds, sampled on the cue frames;
- ``pyin-fast``: pYIN with 0.2-semitone bins and 50 thresholds (3.5x faster than librosa's defaults);
- ``praat-oj``: Praat with an octave-jump cost of 0.6 instead of its default 0.35 (the evidence
  tracker, :mod:`spokenemo.features.evidence.tracks`, keeps the default: fewer jumps but more
  frames off the consensus with 0.6);
- ``piptrack``: the strongest ``piptrack`` peak per frame (the AECoTD paper's pick);
- ``piptrack-lowest``: the lowest ``piptrack`` peak per frame.

There is no ground-truth F0, so errors are measured three ways:

1. **pairwise**: on frames both trackers call voiced, the share where they differ by more than
   6 semitones (half an octave: one of the two has jumped an octave or to a harmonic);
2. **against the consensus**: frames where at least two of (pyin, praat, piptrack-lowest) agree
   within 1 semitone define a consensus F0 (their median); each tracker's share of such frames it
   calls voiced where it is more than 6 st away from the consensus;
3. **jumps**: the share of consecutive voiced frame pairs of one tracker with a step above
   6 st (an F0 cannot move half an octave in 10 ms; these are octave jumps inside the track).

Also: the share of sounding frames each tracker calls voiced (pYIN leaves much of loud, harsh
speech unvoiced), CPU seconds per clip (``time.process_time``), and for male RAVDESS voices (odd actors) the
share of clips whose median F0 is above 180 Hz (a male voice reported as a female one).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from itertools import combinations
from pathlib import Path

import librosa
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from spokenemo.audio import load_audio  # noqa: E402
from spokenemo.features.cues.config import CueExtractionConfig  # noqa: E402
from spokenemo.features.cues.piptrack import piptrack_pitch  # noqa: E402
from spokenemo.features.cues.pitch_backends import praat_pitch  # noqa: E402
from spokenemo.features.cues.tracks import frame_count, stft_magnitude  # noqa: E402
from spokenemo.features.evidence.tracks import pitch_track, praat_f0, voice_tracks  # noqa: E402

GROSS_ST = 6.0
AGREE_ST = 1.0
CFG = CueExtractionConfig()


def clips(data: Path, per_actor: int, n_nemo: int, seed: int) -> list[tuple[str, Path, str]]:
    """(corpus, path, gender) of the chosen clips."""
    rng = random.Random(seed)
    out = []
    for actor in sorted((data / "ravdess").glob("Actor_*")):
        files = sorted(actor.glob("*.flac"))
        gender = "M" if int(actor.name[-2:]) % 2 else "F"
        out += [("ravdess", f, gender) for f in rng.sample(files, min(per_actor, len(files)))]
    nemo = sorted((data / "nemo" / "samples").glob("*.opus"))
    out += [("nemo", f, "?") for f in rng.sample(nemo, min(n_nemo, len(nemo)))]
    return out


def trackers(y: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every tracker's pitch on the cue grid (0 = unvoiced) and its CPU seconds."""
    n = frame_count(y.size, CFG.hop_length, CFG.n_fft)
    tracks, cost = {}, {}

    def timed(name, fn):
        t0 = time.process_time()
        tracks[name] = np.asarray(fn(), dtype=np.float64)[:n]
        cost[name] = time.process_time() - t0

    def pyin():
        f0, voiced, _ = librosa.pyin(y, fmin=CFG.fmin, fmax=CFG.fmax, sr=CFG.sr, frame_length=CFG.n_fft,
                                     hop_length=CFG.hop_length, center=True)
        return np.where(voiced & np.isfinite(f0), f0, 0.0)

    def pip(pick):
        mag = stft_magnitude(y, CFG.n_fft, CFG.hop_length)
        return piptrack_pitch(mag, sr=CFG.sr, n_fft=CFG.n_fft, fmin=CFG.fmin, fmax=CFG.fmax,
                              threshold=CFG.piptrack_threshold, pick=pick)

    timed("pyin", pyin)
    timed("praat", lambda: praat_pitch(y, CFG, n))
    timed("pyin-fast", lambda: pitch_track(y, CFG.sr, n, hop_length=CFG.hop_length, tracker="pyin"))
    timed("praat-oj", lambda: praat_f0(y, CFG.sr, n, CFG.hop_length, CFG.fmin, CFG.fmax, octave_jump_cost=0.6))
    timed("piptrack", lambda: pip("strongest"))
    timed("piptrack-lowest", lambda: pip("lowest"))
    return tracks, cost


def semitones(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(12.0 * np.log2(a / b))


def consensus(tr: dict[str, np.ndarray]) -> np.ndarray:
    """Median of the voters that agree within 1 st with another voter; 0 where fewer than two agree."""
    votes = np.stack([tr["pyin"], tr["praat"], tr["piptrack-lowest"]])
    out = np.zeros(votes.shape[1])
    for t in range(votes.shape[1]):
        v = votes[:, t][votes[:, t] > 0]
        agreeing = [x for x in v if sum(abs(12 * np.log2(x / w)) <= AGREE_ST for w in v) >= 2]
        if agreeing:
            out[t] = float(np.median(agreeing))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--per-actor", type=int, default=2)
    ap.add_argument("--nemo", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args()

    chosen = clips(args.data, args.per_actor, args.nemo, args.seed)
    names = ["pyin", "pyin-fast", "praat", "praat-oj", "piptrack", "piptrack-lowest"]
    pair = {p: [0, 0] for p in combinations(names, 2)}
    cons = {k: [0, 0] for k in names}
    jumps = {k: [0, 0] for k in names}
    cpu = {k: 0.0 for k in names}
    coverage = {k: [0, 0] for k in names}
    male_high = {k: 0 for k in names}
    n_male = 0
    audio_s = 0.0
    for _corpus, path, gender in chosen:
        y = load_audio(path, sr=CFG.sr)
        audio_s += y.size / CFG.sr
        tr, cost = trackers(y)
        ref = consensus(tr)
        sounding = voice_tracks(y, CFG.sr, tracker="praat").sounding
        for k in names:
            coverage[k][0] += int(((tr[k] > 0) & sounding).sum())
            coverage[k][1] += int(sounding.sum())
            cpu[k] += cost[k]
            f = tr[k]
            both = (f > 0) & (ref > 0)
            cons[k][0] += int((semitones(f[both], ref[both]) > GROSS_ST).sum())
            cons[k][1] += int(both.sum())
            step = (f[1:] > 0) & (f[:-1] > 0)
            jumps[k][0] += int((semitones(f[1:][step], f[:-1][step]) > GROSS_ST).sum())
            jumps[k][1] += int(step.sum())
            if gender == "M" and (f > 0).any() and np.median(f[f > 0]) > 180:
                male_high[k] += 1
        n_male += gender == "M"
        for a, b in pair:
            both = (tr[a] > 0) & (tr[b] > 0)
            pair[(a, b)][0] += int((semitones(tr[a][both], tr[b][both]) > GROSS_ST).sum())
            pair[(a, b)][1] += int(both.sum())

    def share(x):
        return round(100.0 * x[0] / x[1], 2) if x[1] else None

    result = {
        "clips": len(chosen), "audio_s": round(audio_s, 1), "gross_st": GROSS_ST,
        "pairwise_gross_pct": {f"{a} vs {b}": share(v) for (a, b), v in pair.items()},
        "vs_consensus_gross_pct": {k: share(v) for k, v in cons.items()},
        "consensus_frames": {k: v[1] for k, v in cons.items()},
        "jump_pct": {k: share(v) for k, v in jumps.items()},
        "voiced_pct_of_sounding": {k: share(v) for k, v in coverage.items()},
        "cpu_s_per_clip": {k: round(v / len(chosen), 4) for k, v in cpu.items()},
        "male_clips_median_above_180Hz": {k: f"{v}/{n_male}" for k, v in male_high.items()},
    }
    print(json.dumps(result, indent=1))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
