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
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

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

CORPUS = "msp_podcast"
EXPECTED = "Labels/labels_consensus.csv and an Audios/ folder"
COLUMNS = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")

EMOTIONS = {"A": "angry", "S": "sad", "H": "happy", "U": "surprised", "F": "fearful", "D": "disgust",
            "C": "contempt", "N": "neutral", "O": "other", "X": "unknown"}
SPLITS = {"train": "train", "development": "dev", "validation": "dev", "test1": "test1",
          "test2": "test2", "test3": "test3", "test": "test"}

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


def prepare(root: str | Path, *, with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build the MSP-Podcast manifest from ``labels_consensus.csv``.

    Parameters
    ----------
    root : path
        The release folder holding ``Labels/``, ``Audios/`` and ``Transcripts/``.
    with_duration : bool
        Read every audio header to fill ``duration``.
    on_missing : {'error', 'skip', 'keep'}
        What to do with label rows whose audio file is missing.
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
    return finish(utts, CORPUS, root, with_duration=with_duration, on_missing=on_missing)
