"""nEMO (Christop 2024), Polish emotional speech, github.com/amu-cai/nEMO.

Layout: ``<root>/data.tsv`` (columns ``file_id, emotion, raw_text, normalized_text, speaker_id,
gender, age``; ``file_id`` ends in ``.wav``; ``speaker_id`` carries leading spaces) and the audio
under ``<root>/samples/`` with stems equal to ``file_id`` without ``.wav``.

Keys: ``nemo/<speaker>/<stem>``; ``raw_label`` is the ``emotion`` column (``"anger"``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from spokenemo.data._common import MISSING_KEY, canonical_label, check_on_missing, finish
from spokenemo.data._find import describe_folder, expected_audio, index_audio, layout_error, resolve_root
from spokenemo.data.manifest import Segment

CORPUS = "nemo"
EXPECTED = "data.tsv and a samples/ folder of audio"
COLUMNS = ("file_id", "emotion", "raw_text", "normalized_text", "speaker_id", "gender", "age")
EMOTIONS = {"anger": "angry", "fear": "fearful", "happiness": "happy", "neutral": "neutral",
            "sadness": "sad", "surprised": "surprised"}
GENDERS = {"female": "F", "male": "M"}


def prepare(root: str | Path, *, with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build the nEMO manifest from ``data.tsv``.

    Parameters
    ----------
    root : path
        Folder holding ``data.tsv`` and ``samples/``.
    with_duration : bool
        Read every audio header to fill ``duration``.
    on_missing : {'error', 'skip', 'keep'}
        What to do with ``data.tsv`` rows whose audio is not in ``samples/``.
    """
    check_on_missing(on_missing)
    root = resolve_root(root, CORPUS, EXPECTED)
    tsv = root / "data.tsv"
    if not tsv.is_file():
        raise layout_error(CORPUS, root, EXPECTED, describe_folder(root))
    samples = root / "samples"
    audio = index_audio(samples)
    with open(tsv, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing_cols = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing_cols:
            raise layout_error(CORPUS, root, f"{tsv.name} with columns {', '.join(COLUMNS)}",
                               f"columns {reader.fieldnames}")
        utts: list[Segment] = []
        for line_no, row in enumerate(reader, start=2):
            stem = Path(row["file_id"].strip()).stem
            speaker = row["speaker_id"].strip()
            path = audio.get(stem)
            extra: dict[str, object] = {"normalized_text": row["normalized_text"].strip()}
            age = row["age"].strip()
            if age.isdigit():
                extra["age"] = int(age)
            if path is None:
                extra[MISSING_KEY] = expected_audio(samples, stem)
            emotion = row["emotion"].strip()
            utts.append(Segment(
                key=f"{CORPUS}/{speaker}/{stem}",
                path=str(path) if path else None,
                label=canonical_label(emotion, EMOTIONS, CORPUS, f"{tsv}:{line_no}"),
                raw_label=emotion,
                speaker=speaker,
                gender=GENDERS.get(row["gender"].strip().lower()),
                text=row["raw_text"].strip(),
                corpus=CORPUS,
                language="pl",
                extra=extra,
            ))
    return finish(utts, CORPUS, root, with_duration=with_duration, on_missing=on_missing)
