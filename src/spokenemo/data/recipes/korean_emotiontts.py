"""Korean emotional speech corpus for robot TTS (Selvas AI / KAIST), public 5 % sample.

Source: github.com/emotiontts/emotiontts_open_db, ``Dataset/SpeechCorpus/Emotional/``.
Layout: ``<root>/<subset>/<speaker>/{wav,script,transcript}/<speaker>NNNNN.<ext>`` with subsets
``plain-to-emotional`` (speakers ema, emb female; emf, emg, emh male) and
``emotional-to-emotional`` (nea..nee female; nek..neo male). The emotion follows from the file
number (README): 00001-00100 일반 (neutral), 00101-00200 기쁨 (happy), 00201-00300 화남 (angry),
00301-00400 슬픔 (sad). ``transcript/*.txt`` is what was spoken (UTF-8 with BOM) and becomes
``text``; ``script/*.txt`` (the recording script) goes to ``extra['script']``.

Keys: ``korean_emotiontts/<speaker>/<stem>``; ``raw_label`` is the Korean name used by the README.
"""

from __future__ import annotations

import re
from pathlib import Path

from spokenemo.data._common import MISSING_KEY, check_on_missing, finish
from spokenemo.data._find import (
    child_dirs,
    describe_folder,
    expected_audio,
    index_audio,
    layout_error,
    read_text,
    resolve_root,
)
from spokenemo.data.manifest import Segment

CORPUS = "korean_emotiontts"
SUBSETS = ("plain-to-emotional", "emotional-to-emotional")
EXPECTED = "plain-to-emotional/ (or emotional-to-emotional/) with <speaker>/wav/<speaker>NNNNN.* files"

#: (first number, last number, README name, canonical label)
RANGES = ((1, 100, "일반", "neutral"), (101, 200, "기쁨", "happy"),
          (201, 300, "화남", "angry"), (301, 400, "슬픔", "sad"))
GENDERS = {"ema": "F", "emb": "F", "emf": "M", "emg": "M", "emh": "M",
           "nea": "F", "neb": "F", "nec": "F", "ned": "F", "nee": "F",
           "nek": "M", "nel": "M", "nem": "M", "nen": "M", "neo": "M"}

_STEM = re.compile(r"([a-z]{3})(\d{5})")


def emotion_of(number: int) -> tuple[str, str] | None:
    """(README name, canonical label) for a file number, or None outside 1..400."""
    for lo, hi, raw, label in RANGES:
        if lo <= number <= hi:
            return raw, label
    return None


def _speaker_dirs(root: Path, subsets: tuple[str, ...] | None) -> list[tuple[str, Path]]:
    """(subset, speaker folder) pairs; ``root`` may be the corpus folder or one subset folder."""
    wanted = subsets or SUBSETS
    found = [(s, d) for s in wanted for d in child_dirs(root / s) if (d / "wav").is_dir()]
    if not found and root.name in SUBSETS and (subsets is None or root.name in subsets):
        found = [(root.name, d) for d in child_dirs(root) if (d / "wav").is_dir()]
    return found


def _read_line(path: Path) -> str | None:
    if not path.is_file():
        return None
    return read_text(path).strip() or None


def prepare(root: str | Path, *, subsets: tuple[str, ...] | list[str] | None = None,
            with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build the Korean emotional TTS manifest.

    Parameters
    ----------
    root : path
        The ``Emotional`` folder (holding the subset folders) or one subset folder.
    subsets : sequence of str, optional
        Subsets to read (default: every one present).
    with_duration : bool
        Read every audio header to fill ``duration``.
    on_missing : {'error', 'skip', 'keep'}
        What to do with a transcript that has no audio file.
    """
    check_on_missing(on_missing)
    root = resolve_root(root, CORPUS, EXPECTED)
    if subsets is not None:
        unknown = sorted(set(subsets) - set(SUBSETS))
        if unknown:
            raise layout_error(CORPUS, root, f"subsets among {', '.join(SUBSETS)}", f"{unknown}")
    speakers = _speaker_dirs(root, tuple(subsets) if subsets is not None else None)
    if not speakers:
        raise layout_error(CORPUS, root, EXPECTED, describe_folder(root))
    utts: list[Segment] = []
    for subset, spk_dir in speakers:
        speaker = spk_dir.name
        wav_dir = spk_dir / "wav"
        audio = index_audio(wav_dir, recursive=False)
        transcripts = {p.stem for p in (spk_dir / "transcript").glob("*.txt")}
        for stem in sorted(set(audio) | transcripts):
            m = _STEM.fullmatch(stem)
            if m is None or m.group(1) != speaker:
                continue
            number = int(m.group(2))
            emo = emotion_of(number)
            if emo is None:
                continue
            path = audio.get(stem)
            extra: dict[str, object] = {"subset": subset, "number": number}
            script = _read_line(spk_dir / "script" / f"{stem}.txt")
            if script is not None:
                extra["script"] = script
            if path is None:
                extra[MISSING_KEY] = expected_audio(wav_dir, stem)
            utts.append(Segment(
                key=f"{CORPUS}/{speaker}/{stem}",
                path=str(path) if path else None,
                label=emo[1],
                raw_label=emo[0],
                speaker=speaker,
                gender=GENDERS.get(speaker),
                text=_read_line(spk_dir / "transcript" / f"{stem}.txt"),
                corpus=CORPUS,
                language="ko",
                extra=extra,
            ))
    return finish(utts, CORPUS, root, with_duration=with_duration, on_missing=on_missing)
