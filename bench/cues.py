"""Benchmark: cost of the whole paper cue set, one-STFT tracks vs the straightforward way.

Run from the repository root::

    .venv/bin/python bench/cues.py                      # all of ../shared/data ravdess + nemo
    .venv/bin/python bench/cues.py --limit 100          # 100 files per corpus, evenly spaced

For each file (decoded once beforehand, decoding timed separately):

- **tracks**: :func:`spokenemo.features.cues.extract_cues` (one float32 STFT, piptrack on the 65-600 Hz bins
  only, RMS from a cumulative sum, segments and windows as slices of the tracks);
- **straightforward**: the same cue definitions computed by calling librosa per feature, per
  segment and per window (``librosa.piptrack`` and ``librosa.feature.rms`` on the utterance for
  the coarse cues, again for the syllables, then once per segment and once per window).

Both are timed with ``time.process_time`` (CPU seconds of this process) and reported as CPU
seconds per audio second. Then the batch pipeline (each worker decodes its files and extracts
the cues, as ``spokenemo cues --manifest --workers N`` does) runs in a process pool of 1 and 2
workers: wall time, throughput and the scaling ratio. The machine
load (1-minute load average) is printed with the figures, since other jobs share the cores.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from spokenemo.audio import load_audio  # noqa: E402
from spokenemo.features.cues import CueExtractionConfig, extract_cues  # noqa: E402
from spokenemo.features.cues.syllables import intensity_peaks, select_nuclei  # noqa: E402

SR = 16000
N_FFT = 1024
HOP = 160


# --- the straightforward way -------------------------------------------------------------------
def _piptrack_strongest(y: np.ndarray, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    pitches, mags = librosa.piptrack(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, fmin=fmin, fmax=fmax)
    return pitches[mags.argmax(axis=0), np.arange(pitches.shape[1])]


def _rms_db(y: np.ndarray) -> np.ndarray:
    import librosa

    rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP)[0]
    return 20 * np.log10(np.maximum(rms, 1e-5))


def _span_stats(y: np.ndarray, a: int, b: int, silence_db: float, cfg: CueExtractionConfig) -> tuple[float, float]:
    """Mean voiced pitch and mean dB of y[a:b], each computed by its own librosa call."""
    part = y[a:b]
    pitch = _piptrack_strongest(part, cfg.fmin, cfg.fmax)
    level = _rms_db(part)
    voiced = pitch > 0
    if cfg.gate_pitch_by_silence:
        voiced &= _rms_db(part) > silence_db
    return (float(pitch[voiced].mean()) if voiced.any() else float("nan")), float(level.mean())


def naive_cues(y: np.ndarray, cfg: CueExtractionConfig) -> dict[str, object]:
    """The paper cue set with a librosa call per feature, per segment and per window."""
    duration = y.size / SR
    # coarse pitch: its own piptrack and its own RMS track (for the silence gate)
    pitch = _piptrack_strongest(y, cfg.fmin, cfg.fmax)
    level = _rms_db(y)
    silence_db = np.percentile(level, cfg.peak_percentile) - cfg.silence_below_peak_db
    voiced = (pitch > 0) & (level > silence_db) if cfg.gate_pitch_by_silence else pitch > 0
    mean_pitch = float(pitch[voiced].mean()) if voiced.any() else 0.0
    intensity = float(20 * np.log10(max(np.sqrt(np.mean(np.square(y, dtype=np.float64))), 1e-5)))
    # syllables: another RMS track
    level = _rms_db(y)
    noise = np.percentile(level, cfg.noise_percentile)
    sounding = (level > silence_db) & (level > cfg.db_floor)
    peaks = intensity_peaks(level)
    ok = sounding[peaks] & (level[peaks] >= noise + cfg.nucleus_above_noise_db)
    n_syll = select_nuclei(level, peaks[ok], cfg.nucleus_min_dip_db).size
    # phonation time: and another one
    phonation = min(float((_rms_db(y) > silence_db).sum()) * HOP / SR, duration)
    out: dict[str, object] = {"pitch": mean_pitch, "intensity": intensity, "speech_rate": n_syll / duration,
                              "articulation_rate": n_syll / phonation if phonation else 0.0}
    # windows, then segments: each slice analysed from its samples
    win, step = int(cfg.window_s * SR), int(cfg.step_s * SR)
    starts = range(0, y.size - win + 1, step) if y.size > win else [0]
    windows = [_span_stats(y, a, min(a + win, y.size), silence_db, cfg) for a in starts]
    wp = np.array([w[0] for w in windows])
    wl = np.array([w[1] for w in windows])
    for n in cfg.n_segments:
        edges = np.rint(np.linspace(0, y.size, n + 1)).astype(int)
        segs = [_span_stats(y, a, b, silence_db, cfg) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        for name, values, bounds, eps in (("pitch", [s[0] for s in segs], wp, cfg.pitch_flat_eps_hz),
                                          ("intensity", [s[1] for s in segs], wl, cfg.intensity_flat_eps_db)):
            finite = bounds[np.isfinite(bounds)]
            lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
            vals = []
            for v, s in zip(values, segs, strict=True):
                if s[1] <= silence_db or not np.isfinite(v):
                    vals.append(0.0)
                elif hi - lo < eps or hi <= lo:
                    vals.append(0.5)
                else:
                    vals.append(float(np.clip((v - lo) / (hi - lo), 0, 1)))
            out[f"{name}_seg_{n}"] = vals
    return out


# --- files -------------------------------------------------------------------------------------------
def list_files(data: Path, corpora: list[str], limit: int | None) -> list[Path]:
    patterns = {"ravdess": "ravdess/Actor_*/*.flac", "nemo": "nemo/samples/*.opus",
                "korean_emotiontts": "korean_emotiontts/*/*/wav/*.opus"}
    files: list[Path] = []
    for corpus in corpora:
        found = sorted(data.glob(patterns[corpus]))
        if not found:
            raise SystemExit(f"no {corpus} audio under {data}")
        if limit is not None and limit < len(found):
            found = [found[i] for i in np.linspace(0, len(found) - 1, limit).round().astype(int)]
        files += found
    return files


def _worker_extract(paths: list[str]) -> tuple[float, float]:
    """Decode and extract a chunk of files, as ``spokenemo cues --manifest`` workers do.

    Returns the CPU seconds of cue extraction and of decoding in this worker.
    """
    cfg = CueExtractionConfig()
    cues_cpu = decode_cpu = 0.0
    for path in paths:
        t0 = time.process_time()
        y = load_audio(path, sr=SR)
        t1 = time.process_time()
        extract_cues(y, cfg)
        cues_cpu += time.process_time() - t1
        decode_cpu += t1 - t0
    return cues_cpu, decode_cpu


def pool_run(files: list[Path], processes: int, chunk: int = 16) -> tuple[float, float, float]:
    """Wall seconds, worker CPU for cues and worker CPU for decoding, with a pool of workers.

    Workers get file paths (not signals), so the pool moves almost no data.
    """
    ctx = multiprocessing.get_context("spawn")
    names = [str(f) for f in files]
    chunks = [names[i:i + chunk] for i in range(0, len(names), chunk)]
    with ctx.Pool(processes) as pool:
        pool.map(_worker_extract, [names[:2]] * processes)          # start and warm every worker
        t0 = time.perf_counter()
        results = pool.map(_worker_extract, chunks, chunksize=1)
        wall = time.perf_counter() - t0
    return wall, sum(r[0] for r in results), sum(r[1] for r in results)


def _gender(path: Path) -> str:
    if path.suffix == ".flac":                       # RAVDESS: odd actor = male
        return "M" if int(path.stem.split("-")[-1]) % 2 else "F"
    return "M" if path.stem.split("_")[0] in {"SM0", "TP0"} else "F"   # nEMO male speakers


def pitch_agreement(files: list[Path]) -> dict[str, object]:
    """Frame-level agreement of piptrack (strongest / lowest peak) with pYIN on the same grid.

    Over frames voiced for both trackers, the interval ``d = 12*log2(piptrack / pyin)`` in
    semitones: "within a semitone" is ``|d| < 1``, an octave error ``||d| - 12| < 1``, a
    twelfth (3rd harmonic) ``||d| - 19| < 1``. Also the median voiced pitch per gender.
    """
    from spokenemo.features.cues import compute_tracks

    configs = {"strongest": CueExtractionConfig(gate_pitch_by_silence=True),
               "lowest": CueExtractionConfig(pitch_pick="lowest", gate_pitch_by_silence=True),
               "pyin": CueExtractionConfig(pitch_backend="pyin")}
    d: dict[str, list[np.ndarray]] = {"strongest": [], "lowest": []}
    pitches: dict[tuple[str, str], list[np.ndarray]] = {}
    voiced_frac: dict[str, list[float]] = {k: [] for k in configs}
    for path in files:
        y = load_audio(path, sr=SR)
        tracks = {name: compute_tracks(y, cfg) for name, cfg in configs.items()}
        ref = tracks["pyin"]
        for name, tr in tracks.items():
            pitches.setdefault((name, _gender(path)), []).append(tr.pitch[tr.voiced])
            voiced_frac[name].append(float(tr.voiced.mean()))
            if name != "pyin":
                both = tr.voiced & ref.voiced
                d[name].append(12 * np.log2(tr.pitch[both] / ref.pitch[both]))
    out: dict[str, object] = {"files": len(files)}
    for name, parts in d.items():
        semis = np.abs(np.concatenate(parts))
        out[name] = {"frames_voiced_in_both": int(semis.size),
                     "within_1_semitone": float(np.mean(semis < 1)),
                     "octave_error": float(np.mean(np.abs(semis - 12) < 1)),
                     "twelfth_error": float(np.mean(np.abs(semis - 19) < 1)),
                     "double_octave_error": float(np.mean(np.abs(semis - 24) < 1))}
    out["median_pitch_hz"] = {f"{name}/{g}": float(np.median(np.concatenate(v))) for (name, g), v in
                              sorted(pitches.items())}
    out["voiced_fraction"] = {k: float(np.mean(v)) for k, v in voiced_frac.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--corpora", nargs="+", default=["ravdess", "nemo"])
    ap.add_argument("--limit", type=int, help="files per corpus (evenly spaced); default: all")
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="pool sizes for the scaling run")
    ap.add_argument("--pitch-agreement", action="store_true",
                    help="instead of timing: compare piptrack's pitch with pYIN (slow: use --limit)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    files = list_files(args.data, args.corpora, args.limit)
    if args.pitch_agreement:
        res = pitch_agreement(files)
        print(json.dumps(res, indent=1))
        if args.json:
            args.json.write_text(json.dumps(res, indent=1) + "\n")
        return 0
    cfg = CueExtractionConfig()
    load_start = os.getloadavg()[0]

    t0 = time.process_time()
    signals = [load_audio(f, sr=SR) for f in files]
    decode_cpu = time.process_time() - t0
    audio_s = sum(y.size for y in signals) / SR

    extract_cues(signals[0], cfg)              # warm-up (imports, caches)
    naive_cues(signals[0], cfg)                # warm-up (numba JIT of librosa's stencils)

    fast_cpu = naive_cpu = 0.0
    diffs: dict[str, list[float]] = {"pitch": [], "speech_rate": [], "pitch_seg_7": [], "intensity_seg_7": []}
    for y in signals:
        t = time.process_time()
        fast = extract_cues(y, cfg)
        fast_cpu += time.process_time() - t
        t = time.process_time()
        slow = naive_cues(y, cfg)
        naive_cpu += time.process_time() - t
        diffs["pitch"].append(abs(fast.coarse["pitch"] - float(slow["pitch"])))  # type: ignore[arg-type]
        diffs["speech_rate"].append(abs(fast.coarse["speech_rate"] - float(slow["speech_rate"])))  # type: ignore[arg-type]
        for key, ours in (("pitch_seg_7", fast.fine[7].pitch), ("intensity_seg_7", fast.fine[7].intensity)):
            diffs[key].append(float(np.mean(np.abs(np.array(ours) - np.array(slow[key])))))

    scaling = {}
    for p in args.processes:
        wall, cpu, dec = pool_run(files, p)
        scaling[p] = {"wall_s": wall, "cues_cpu_s": cpu, "decode_cpu_s": dec, "audio_s_per_wall_s": audio_s / wall,
                      "cues_cpu_per_audio_s": cpu / audio_s}
    load_end = os.getloadavg()[0]

    fast_rtf, naive_rtf = fast_cpu / audio_s, naive_cpu / audio_s
    res = {
        "files": len(files), "corpora": args.corpora, "audio_s": audio_s, "cpu_count": os.cpu_count(),
        "load_avg_1min": [load_start, load_end],
        "decode_cpu_per_audio_s": decode_cpu / audio_s,
        "tracks_cpu_per_audio_s": fast_rtf, "straightforward_cpu_per_audio_s": naive_rtf,
        "speedup": naive_rtf / fast_rtf,
        "mean_abs_diff": {k: float(np.mean(v)) for k, v in diffs.items()},
        "scaling": scaling,
    }
    print(f"files: {len(files)} ({', '.join(args.corpora)}), audio: {audio_s:.0f} s, "
          f"load average {load_start:.1f} -> {load_end:.1f} on {os.cpu_count()} cores")
    print(f"decoding (load_audio, not part of the cue cost): {decode_cpu / audio_s:.5f} CPU s per audio s")
    print(f"cue set, one STFT + track slices : {fast_rtf:.5f} CPU s per audio s  ({fast_cpu:.1f} s CPU)")
    print(f"cue set, straightforward librosa : {naive_rtf:.5f} CPU s per audio s  ({naive_cpu:.1f} s CPU)")
    print(f"speed-up: {naive_rtf / fast_rtf:.1f}x")
    print("agreement (mean |tracks - straightforward|): " + ", ".join(
        f"{k} {v:.3g}" for k, v in res["mean_abs_diff"].items()))
    base = scaling.get(1)
    for p, s in scaling.items():
        ratio = f", scaling vs 1 process {s['audio_s_per_wall_s'] / base['audio_s_per_wall_s']:.2f}x" if base else ""
        print(f"pool of {p} (decode + cues per file): {s['wall_s']:.2f} s wall, "
              f"{s['audio_s_per_wall_s']:.0f} audio s per wall s, cues {s['cues_cpu_per_audio_s']:.5f} CPU s "
              f"per audio s{ratio}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
