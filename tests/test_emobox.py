"""EmoBox JSONL import/export: real-format records, round trips, folds, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spokenemo.core.errors import CorpusLayoutError, ManifestError
from spokenemo.data import Segment, prepare
from spokenemo.data.emobox import (
    from_emobox,
    read_emobox_dataset,
    read_emobox_jsonl,
    to_emobox,
    write_emobox_dataset,
    write_emobox_jsonl,
)

from fake_corpora import SECONDS, make_iemocap, write_audio

# Two lines as EmoBox ships them (data/iemocap/fold_1/iemocap_test_fold_1.jsonl) and one segment
# line in the form EmoBox writes for segmented corpora (start_time/end_time).
EMOBOX_LINES = [
    {"key": "iemocap-Ses01F_impro04_F000", "dataset": "iemocap",
     "wav": "downloads/iemocap/Session1/sentences/wav/Ses01F_impro04/Ses01F_impro04_F000.wav",
     "type": "raw", "sample_rate": 16000, "num_frame": 70312.0, "task": "category", "length": 4.3945,
     "emo": "neu", "channel": 1},
    {"key": "iemocap-Ses01F_impro04_M002", "dataset": "iemocap",
     "wav": "downloads/iemocap/Session1/sentences/wav/Ses01F_impro04/Ses01F_impro04_M002.wav",
     "type": "raw", "sample_rate": 16000, "num_frame": 52159.0, "task": "category", "length": 3.2599375,
     "emo": "exc", "channel": 1},
    {"key": "pavoque-seg17", "dataset": "pavoque", "wav": "downloads/pavoque/obadiah.flac", "type": "raw",
     "sample_rate": 44100, "num_frame": 88200.0, "task": "category", "length": 2.0, "emo": "angry",
     "channel": 1, "start_time": 10.0, "end_time": 12.0},
]


def write_lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_read_real_format(tmp_path):
    utts = read_emobox_jsonl(write_lines(tmp_path / "in.jsonl", EMOBOX_LINES), label_map={"exc": "Happy"})
    a, b, seg = utts
    assert a.key == "iemocap/Ses01F_impro04_F000" and a.corpus == "iemocap"
    assert a.path == EMOBOX_LINES[0]["wav"] and a.duration == 4.3945
    # the corpus's own scheme wins over EmoBox's label map (which merges exc into Happy)
    assert (a.raw_label, a.label, b.raw_label, b.label) == ("neu", "neutral", "exc", "excited")
    assert a.extra["emobox"] == {"type": "raw", "sample_rate": 16000, "num_frame": 70312.0,
                                 "task": "category", "channel": 1}
    assert (seg.start, seg.end, seg.duration, seg.label) == (10.0, 12.0, 2.0, "angry")


def test_emobox_file_round_trip_is_identical(tmp_path):
    src = write_lines(tmp_path / "in.jsonl", EMOBOX_LINES)
    out = tmp_path / "out.jsonl"
    assert write_emobox_jsonl(out, read_emobox_jsonl(src)) == 3
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert got == EMOBOX_LINES


def test_label_map_serves_unknown_datasets(tmp_path):
    rec = dict(EMOBOX_LINES[0], key="cafe-08-P-2-1", dataset="cafe", emo="p")
    assert from_emobox(rec, label_map={"p": "Fear"}).label == "fearful"
    assert from_emobox(rec).label == "p"  # unknown code without a map is kept as written


def test_data_root_makes_paths_absolute(tmp_path):
    utts = read_emobox_jsonl(write_lines(tmp_path / "in.jsonl", EMOBOX_LINES[:1]), data_root=tmp_path)
    assert utts[0].path == str(tmp_path.resolve() / EMOBOX_LINES[0]["wav"])


def test_recipe_output_round_trips_through_emobox(tmp_path):
    make_iemocap(tmp_path / "IEMOCAP", sessions=(1,))
    utts = prepare("iemocap", tmp_path / "IEMOCAP")
    out = tmp_path / "iemocap.jsonl"
    write_emobox_jsonl(out, utts, wav_root=tmp_path)
    rec = json.loads(out.read_text().splitlines()[0])
    assert rec["key"] == "iemocap-Ses01F_impro01_F000"
    assert rec["wav"] == "IEMOCAP/Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav"
    assert (rec["sample_rate"], rec["num_frame"], rec["length"]) == (16000, 3200.0, pytest.approx(SECONDS))
    assert (rec["emo"], rec["speaker"], rec["gender"], rec["task"], rec["type"]) == ("neu", "Ses01F", "Female",
                                                                                     "category", "raw")
    back = read_emobox_jsonl(out, data_root=tmp_path)
    assert [u.key for u in back] == [u.key for u in utts]  # speaker-qualified keys come back
    for u, v in zip(utts, back, strict=True):
        assert (v.path, v.raw_label, v.label, v.speaker, v.gender, v.corpus) == (
            u.path, u.raw_label, u.label, u.speaker, u.gender, u.corpus)
        assert v.duration == pytest.approx(u.duration)


def test_brief_style_record_with_category_list():
    rec = {"key": "Ses01M_impro01_F000", "dataset": "iemocap", "wav": "a.wav", "type": "raw",
           "sample_rate": 16000, "length": 2.3, "task": "category",
           "category": [{"fold": 1, "label": "neu"}], "speaker": "Ses01F", "gender": "Female", "channel": 1}
    u = from_emobox(rec)
    assert (u.key, u.raw_label, u.label, u.speaker, u.gender) == ("iemocap/Ses01F/Ses01M_impro01_F000", "neu",
                                                                  "neutral", "Ses01F", "F")
    assert to_emobox(u, read_header=False) == rec


def test_text_only_utterances_are_not_exported(tmp_path):
    audio = write_audio(tmp_path / "x.wav")
    utts = [Segment(key="c/s/x", path=str(audio), label="sad", raw_label="sad", corpus="c"),
            Segment(key="c/s/y", label="sad", corpus="c")]
    assert write_emobox_jsonl(tmp_path / "o.jsonl", utts) == 1
    with pytest.raises(ValueError, match="c/s/y"):
        to_emobox(utts[1])


def test_colliding_stems_get_full_keys(tmp_path):
    a = write_audio(tmp_path / "angry" / "001.wav")
    b = write_audio(tmp_path / "happy" / "001.wav")
    utts = prepare("folder", tmp_path, corpus_name="mine")
    write_emobox_jsonl(tmp_path / "o.jsonl", utts)
    keys = [json.loads(x)["key"] for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert keys == ["mine-mine-angry-001", "mine-mine-happy-001"] and a.exists() and b.exists()


def test_dataset_folder_with_folds_round_trip(tmp_path):
    make_iemocap(tmp_path / "IEMOCAP", sessions=(1, 2))
    utts = prepare("iemocap", tmp_path / "IEMOCAP")
    s1 = [u.key for u in utts if u.session == "Ses01"]
    s2 = [u.key for u in utts if u.session == "Ses02"]
    folds = {1: {"train": s2, "test": s1}, 2: {"train": s1, "test": s2}}
    target = write_emobox_dataset(tmp_path / "data", utts, dataset="iemocap", folds=folds, wav_root=tmp_path)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*.jsonl")) == [
        "fold_1/iemocap_test_fold_1.jsonl", "fold_1/iemocap_train_fold_1.jsonl",
        "fold_2/iemocap_test_fold_2.jsonl", "fold_2/iemocap_train_fold_2.jsonl", "iemocap.jsonl"]
    label_map = json.loads((target / "label_map.json").read_text())
    assert label_map["exc"] == "Excited" and label_map["neu"] == "Neutral"
    back = {u.key: u for u in read_emobox_dataset(target, data_root=tmp_path)}
    assert len(back) == 12
    assert back["iemocap/Ses01M/Ses01F_impro01_M000"].extra["emobox_folds"] == {"1": "test", "2": "train"}
    # writing what was read reproduces the folder byte for byte
    again = write_emobox_dataset(tmp_path / "again", back.values(), dataset="iemocap", wav_root=tmp_path)
    for f in target.rglob("*.json*"):
        assert (again / f.relative_to(target)).read_text() == f.read_text(), f.name


def test_fold_naming_an_unknown_key(tmp_path):
    a = write_audio(tmp_path / "x.wav")
    utts = [Segment(key="c/s/x", path=str(a), label="sad", raw_label="sad", corpus="c")]
    with pytest.raises(CorpusLayoutError, match="c/s/nope"):
        write_emobox_dataset(tmp_path / "d", utts, dataset="c", folds={1: {"test": ["c/s/nope"]}})


def test_malformed_lines_name_the_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(EMOBOX_LINES[0]) + "\n{not json\n")
    with pytest.raises(ManifestError, match=r"bad.jsonl:2: not valid JSON"):
        read_emobox_jsonl(p)
    p.write_text(json.dumps({"key": "k"}) + "\n")
    with pytest.raises(ManifestError, match=r"bad.jsonl:1: not an EmoBox record"):
        read_emobox_jsonl(p)
    p.write_text(json.dumps(EMOBOX_LINES[0]) + "\n" + json.dumps(EMOBOX_LINES[0]) + "\n")
    with pytest.raises(ManifestError, match=r"bad.jsonl:2: duplicate key"):
        read_emobox_jsonl(p)
    with pytest.raises(CorpusLayoutError, match="neither"):
        read_emobox_dataset(tmp_path)
