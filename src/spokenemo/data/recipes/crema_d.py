"""CREMA-D (Cao et al. 2014), github.com/CheyneyComputerScience/CREMA-D.

Layout: ``<root>/AudioWAV/AAAA_SSS_EEE_II.wav`` (actor 1001..1091, sentence code, emotion
ANG/DIS/FEA/HAP/NEU/SAD, intensity LO/MD/HI/XX) and ``<root>/VideoDemographics.csv``
(``ActorID, Age, Sex, Race, Ethnicity``) for gender and age.

Keys: ``crema_d/<actor>/<stem>``; ``raw_label`` is the three-letter emotion code.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

from spokenemo.data._common import finish
from spokenemo.data._find import describe_folder, iter_audio, layout_error, resolve_root
from spokenemo.data.manifest import Segment

log = logging.getLogger(__name__)

CORPUS = "crema_d"
EXPECTED = "AudioWAV/ with files named like 1001_DFA_ANG_XX.wav (and VideoDemographics.csv)"

EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
INTENSITIES = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}

_NAME = re.compile(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})")


def read_demographics(path: Path) -> dict[str, dict[str, str]]:
    """ActorID -> row of ``VideoDemographics.csv`` (empty when the file is absent)."""
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows and "ActorID" not in rows[0]:
        raise layout_error(CORPUS, path.parent, f"{path.name} with columns ActorID, Age, Sex, Race, Ethnicity",
                           f"columns {sorted(rows[0])}")
    return {r["ActorID"].strip(): r for r in rows}


def prepare(root: str | Path, *, with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build the CREMA-D manifest (7,442 clips of 91 actors in the full release).

    Parameters
    ----------
    root : path
        The CREMA-D folder holding ``AudioWAV/`` (any audio extension) and
        ``VideoDemographics.csv``. Without the CSV, gender is left empty (with a warning).
    with_duration : bool
        Read every audio header to fill ``duration``. Git LFS pointer files (a clone without
        ``git lfs pull``) are reported in ``extra['audio_error']``.
    on_missing : {'error', 'skip', 'keep'}
        Unused (the file names are the labels); kept for a uniform recipe signature.
    """
    root = resolve_root(root, CORPUS, EXPECTED)
    audio_dir = root / "AudioWAV"
    if not audio_dir.is_dir():
        raise layout_error(CORPUS, root, EXPECTED, describe_folder(root))
    demo = read_demographics(root / "VideoDemographics.csv")
    if not demo:
        log.warning("%s: %s not found, gender and age left empty", CORPUS, root / "VideoDemographics.csv")
    utts: list[Segment] = []
    for path in iter_audio(audio_dir, recursive=False):
        m = _NAME.fullmatch(path.stem)
        if m is None or m.group(3) not in EMOTIONS:
            continue
        actor, sentence, emo, intensity = m.groups()
        row = demo.get(actor, {})
        extra: dict[str, object] = {"sentence": sentence, "intensity": INTENSITIES.get(intensity, intensity)}
        age = (row.get("Age") or "").strip()
        if age.isdigit():
            extra["age"] = int(age)
        for col in ("Race", "Ethnicity"):
            if (row.get(col) or "").strip():
                extra[col.lower()] = row[col].strip()
        sex = (row.get("Sex") or "").strip().lower()
        utts.append(Segment(
            key=f"{CORPUS}/{actor}/{path.stem}",
            path=str(path),
            label=EMOTIONS[emo],
            raw_label=emo,
            speaker=actor,
            gender={"male": "M", "female": "F"}.get(sex),
            text=SENTENCES.get(sentence),
            corpus=CORPUS,
            language="en",
            extra=extra,
        ))
    if not utts:
        raise layout_error(CORPUS, root, EXPECTED, f"AudioWAV/ holds {describe_folder(audio_dir)}")
    return finish(utts, CORPUS, root, with_duration=with_duration, on_missing=on_missing)
