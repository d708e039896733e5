"""IEMOCAP (Busso et al. 2008), official release ``IEMOCAP_full_release``.

Layout per session ``Session1`` .. ``Session5``:

* ``dialog/EmoEvaluation/<dialog>.txt``: one block per evaluated turn, opened by a summary line
  ``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]``
  (start and end in the dialog, turn id, consensus label, valence/activation/dominance), then
  annotator lines such as ``C-E2:<TAB>Neutral;<TAB>()``;
* ``dialog/transcriptions/<dialog>.txt``: ``Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.``;
* ``sentences/wav/<dialog>/<turn id>.wav``: one file per turn.

The speaker is the session plus the gender letter of the *turn* id (``Ses01F_impro01_M003`` is
spoken by ``Ses01M``); the letter after the session number names who wore the motion-capture
markers, not who speaks. ``turn`` numbers the evaluated turns of a dialog by start time.

Keys: ``iemocap/<speaker>/<turn id>``; ``raw_label`` is the three-letter code (``"neu"``).
"""

from __future__ import annotations

import re
from pathlib import Path

from spokenemo.data._common import MISSING_KEY, canonical_label, check_on_missing, finish
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

CORPUS = "iemocap"
EXPECTED = "Session1 ... Session5 folders with dialog/EmoEvaluation/*.txt and sentences/wav/"

EMOTIONS = {"neu": "neutral", "hap": "happy", "exc": "excited", "sad": "sad", "ang": "angry",
            "fru": "frustrated", "sur": "surprised", "fea": "fearful", "dis": "disgust",
            "oth": "other", "xxx": "unknown"}

_SUMMARY = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(Ses\d\d[FM]_\S+)\s+(\w+)\s+\[([^\]]*)\]")
_ANNOTATOR = re.compile(r"^(C-[A-Z]+\d*):\s*([^(]*)")
_TRANSCRIPT = re.compile(r"^(Ses\d\d[FM]_\S+)\s+\[[\d.]+-[\d.]+\]:\s?(.*)$")
_TURN = re.compile(r"^(Ses\d\d)[FM]_.*_([FM])\d+$")


def parse_emo_evaluation(path: Path) -> list[dict[str, object]]:
    """Parse one ``EmoEvaluation/<dialog>.txt`` file into one dict per evaluated turn.

    Returns dicts with ``id``, ``start``, ``end``, ``label``, ``vad`` (3 floats or None) and
    ``votes`` (annotator -> list of categorical labels from the ``C-...`` lines).
    """
    turns: list[dict[str, object]] = []
    current: dict[str, object] | None = None
    for line in read_text(path).splitlines():
        m = _SUMMARY.match(line)
        if m:
            start, end, turn_id, label, vad = m.groups()
            try:
                values = [float(v) for v in vad.split(",")]
            except ValueError:
                values = []
            current = {"id": turn_id, "start": float(start), "end": float(end), "label": label,
                       "vad": values if len(values) == 3 else None, "votes": {}}
            turns.append(current)
            continue
        a = _ANNOTATOR.match(line)
        if a and current is not None:
            labels = [x.strip() for x in a.group(2).split(";") if x.strip()]
            current["votes"][a.group(1)] = labels  # type: ignore[index]
    return turns


def parse_transcriptions(path: Path) -> dict[str, str]:
    """Turn id -> text from one ``transcriptions/<dialog>.txt`` file."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in read_text(path).splitlines():
        m = _TRANSCRIPT.match(line.strip())
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def turn_speaker(turn_id: str) -> tuple[str, str, str] | None:
    """(speaker, session, gender) of a turn id: ``Ses01F_impro01_M003`` -> ``('Ses01M', 'Ses01', 'M')``."""
    m = _TURN.match(turn_id)
    if m is None:
        return None
    session, gender = m.groups()
    return session + gender, session, gender


def prepare(root: str | Path, *, sessions: tuple[int, ...] | list[int] | None = None,
            with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build the IEMOCAP manifest (every evaluated turn, every label including ``xxx``).

    Parameters
    ----------
    root : path
        ``IEMOCAP_full_release`` (the folder holding ``Session1`` .. ``Session5``).
    sessions : sequence of int, optional
        Sessions to read (default: all present).
    with_duration : bool
        Read every audio header to fill ``duration``.
    on_missing : {'error', 'skip', 'keep'}
        What to do with evaluated turns whose ``sentences/wav`` file is missing.
    """
    check_on_missing(on_missing)
    root = resolve_root(root, CORPUS, EXPECTED)
    session_dirs = child_dirs(root, r"Session[1-5]")
    if sessions is not None:
        session_dirs = [d for d in session_dirs if int(d.name[-1]) in set(sessions)]
    if not session_dirs:
        raise layout_error(CORPUS, root, EXPECTED, describe_folder(root))
    utts: list[Segment] = []
    for sdir in session_dirs:
        eval_dir = sdir / "dialog" / "EmoEvaluation"
        eval_files = sorted(p for p in eval_dir.glob("*.txt") if p.is_file()) if eval_dir.is_dir() else []
        if not eval_files:
            raise layout_error(CORPUS, sdir, "dialog/EmoEvaluation/<dialog>.txt label files",
                               describe_folder(sdir))
        for eval_file in eval_files:
            dialog = eval_file.stem
            turns = parse_emo_evaluation(eval_file)
            texts = parse_transcriptions(sdir / "dialog" / "transcriptions" / f"{dialog}.txt")
            wav_dir = sdir / "sentences" / "wav" / dialog
            audio = index_audio(wav_dir, recursive=False)
            order = {t["id"]: i for i, t in enumerate(sorted(turns, key=lambda t: (t["start"], t["id"])))}
            for t in turns:
                turn_id = str(t["id"])
                who = turn_speaker(turn_id)
                if who is None:
                    raise layout_error(CORPUS, eval_file.parent, "turn ids like Ses01F_impro01_F000",
                                       f"{turn_id!r} in {eval_file.name}")
                speaker, session, gender = who
                raw = str(t["label"])
                extra: dict[str, object] = {"dialog_start": t["start"], "dialog_end": t["end"],
                                            "improvised": "_impro" in dialog,
                                            "annotator_labels": t["votes"]}
                if t["vad"] is not None:
                    extra["valence"], extra["arousal"], extra["dominance"] = t["vad"]  # type: ignore[misc]
                path = audio.get(turn_id)
                if path is None:
                    extra[MISSING_KEY] = expected_audio(wav_dir, turn_id)
                utts.append(Segment(
                    key=f"{CORPUS}/{speaker}/{turn_id}",
                    path=str(path) if path else None,
                    label=canonical_label(raw, EMOTIONS, CORPUS, eval_file),
                    raw_label=raw,
                    speaker=speaker,
                    gender=gender,
                    session=session,
                    dialogue=dialog,
                    turn=order[turn_id],
                    text=texts.get(turn_id),
                    corpus=CORPUS,
                    language="en",
                    extra=extra,
                ))
    return finish(utts, CORPUS, root, with_duration=with_duration, on_missing=on_missing)
