"""MSP-Podcast (Lotfian & Busso 2019), UT Dallas MSP lab, release 1.10 and later.

Layout: ``<root>/Labels/labels_consensus.csv`` (``FileName, EmoClass, EmoAct, EmoVal, EmoDom,
SpkrID, Gender, Split_Set``), audio ``<root>/Audios/<FileName>`` and transcripts
``<root>/Transcripts/<stem>.txt``. ``EmoClass`` codes: A angry, S sad, H happy, U surprised,
F fear, D disgust, C contempt, N neutral, O other, X no agreement.

``Split_Set`` is kept as ``train``, ``dev`` (Development), ``test1``, ``test2``, ``test3``.
Keys: ``msp_podcast/<speaker or 'unknown'>/<stem>``; ``raw_label`` is the one-letter code.

File names ``MSP-PODCAST_<podcast>_<segment>[_<part>].wav`` name the podcast episode a segment was
cut from: ``dialogue`` is the podcast id (``"0001"``) and ``turn`` the segment's rank among that
podcast's labelled segments by segment (then part) number. Names in another form get neither.

**The Interspeech 2025 challenge** (ABHINAYA, thesis.md 5.2) uses the same layout with 8 classes:

- :func:`challenge_segments` (or ``prepare(..., challenge=True)``) drops "other" (``O``) and "no
  agreement" (``X``) and rows without a label, and counts what it dropped;
- :func:`balanced_validation` draws the balanced validation subset the thesis selects models on
  (326 utterances per class of the development split, seeded);
- :func:`cache_transcripts` fills missing transcripts from a JSONL cache and transcribes (with a
  caller-given ASR function, Whisper-large-v3 in the thesis) only what the cache lacks, appending
  each new transcript as soon as it exists, so a rerun never transcribes a file twice.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from spokenemo.core.errors import ProtocolError
from spokenemo.core.fileio import append_jsonl
from spokenemo.core.sampling import seeded_order
from spokenemo.data._common import MISSING_KEY, canonical_label, check_on_missing, finish
from spokenemo.data._find import (
    describe_folder,
    expected_audio,
    index_audio,
    layout_error,
    read_text,
    resolve_root,
)
from spokenemo.data.manifest import Segment

log = logging.getLogger(__name__)

CORPUS = "msp_podcast"
EXPECTED = "Labels/labels_consensus.csv and an Audios/ folder"
COLUMNS = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")

EMOTIONS = {"A": "angry", "S": "sad", "H": "happy", "U": "surprised", "F": "fearful", "D": "disgust",
            "C": "contempt", "N": "neutral", "O": "other", "X": "unknown"}
SPLITS = {"train": "train", "development": "dev", "validation": "dev", "test1": "test1",
          "test2": "test2", "test3": "test3", "test": "test"}

#: The challenge's classes (canonical names) and the labels it drops ("other", "no agreement").
CHALLENGE_CLASSES = ("angry", "contempt", "disgust", "fearful", "happy", "neutral", "sad", "surprised")
CHALLENGE_DROPPED = ("other", "unknown")
#: Utterances per class of the thesis's balanced validation subset (8 x 326 = 2,608).
BALANCED_VALID_PER_CLASS = 326

_FILE_NAME = re.compile(r"^MSP-PODCAST_(\d+)_(\d+)(?:_(\d+))?$", re.IGNORECASE)


def podcast_turns(stems: list[str]) -> dict[str, tuple[str, int]]:
    """Stem -> (podcast id, turn) for the stems named ``MSP-PODCAST_<podcast>_<segment>[_<part>]``.

    >>> podcast_turns(["MSP-PODCAST_0001_0010", "MSP-PODCAST_0001_0008", "other"])
    {'MSP-PODCAST_0001_0008': ('0001', 0), 'MSP-PODCAST_0001_0010': ('0001', 1)}
    """
    order: dict[str, list[tuple[int, int, str]]] = {}
    for stem in stems:
        m = _FILE_NAME.match(stem)
        if m is not None:
            order.setdefault(m.group(1), []).append((int(m.group(2)), int(m.group(3) or 0), stem))
    return {stem: (podcast, turn) for podcast, items in order.items()
            for turn, (_, _, stem) in enumerate(sorted(items))}


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def prepare(root: str | Path, *, with_duration: bool = True, on_missing: str = "error",
            challenge: bool = False) -> list[Segment]:
    """Build the MSP-Podcast manifest from ``labels_consensus.csv``.

    Parameters
    ----------
    root : path
        The release folder holding ``Labels/``, ``Audios/`` and ``Transcripts/``.
    with_duration : bool
        Read every audio header to fill ``duration``.
    on_missing : {'error', 'skip', 'keep'}
        What to do with label rows whose audio file is missing.
    challenge : bool
        The challenge's 8 classes only: rows labelled "other" or "no agreement", and rows without
        a label, are dropped (:func:`challenge_segments`).
    """
    check_on_missing(on_missing)
    root = resolve_root(root, CORPUS, EXPECTED)
    labels = root / "Labels" / "labels_consensus.csv"
    if not labels.is_file():
        raise layout_error(CORPUS, root, EXPECTED, describe_folder(root))
    audio_dir = next((root / n for n in ("Audios", "Audio") if (root / n).is_dir()), root / "Audios")
    audio = index_audio(audio_dir)
    transcripts = root / "Transcripts"
    with open(labels, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        lacking = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if lacking:
            raise layout_error(CORPUS, labels.parent, f"{labels.name} with columns {', '.join(COLUMNS)}",
                               f"columns {reader.fieldnames}")
        rows = list(reader)
    if challenge:
        unlabelled = [r for r in rows if not (r.get("EmoClass") or "").strip()]
        rows = [r for r in rows if (r.get("EmoClass") or "").strip()]
        if unlabelled:
            log.info("msp_podcast: %d rows without a label skipped (challenge)", len(unlabelled))
    utts: list[Segment] = []
    turns = podcast_turns([Path(row["FileName"].strip()).stem for row in rows])
    for line_no, row in enumerate(rows, start=2):
        stem = Path(row["FileName"].strip()).stem
        dialogue, turn = turns.get(stem, (None, None))
        spk = row["SpkrID"].strip()
        speaker = None if spk.lower() in ("", "unknown") else spk
        raw = row["EmoClass"].strip()
        split_raw = row["Split_Set"].strip()
        extra: dict[str, object] = {"split_set": split_raw}
        for col, name in (("EmoAct", "arousal"), ("EmoVal", "valence"), ("EmoDom", "dominance")):
            v = _float(row.get(col))
            if v is not None:
                extra[name] = v
        path = audio.get(stem)
        if path is None:
            extra[MISSING_KEY] = expected_audio(audio_dir, stem)
        tpath = transcripts / f"{stem}.txt"
        text = (read_text(tpath).strip() or None) if tpath.is_file() else None
        gender = row["Gender"].strip().lower()
        utts.append(Segment(
            key=f"{CORPUS}/{speaker or 'unknown'}/{stem}",
            path=str(path) if path else None,
            label=canonical_label(raw, EMOTIONS, CORPUS, f"{labels}:{line_no}"),
            raw_label=raw,
            speaker=speaker,
            gender={"male": "M", "female": "F"}.get(gender),
            dialogue=dialogue,
            turn=turn,
            text=text,
            corpus=CORPUS,
            language="en",
            split=SPLITS.get(split_raw.lower(), split_raw.lower() or None),
            extra=extra,
        ))
    if challenge:
        utts = challenge_segments(utts)[0]
    return finish(utts, CORPUS, root, with_duration=with_duration, on_missing=on_missing)


def challenge_segments(segments: Sequence[Segment]) -> tuple[list[Segment], dict[str, int]]:
    """The segments of the challenge's 8 classes, and how many of each dropped label were removed."""
    dropped = Counter(str(u.label) for u in segments if u.label in CHALLENGE_DROPPED)
    kept = [u for u in segments if u.label not in CHALLENGE_DROPPED]
    if dropped:
        log.info("msp_podcast challenge: dropped %s", dict(dropped))
    return kept, dict(dropped)


def balanced_validation(segments: Sequence[Segment], per_class: int = BALANCED_VALID_PER_CLASS, seed: int = 0,
                        split: str = "dev") -> list[Segment]:
    """``per_class`` segments of each challenge class from ``split``, chosen by a seeded hash of the keys.

    Raises
    ------
    ProtocolError
        A class of the split has fewer than ``per_class`` segments (the hint gives the counts).
    """
    by_class: dict[str, list[Segment]] = {c: [] for c in CHALLENGE_CLASSES}
    for u in segments:
        if u.split == split and u.label in by_class:
            by_class[str(u.label)].append(u)
    counts = {c: len(m) for c, m in by_class.items()}
    short = sorted(c for c, n in counts.items() if n < per_class)
    if short:
        raise ProtocolError(f"balanced validation subset: class(es) {short} have fewer than {per_class} "
                            f"{split} segments", hint=f"counts: {counts}; ask for fewer per class")
    keep = {u.key for members in by_class.values() for u in seeded_order(members, seed)[:per_class]}
    return [u for u in segments if u.key in keep]


def cache_transcripts(segments: Sequence[Segment], cache: str | Path,
                      transcribe: Callable[[Sequence[Segment]], Sequence[str]] | None = None,
                      *, batch: int = 16) -> list[Segment]:
    """The segments with ``text`` filled from the JSONL ``cache`` (``{"key", "text"}`` rows, later
    rows win), transcribing with ``transcribe`` only the segments neither has (each batch appended
    to the cache at once). Segments with a transcript keep it. Without ``transcribe`` the ones still
    lacking text keep ``text=None``."""
    cache = Path(cache)
    known: dict[str, str] = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a torn last line of a killed run
                continue
            known[str(row["key"])] = str(row["text"])
    todo = [u for u in segments if not (u.text or "").strip() and u.key not in known]
    if transcribe is not None:
        for i in range(0, len(todo), batch):
            chunk = todo[i:i + batch]
            texts = list(transcribe(chunk))
            if len(texts) != len(chunk):
                raise ProtocolError(f"transcribe returned {len(texts)} texts for {len(chunk)} segments")
            rows = [{"key": u.key, "text": str(t).strip()} for u, t in zip(chunk, texts, strict=True)]
            for row in rows:
                append_jsonl(cache, row)
            known.update({r["key"]: r["text"] for r in rows})
    return [u if (u.text or "").strip() or u.key not in known else u.model_copy(update={"text": known[u.key]})
            for u in segments]
