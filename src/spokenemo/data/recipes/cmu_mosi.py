"""CMU-MOSI (Zadeh et al. 2016): opinion segments of 93 YouTube monologue videos, sentiment in [-3, 3].

Layout (the MMSA / MMSA-FET distribution of the release): ``label.csv`` with columns
``video_id, clip_id, text, label[, label_T, label_A, label_V], annotation, mode`` and the clips
``Raw/<video_id>/<clip_id>.<ext>`` (mp4 as distributed, or converted wav/flac). ``mode`` is the
official split (``train``/``valid``/``test``, written as ``train``/``dev``/``test``).

MOSI carries sentiment, not emotion: ``label`` is the sentiment class of the score (``positive``
> 0, ``negative`` < 0, ``neutral`` = 0; the thesis's binary task drops ``neutral``), ``raw_label``
the score as text, ``extra["sentiment_score"]`` the float. A **video** is a monologue, so
``dialogue`` is the video id and ``turn`` the clip id (segments of a video in temporal order);
``speaker`` is the video id too (one speaker per video).

Keys: ``cmu_mosi/<video_id>/<clip_id>``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from spokenemo.core.errors import CorpusLayoutError
from spokenemo.data._common import MISSING_KEY, check_on_missing, finish
from spokenemo.data._find import (
    describe_folder,
    expected_audio,
    iter_audio,
    layout_error,
    read_text,
    resolve_root,
)
from spokenemo.data.manifest import Segment

CORPUS = "cmu_mosi"
EXPECTED = "label.csv (video_id, clip_id, text, label, mode) and Raw/<video_id>/<clip_id>.<ext>"
COLUMNS = ("video_id", "clip_id", "text", "label", "mode")
SPLITS = {"train": "train", "valid": "dev", "dev": "dev", "test": "test"}


def sentiment_class(score: float) -> str:
    """``positive`` (> 0), ``negative`` (< 0) or ``neutral`` (0)."""
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def _row(row: dict[str, str], line: int, csv_path: Path, audio: dict[str, Path], raw: Path) -> Segment:
    video, clip = row["video_id"].strip(), row["clip_id"].strip()
    try:
        score, turn = float(row["label"]), int(clip)
    except ValueError as err:
        raise CorpusLayoutError(f"{csv_path}:{line}: clip_id must be an integer and label a number ({err})",
                                hint="the row is damaged; compare it with the release's label.csv") from None
    mode = row["mode"].strip().lower()
    if mode not in SPLITS:
        raise CorpusLayoutError(f"{csv_path}:{line}: mode {mode!r} is not train, valid or test")
    extra: dict[str, object] = {"sentiment_score": score}
    path = audio.get(f"{video}/{clip}")
    if path is None:
        extra[MISSING_KEY] = expected_audio(raw / video, clip)
    return Segment(key=f"{CORPUS}/{video}/{clip}", path=str(path) if path else None, label=sentiment_class(score),
                   raw_label=row["label"].strip(), speaker=video, dialogue=video, turn=turn,
                   text=row["text"].strip() or None, corpus=CORPUS, language="en", split=SPLITS[mode], extra=extra)


def prepare(root: str | Path, *, with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build the CMU-MOSI manifest from ``label.csv`` and ``Raw/`` (module docstring)."""
    check_on_missing(on_missing)
    root = resolve_root(root, CORPUS, EXPECTED)
    csv_path = root / "label.csv"
    if not csv_path.is_file():
        raise layout_error(CORPUS, root, EXPECTED, describe_folder(root))
    rows = list(csv.DictReader(io.StringIO(read_text(csv_path), newline="")))
    lacking = [c for c in COLUMNS if rows and c not in rows[0]]
    if not rows or lacking:
        raise layout_error(CORPUS, root, f"label.csv with columns {', '.join(COLUMNS)}",
                           f"columns {sorted(rows[0]) if rows else '(empty file)'}")
    raw = root / "Raw"
    audio: dict[str, Path] = {}
    for p in sorted(iter_audio(raw)) if raw.is_dir() else []:  # clip ids repeat across videos: key by folder too
        audio.setdefault(f"{p.parent.name}/{p.stem}", p)
    utts = [_row(row, line, csv_path, audio, raw) for line, row in enumerate(rows, start=2)]
    return finish(utts, CORPUS, root, with_duration=with_duration, on_missing=on_missing)
