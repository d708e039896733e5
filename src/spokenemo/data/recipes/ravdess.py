"""RAVDESS (Livingstone & Russo 2018), Zenodo record 1188976.

Layout: ``<root>/Actor_XX/MM-VV-EE-II-SS-RR-AA.<ext>`` where the seven fields are modality
(01 full-AV, 02 video-only, 03 audio-only), vocal channel (01 speech, 02 song), emotion (01..08),
intensity (01 normal, 02 strong), statement (01, 02), repetition (01, 02) and actor (01..24,
odd = male). The speech and song zips both unpack to ``Actor_XX`` folders.

Keys: ``ravdess/<actor>/<stem>``; ``raw_label`` is the emotion code of the file name (``"05"``).
"""

from __future__ import annotations

import re
from pathlib import Path

from spokenemo.data._common import finish
from spokenemo.data._find import child_dirs, describe_folder, iter_audio, layout_error, resolve_root
from spokenemo.data.manifest import Segment

CORPUS = "ravdess"
EXPECTED = "Actor_01 ... Actor_24 folders of files named like 03-01-05-01-02-01-12.wav"

EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad",
            "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
MODALITIES = {"01": "full-AV", "02": "video-only", "03": "audio-only"}
VOCAL_CHANNELS = {"01": "speech", "02": "song"}
INTENSITIES = {"01": "normal", "02": "strong"}

_NAME = re.compile(r"(0[1-3])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)")


def _actor_dirs(root: Path) -> list[Path]:
    dirs = child_dirs(root, r"Actor_\d\d")
    if dirs:
        return dirs
    # Kaggle/zip copies sometimes add one level (audio_speech_actors_01-24/Actor_01/...).
    for sub in child_dirs(root):
        dirs.extend(child_dirs(sub, r"Actor_\d\d"))
    return dirs


def prepare(root: str | Path, *, include_song: bool = False, include_speech: bool = True,
            with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build the RAVDESS manifest.

    Parameters
    ----------
    root : path
        Folder holding the ``Actor_XX`` folders.
    include_song : bool
        Also take the song files (vocal channel 02; six emotions, no disgust/surprised).
    include_speech : bool
        Take the speech files (vocal channel 01). Default True.
    with_duration : bool
        Read every audio header to fill ``duration``.
    on_missing : {'error', 'skip', 'keep'}
        Unused here (audio files *are* the label source); kept for a uniform recipe signature.

    Returns
    -------
    list of Segment
        Sorted by key. Video-only files (modality 02) are ignored: they carry no audio.
    """
    root = resolve_root(root, CORPUS, EXPECTED)
    actors = _actor_dirs(root)
    if not actors:
        raise layout_error(CORPUS, root, EXPECTED, describe_folder(root))
    channels = {c for c, name in VOCAL_CHANNELS.items()
                if (name == "speech" and include_speech) or (name == "song" and include_song)}
    utts: list[Segment] = []
    for actor_dir in actors:
        for path in iter_audio(actor_dir, recursive=False):
            m = _NAME.fullmatch(path.stem)
            if m is None:
                continue
            modality, channel, emo, intensity, statement, repetition, actor = m.groups()
            if modality == "02" or channel not in channels:
                continue
            utts.append(Segment(
                key=f"{CORPUS}/{actor}/{path.stem}",
                path=str(path),
                label=EMOTIONS[emo],
                raw_label=emo,
                speaker=actor,
                gender="M" if int(actor) % 2 == 1 else "F",
                text=STATEMENTS[statement],
                corpus=CORPUS,
                language="en",
                extra={"modality": MODALITIES[modality], "vocal_channel": VOCAL_CHANNELS[channel],
                       "intensity": INTENSITIES[intensity], "statement": statement,
                       "repetition": int(repetition)},
            ))
    if not utts:
        raise layout_error(CORPUS, root, EXPECTED,
                           f"{len(actors)} Actor_XX folders but no file of the selected vocal channels")
    return finish(utts, CORPUS, root, with_duration=with_duration, on_missing=on_missing)
