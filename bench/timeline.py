"""Benchmark and evaluation of ``timeline`` on recordings built from corpus clips.

Run from the repository root (one torch thread; nice it on a shared machine)::

    # accuracy on two-speaker recordings of held-out RAVDESS speakers (17-20), with a recogniser
    # trained on speakers 01-16 only (runs/timeline/recogniser-ravdess01-16, see docs/timeline.md)
    .venv/bin/python bench/timeline.py heldout --recogniser runs/timeline/recogniser-ravdess01-16

    # speed and memory on a 1-hour recording: wall time, peak RSS, audio-seconds per CPU-second per stage
    .venv/bin/python bench/timeline.py speed --minutes 60 --recogniser runs/timeline/recogniser-ravdess01-16

``heldout`` builds one recording per speaker pair (17+18, 19+20), about ``--seconds`` long, from
the 4-class clips of those speakers, runs the timeline (speakers estimated and given), scores it
against the RTTM labels (:mod:`spokenemo.api.timeline_score`), and scores the same recogniser on
the same clips one by one (the whole original files, each speaker's clips in one call so the
speaker head applies, and alone with the global head), so frame UA can be compared with clip UA.
``speed`` builds a recording of ``--minutes`` from all RAVDESS 4-class clips (two speakers per
recording, clips reused) and times every stage. Results go to ``runs/timeline/bench-*.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from spokenemo.api.recogniser import load_recogniser
from spokenemo.api.timeline import timeline
from spokenemo.api.timeline_score import score_timeline
from spokenemo.audio import load_audio
from spokenemo.data import prepare
from spokenemo.data.longform import LongformSpec, build_longform
from spokenemo.protocols import apply_label_set
from spokenemo.protocols.metrics import compute_metrics

ROOT = Path(__file__).resolve().parents[1]
RAVDESS = ROOT.parent / "shared" / "data" / "ravdess"
OUT = ROOT / "runs" / "timeline"
PAIRS = (("17", "18"), ("19", "20"))


def _clips(speakers: set[str] | None = None):
    segs = apply_label_set(prepare("ravdess", RAVDESS), "4class")
    return [s for s in segs if speakers is None or s.speaker in speakers]


def _ua(model, signals, truth, speakers) -> tuple[float, float]:
    labels = model.labels
    feats = model.features(signals, 16000)
    spk, _ = model.probabilities_from_features(feats, speakers)
    alone, _ = model.probabilities_from_features(feats, None)
    return (compute_metrics(truth, [labels[i] for i in spk.argmax(1)], labels).ua,
            compute_metrics(truth, [labels[i] for i in alone.argmax(1)], labels).ua)


def _clip_ua(model, rec, clips) -> dict[str, float]:
    """The recogniser on the clips one by one: the original files, and each clip's span cut from the built
    recording (same trimming and noise as the timeline sees); each speaker's clips in one call (speaker
    head) and alone (global head)."""
    by_key = {c.key: c for c in clips}
    files = [by_key[t.source] for t in rec.turns]
    file_spk, file_global = _ua(model, [load_audio(c.path) for c in files], [c.label for c in files],
                                [c.speaker for c in files])
    x = load_audio(rec.path)
    spans = [x[round(t.start * 16000):round(t.end * 16000)] for t in rec.turns]
    span_spk, span_global = _ua(model, spans, [t.label for t in rec.turns], [t.speaker for t in rec.turns])
    return {"file_ua_speaker": file_spk, "file_ua_global": file_global, "span_ua_speaker": span_spk,
            "span_ua_global": span_global, "clips": len(rec.turns)}


def heldout(args: argparse.Namespace) -> dict:
    model = load_recogniser(args.recogniser)
    rows = []
    for a, b in PAIRS:
        clips = _clips({a, b})
        out = OUT / f"heldout-{a}-{b}"
        rec = build_longform(clips, out, spec=LongformSpec(duration=args.seconds, noise_snr=args.noise_snr),
                             seed=args.seed, name=f"ravdess-{a}-{b}")[0]
        for speakers in (None, 2):
            t0 = time.perf_counter()
            tl = timeline(rec.path, recogniser=model, speakers=speakers, explainer=None if args.explain else False)
            wall = time.perf_counter() - t0
            tl.write(out / f"{rec.name}-speakers{speakers}.json")
            s = score_timeline(rec.rttm, tl)
            rows.append({"pair": f"{a}+{b}", "speakers_given": speakers, "found": tl.speakers["n_speakers"],
                         "duration_s": rec.duration, "segments": len(tl.segments), "wall_s": round(wall, 1),
                         "eder": s["eder"], "eder_speech": s["eder_speech"], "frame_ua": s["frame_ua"],
                         "frame_ua_strict": s["frame_ua_strict"], "boundary_f1": s["boundary"]["f1"],
                         "purity": s["speaker"]["purity"], "coverage": s["speaker"]["coverage"]})
            print(json.dumps(rows[-1]), flush=True)
        rows[-1]["clip_baseline"] = _clip_ua(model, rec, clips)
        print(json.dumps(rows[-1]["clip_baseline"]), flush=True)
    return {"rows": rows, "recogniser": str(args.recogniser), "seed": args.seed, "noise_snr": args.noise_snr}


def speed(args: argparse.Namespace) -> dict:
    out = OUT / "speed"
    rec = build_longform(_clips(), out, spec=LongformSpec(duration=args.minutes * 60), seed=args.seed,
                         name=f"speed-{args.minutes}min")[0]
    model = load_recogniser(args.recogniser)
    model.encoder()  # load the encoder before timing
    cpu0, t0 = time.process_time(), time.perf_counter()
    tl = timeline(rec.path, recogniser=model, speakers=args.speakers, explainer=None if args.explain else False,
                  max_len=args.max_len, min_len=args.min_len)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tl.write(out / f"{rec.name}.json")
    scores = score_timeline(rec.rttm, tl)
    result = {"duration_s": rec.duration, "segments": len(tl.segments), "wall_s": round(wall, 1),
              "cpu_s": round(cpu, 1), "peak_rss_mb": round(peak_mb), "stages": tl.timings,
              "speakers": tl.speakers, "torch_threads": os.environ.get("OMP_NUM_THREADS"),
              "load_1min": os.getloadavg()[0], "eder": scores["eder"], "frame_ua": scores["frame_ua"],
              "purity": scores["speaker"]["purity"]}
    print(json.dumps(result, indent=1))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    h = sub.add_parser("heldout")
    h.add_argument("--seconds", type=float, default=150.0)
    h.add_argument("--noise-snr", type=float, default=None)
    s = sub.add_parser("speed")
    s.add_argument("--minutes", type=float, default=60.0)
    s.add_argument("--speakers", type=int, default=2)
    s.add_argument("--min-len", type=float, default=1.0)
    s.add_argument("--max-len", type=float, default=8.0)
    for p in (h, s):
        p.add_argument("--recogniser", type=Path, default=None)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--no-explain", dest="explain", action="store_false")
    args = ap.parse_args()
    if not RAVDESS.is_dir():
        sys.exit(f"{RAVDESS} is absent: this benchmark needs ../shared/data")
    import torch

    torch.set_num_threads(1)
    result = heldout(args) if args.mode == "heldout" else speed(args)
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"bench-{args.mode}" + (f"-snr{args.noise_snr:g}" if getattr(args, "noise_snr", None) else "")
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
