"""Faithfulness of explanations: teacher caches and the demo page, against their cue text and the audio.

Run from the repository root (one core)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/explanation_faithfulness.py \
        --manifest runs/evidence/teacher/subset.jsonl --all runs/evidence/teacher/all.jsonl \
        --cache smollm2=runs/evidence/teacher/smollm2.jsonl --cache grounded=runs/evidence/teacher/grounded.jsonl \
        --grounded-audio runs/evidence/teacher/grounded_audio.jsonl --demo runs/demo/index.html \
        -o runs/evidence/faithfulness.json

For every valid row of each cache the explanation (``reasoning``) is checked

- against the cue text its prompt showed (the words were fitted on the pooled medians of the cue
  table), and
- against cue evidence measured from the audio with ``--references`` other clips of the same
  speaker (from ``--all``, seeded) as the baseline.

``--grounded-audio`` also runs the grounded teacher with that audio evidence (keyed by each
prompt's cue text) and writes its cache. ``--demo`` reads a ``make demo`` page (cue line and
"Why" text of each card) and checks it the same way, with the actor's other demo clips as reference.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from spokenemo.api.evidence import measure  # noqa: E402
from spokenemo.data.manifest import read_manifest  # noqa: E402
from spokenemo.features.evidence import Baseline, check_faithfulness, compare, evidence_from_cue_text  # noqa: E402
from spokenemo.features.evidence.scoring import FaithfulnessSummary  # noqa: E402
from spokenemo.llm.grounded import GroundedTeacher  # noqa: E402
from spokenemo.systems.aecotd.teacher import read_cache, run_teacher  # noqa: E402

_MEASURES: dict[str, object] = {}


def cached_measure(path: str):
    if path not in _MEASURES:
        _MEASURES[path] = measure(path)
    return _MEASURES[path]


def audio_evidence(segments, all_segments, k: int, seed: int) -> dict:
    """key -> evidence of the clip against k other clips of its speaker."""
    by_speaker: dict[str, list] = {}
    for s in all_segments:
        by_speaker.setdefault(s.speaker, []).append(s)
    out = {}
    for s in segments:
        others = [o for o in by_speaker[s.speaker] if o.key != s.key]
        refs = random.Random(f"{seed}/{s.key}").sample(others, min(k, len(others)))
        base = Baseline.from_measures([cached_measure(o.path) for o in refs], source="reference")
        out[s.key] = compare(cached_measure(s.path), base)
    return out


def score(rows, evidence_of) -> dict:
    summary = FaithfulnessSummary()
    for row in rows:
        ev = evidence_of(row)
        if ev is not None and row.get("reasoning"):
            summary.add(check_faithfulness(row["reasoning"], ev))
    return summary.to_dict() | {"line": summary.line()}


def demo_cards(page: Path) -> list[dict]:
    text = page.read_text()
    cards = []
    for sec in text.split('<section class="clip"')[1:]:
        name = re.search(r'class="file">([^<]*)', sec).group(1)
        cues = html.unescape(re.search(r"<pre>(.*?)</pre>", sec, re.S).group(1))
        why = html.unescape(re.sub(r"<[^>]+>", "", re.search(r'<p class="why"><b>Why:</b>(.*?)</p>', sec, re.S).group(1)))
        cards.append({"name": name, "cues": cues, "reasoning": why.strip()})
    return cards


def demo_scores(page: Path) -> dict:
    cards = demo_cards(page)
    clips = {p.name: p for p in (REPO / "tests" / "data" / "ravdess").rglob("*.flac")}
    evidence = {}
    for card in cards:
        clip = clips[card["name"]]
        refs = [p for p in clip.parent.glob("*.flac") if p != clip]
        evidence[card["name"]] = compare(cached_measure(str(clip)),
                                         Baseline.from_measures([cached_measure(str(p)) for p in refs], source="reference"))
    return {"cards": len(cards),
            "against_cue_text": score(cards, lambda r: evidence_from_cue_text(r["cues"])),
            "against_audio": score(cards, lambda r: evidence[r["name"]])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--all", type=Path, required=True, help="manifest with the speakers' other clips")
    ap.add_argument("--cache", action="append", default=[], help="NAME=PATH of a teacher cache")
    ap.add_argument("--grounded-audio", type=Path, help="write (and score) the grounded teacher with audio evidence")
    ap.add_argument("--demo", type=Path)
    ap.add_argument("--references", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args()

    segments = read_manifest(args.manifest)
    audio = audio_evidence(segments, read_manifest(args.all), args.references, args.seed)
    caches = dict(c.split("=", 1) for c in args.cache)
    if args.grounded_audio:
        rows = {r["key"]: r for r in read_cache(next(iter(caches.values())))}
        texts = {k: r["cues"] for k, r in rows.items()}
        by_text = {texts[k]: audio[k] for k in texts if k in audio}
        run_teacher([s for s in segments if s.key in texts], texts, args.grounded_audio,
                    backend=GroundedTeacher(evidence=by_text), labels=["angry", "happy", "neutral", "sad"],
                    progress=False)
        caches["grounded-audio"] = str(args.grounded_audio)
    result: dict = {"references_per_clip": args.references, "clips": len(segments)}
    for name, path in caches.items():
        rows = [r for r in read_cache(path) if r.get("valid")]
        result[name] = {"valid_rows": len(rows), "rows": len(read_cache(path)),
                        "against_cue_text": score(rows, lambda r: evidence_from_cue_text(r["cues"])),
                        "against_audio": score(rows, lambda r: audio.get(r["key"]))}
    if args.demo:
        result["demo"] = demo_scores(args.demo)
    print(json.dumps(result, indent=1))
    if args.output:
        args.output.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
