"""Segments, recordings and conversations: schema, the conversation iterator, recipes that fill
dialogue and turn order, and folds that keep conversations whole."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from spokenemo.apps.cli import cli
from spokenemo.core.errors import ManifestError, ProtocolError
from spokenemo.data import (
    Conversation,
    ConversationError,
    Segment,
    conversations,
    parse_manifest_lines,
    prepare,
    read_manifest,
    recordings,
    require_audio_paths,
    write_manifest,
)
from spokenemo.data.emobox import read_emobox_jsonl
from spokenemo.data.recipes.msp_podcast import podcast_turns
from spokenemo.protocols import (
    Fold,
    build_folds,
    check_conversations,
    dialogue_ids,
    dialogue_kfold,
    leave_one_session_out,
    leave_one_speaker_out,
    official_split,
    read_folds,
    speaker_kfold,
)

from fake_corpora import SECONDS, make_emorynlp, make_iemocap, make_meld, make_msp_podcast, write_audio


def turn(key: str, dialogue: str | None, t: int | None, speaker: str = "A", corpus: str = "x", **kw) -> Segment:
    return Segment(key=key, dialogue=dialogue, turn=t, speaker=speaker, corpus=corpus, **kw)


def lines(*rows: dict) -> list[str]:
    return [json.dumps(r) for r in rows]


# --- the schema --------------------------------------------------------------------------------
def test_utterance_is_segment():
    assert Segment is Segment
    assert Segment(key="a", dialogue="d", turn=0).turn == 0


def test_turn_is_a_whole_number_and_old_string_turns_still_read(tmp_path):
    old = tmp_path / "old.jsonl"
    old.write_text("\n".join(lines({"key": "a", "dialogue": 7, "turn": "3"}, {"key": "b", "dialogue": "d", "turn": " 4 "})))
    a, b = read_manifest(old)
    assert (a.dialogue, a.turn, b.turn) == ("7", 3, 4)
    write_manifest(tmp_path / "new.jsonl", [a, b])
    written = [json.loads(x) for x in (tmp_path / "new.jsonl").read_text().splitlines()]
    assert [(r["dialogue"], r["turn"]) for r in written] == [("7", 3), ("d", 4)]


@pytest.mark.parametrize(("row", "message"), [
    ({"key": "a", "dialogue": "d", "turn": "utt3"}, "turn: turn must be a whole number >= 0 .*'utt3'"),
    ({"key": "a", "dialogue": "d", "turn": True}, "turn: turn must be a whole number .*got True"),
    ({"key": "a", "dialogue": "d", "turn": -1}, "turn: Input should be greater than or equal to 0"),
    ({"key": "a", "dialogue": "d", "turn": 1.5}, "turn: "),
    ({"key": "a", "turn": 2}, "turn 2 needs a dialogue"),
    ({"key": "a", "dialogue": " ", "turn": 2}, "dialogue: dialogue must be a non-empty id"),
])
def test_bad_turns_name_file_and_line(row, message):
    with pytest.raises(ManifestError, match=r"m.jsonl:2: " + message):
        parse_manifest_lines(lines({"key": "ok"}, row), source="m.jsonl")


def test_manifest_row_without_path_names_its_line(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text("\n".join(lines({"key": "a", "path": "a.wav"}, {}, {"key": "b", "label": "sad"},
                                 {"key": "c", "label": "sad"})))
    with pytest.raises(ManifestError, match=rf"{m}:2: key: Field required"):
        read_manifest(m)
    m.write_text("\n".join(lines({"key": "a", "path": "a.wav"}, {"key": "b", "label": "sad"},
                                 {"key": "c", "label": "sad"})))
    assert len(read_manifest(m)) == 3  # text-only rows are fine unless audio is required
    with pytest.raises(ManifestError, match=rf"{m}:2: row 'b' has no audio 'path' \(2 rows have none\)"):
        read_manifest(m, require_audio=True)
    segs = read_manifest(m)
    assert segs[2].origin == f"{m}:3"
    with pytest.raises(ManifestError, match=rf"{m}:3: row 'c' has no audio 'path'; cues need audio"):
        require_audio_paths(segs[2:], purpose="cues need audio")
    with pytest.raises(ManifestError, match=r"<manifest>: row 'z' has no audio"):
        require_audio_paths([Segment(key="z")])  # built in code: no line to name


def test_json_error_message_says_at_once():
    # json's own message ends in "at" for control characters ("Invalid control character at")
    bad = '{"key": "a", "text": "tab\there"}'
    with pytest.raises(ManifestError) as err:
        parse_manifest_lines([bad], source="m.jsonl")
    assert "m.jsonl:1: not valid JSON (Invalid control character at column 26)" in str(err.value)
    assert "at at" not in str(err.value)
    with pytest.raises(ManifestError, match=r"Expecting ',' delimiter at column 13\)"):
        parse_manifest_lines(['{"key": "a" "x": 1}'], source="m.jsonl")


def test_emobox_json_error_has_the_real_line(tmp_path):
    f = tmp_path / "e.jsonl"
    f.write_text('{"key": "a", "wav": "a.wav", "emo": "sad"}\n\n{"key": "b", "wav": "tab\there"}\n')
    with pytest.raises(ManifestError, match=r"e.jsonl:3: not valid JSON \(Invalid control character at column"):
        read_emobox_jsonl(f)


# --- the conversation iterator -------------------------------------------------------------------
def test_conversations_group_and_order():
    segs = [turn("b2", "dia10", 2), turn("a1", "dia2", 1, "B"), turn("b0", "dia10", 0), turn("a0", "dia2", 0),
            turn("solo", None, None), turn("y0", "dia2", 0, corpus="y"), turn("b1", "dia10", 1, "C")]
    convs = conversations(segs)
    assert [(c.corpus, c.id) for c in convs] == [("x", "dia2"), ("x", "dia10"), ("y", "dia2")]
    assert [c.keys for c in convs] == [("a0", "a1"), ("b0", "b1", "b2"), ("y0",)]
    assert convs[1].turns == (0, 1, 2) and convs[1].speakers == ("A", "C") and len(convs[1]) == 3
    assert convs[0].name == "x/dia2" and [s.key for s in convs[0]] == ["a0", "a1"]
    assert conversations(reversed(segs)) == convs  # order of the input does not matter
    assert isinstance(convs[0], Conversation)


def test_conversations_reject_duplicate_and_missing_turns(tmp_path):
    m = tmp_path / "m.jsonl"
    write_manifest(m, [turn("a", "d1", 0), turn("b", "d1", 1), turn("c", "d1", 1)])
    with pytest.raises(ConversationError, match=rf"dialogue 'x/d1' has two segments with turn 1: 'b' \({m}:2\) "
                                                rf"and 'c' \({m}:3\)"):
        conversations(read_manifest(m))
    with pytest.raises(ConversationError, match="segment 'n' of dialogue 'd1' has no turn"):
        conversations([turn("a", "d1", 0), turn("n", "d1", None)])


def test_recordings_group_segments_by_file(tmp_path):
    write_audio(tmp_path / "long.wav", seconds=1.0)
    write_audio(tmp_path / "short.wav")
    segs = [Segment(key="s2", path="long.wav", start=0.5, end=0.9, speaker="B", corpus="c"),
            Segment(key="s1", path="long.wav", start=0.0, end=0.4, speaker="A", corpus="c"),
            Segment(key="w", path=str(tmp_path / "short.wav"), speaker="A", corpus="c", duration=SECONDS),
            Segment(key="text-only", corpus="c")]
    recs = recordings(segs, base=tmp_path)
    assert [(r.path.name, r.segments, r.speakers) for r in recs] == [("long.wav", ("s1", "s2"), ("A", "B")),
                                                                      ("short.wav", ("w",), ("A",))]
    assert recs[1].duration == SECONDS and recs[0].duration is None and recs[0].corpus == "c"
    headed = recordings(segs, base=tmp_path, read_header=True)
    assert headed[0].duration == pytest.approx(1.0) and headed[0].sample_rate == 16000


# --- recipes that fill dialogue and turn ---------------------------------------------------------
def test_iemocap_turns_follow_timestamps_and_session5_is_a_test_session(tmp_path):
    make_iemocap(tmp_path, sessions=(1, 5), late_id=True)
    segs = prepare("iemocap", tmp_path, with_duration=False)
    convs = {c.id: c for c in conversations(segs)}
    assert sorted(convs) == ["Ses01F_impro01", "Ses01M_script01_1", "Ses05F_impro01", "Ses05M_script01_1"]
    impro = convs["Ses05F_impro01"]
    assert [k.rsplit("_", 1)[1] for k in impro.keys] == ["F002", "F000", "M000", "F001", "M001"]
    assert impro.turns == (0, 1, 2, 3, 4) and impro.speakers == ("Ses05F", "Ses05M")
    folds = leave_one_session_out(segs)
    test5 = next(f for f in folds if f.name == "session-Ses05")
    assert set(test5.test) == {k for c in convs.values() if c.id.startswith("Ses05") for k in c.keys}
    with pytest.raises(ProtocolError, match="conversations with turns in both train and test: iemocap/Ses01F_impro01"):
        leave_one_speaker_out(segs)  # the two speakers of a dialogue would be split


def test_meld_and_emorynlp_dialogues(tmp_path):
    make_meld(tmp_path / "meld", clips=False)
    make_emorynlp(tmp_path / "meld" / "emorynlp")
    meld = conversations(prepare("meld", tmp_path / "meld"))
    assert [(c.id, c.turns) for c in meld] == [("dev/dia0", (0,)), ("test/dia0", (0, 1)),
                                               ("train/dia0", (0, 1)), ("train/dia1", (0,))]
    assert meld[2].speakers == ("Chandler", "The Interviewer")
    emory = conversations(prepare("emorynlp", tmp_path / "meld"))
    assert [(c.id, c.turns) for c in emory] == [("s01e02c01", (1, 2)), ("s01e15c01", (1,)), ("s02e05c03", (1,))]


def test_msp_podcast_dialogue_is_the_podcast(tmp_path):
    make_msp_podcast(tmp_path, more=True)
    segs = {s.key.rsplit("/", 1)[1]: s for s in prepare("msp_podcast", tmp_path, with_duration=False)}
    assert (segs["MSP-PODCAST_0001_0008"].dialogue, segs["MSP-PODCAST_0001_0008"].turn) == ("0001", 0)
    assert (segs["MSP-PODCAST_0001_0010"].dialogue, segs["MSP-PODCAST_0001_0010"].turn) == ("0001", 1)
    five = next(c for c in conversations(segs.values()) if c.id == "0005")
    assert [k.rsplit("/", 1)[1] for k in five.keys] == ["MSP-PODCAST_0005_0003_0001", "MSP-PODCAST_0005_0003_0002",
                                                         "MSP-PODCAST_0005_0012"]
    assert segs["podcast_extra_clip"].dialogue is None and segs["podcast_extra_clip"].turn is None
    assert podcast_turns(["MSP-PODCAST_0002_0001", "x"]) == {"MSP-PODCAST_0002_0001": ("0002", 0)}


@pytest.mark.shared
def test_real_meld_and_emorynlp_conversations(shared_data):
    meld = conversations(prepare("meld", shared_data / "meld"))
    assert len(meld) == 1432 and sum(len(c) for c in meld) == 13708
    assert Counter(c.segments[0].split for c in meld) == {"train": 1038, "dev": 114, "test": 280}
    assert all(len({s.split for s in c}) == 1 for c in meld)
    emory = conversations(prepare("emorynlp", shared_data / "meld"))
    assert len(emory) == 827 and sum(len(c) for c in emory) == 9489
    folds = build_folds(prepare("emorynlp", shared_data / "meld"), "official")
    assert "split_conversations" not in folds[0].info  # no scene crosses the official splits


# --- folds keep conversations whole --------------------------------------------------------------
def test_check_conversations_names_the_split_dialogues():
    segs = [turn("a", "d1", 0, "A"), turn("b", "d1", 1, "B"), turn("c", "d2", 0, "C")]
    fold = Fold("f", train=("a", "c"), test=("b",))
    with pytest.raises(ProtocolError, match=r"fold 'f' \(\): conversations with turns in both train and test: x/d1"):
        check_conversations(fold, dialogue_ids(segs))
    check_conversations(Fold("ok", train=("a", "b"), test=("c",)), dialogue_ids(segs))


def test_speaker_kfold_refuses_to_split_a_conversation():
    segs = [turn(f"{d}/{t}", d, t, speaker=f"{d}{'AB'[t % 2]}", label="sad") for d in ("d1", "d2", "d3") for t in range(2)]
    segs.append(turn("x/0", "dx", 0, speaker="d1A", label="sad"))
    segs.append(turn("x/1", "dx", 1, speaker="d3B", label="sad"))
    with pytest.raises(ProtocolError, match="conversations with turns in both .*x/dx"):
        speaker_kfold(segs, k=3)


def test_official_split_reports_split_conversations(caplog):
    segs = [turn("a", "p1", 0, "A", split="train"), turn("b", "p1", 1, "B", split="test"),
            turn("c", "p2", 0, "C", split="train"), turn("d", "p3", 0, "D", split="test")]
    with caplog.at_level(logging.WARNING):
        (fold,) = official_split(segs)
    assert fold.info["split_conversations"] == ["x/p1"]
    assert "1 conversations have turns in two parts" in caplog.text


def test_dialogue_kfold_keeps_dialogues_whole_and_says_when_speakers_are_shared():
    shared = [turn(f"d{d}/{t}", f"d{d}", t, speaker="AB"[t % 2], label="sad") for d in range(10) for t in range(3)]
    folds = dialogue_kfold(shared, k=5, valid_next=True)
    assert [f.name for f in folds] == [f"fold{i}" for i in range(1, 6)]
    owner = dialogue_ids(shared)
    for f in folds:
        parts = [{owner[k] for k in f.part(p)} for p in ("train", "valid", "test")]
        assert len(parts[2]) == 2 and len(parts[1]) == 2 and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
        assert not f.speaker_independent
    assert sorted(k for f in folds for k in f.test) == sorted(s.key for s in shared)
    again = dialogue_kfold(list(reversed(shared)), k=5, valid_next=True)  # same groups, whatever the input order
    assert [(set(f.test), set(f.valid)) for f in again] == [(set(f.test), set(f.valid)) for f in folds]
    assert dialogue_kfold(shared, k=5, seed=1) != dialogue_kfold(shared, k=5, seed=0)
    apart = [turn(f"d{d}/{t}", f"d{d}", t, speaker=f"s{d}{'AB'[t % 2]}", label="sad") for d in range(4) for t in range(2)]
    assert all(f.speaker_independent for f in build_folds(apart, "dialogue-kfold", k=2))
    with pytest.raises(ProtocolError, match="have no dialogue"):
        dialogue_kfold([*apart, turn("loose", None, None)], k=2)


def test_dialogue_kfold_writes_through_the_cli(tmp_path):
    m = tmp_path / "m.jsonl"
    write_manifest(m, [turn(f"d{d}/{t}", f"d{d}", t, speaker="AB"[t % 2], label="sad") for d in range(6) for t in range(2)])
    result = CliRunner().invoke(cli, ["folds", str(m), "--protocol", "dialogue-kfold", "--k", "3", "-o", str(tmp_path / "f")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "conversations that share speakers were kept whole" in result.output
    assert [len(f.test) for f in read_folds(tmp_path / "f")] == [4, 4, 4]


def test_fixture_paths_are_untouched(test_data):
    # the segment schema still reads the repository's fixture manifest (written before turn/dialogue checks)
    assert len(read_manifest(Path(test_data) / "fixtures.jsonl")) > 0


def test_origin_does_not_change_equality():
    (read,) = parse_manifest_lines(lines({"key": "a", "dialogue": "d", "turn": 0}), source="m.jsonl")
    assert read.origin == "m.jsonl:1" and Segment(key="a", dialogue="d", turn=0).origin is None
    assert read == Segment(key="a", dialogue="d", turn=0) and read != Segment(key="a")
