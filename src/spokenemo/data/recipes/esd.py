"""ESD, Emotional Speech Dataset (Zhou et al. 2021), github.com/HLTSingapore/Emotional-Speech-Data.

Layout: ``<root>/<speaker>/<Emotion>/[train|evaluation|test/]<speaker>_<nnnnnn>.wav`` for speakers
0001..0010 (Mandarin) and 0011..0020 (English), emotions Angry, Happy, Neutral, Sad, Surprise,
and ``<root>/<speaker>/<speaker>.txt`` with ``0001_000001<TAB>text<TAB>emotion`` lines (UTF-8 or
UTF-16; Mandarin speakers name the emotion in Chinese).

Each speaker reads 350 sentences per emotion, numbered in blocks: Neutral 1-350, Angry 351-700,
Happy 701-1050, Sad 1051-1400, Surprise 1401-1750. The official split takes, within each
block, the first 20 for evaluation, the next 30 for test and the other 300 for training. When
the release's ``train/``, ``evaluation/``, ``test/`` sub-folders are present they give the split;
otherwise (flat copies) the block rule does. ``split`` is ``train``/``dev``/``test`` (evaluation
-> dev); ``extra['esd_split']`` keeps the ESD name.

Keys: ``esd/<speaker>/<stem>``; ``raw_label`` is the emotion folder name (``"Angry"``).
"""

from __future__ import annotations

import re
from pathlib import Path

from spokenemo.data._common import MISSING_KEY, check_on_missing, finish
from spokenemo.data._find import (
    child_dirs,
    describe_folder,
    expected_audio,
    iter_audio,
    layout_error,
    read_text,
    resolve_root,
)
from spokenemo.data.manifest import Segment

CORPUS = "esd"
EXPECTED = "speaker folders 0001 ... 0020 holding Angry/ Happy/ Neutral/ Sad/ Surprise/ and <speaker>.txt"

EMOTIONS = {"Angry": "angry", "Happy": "happy", "Neutral": "neutral", "Sad": "sad", "Surprise": "surprised"}
#: First utterance number of each emotion's block of 350.
BLOCK_START = {"Neutral": 1, "Angry": 351, "Happy": 701, "Sad": 1051, "Surprise": 1401}
BLOCK = 350
GENDERS = {"0001": "F", "0002": "F", "0003": "F", "0004": "M", "0005": "M", "0006": "M", "0007": "F",
           "0008": "M", "0009": "F", "0010": "M", "0011": "M", "0012": "M", "0013": "M", "0014": "M",
           "0015": "F", "0016": "F", "0017": "F", "0018": "F", "0019": "F", "0020": "M"}
_SPLIT_DIRS = {"train": "train", "evaluation": "dev", "test": "test"}
_STEM = re.compile(r"(\d{4})_(\d{6})")


def split_of(number: int) -> tuple[str, str] | None:
    """(split, ESD split name) of an utterance number by the block rule, or None outside 1..1750.

    Examples
    --------
    >>> split_of(351), split_of(371), split_of(401), split_of(1750)
    (('dev', 'evaluation'), ('test', 'test'), ('train', 'train'), ('train', 'train'))
    """
    if not 1 <= number <= 5 * BLOCK:
        return None
    pos = (number - 1) % BLOCK  # 0-based position inside the emotion's block
    if pos < 20:
        return "dev", "evaluation"
    if pos < 50:
        return "test", "test"
    return "train", "train"


def _read_texts(spk_dir: Path) -> dict[str, str]:
    """Utterance id -> text from the speaker's ``<speaker>.txt`` (any ``*.txt`` as fallback)."""
    candidates = [spk_dir / f"{spk_dir.name}.txt", *sorted(spk_dir.glob("*.txt"))]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return {}
    out: dict[str, str] = {}
    for line in read_text(path, encodings=("utf-8-sig", "utf-16", "gb18030")).splitlines():
        parts = line.strip().split("\t")
        if len(parts) >= 2 and _STEM.fullmatch(parts[0].strip()):
            out[parts[0].strip()] = parts[1].strip()
    return out


def prepare(root: str | Path, *, with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build the ESD manifest (35,000 utterances of 20 speakers in the full release).

    Parameters
    ----------
    root : path
        The ``Emotional Speech Dataset (ESD)`` folder holding the speaker folders.
    with_duration : bool
        Read every audio header to fill ``duration``.
    on_missing : {'error', 'skip', 'keep'}
        What to do with utterances listed in ``<speaker>.txt`` of an emotion folder that
        exists but lacks their audio file.
    """
    check_on_missing(on_missing)
    root = resolve_root(root, CORPUS, EXPECTED)
    speakers = [d for d in child_dirs(root, r"\d{4}") if any((d / e).is_dir() for e in EMOTIONS)]
    if not speakers:
        raise layout_error(CORPUS, root, EXPECTED, describe_folder(root))
    utts: list[Segment] = []
    for spk_dir in speakers:
        speaker = spk_dir.name
        texts = _read_texts(spk_dir)
        language = "zh" if int(speaker) <= 10 else "en"
        for emotion, label in EMOTIONS.items():
            emo_dir = spk_dir / emotion
            if not emo_dir.is_dir():
                continue
            found: set[str] = set()
            for path in iter_audio(emo_dir, recursive=True):
                m = _STEM.fullmatch(path.stem)
                if m is None or m.group(1) != speaker:
                    continue
                number = int(m.group(2))
                parent = path.parent.name
                if parent in _SPLIT_DIRS:
                    split, esd_split = _SPLIT_DIRS[parent], parent
                else:
                    by_rule = split_of(number)
                    split, esd_split = by_rule if by_rule else (None, None)
                found.add(path.stem)
                extra: dict[str, object] = {"number": number}
                if esd_split:
                    extra["esd_split"] = esd_split
                utts.append(_utt(speaker, path.stem, str(path), emotion, label, texts, language, split, extra))
            # Lines of <speaker>.txt in this emotion's block whose audio is missing.
            start = BLOCK_START[emotion]
            for stem in sorted(texts):
                number = int(stem[5:])
                if stem in found or not start <= number < start + BLOCK:
                    continue
                split_info = split_of(number)
                extra = {"number": number, MISSING_KEY: expected_audio(emo_dir, stem)}
                utts.append(_utt(speaker, stem, None, emotion, label, texts, language,
                                 split_info[0] if split_info else None, extra))
    return finish(utts, CORPUS, root, with_duration=with_duration, on_missing=on_missing)


def _utt(speaker: str, stem: str, path: str | None, emotion: str, label: str, texts: dict[str, str],
         language: str, split: str | None, extra: dict[str, object]) -> Segment:
    return Segment(key=f"{CORPUS}/{speaker}/{stem}", path=path, label=label, raw_label=emotion,
                     speaker=speaker, gender=GENDERS.get(speaker), text=texts.get(stem), corpus=CORPUS,
                     language=language, split=split, extra=extra)
