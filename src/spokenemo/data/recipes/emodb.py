"""Berlin Database of Emotional Speech, EmoDB (Burkhardt et al. 2005), emodb.bilderbar.info.

Layout: ``<root>/wav/SSTTTEV.wav``, e.g. ``03a01Fa.wav``: speaker ``03``, text ``a01``, emotion
letter ``F`` (German initials: W Wut/anger, L Langeweile/boredom, E Ekel/disgust, A Angst/fear,
F Freude/happiness, T Trauer/sadness, N neutral) and version letter ``a``.

Boredom has no canonical counterpart and becomes ``"other"`` (``raw_label`` keeps ``"L"``).
Keys: ``emodb/<speaker>/<stem>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from spokenemo.data._common import finish
from spokenemo.data._find import describe_folder, iter_audio, layout_error, resolve_root
from spokenemo.data.manifest import Segment

CORPUS = "emodb"
EXPECTED = "a wav/ folder of files named like 03a01Fa.wav"

EMOTIONS = {"W": "angry", "L": "other", "E": "disgust", "A": "fearful", "F": "happy",
            "T": "sad", "N": "neutral"}
EMOTION_NAMES = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness",
                 "T": "sadness", "N": "neutral"}
#: speaker -> (gender, age), from the EmoDB documentation.
SPEAKERS = {"03": ("M", 31), "08": ("F", 34), "09": ("F", 21), "10": ("M", 32), "11": ("M", 26),
            "12": ("M", 30), "13": ("F", 32), "14": ("F", 35), "15": ("M", 25), "16": ("F", 31)}
TEXTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}

_NAME = re.compile(r"(\d\d)([ab]\d\d)([WLEAFTN])([a-z])")


def prepare(root: str | Path, *, with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build the EmoDB manifest (535 utterances, 10 speakers in the full release).

    Parameters
    ----------
    root : path
        The EmoDB folder holding ``wav/`` (or the ``wav`` folder itself).
    with_duration : bool
        Read every audio header to fill ``duration``.
    on_missing : {'error', 'skip', 'keep'}
        Unused (the file names are the labels); kept for a uniform recipe signature.
    """
    root = resolve_root(root, CORPUS, EXPECTED)
    wav_dir = root / "wav" if (root / "wav").is_dir() else root
    utts: list[Segment] = []
    for path in iter_audio(wav_dir, recursive=False):
        m = _NAME.fullmatch(path.stem)
        if m is None:
            continue
        speaker, text_code, emo, version = m.groups()
        gender, age = SPEAKERS.get(speaker, (None, None))
        extra: dict[str, object] = {"text_code": text_code, "version": version,
                                    "emotion_name": EMOTION_NAMES[emo]}
        if age is not None:
            extra["age"] = age
        utts.append(Segment(
            key=f"{CORPUS}/{speaker}/{path.stem}",
            path=str(path),
            label=EMOTIONS[emo],
            raw_label=emo,
            speaker=speaker,
            gender=gender,
            text=TEXTS.get(text_code),
            corpus=CORPUS,
            language="de",
            extra=extra,
        ))
    if not utts:
        raise layout_error(CORPUS, root, EXPECTED, describe_folder(wav_dir))
    return finish(utts, CORPUS, root, with_duration=with_duration, on_missing=on_missing)
