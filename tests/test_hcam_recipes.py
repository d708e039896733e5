"""Conversation fields of the recipes HCAM uses (issue #19), on fake trees: IEMOCAP turn order from
timestamps and Session 5 as the test session, MELD dialogue ids, CMU-MOSI video ids."""

from __future__ import annotations

import pytest

from spokenemo.core.errors import CorpusLayoutError
from spokenemo.data import prepare
from spokenemo.data.conversation import conversations
from spokenemo.protocols.speaker_folds import leave_one_session_out
from spokenemo.systems.hcam.turns import check_apart

from fake_corpora import make_iemocap, make_meld, write_audio

MOSI_HEADER = "video_id,clip_id,text,label,label_T,label_A,label_V,annotation,mode"


def test_iemocap_conversations_follow_timestamps_and_session5_tests(tmp_path):
    make_iemocap(tmp_path, sessions=(1, 2, 3, 4, 5), late_id=True)
    convs = {c.id: c for c in conversations(prepare("iemocap", tmp_path, with_duration=False))}
    assert len(convs) == 10
    impro = convs["Ses05F_impro01"]
    # F002 has the highest id but starts first (0.5 s): it opens the conversation
    assert [k.rsplit("_", 1)[1] for k in impro.keys] == ["F002", "F000", "M000", "F001", "M001"]
    assert impro.turns == (0, 1, 2, 3, 4) and impro.speakers == ("Ses05F", "Ses05M")
    folds = {f.name: f for f in leave_one_session_out(prepare("iemocap", tmp_path, with_duration=False))}
    fold = folds["session-Ses05"]
    segs = prepare("iemocap", tmp_path, with_duration=False)
    test = fold.select(segs, "test")
    assert {s.session for s in test} == {"Ses05"} and {s.dialogue for s in test} == {"Ses05F_impro01",
                                                                                      "Ses05M_script01_1"}
    check_apart({"train": fold.select(segs, "train"), "test": test})  # no dialogue on both sides


def test_meld_dialogue_ids_restart_per_split(tmp_path):
    make_meld(tmp_path, clips=False)
    convs = conversations(prepare("meld", tmp_path))
    assert [(c.id, c.keys) for c in convs] == [
        ("dev/dia0", ("meld/dev/dia0_utt0",)),
        ("test/dia0", ("meld/test/dia0_utt0", "meld/test/dia0_utt1")),
        ("train/dia0", ("meld/train/dia0_utt0", "meld/train/dia0_utt1")),
        ("train/dia1", ("meld/train/dia1_utt0",)),
    ]
    assert {c.segments[0].split for c in convs if c.id.startswith("test/")} == {"test"}


def _mosi(root, rows, clips=True):
    root.mkdir(parents=True, exist_ok=True)
    (root / "label.csv").write_text("\n".join([MOSI_HEADER, *rows]) + "\n", encoding="utf-8")
    if clips:
        for i, row in enumerate(rows):
            video, clip = row.split(",")[:2]
            write_audio(root / "Raw" / video / f"{clip}.wav", seed=i)


def test_cmu_mosi_video_ids_are_dialogues(tmp_path):
    _mosi(tmp_path, ["03bSnISJMiM,10,and it was awesome,2.4,2.0,2.2,2.6,Positive,train",
                     "03bSnISJMiM,2,i did not like it,-1.8,-2,-1,-1.6,Negative,train",
                     "0h-zjBukYpk,2,it is a movie,0.0,0,0,0,Neutral,valid",
                     "0h-zjBukYpk,1,the plot was boring,-0.6,0,0,0,Negative,test"])
    utts = prepare("cmu_mosi", tmp_path, with_duration=False)
    convs = conversations(utts)
    first = {c.id: c for c in convs}["03bSnISJMiM"]
    assert len(convs) == 2 and first.keys == ("cmu_mosi/03bSnISJMiM/2", "cmu_mosi/03bSnISJMiM/10")
    assert [s.label for s in first] == ["negative", "positive"]
    assert first.segments[1].extra["sentiment_score"] == pytest.approx(2.4)
    assert first.segments[0].path.endswith("03bSnISJMiM/2.wav") and first.segments[0].text == "i did not like it"
    assert {s.key: s.split for s in utts}["cmu_mosi/0h-zjBukYpk/2"] == "dev"
    assert {s.key: s.label for s in utts}["cmu_mosi/0h-zjBukYpk/2"] == "neutral"


def test_cmu_mosi_layout_errors(tmp_path):
    with pytest.raises(CorpusLayoutError, match="label.csv"):
        prepare("cmu_mosi", tmp_path)
    _mosi(tmp_path / "a", ["v1,x,text,1.0,1,1,1,Positive,train"], clips=False)
    with pytest.raises(CorpusLayoutError, match="clip_id must be an integer"):
        prepare("cmu_mosi", tmp_path / "a")
    _mosi(tmp_path / "b", ["v1,1,text,1.0,1,1,1,Positive,train"], clips=False)
    with pytest.raises(CorpusLayoutError, match="v1"):
        prepare("cmu_mosi", tmp_path / "b", with_duration=False)
    assert len(prepare("cmu_mosi", tmp_path / "b", with_duration=False, on_missing="keep")) == 1
