"""MELD (Poria et al. 2019) and EmoryNLP (Zahiri & Choi 2018): utterances of *Friends* episodes.

MELD layout (github.com/declare-lab/MELD, ``data/MELD/`` or the raw release ``MELD.Raw/``):
``train_sent_emo.csv``, ``dev_sent_emo.csv``, ``test_sent_emo.csv`` with columns ``Sr No.,
Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID, Season, Episode, StartTime,
EndTime``. The raw release's clips are ``dia{D}_utt{U}.mp4`` in ``train_splits/``,
``dev_splits_complete/`` and ``output_repeated_splits_test/`` (any audio extension is accepted,
e.g. clips converted to WAV). Without clips the manifest is text-only (``path=None``).

EmoryNLP layout (``data/emorynlp/``): ``emorynlp_{train,dev,test}_final.csv`` with columns
``Utterance, Speaker, Emotion, Scene_ID, Utterance_ID, Season, Episode, Start_Time, End_Time``;
``Speaker`` is a Python-style list of names. Text only.

Keys: ``meld/<split>/dia<D>_utt<U>`` (dialogue ids restart in every split) and
``emorynlp/<split>/s<SS>_e<EE>_c<CC>_u<UU>``. ``StartTime``/``EndTime`` are positions in the
*episode*, so they go to ``extra`` (seconds), not to ``start``/``end`` (offsets inside ``path``).
"""

from __future__ import annotations

import ast
import csv
import io
import re
from pathlib import Path

from spokenemo.core.errors import CorpusLayoutError
from spokenemo.data._common import MISSING_KEY, canonical_label, check_on_missing, finish
from spokenemo.data._find import describe_folder, expected_audio, index_audio, layout_error, resolve_root
from spokenemo.data.manifest import Segment

SPLITS = ("train", "dev", "test")

MELD_EMOTIONS = {"anger": "angry", "disgust": "disgust", "fear": "fearful", "joy": "happy",
                 "neutral": "neutral", "sadness": "sad", "surprise": "surprised"}
MELD_COLUMNS = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")
#: Folder of the raw release's clips for each split (first match wins).
MELD_CLIP_DIRS = {"train": ("train_splits",), "dev": ("dev_splits_complete",),
                  "test": ("output_repeated_splits_test",)}

#: EmoryNLP's seven Willcox-wheel emotions. "Peaceful" -> calm; "Powerful" has no canonical
#: counterpart and becomes "other" (a protocol may drop it).
EMORYNLP_EMOTIONS = {"Joyful": "happy", "Mad": "angry", "Neutral": "neutral", "Peaceful": "calm",
                     "Powerful": "other", "Sad": "sad", "Scared": "fearful"}
EMORYNLP_COLUMNS = ("Utterance", "Speaker", "Emotion", "Scene_ID", "Utterance_ID", "Season", "Episode")

# UTF-8 text that was decoded as cp1252/latin-1 somewhere on its way ("Iâ€™m", "Iâ\x80\x99m").
_MOJIBAKE = re.compile("[\u00c2\u00c3\u00e2][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u2122]")
_C1 = re.compile("[\u0080-\u009f]")


def fix_mojibake(text: str) -> str:
    """Repair the encoding damage found in copies of the MELD/EmotionLines CSVs.

    * UTF-8 read as cp1252 or latin-1 (``"Iâ€™m"``, ``"Iâ\\x80\\x99m"``) is re-decoded;
    * stray C1 control characters, which are cp1252 bytes read as latin-1 (``"\\x92"`` for
      ``"’"``, ``"\\x85"`` for ``"…"``), become the cp1252 character.

    Clean text is returned unchanged.

    Examples
    --------
    >>> fix_mojibake("You must\\x92ve had your hands full.")
    'You must’ve had your hands full.'
    >>> fix_mojibake("Iâ€™m fine")
    'I’m fine'
    """
    if _MOJIBAKE.search(text):
        for enc in ("cp1252", "latin-1"):
            try:
                text = text.encode(enc).decode("utf-8")
                break
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
    if _C1.search(text):
        def repl(m: re.Match[str]) -> str:
            try:
                return bytes([ord(m.group())]).decode("cp1252")
            except UnicodeDecodeError:
                return ""  # 0x81, 0x8d, 0x8f, 0x90, 0x9d are undefined in cp1252: drop them
        text = _C1.sub(repl, text)
    return text


def _read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _check_columns(rows: list[dict[str, str]], path: Path, columns: tuple[str, ...], corpus: str) -> None:
    have = set(rows[0]) if rows else set()
    lacking = [c for c in columns if c not in have]
    if lacking:
        raise layout_error(corpus, path.parent, f"{path.name} with columns {', '.join(columns)}",
                           f"columns {sorted(have)}")


def _ints(row: dict[str, str], columns: tuple[str, ...], path: Path, line_no: int) -> list[int]:
    try:
        return [int(row[c]) for c in columns]
    except (TypeError, ValueError) as e:
        raise CorpusLayoutError(f"{path}:{line_no}: {', '.join(columns)} must be integers ({e})",
                                hint="the CSV row is damaged; compare it with the official release") from None


def _clock_seconds(value: str) -> float | None:
    """``'00:16:16,059'`` or ``'00:00:02.877'`` -> seconds."""
    m = re.fullmatch(r"\s*(\d+):(\d\d):(\d\d)[,.](\d+)\s*", value or "")
    if m is None:
        return None
    h, mi, s, frac = m.groups()
    return round(int(h) * 3600 + int(mi) * 60 + int(s) + int(frac) / 10 ** len(frac), 3)


def _find_meld_clips(clips_root: Path) -> dict[str, Path]:
    """Split -> clip folder under ``clips_root`` (also looks one level down, e.g. ``MELD.Raw/``)."""
    found: dict[str, Path] = {}
    for base in (clips_root, *sorted(p for p in clips_root.iterdir() if p.is_dir())):
        for split, names in MELD_CLIP_DIRS.items():
            if split in found:
                continue
            for name in names:
                if (base / name).is_dir():
                    found[split] = base / name
                    break
    return found


def _meld_row(row: dict[str, str], split: str, csv_path: Path, line_no: int, audio: dict[str, Path] | None,
              clip_dir: Path | None) -> Segment:
    """One row of a MELD CSV as a segment (``audio``: the split's clips by stem, when there are clips)."""
    dia, utt_id = _ints(row, ("Dialogue_ID", "Utterance_ID"), csv_path, line_no)
    stem = f"dia{dia}_utt{utt_id}"
    emotion = row["Emotion"].strip()
    extra: dict[str, object] = {"sentiment": row["Sentiment"].strip()}
    for col, name in (("Season", "season"), ("Episode", "episode")):
        if row.get(col, "").strip().isdigit():
            extra[name] = int(row[col])
    for col, name in (("StartTime", "episode_start"), ("EndTime", "episode_end")):
        t = _clock_seconds(row.get(col, ""))
        if t is not None:
            extra[name] = t
    path = None
    if audio is not None and clip_dir is not None:
        path = audio.get(stem)
        if path is None:
            extra[MISSING_KEY] = expected_audio(clip_dir, stem)
    return Segment(
        key=f"meld/{split}/{stem}",
        path=str(path) if path else None,
        label=canonical_label(emotion, MELD_EMOTIONS, "meld", f"{csv_path}:{line_no}"),
        raw_label=emotion,
        speaker=fix_mojibake(row["Speaker"].strip()),
        dialogue=f"{split}/dia{dia}",
        turn=utt_id,
        text=fix_mojibake(row["Utterance"]).strip(),
        corpus="meld",
        language="en",
        split=split,
        extra=extra,
    )


def prepare_meld(root: str | Path, *, clips: str | Path | None = None, splits: tuple[str, ...] | list[str] = SPLITS,
                 with_duration: bool = True, on_missing: str = "skip") -> list[Segment]:
    """Build the MELD manifest.

    Parameters
    ----------
    root : path
        Folder holding ``train_sent_emo.csv``, ``dev_sent_emo.csv``, ``test_sent_emo.csv``.
    clips : path, optional
        Folder of the raw release holding ``train_splits/``, ``dev_splits_complete/``,
        ``output_repeated_splits_test/``. Default: use ``root`` when it holds those folders,
        else build a text-only manifest (``path=None``).
    splits : sequence of str
        Which of train/dev/test to read.
    with_duration : bool
        Read clip headers to fill ``duration`` (only with clips).
    on_missing : {'error', 'skip', 'keep'}
        Rows without a clip when clips are used. Default ``'skip'``: the raw release itself
        lacks a few clips (e.g. ``dev/dia110_utt7``).
    """
    check_on_missing(on_missing)
    root = resolve_root(root, "meld", "train_sent_emo.csv, dev_sent_emo.csv and test_sent_emo.csv")
    bad = sorted(set(splits) - set(SPLITS))
    if bad:
        raise layout_error("meld", root, f"splits among {', '.join(SPLITS)}", f"{bad}")
    csvs = {s: root / f"{s}_sent_emo.csv" for s in splits}
    if not any(p.is_file() for p in csvs.values()):
        raise layout_error("meld", root, "train_sent_emo.csv, dev_sent_emo.csv and test_sent_emo.csv",
                           describe_folder(root))
    clip_dirs: dict[str, Path] = {}
    if clips is not None:
        clips_root = resolve_root(clips, "meld", "train_splits/, dev_splits_complete/, output_repeated_splits_test/")
        clip_dirs = _find_meld_clips(clips_root)
        if not clip_dirs:
            raise layout_error("meld", clips_root,
                               "train_splits/, dev_splits_complete/ or output_repeated_splits_test/ clip folders",
                               describe_folder(clips_root))
    else:
        clip_dirs = _find_meld_clips(root)
    utts: list[Segment] = []
    for split, csv_path in csvs.items():
        if not csv_path.is_file():
            raise layout_error("meld", root, csv_path.name, describe_folder(root))
        rows = _read_csv(csv_path)
        _check_columns(rows, csv_path, MELD_COLUMNS, "meld")
        clip_dir = clip_dirs.get(split)
        audio = index_audio(clip_dir) if clip_dir else None
        if audio is not None and clip_dir is not None and not any(
                f"dia{r['Dialogue_ID']}_utt{r['Utterance_ID']}" in audio for r in rows):
            raise layout_error("meld", clip_dir, f"clips named dia<D>_utt<U>.<ext> for {csv_path.name}",
                               describe_folder(clip_dir))
        utts += [_meld_row(row, split, csv_path, line_no, audio, clip_dir) for line_no, row in enumerate(rows, start=2)]
    return finish(utts, "meld", root, with_duration=with_duration, on_missing=on_missing)


def _emorynlp_speakers(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("["):
        try:
            names = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            names = [value.strip("[]'\"")]
        return [fix_mojibake(str(n).strip()) for n in names if str(n).strip()]
    return [fix_mojibake(value)] if value else []


def prepare_emorynlp(root: str | Path, *, splits: tuple[str, ...] | list[str] = SPLITS,
                     with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build the EmoryNLP manifest (text only: ``path=None``).

    Parameters
    ----------
    root : path
        Folder holding ``emorynlp_{train,dev,test}_final.csv`` (or a MELD folder with an
        ``emorynlp/`` sub-folder).
    splits : sequence of str
        Which of train/dev/test to read.
    with_duration, on_missing
        Unused (no audio); kept for a uniform recipe signature.

    Notes
    -----
    ``speaker`` joins several speakers with ``" & "`` (about 60 lines are said together);
    ``extra['speakers']`` keeps the list. ``dialogue`` is ``s<SS>e<EE>c<CC>`` (season,
    episode, scene), unique across splits.
    """
    expected = "emorynlp_train_final.csv, emorynlp_dev_final.csv and emorynlp_test_final.csv"
    root = resolve_root(root, "emorynlp", expected)
    if not (root / "emorynlp_train_final.csv").is_file() and (root / "emorynlp").is_dir():
        root = root / "emorynlp"
    bad = sorted(set(splits) - set(SPLITS))
    if bad:
        raise layout_error("emorynlp", root, f"splits among {', '.join(SPLITS)}", f"{bad}")
    utts: list[Segment] = []
    for split in splits:
        csv_path = root / f"emorynlp_{split}_final.csv"
        if not csv_path.is_file():
            raise layout_error("emorynlp", root, expected, describe_folder(root))
        rows = _read_csv(csv_path)
        _check_columns(rows, csv_path, EMORYNLP_COLUMNS, "emorynlp")
        for line_no, row in enumerate(rows, start=2):
            season, episode, scene, utt_id = _ints(row, ("Season", "Episode", "Scene_ID", "Utterance_ID"),
                                                   csv_path, line_no)
            speakers = _emorynlp_speakers(row["Speaker"])
            emotion = row["Emotion"].strip()
            extra: dict[str, object] = {"season": season, "episode": episode, "scene": scene,
                                        "speakers": speakers}
            for col, name in (("Start_Time", "episode_start"), ("End_Time", "episode_end")):
                t = _clock_seconds(row.get(col, ""))
                if t is not None:
                    extra[name] = t
            utts.append(Segment(
                key=f"emorynlp/{split}/s{season:02d}_e{episode:02d}_c{scene:02d}_u{utt_id:02d}",
                label=canonical_label(emotion, EMORYNLP_EMOTIONS, "emorynlp", f"{csv_path}:{line_no}"),
                raw_label=emotion,
                speaker=" & ".join(speakers) or None,
                dialogue=f"s{season:02d}e{episode:02d}c{scene:02d}",
                turn=utt_id,
                text=fix_mojibake(row["Utterance"]).strip(),
                corpus="emorynlp",
                language="en",
                split=split,
                extra=extra,
            ))
    return finish(utts, "emorynlp", root, with_duration=with_duration, on_missing=on_missing)
