"""Generic recipes for corpora without a dedicated one.

* ``folder``: one sub-folder per label, ``<root>/<label>/**/*.<audio ext>``; the speaker can be
  taken from the file name with a regular expression.
* ``csv``: a CSV/TSV file with at least ``path`` and ``label`` columns; optional ``speaker``,
  ``text``, ``gender``, ``split``, ``start``, ``end``, ``language``, ``session``, ``dialogue``,
  ``turn``, ``duration``, ``key`` columns; any other column goes to ``extra``.

Labels are mapped to canonical names when they are one of them or a common synonym
("anger", "joy", "sadness", ...); other labels are kept as written (lower-cased), so a custom
label set survives. ``raw_label`` always keeps the original string.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from pydantic import ValidationError

from spokenemo.core.errors import CorpusLayoutError
from spokenemo.data._common import MISSING_KEY, check_on_missing, finish
from spokenemo.data._find import child_dirs, describe_folder, iter_audio, layout_error, resolve_root
from spokenemo.data.manifest import Segment

CANONICAL = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "excited",
             "frustrated", "other", "contempt", "unknown")
SYNONYMS = {"anger": "angry", "mad": "angry", "happiness": "happy", "joy": "happy", "sadness": "sad",
            "fear": "fearful", "scared": "fearful", "surprise": "surprised", "disgusted": "disgust",
            "neu": "neutral", "ang": "angry", "hap": "happy", "exc": "excited", "fru": "frustrated",
            "fea": "fearful", "sur": "surprised", "dis": "disgust"}


def canonical_or_raw(raw: str, label_map: dict[str, str] | None = None) -> str:
    """A user ``label_map`` first, then canonical names and synonyms, else ``raw`` lower-cased."""
    if label_map and raw in label_map:
        return label_map[raw]
    low = raw.strip().lower()
    if low in CANONICAL:
        return low
    return SYNONYMS.get(low, low)


def _speaker_from(name: str, rx: re.Pattern[str] | None) -> str | None:
    if rx is None:
        return None
    m = rx.search(name)
    if m is None:
        return None
    if "speaker" in rx.groupindex:
        return m.group("speaker")
    return m.group(1) if rx.groups else m.group(0)


def prepare_folder(root: str | Path, *, speaker_regex: str | None = None, corpus_name: str = "folder",
                   language: str | None = None, label_map: dict[str, str] | None = None,
                   with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build a manifest from one folder per label.

    Parameters
    ----------
    root : path
        Folder whose sub-folders are the labels; audio is searched recursively inside each.
    speaker_regex : str, optional
        Regular expression searched in the file stem; the group named ``speaker`` (else group 1,
        else the whole match) is the speaker. Files it does not match get no speaker.
    corpus_name : str
        Value of ``corpus`` and first part of the keys (``<corpus_name>/<label dir>/<relative stem>``).
    language : str, optional
        ISO 639-1 code for every utterance.
    label_map : dict, optional
        Folder name -> label, applied before the built-in canonical mapping.
    with_duration : bool
        Read every audio header to fill ``duration``.
    on_missing : {'error', 'skip', 'keep'}
        Unused (the files are the items); kept for a uniform recipe signature.
    """
    expected = "one sub-folder per label holding audio files"
    root = resolve_root(root, corpus_name, expected)
    rx = re.compile(speaker_regex) if speaker_regex else None
    utts: list[Segment] = []
    for label_dir in child_dirs(root):
        raw = label_dir.name
        for path in iter_audio(label_dir, recursive=True):
            rel = path.relative_to(root).with_suffix("").as_posix()
            utts.append(Segment(
                key=f"{corpus_name}/{rel}",
                path=str(path),
                label=canonical_or_raw(raw, label_map),
                raw_label=raw,
                speaker=_speaker_from(path.stem, rx),
                corpus=corpus_name,
                language=language,
            ))
    if not utts:
        raise layout_error(corpus_name, root, expected, describe_folder(root))
    # The same stem with two extensions (a.wav, a.flac) would give one key twice: keep the first.
    unique: dict[str, Segment] = {}
    for u in utts:
        unique.setdefault(u.key, u)
    return finish(list(unique.values()), corpus_name, root, with_duration=with_duration, on_missing=on_missing)


_KNOWN_COLUMNS = ("path", "label", "speaker", "text", "gender", "split", "start", "end", "language",
                  "session", "dialogue", "turn", "duration", "key")


def _cell(row: dict[str, str], col: str) -> str | None:
    v = row.get(col)
    if v is None:
        return None
    v = v.strip()
    return v or None


def _gender(value: str | None) -> str | None:
    """'F'/'M' from 'f', 'female', 'M', 'Male'...; anything else (``unknown``, ``x``) is None."""
    g = (value or "").strip().upper()[:1]
    return g if g in ("F", "M") else None


def prepare_csv(root: str | Path, *, corpus_name: str | None = None, language: str | None = None,
                label_map: dict[str, str] | None = None, delimiter: str | None = None,
                with_duration: bool = True, on_missing: str = "error") -> list[Segment]:
    """Build a manifest from a CSV (or TSV) table of ``path,label[,speaker,text,...]``.

    Parameters
    ----------
    root : path
        The CSV file. Relative ``path`` values are resolved against its folder.
    corpus_name : str, optional
        ``corpus`` value and key prefix; default: the CSV file's stem.
    language : str, optional
        Default language when there is no ``language`` column.
    label_map : dict, optional
        Label -> label, applied before the built-in canonical mapping.
    delimiter : str, optional
        Field separator; default ``\\t`` for ``.tsv`` files, else ``,``.
    with_duration : bool
        Read every audio header to fill ``duration`` (a ``duration`` column wins).
    on_missing : {'error', 'skip', 'keep'}
        What to do with rows whose audio file does not exist.

    Notes
    -----
    Keys come from a ``key`` column when present, else ``<corpus>/<speaker or '-'>/<stem>``
    (plus ``@<start>`` for segments). Two rows with the same key are an error.
    """
    check_on_missing(on_missing)
    table = Path(root).expanduser()
    if not table.is_file():
        raise CorpusLayoutError(f"csv: {table} is not a file",
                                hint="give a CSV file with at least the columns path,label")
    table = table.resolve()
    corpus = corpus_name or table.stem
    sep = delimiter or ("\t" if table.suffix.lower() in (".tsv", ".tab") else ",")
    with open(table, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=sep)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        reader.fieldnames = fields
        if "path" not in fields or "label" not in fields:
            raise layout_error(corpus, table.parent, f"{table.name} with columns path,label[,speaker,text,...]",
                               f"columns {fields}")
        rows = list(reader)
    utts = [_csv_row(row, line_no, table, corpus, language, label_map) for line_no, row in enumerate(rows, start=2)]
    return finish(utts, corpus, table.parent, with_duration=with_duration, on_missing=on_missing)


def _csv_row(row: dict[str, str], line_no: int, table: Path, corpus: str, language: str | None,
             label_map: dict[str, str] | None) -> Segment:
    """One row of a :func:`prepare_csv` table as a segment (errors name ``table:line``)."""
    path_cell, raw = _cell(row, "path"), _cell(row, "label")
    if path_cell is None or raw is None:
        raise CorpusLayoutError(f"{table}:{line_no}: empty path or label",
                                hint="every row needs a path and a label")
    path = Path(path_cell).expanduser()
    if not path.is_absolute():
        path = table.parent / path
    speaker = _cell(row, "speaker")
    try:
        start = float(row["start"]) if _cell(row, "start") else None
        end = float(row["end"]) if _cell(row, "end") else None
        turn = int(row["turn"]) if _cell(row, "turn") else None
        duration = float(row["duration"]) if _cell(row, "duration") else None
    except ValueError as e:
        raise CorpusLayoutError(f"{table}:{line_no}: {e}", hint="start/end/duration are seconds, turn an integer") from e
    key = _cell(row, "key") or f"{corpus}/{speaker or '-'}/{path.stem}" + (f"@{start:.3f}" if start else "")
    extra: dict[str, object] = {k: v for k, v in row.items() if k not in _KNOWN_COLUMNS and k and v not in (None, "")}
    exists = path.is_file()
    if not exists:
        extra[MISSING_KEY] = str(path)
    try:
        return Segment(
            key=key,
            path=str(path.resolve()) if exists else None,
            start=start,
            end=end,
            label=canonical_or_raw(raw, label_map),
            raw_label=raw,
            speaker=speaker,
            gender=_gender(_cell(row, "gender")),
            session=_cell(row, "session"),
            dialogue=_cell(row, "dialogue"),
            turn=turn,
            text=_cell(row, "text"),
            corpus=corpus,
            language=_cell(row, "language") or language,
            duration=duration,
            split=_cell(row, "split"),
            extra=extra,
        )
    except ValidationError as e:
        msg = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg'].removeprefix('Value error, ')}" for x in e.errors())
        raise CorpusLayoutError(f"{table}:{line_no}: {msg}", hint="fix the row in the CSV") from None
