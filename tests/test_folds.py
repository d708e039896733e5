"""Fold builders, speaker independence, MELD 4-class test sets, fold files."""

from __future__ import annotations

import csv
import hashlib
import json
import random

import pytest

from spokenemo.core.errors import ProtocolError
from spokenemo.data import prepare, read_manifest
from spokenemo.data.manifest import Segment
from spokenemo.protocols.folds import (
    Fold,
    build_folds,
    contiguous_groups,
    cross_corpus,
    leave_one_session_out,
    leave_one_speaker_out,
    meld4_protocol,
    meld4_test_keys,
    natural_key,
    official_split,
    read_folds,
    read_folds_index,
    speaker_kfold,
    write_folds,
)
from spokenemo.protocols.labels import apply_label_set

FOUR = ("angry", "happy", "neutral", "sad")


def acted(corpus: str = "ravdess", n_speakers: int = 20, per_class: int = 2, labels=FOUR, **fields) -> list[Segment]:
    """A RAVDESS-like manifest: every speaker says every label ``per_class`` times."""
    return [Segment(key=f"{corpus}/{s:02d}/{lab}{i}", label=lab, speaker=f"{s:02d}", corpus=corpus, **fields)
            for s in range(1, n_speakers + 1) for lab in labels for i in range(per_class)]


def iemocap_like() -> list[Segment]:
    utts = []
    for sess in range(1, 6):
        for gender in "FM":
            spk = f"Ses{sess:02d}{gender}"
            for lab in ("neutral", "happy", "excited", "sad", "angry", "frustrated"):
                utts.append(Segment(key=f"iemocap/{spk}/{lab}", label=lab, speaker=spk, session=f"Ses{sess:02d}",
                                      corpus="iemocap"))
    return utts


def meld_like(test_counts: dict[str, int], raw_test: bool = False) -> list[Segment]:
    """MELD-like manifest; the same characters speak in every split."""
    utts = []
    for split, counts in (("train", {"neutral": 5, "joy": 3, "anger": 2, "sadness": 2, "fear": 1}),
                          ("dev", {"neutral": 2, "joy": 1, "anger": 1, "sadness": 1, "surprise": 1}),
                          ("test", test_counts)):
        n = 0
        for raw, count in counts.items():
            for _ in range(count):
                label = None if raw_test else {"joy": "happy", "anger": "angry", "sadness": "sad", "fear": "fearful",
                                              "surprise": "surprised", "disgust": "disgust"}.get(raw, raw)
                utts.append(Segment(key=f"meld/{split}/dia{n // 10}_utt{n % 10}", label=label, raw_label=raw,
                                      speaker=("Ross", "Rachel", "Joey")[n % 3], dialogue=f"{split}/dia{n // 10}",
                                      turn=n % 10, corpus="meld", split=split))
                n += 1
    return utts


def parts_speakers(fold: Fold, utts: list[Segment]) -> dict[str, set[str]]:
    return {p: {u.speaker for u in fold.select(utts, p)} for p in ("train", "valid", "test")}


# --- Fold ------------------------------------------------------------------------------------
def test_fold_rejects_key_in_two_parts():
    with pytest.raises(ProtocolError, match="'k1' is in both train and test"):
        Fold("f", train=("k1", "k2"), test=("k1",))


def test_fold_select_reports_missing_keys():
    fold = Fold("f", train=("a",), test=("b", "zz"))
    utts = [Segment(key="a"), Segment(key="b")]
    assert [u.key for u in fold.select(utts, "train")] == ["a"]
    with pytest.raises(ProtocolError, match="1 test keys are not in the manifest"):
        fold.select(utts, "test")
    with pytest.raises(ProtocolError, match="unknown fold part"):
        fold.part("dev")


def test_natural_sort():
    assert sorted(["10", "2", "1"], key=natural_key) == ["1", "2", "10"]
    assert sorted(["Actor_10", "Actor_9"], key=natural_key) == ["Actor_9", "Actor_10"]


# --- speaker k-fold --------------------------------------------------------------------------
def test_contiguous_groups_balanced():
    groups = contiguous_groups([str(i) for i in range(10, 0, -1)], 3)
    assert groups == [["1", "2", "3", "4"], ["5", "6", "7"], ["8", "9", "10"]]
    with pytest.raises(ProtocolError, match="cannot make 4 speaker groups from 3"):
        contiguous_groups(["a", "b", "c"], 4)
    with pytest.raises(ProtocolError, match="at least 2"):
        contiguous_groups(["a", "b"], 1)


def test_speaker_kfold_ravdess_protocol():
    utts = acted()
    folds = speaker_kfold(utts, k=5, n_valid=2)
    assert [f.name for f in folds] == ["fold1", "fold2", "fold3", "fold4", "fold5"]
    # fold k tests actors 4k-3..4k and validates on the first 2 actors of the next block (cyclically).
    assert folds[0].info["test_speakers"] == ["01", "02", "03", "04"]
    assert folds[0].info["valid_speakers"] == ["05", "06"]
    assert folds[4].info["test_speakers"] == ["17", "18", "19", "20"]
    assert folds[4].info["valid_speakers"] == ["01", "02"]
    tested = []
    for fold in folds:
        spk = parts_speakers(fold, utts)
        assert len(spk["train"]) == 14 and len(spk["valid"]) == 2 and len(spk["test"]) == 4
        assert not (spk["train"] & spk["test"]) and not (spk["valid"] & spk["test"])
        assert len(fold.train) + len(fold.valid) + len(fold.test) == len(utts)
        tested += sorted(spk["test"])
        assert fold.speaker_independent and fold.protocol == "speaker-kfold"
    assert tested == [f"{s:02d}" for s in range(1, 21)]  # every speaker tested exactly once


def test_speaker_kfold_explicit_groups_and_errors():
    utts = acted(n_speakers=6)
    folds = speaker_kfold(utts, groups=[["01", "03", "05"], ["02", "04", "06"]])
    assert folds[0].info["test_speakers"] == ["01", "03", "05"]
    assert {u.speaker for u in folds[0].select(utts, "train")} == {"02", "04", "06"}
    with pytest.raises(ProtocolError, match=r"speakers in no group: 06"):
        speaker_kfold(utts, groups=[["01", "02", "03"], ["04", "05"]])
    with pytest.raises(ProtocolError, match="'03' is in groups 1 and 2"):
        speaker_kfold(utts, groups=[["01", "02", "03"], ["03", "04", "05", "06"]])
    with pytest.raises(ProtocolError, match="'07' of group 2 is not in the manifest"):
        speaker_kfold(utts, groups=[["01", "02", "03"], ["04", "05", "06", "07"]])
    with pytest.raises(ProtocolError, match="next group has 3"):
        speaker_kfold(utts, k=2, n_valid=4)


def test_speaker_ids_are_qualified_across_corpora():
    # Speaker "01" of two corpora is two people: a test on corpus b's "01" may train on corpus a's "01".
    utts = acted("a", n_speakers=2) + acted("b", n_speakers=2)
    folds = leave_one_speaker_out(utts)
    assert [f.name for f in folds] == ["speaker-a/01", "speaker-a/02", "speaker-b/01", "speaker-b/02"]
    with pytest.raises(ProtocolError, match="ambiguous"):
        speaker_kfold(utts, groups=[["01", "02"], ["b/01", "b/02"]])
    folds = speaker_kfold(utts, groups=[["a/01", "a/02"], ["b/01", "b/02"]])
    assert {u.corpus for u in folds[0].select(utts, "test")} == {"a"}


def test_missing_speaker_is_an_error():
    utts = acted(n_speakers=3) + [Segment(key="anon", label="sad", corpus="ravdess")]
    with pytest.raises(ProtocolError, match=r"1 utterances have no speaker \(e.g. \['anon'\]\)"):
        speaker_kfold(utts, k=2)


# --- leave one out ---------------------------------------------------------------------------
def test_leave_one_session_out_iemocap():
    utts = apply_label_set(iemocap_like(), "4class")
    folds = leave_one_session_out(utts)
    assert [f.name for f in folds] == [f"session-Ses0{i}" for i in range(1, 6)]
    for i, fold in enumerate(folds, start=1):
        spk = parts_speakers(fold, utts)
        assert spk["test"] == {f"Ses0{i}F", f"Ses0{i}M"}
        assert len(spk["train"]) == 8 and not spk["valid"]
        assert fold.label_set == "4class"  # taken from the LabelledUtterances
        # 2 speakers x (neutral, happy, excited->happy, sad, angry)
        assert len(fold.test) == 10
    nxt = leave_one_session_out(utts, valid_next=True)
    assert nxt[4].info["valid_session"] == "Ses01"
    assert {u.session for u in nxt[4].select(utts, "valid")} == {"Ses01"}


def test_leave_one_session_out_catches_shared_speaker():
    utts = iemocap_like()
    utts.append(Segment(key="iemocap/x", label="sad", speaker="Ses01F", session="Ses02", corpus="iemocap"))
    with pytest.raises(ProtocolError, match="speakers in both train and test: Ses01F"):
        leave_one_session_out(utts)


def test_leave_one_session_out_needs_sessions():
    with pytest.raises(ProtocolError, match="have no session") as err:
        leave_one_session_out(acted(n_speakers=3))
    assert "loso-speaker" in err.value.hint


def test_leave_one_speaker_out_with_validation():
    utts = acted(n_speakers=5)
    folds = leave_one_speaker_out(utts, n_valid=1)
    assert len(folds) == 5
    assert folds[0].info == {"test_speakers": ["01"], "valid_speakers": ["02"]}
    assert folds[4].info == {"test_speakers": ["05"], "valid_speakers": ["01"]}
    assert parts_speakers(folds[4], utts)["train"] == {"02", "03", "04"}
    with pytest.raises(ProtocolError, match="needs at least 3 speakers"):
        leave_one_speaker_out(acted(n_speakers=2), n_valid=1)


# --- official and cross-corpus ---------------------------------------------------------------
def test_official_split_speaker_independent_corpus():
    utts = acted(n_speakers=4)
    for u in utts:
        u.split = {"01": "train", "02": "train", "03": "validation", "04": "test"}[u.speaker]
    (fold,) = official_split(utts)
    assert fold.speaker_independent
    assert parts_speakers(fold, utts) == {"train": {"01", "02"}, "valid": {"03"}, "test": {"04"}}
    utts[0].split = "test"  # speaker 01 now in train and test
    with pytest.raises(ProtocolError, match="speakers in both train and test: 01") as err:
        official_split(utts)
    assert "speaker_independent=False" in err.value.hint


def test_official_split_meld_is_declared_speaker_dependent():
    utts = meld_like({"neutral": 3, "joy": 2})
    (fold,) = official_split(utts)
    assert not fold.speaker_independent  # inferred for MELD, recorded in the fold
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (13, 6, 5)
    with pytest.raises(ProtocolError, match="speakers in both"):
        official_split(utts, speaker_independent=True)


def test_official_split_with_unknown_speakers():
    # MSP-Podcast: some speakers are unknown; the known ones are still checked.
    utts = acted(n_speakers=3)
    for u in utts:
        u.split = {"01": "train", "02": "test", "03": "test"}[u.speaker]
        if u.speaker == "03":
            u.speaker = None
    (fold,) = official_split(utts)
    assert fold.speaker_independent and len(fold.test) == 16
    utts[0].split = "test"
    with pytest.raises(ProtocolError, match="speakers in both train and test: 01"):
        official_split(utts)


def test_official_split_other_test_split():
    utts = acted(n_speakers=4)
    for u in utts:
        u.split = {"01": "train", "02": "development", "03": "test1", "04": "test2"}[u.speaker]
    (fold,) = official_split(utts, test_split="test1")
    assert parts_speakers(fold, utts)["test"] == {"03"}
    assert fold.info["left_out"] == {"test2": 8}
    with pytest.raises(ProtocolError, match="no official split"):
        official_split(acted(n_speakers=2))


def test_cross_corpus():
    utts = acted("ravdess", n_speakers=4) + acted("korean_emotiontts", n_speakers=2) + acted("nemo", n_speakers=3)
    (fold,) = cross_corpus(utts, ["ravdess", "korean"], ["nemo"])
    assert fold.name == "korean+ravdess->nemo"
    assert {u.corpus for u in fold.select(utts, "test")} == {"nemo"}
    assert len(fold.train) == 6 * 8 and len(fold.test) == 3 * 8
    per_spk = cross_corpus(utts, ["ravdess"], ["nemo"], valid_corpora=["korean"], test_by_speaker=True)
    assert [f.info["test_speakers"] for f in per_spk] == [["nemo/01"], ["nemo/02"], ["nemo/03"]]
    assert {u.corpus for u in per_spk[0].select(utts, "valid")} == {"korean_emotiontts"}
    with pytest.raises(ProtocolError, match="both a train and a test corpus"):
        cross_corpus(utts, ["ravdess"], ["RAVDESS"])
    with pytest.raises(ProtocolError, match=r"test corpus \['iemocap'\] not in the manifest"):
        cross_corpus(utts, ["ravdess"], ["iemocap"])


# --- MELD 4-class ----------------------------------------------------------------------------
def test_meld4_full_and_balanced_synthetic():
    counts = {"neutral": 70, "joy": 65, "anger": 61, "sadness": 60, "surprise": 9, "fear": 4, "disgust": 2}
    utts = meld_like(counts)
    full = meld4_test_keys(utts)
    assert len(full) == 70 + 65 + 61 + 60
    bal = meld4_test_keys(utts, balanced=True)
    by_key = {u.key: u for u in utts}
    labels = [by_key[k].label for k in bal]
    assert {lab: labels.count(lab) for lab in FOUR} == {lab: 60 for lab in FOUR}
    assert set(bal) <= set(full)
    # Deterministic and independent of manifest order, key spelling and raw-vs-canonical labels.
    shuffled = utts[:]
    random.Random(1).shuffle(shuffled)
    assert sorted(meld4_test_keys(shuffled, balanced=True)) == sorted(bal)
    renamed = [u.model_copy(update={"key": "x-" + u.key}) for u in meld_like(counts, raw_test=True)]
    assert sorted(k[2:] for k in meld4_test_keys(renamed, balanced=True)) == sorted(bal)
    assert sorted(meld4_test_keys(utts, balanced=True, seed=1)) != sorted(bal)


def test_meld4_balanced_needs_enough_per_class():
    utts = meld_like({"neutral": 70, "joy": 65, "anger": 61, "sadness": 59})
    with pytest.raises(ProtocolError, match="59 'sad' utterances, fewer than 60"):
        meld4_test_keys(utts, balanced=True)
    with pytest.raises(ProtocolError, match="no MELD test utterances"):
        meld4_test_keys(acted(n_speakers=2))


def test_meld4_protocol_train_on_meld_or_other_corpus():
    utts = meld_like({"neutral": 3, "joy": 2, "anger": 1, "sadness": 1, "fear": 4})
    (fold,) = meld4_protocol(utts)
    assert fold.name == "meld4-test-full" and not fold.speaker_independent
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (12, 5, 7)  # fear and surprise dropped
    utts += iemocap_like()
    (fold,) = meld4_protocol(utts, train_corpora=["iemocap"])
    assert fold.speaker_independent and fold.label_set == "4class"
    assert len(fold.train) == 10 * 5  # neutral, happy, excited (merged), sad, angry per speaker
    with pytest.raises(ProtocolError, match="MELD cannot be a training corpus"):
        meld4_protocol(utts, train_corpora=["meld"])


@pytest.mark.shared
def test_meld4_real_test_set(shared_data):
    csv_path = shared_data / "meld" / "test_sent_emo.csv"
    with open(csv_path, encoding="utf-8") as fh:
        emotions = [row["Emotion"] for row in csv.DictReader(fh)]
    expected = {e: emotions.count(e) for e in ("neutral", "joy", "anger", "sadness")}
    assert sum(expected.values()) == 2211  # EmoBox's MELD 4-class test size
    utts = prepare("meld", shared_data / "meld", with_duration=False)
    full = meld4_test_keys(utts)
    by_key = {u.key: u for u in utts}
    got = [by_key[k].raw_label for k in full]
    assert {e: got.count(e) for e in expected} == expected and len(full) == 2211
    bal = meld4_test_keys(utts, balanced=True)
    assert len(bal) == 240 and set(bal) <= set(full)
    assert {lab: [by_key[k].label for k in bal].count(lab) for lab in FOUR} == {lab: 60 for lab in FOUR}
    assert sorted(meld4_test_keys(list(reversed(utts)), balanced=True)) == sorted(bal)


# --- build_folds -----------------------------------------------------------------------------
def test_build_folds_dispatch_and_errors():
    utts = acted(n_speakers=4, labels=FOUR + ("calm",))
    folds = build_folds(utts, "speaker-kfold", k=2, label_set="4class")
    assert all(f.label_set == "4class" for f in folds)
    assert all(len(f.test) == 2 * 4 * 2 for f in folds)  # calm dropped
    assert len(build_folds(utts, "loso-speaker")) == 4
    with pytest.raises(ProtocolError, match="unknown protocol 'loso'"):
        build_folds(utts, "loso")
    with pytest.raises(ProtocolError, match="4-class protocol"):
        build_folds(meld_like({"neutral": 1}), "meld4-full", label_set="meld7")


def test_fixture_manifest_kfold(test_data):
    utts = apply_label_set(read_manifest(test_data / "fixtures.jsonl"), "4class")
    folds = speaker_kfold(utts, k=2)
    assert [f.info["test_speakers"] for f in folds] == [["01", "02"], ["03", "04"]]
    assert [len(f.test) for f in folds] == [8, 8]


# --- files -----------------------------------------------------------------------------------
def test_write_read_roundtrip(tmp_path):
    utts = apply_label_set(acted(n_speakers=6, labels=FOUR + ("calm",)), "4class")
    folds = speaker_kfold(utts, k=3, n_valid=1)
    index_path = write_folds(folds, tmp_path / "folds", utts)
    assert index_path == tmp_path / "folds" / "index.json"
    assert sorted(p.name for p in (tmp_path / "folds").iterdir()) == ["fold1.json", "fold2.json", "fold3.json",
                                                                      "index.json"]
    index = read_folds_index(tmp_path / "folds")
    assert index["protocol"] == "speaker-kfold" and index["label_set"] == "4class" and index["n_folds"] == 3
    assert index["labels"] == list(FOUR) and index["speaker_independent"] is True
    c = index["folds"][0]["counts"]
    assert c["test"] == {"n": 16, "speakers": 2, "classes": {lab: 4 for lab in FOUR}}
    assert c["valid"]["n"] == 8 and c["train"]["n"] == 24 and c["train"]["speakers"] == 3
    assert read_folds(tmp_path / "folds") == folds
    on_disk = json.loads((tmp_path / "folds" / "fold2.json").read_text())
    assert on_disk["info"]["test_speakers"] == ["03", "04"]


def test_rewrite_removes_stale_fold_files(tmp_path):
    utts = acted(n_speakers=4)
    write_folds(speaker_kfold(utts, k=4), tmp_path, utts)
    write_folds(speaker_kfold(utts, k=2), tmp_path, utts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fold1.json", "fold2.json", "index.json"]
    assert len(read_folds(tmp_path)) == 2


def test_speaker_dependent_flag_is_written(tmp_path):
    utts = meld_like({"neutral": 2, "joy": 1})
    write_folds(official_split(utts), tmp_path, utts)
    assert read_folds_index(tmp_path)["speaker_independent"] is False
    assert read_folds(tmp_path)[0].speaker_independent is False


def test_read_folds_errors(tmp_path):
    with pytest.raises(ProtocolError, match="fold index not found"):
        read_folds(tmp_path)
    utts = acted(n_speakers=2)
    write_folds(leave_one_speaker_out(utts), tmp_path, utts)
    (tmp_path / "speaker-01.json").unlink()
    with pytest.raises(ProtocolError, match="speaker-01.json: fold file listed in index.json is missing"):
        read_folds(tmp_path)
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(ProtocolError, match="not valid JSON"):
        read_folds(tmp_path)


def test_write_folds_rejects_mixed_protocols(tmp_path):
    utts = acted(n_speakers=2)
    mixed = leave_one_speaker_out(utts) + speaker_kfold(utts, k=2)
    with pytest.raises(ProtocolError, match="several protocols"):
        write_folds(mixed, tmp_path, utts)


def test_custom_label_set_order_in_index(tmp_path):
    utts = acted(n_speakers=2, labels=FOUR + ("calm",))
    labelled = apply_label_set(utts, "sad,angry")
    write_folds(leave_one_speaker_out(labelled), tmp_path, labelled)
    index = read_folds_index(tmp_path)
    assert index["label_set"] == "sad,angry" and index["labels"] == ["sad", "angry"]
    assert index["folds"][0]["counts"]["test"]["classes"] == {"sad": 2, "angry": 2}


# --- the fold files of the reference protocols do not change ------------------------------------------
#: SHA-256 (first 16 hex digits) of the fold files written before the fold code was split into
#: modules and speaker identities moved to spokenemo.core.speakers.
REFERENCE_FOLD_FILES = {
    "ravdess": {"fold1.json": "d7e10ff045e8d4b3", "fold2.json": "4de43fce1cc17032", "fold3.json": "a8e99c68a616e2ca",
                "fold4.json": "677cbc0360fe749c", "fold5.json": "a77afc9b076d3413", "index.json": "f05775ee16bd228f"},
    "nemo": {"index.json": "71789639fefba167", "speaker-EB0.json": "606fb6279471dff1",
             "speaker-IC0.json": "25583227d58b4249", "speaker-KD0.json": "697efd41bc99988b",
             "speaker-SM0.json": "fae7d5488c74bf73", "speaker-TP0.json": "82f9ef58b4f58b9b"},
}


@pytest.mark.shared
@pytest.mark.parametrize(("corpus", "protocol", "label_set"), [("ravdess", "speaker-kfold", "4class"),
                                                                ("nemo", "loso-speaker", "nemo6")])
def test_reference_fold_files_are_byte_identical(shared_data, tmp_path, corpus, protocol, label_set):
    utts = apply_label_set(prepare(corpus, shared_data / corpus, with_duration=False), label_set)
    write_folds(build_folds(utts, protocol, k=5), tmp_path, utts)
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in sorted(tmp_path.iterdir())}
    assert digests == REFERENCE_FOLD_FILES[corpus]
