"""Write the training medians of the cue evidence (``features/evidence/training_medians.json``).

The medians of every evidence cue over clips of the default model's *training* speakers (its
held-out speakers, RAVDESS actors 01-04, nEMO TP0 and Korean emh, are left out), all emotions,
``--per-speaker`` clips per speaker chosen with a fixed seed::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/evidence_medians.py --per-speaker 10

Pooled over men and women and over corpora, these medians are the weakest baseline: the text
names them as such, and the speaker's own segments or reference clips should be preferred.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from spokenemo.audio import load_audio  # noqa: E402
from spokenemo.features.evidence import Baseline, measure_cues  # noqa: E402
from spokenemo.features.evidence.evidence import TRAINING_MEDIANS  # noqa: E402

HELD_OUT = {"01", "02", "03", "04", "TP0", "emh"}


def speakers(data: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for actor in sorted((data / "ravdess").glob("Actor_*")):
        out[actor.name[-2:]] = sorted(actor.glob("*.flac"))
    for f in sorted((data / "nemo" / "samples").glob("*.opus")):
        out.setdefault(f.name.split("_")[0], []).append(f)
    return {k: v for k, v in out.items() if k not in HELD_OUT}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--per-speaker", type=int, default=10)
    ap.add_argument("-o", "--output", type=Path, default=TRAINING_MEDIANS)
    args = ap.parse_args()
    rng = random.Random(0)
    measures = []
    chosen = speakers(args.data)
    for files in chosen.values():
        for f in rng.sample(files, min(args.per_speaker, len(files))):
            measures.append(measure_cues(load_audio(f, sr=16000), 16000))
    base = Baseline.from_measures(measures, source="training", description=(
        f"training medians ({len(measures)} clips of {len(chosen)} RAVDESS and nEMO speakers, men and women "
        "pooled)"))
    base.save(args.output)
    print(base.to_dict())


if __name__ == "__main__":
    main()
