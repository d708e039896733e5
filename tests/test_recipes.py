"""Corpus recipes on fake trees that mirror each official release layout."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from spokenemo.core.errors import CorpusLayoutError, LabelError, SpokenemoError
from spokenemo.data import (
    available_corpora,
    corpus_names,
    prepare,
    read_manifest,
    resolve_corpus,
    write_manifest,
)
from spokenemo.data.recipes.esd import split_of
from spokenemo.data.recipes.iemocap import turn_speaker
from spokenemo.data.recipes.meld import fix_mojibake

from fake_corpora import (
    SECONDS,
    make_crema_d,
    make_emodb,
    make_emorynlp,
    make_esd,
    make_iemocap,
    make_korean,
    make_meld,
    make_msp_podcast,
    make_nemo,
    make_ravdess,
    write_audio,
)


def by_key(utts):
    return {u.key: u for u in utts}


# --- registry ------------------------------------------------------------------------------------
def test_registry_lists_every_recipe():
    assert available_corpora() == sorted(["ravdess", "nemo", "korean_emotiontts", "meld", "emorynlp", "iemocap",
                                          "emodb", "crema_d", "msp_podcast", "esd", "cmu_mosi", "folder", "csv"])


def test_unknown_corpus_names_the_choices(tmp_path):
    with pytest.raises(SpokenemoError, match="no recipe for corpus 'tess'") as e:
        prepare("tess", tmp_path)
    assert "ravdess" in str(e.value)


def test_unknown_option_lists_valid_options(tmp_path):
    with pytest.raises(SpokenemoError, match="has no option include_video") as e:
        prepare("ravdess", tmp_path, include_video=True)
    assert "include_song" in str(e.value)


def test_alias_and_bad_on_missing(tmp_path):
    make_crema_d(tmp_path)
    assert len(prepare("crema-d", tmp_path, with_duration=False)) == 6
    make_nemo(tmp_path / "nemo")
    with pytest.raises(CorpusLayoutError, match="on_missing must be one of"):
        prepare("nemo", tmp_path / "nemo", on_missing="ignore")



@pytest.mark.parametrize(("alias", "make", "n"), [
    ("korean", make_korean, None), ("cremad", make_crema_d, 6), ("msppodcast", make_msp_podcast, 5),
    ("MSP-Podcast", make_msp_podcast, 5), ("emo-db", make_emodb, None),
])
def test_readme_names_are_accepted(tmp_path, alias, make, n):
    facts = make(tmp_path)
    assert len(prepare(alias, tmp_path, with_duration=False)) == (n or facts["n"])


def test_generic_picks_folder_or_csv_by_the_root(tmp_path):
    write_audio(tmp_path / "labels" / "angry" / "a.wav")
    write_audio(tmp_path / "labels" / "sad" / "b.wav")
    assert {u.label for u in prepare("generic", tmp_path / "labels", with_duration=False)} == {"angry", "sad"}
    table = tmp_path / "table"
    write_audio(table / "wav" / "c.wav")
    (table / "list.csv").write_text("path,label,speaker\nwav/c.wav,joy,s1\n")
    (table / "notes.csv").write_text("who,what\nme,notes\n")  # not a path,label table
    by_folder = prepare("generic", table, with_duration=False)  # the folder holding one path,label table
    by_file = prepare("GENERIC", table / "list.csv", with_duration=False)
    assert [(u.key, u.label) for u in by_folder] == [(u.key, u.label) for u in by_file] == [("list/s1/c", "happy")]
    assert resolve_corpus("generic", table) == ("csv", table / "list.csv")
    assert resolve_corpus("generic", tmp_path / "labels") == ("folder", tmp_path / "labels")
    assert resolve_corpus("cremad") == ("crema_d", None)
    with pytest.raises(SpokenemoError, match="'generic' needs the root"):
        resolve_corpus("generic")
    names = corpus_names()
    assert names["folder"] == ["generic"] and names["csv"] == ["generic"]
    assert names["korean_emotiontts"] == ["korean"] and names["msp_podcast"] == ["msp-podcast", "msppodcast"]
    assert "cremad" in names["crema_d"] and names["ravdess"] == []

def test_missing_root_is_a_layout_error(tmp_path):
    with pytest.raises(CorpusLayoutError, match="does not exist"):
        prepare("iemocap", tmp_path / "nowhere")


# --- RAVDESS -------------------------------------------------------------------------------------
def test_ravdess_speech(tmp_path):
    make_ravdess(tmp_path)
    utts = prepare("ravdess", tmp_path)
    assert len(utts) == 120
    assert Counter(u.speaker for u in utts) == {"01": 60, "02": 60}
    labels = Counter(u.label for u in utts)
    assert labels["neutral"] == 8 and all(labels[x] == 16 for x in
                                          ("calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"))
    u = by_key(utts)["ravdess/01/03-01-05-02-02-01-01"]
    assert (u.label, u.raw_label, u.gender, u.language) == ("angry", "05", "M", "en")
    assert u.text == "Dogs are sitting by the door"
    assert u.extra == {"modality": "audio-only", "vocal_channel": "speech", "intensity": "strong",
                       "statement": "02", "repetition": 1}
    assert by_key(utts)["ravdess/02/03-01-01-01-01-01-02"].gender == "F"
    assert all(Path(x.path).is_absolute() and Path(x.path).is_file() for x in utts)
    assert all(x.duration == pytest.approx(SECONDS) for x in utts)
    assert [x.key for x in utts] == sorted(x.key for x in utts)


def test_ravdess_song_option(tmp_path):
    make_ravdess(tmp_path)
    utts = prepare("ravdess", tmp_path, include_song=True, with_duration=False)
    songs = [u for u in utts if u.extra["vocal_channel"] == "song"]
    assert len(utts) == 126 and len(songs) == 6
    assert {u.label for u in songs} == {"neutral", "happy", "fearful"}
    assert all(u.duration is None for u in utts)
    only_song = prepare("ravdess", tmp_path, include_song=True, include_speech=False)
    assert len(only_song) == 6 and only_song[0].path.endswith(".flac")


def test_ravdess_one_level_down(tmp_path):
    make_ravdess(tmp_path / "audio_speech_actors_01-24", actors=(3,), song=False)
    utts = prepare("ravdess", tmp_path, with_duration=False)
    assert len(utts) == 60 and utts[0].speaker == "03"


def test_ravdess_wrong_root_says_what_was_expected(tmp_path):
    (tmp_path / "wav").mkdir()
    with pytest.raises(CorpusLayoutError) as e:
        prepare("ravdess", tmp_path)
    msg = str(e.value)
    assert str(tmp_path) in msg and "Actor_01" in msg and "wav/" in msg


def test_ravdess_real_clips_in_tests_data(test_data):
    root = test_data / "ravdess"
    if not root.is_dir():
        pytest.skip("tests/data/ravdess (real clips) not present")
    utts = prepare("ravdess", root)
    assert utts and all(u.duration and u.duration > 1.0 for u in utts)
    assert all(u.gender == ("M" if int(u.speaker) % 2 else "F") for u in utts)


# --- nEMO / Korean (small fakes; the real folders are tested in test_recipes_shared.py) -------------
def test_nemo_fields(tmp_path):
    make_nemo(tmp_path)
    utts = by_key(prepare("nemo", tmp_path))
    u = utts["nemo/SM0/SM0_sadness_3"]
    assert (u.speaker, u.gender, u.label, u.raw_label, u.language) == ("SM0", "M", "sad", "sadness", "pl")
    assert u.text == "Idę do domu." and u.extra == {"normalized_text": "idę do domu", "age": 31}
    assert u.path.endswith("samples/SM0_sadness_3.opus") and u.duration == pytest.approx(SECONDS)


def test_nemo_missing_audio_is_reported(tmp_path):
    make_nemo(tmp_path, missing=("EB0_neutral_2",))
    with pytest.raises(CorpusLayoutError) as e:
        prepare("nemo", tmp_path)
    msg = str(e.value)
    assert "1 of 4" in msg and "nemo/EB0/EB0_neutral_2" in msg and "samples/EB0_neutral_2.{wav" in msg
    assert "on_missing='skip'" in msg
    assert len(prepare("nemo", tmp_path, on_missing="skip")) == 3
    kept = by_key(prepare("nemo", tmp_path, on_missing="keep"))["nemo/EB0/EB0_neutral_2"]
    assert kept.path is None and kept.duration is None and "samples" in kept.extra["missing_audio"]


def test_nemo_unknown_label_names_the_line(tmp_path):
    make_nemo(tmp_path)
    tsv = tmp_path / "data.tsv"
    tsv.write_text(tsv.read_text(encoding="utf-8").replace("\tsadness\t", "\tboredom\t"), encoding="utf-8")
    with pytest.raises(LabelError, match=r"unknown label 'boredom' in .*data.tsv:4"):
        prepare("nemo", tmp_path)


def test_nemo_without_tsv(tmp_path):
    (tmp_path / "samples").mkdir()
    with pytest.raises(CorpusLayoutError, match="expected data.tsv"):
        prepare("nemo", tmp_path)


def test_korean_labels_from_file_numbers(tmp_path):
    make_korean(tmp_path)
    utts = prepare("korean", tmp_path)
    assert len(utts) == 8
    u = by_key(utts)["korean_emotiontts/emf/emf00201"]
    assert (u.label, u.raw_label, u.gender, u.language) == ("angry", "화남", "M", "ko")
    assert u.text == "오월 십칠일." and u.extra["script"] == "5월 17일."  # BOM and newline stripped
    assert Counter(x.label for x in utts) == {"neutral": 2, "happy": 2, "angry": 2, "sad": 2}
    # pointing at the subset folder works too
    assert len(prepare("korean_emotiontts", tmp_path / "plain-to-emotional", with_duration=False)) == 8


def test_korean_wrong_root(tmp_path):
    with pytest.raises(CorpusLayoutError, match="plain-to-emotional"):
        prepare("korean", tmp_path)


# --- IEMOCAP -------------------------------------------------------------------------------------
def test_speaker_of_uses_the_turn_gender():
    assert turn_speaker("Ses01F_impro01_M003") == ("Ses01M", "Ses01", "M")
    assert turn_speaker("Ses05M_script01_1_F012") == ("Ses05F", "Ses05", "F")


def test_iemocap(tmp_path):
    facts = make_iemocap(tmp_path)
    utts = prepare("iemocap", tmp_path)
    assert len(utts) == facts["n"] == 12
    assert Counter(u.speaker for u in utts) == {"Ses01F": 3, "Ses01M": 3, "Ses02F": 3, "Ses02M": 3}
    u = by_key(utts)["iemocap/Ses01M/Ses01F_impro01_M000"]
    assert (u.gender, u.session, u.dialogue, u.label, u.raw_label) == ("M", "Ses01", "Ses01F_impro01", "frustrated", "fru")
    assert u.text == "Next." and u.turn == 1
    assert u.extra["valence"] == 2.5 and u.extra["arousal"] == 3.0 and u.extra["dominance"] == 3.5
    assert u.extra["annotator_labels"] == {"C-E1": ["Neutral"], "C-E2": ["Frustration", "Anger"]}
    assert u.extra["dialog_start"] == 8.5 and u.extra["improvised"] is True
    turns = {x.key.rsplit("_", 1)[1]: x.turn for x in utts if x.dialogue == "Ses02F_impro01"}
    assert turns == {"F000": 0, "M000": 1, "F001": 2, "M001": 3}
    labels = Counter(x.label for x in utts)
    assert labels == {"neutral": 2, "frustrated": 2, "excited": 2, "unknown": 2, "sad": 2, "angry": 2}
    assert by_key(utts)["iemocap/Ses02F/Ses02M_script01_1_F000"].text == "I miss him."
    assert all(x.duration == pytest.approx(SECONDS) for x in utts)
    assert len(prepare("iemocap", tmp_path, sessions=[2], with_duration=False)) == 6


def test_iemocap_missing_wav(tmp_path):
    make_iemocap(tmp_path, sessions=(1,), drop=("Ses01F_impro01_F001",))
    with pytest.raises(CorpusLayoutError) as e:
        prepare("iemocap", tmp_path)
    assert "iemocap/Ses01F/Ses01F_impro01_F001" in str(e.value)
    assert "sentences/wav/Ses01F_impro01/Ses01F_impro01_F001" in str(e.value)
    assert len(prepare("iemocap", tmp_path, on_missing="skip")) == 5


def test_iemocap_layout_errors(tmp_path):
    (tmp_path / "Documentation").mkdir()
    with pytest.raises(CorpusLayoutError, match="Session1 ... Session5") as e:
        prepare("iemocap", tmp_path)
    assert "Documentation/" in str(e.value)
    (tmp_path / "Session1" / "sentences").mkdir(parents=True)
    with pytest.raises(CorpusLayoutError, match="dialog/EmoEvaluation"):
        prepare("iemocap", tmp_path)


# --- EmoDB / CREMA-D -----------------------------------------------------------------------------
def test_emodb(tmp_path):
    make_emodb(tmp_path)
    utts = by_key(prepare("emodb", tmp_path))
    assert len(utts) == 7
    u = utts["emodb/03/03a01Fa"]
    assert (u.label, u.raw_label, u.gender, u.language) == ("happy", "F", "M", "de")
    assert u.text == "Der Lappen liegt auf dem Eisschrank." and u.extra["age"] == 31
    bored = utts["emodb/08/08a02Lc"]
    assert (bored.label, bored.gender, bored.extra["emotion_name"]) == ("other", "F", "boredom")
    assert {x.label for x in utts.values()} == {"happy", "angry", "other", "sad", "neutral", "fearful", "disgust"}
    assert len(prepare("emodb", tmp_path / "wav", with_duration=False)) == 7  # the wav folder itself


def test_emodb_wrong_root(tmp_path):
    write_audio(tmp_path / "wav" / "speaker1_angry.wav")
    with pytest.raises(CorpusLayoutError, match="03a01Fa.wav"):
        prepare("emodb", tmp_path)


def test_crema_d(tmp_path):
    make_crema_d(tmp_path)
    utts = by_key(prepare("crema_d", tmp_path))
    u = utts["crema_d/1001/1001_IEO_HAP_HI"]
    assert (u.label, u.raw_label, u.gender, u.text) == ("happy", "HAP", "M", "It's eleven o'clock")
    assert u.extra["intensity"] == "high" and u.extra["age"] == 51
    assert utts["crema_d/1002/1002_WSI_FEA_MD"].gender == "F"
    assert utts["crema_d/1002/1002_WSI_FEA_MD"].text == "We'll stop in a couple of minutes"
    assert Counter(x.label for x in utts.values()) == {"angry": 1, "happy": 1, "sad": 1, "neutral": 1,
                                                       "fearful": 1, "disgust": 1}


def test_crema_d_without_demographics_and_lfs_pointer(tmp_path):
    make_crema_d(tmp_path, demographics=False, lfs_pointer="1003_DFA_SAD_XX")
    utts = by_key(prepare("crema_d", tmp_path))
    assert all(u.gender is None for u in utts.values())
    bad = utts["crema_d/1003/1003_DFA_SAD_XX"]
    assert bad.duration is None and "Git LFS pointer" in bad.extra["audio_error"]


def test_crema_d_wrong_root(tmp_path):
    (tmp_path / "VideoFlash").mkdir()
    with pytest.raises(CorpusLayoutError, match="AudioWAV/") as e:
        prepare("crema_d", tmp_path)
    assert "VideoFlash/" in str(e.value)


# --- MSP-Podcast ---------------------------------------------------------------------------------
def test_msp_podcast(tmp_path):
    make_msp_podcast(tmp_path)
    utts = prepare("msp_podcast", tmp_path)
    assert Counter(u.split for u in utts) == {"train": 2, "dev": 1, "test1": 1, "test2": 1}
    u = by_key(utts)["msp_podcast/127/MSP-PODCAST_0001_0010"]
    assert (u.label, u.raw_label, u.gender, u.text) == ("angry", "A", "F", "text of MSP-PODCAST_0001_0010")
    assert (u.extra["arousal"], u.extra["valence"], u.extra["dominance"]) == (6.0, 2.0, 5.5)
    unk = by_key(utts)["msp_podcast/unknown/MSP-PODCAST_0003_0001"]
    assert (unk.speaker, unk.gender, unk.label, unk.extra["split_set"]) == (None, None, "unknown", "Test1")
    assert by_key(utts)["msp_podcast/55/MSP-PODCAST_0004_0001"].label == "contempt"


def test_msp_podcast_missing_audio(tmp_path):
    make_msp_podcast(tmp_path, missing=("MSP-PODCAST_0002_0001",))
    with pytest.raises(CorpusLayoutError, match="MSP-PODCAST_0002_0001"):
        prepare("msp_podcast", tmp_path)
    assert len(prepare("msp_podcast", tmp_path, on_missing="skip")) == 4


def test_msp_podcast_wrong_root(tmp_path):
    (tmp_path / "Audios").mkdir()
    with pytest.raises(CorpusLayoutError, match="Labels/labels_consensus.csv"):
        prepare("msp_podcast", tmp_path)


# --- ESD -----------------------------------------------------------------------------------------
def test_esd_split_rule():
    assert split_of(1) == ("dev", "evaluation") and split_of(20) == ("dev", "evaluation")
    assert split_of(21) == ("test", "test") and split_of(50) == ("test", "test")
    assert split_of(51) == ("train", "train") and split_of(350) == ("train", "train")
    assert split_of(370) == ("dev", "evaluation") and split_of(400) == ("test", "test")
    assert split_of(0) is None and split_of(1751) is None


def test_esd(tmp_path):
    facts = make_esd(tmp_path)
    utts = prepare("esd", tmp_path)
    assert len(utts) == facts["n"] == 30
    # flat speaker 0001 (block rule) and split-folder speaker 0011 agree
    for spk in ("0001", "0011"):
        assert Counter(u.split for u in utts if u.speaker == spk) == {"dev": 5, "test": 5, "train": 5}
    u = by_key(utts)["esd/0011/0011_000376"]
    assert (u.label, u.raw_label, u.split, u.gender, u.language) == ("angry", "Angry", "test", "M", "en")
    assert u.text == "Sentence number 376." and u.extra["esd_split"] == "test"
    zh = by_key(utts)["esd/0001/0001_000701"]
    assert (zh.label, zh.gender, zh.language, zh.text, zh.split) == ("happy", "F", "zh", "句子701。", "dev")
    assert Counter(u.label for u in utts) == {"neutral": 6, "angry": 6, "happy": 6, "sad": 6, "surprised": 6}


def test_esd_missing_audio_listed_in_text_file(tmp_path):
    make_esd(tmp_path, missing=("0011_001501",))
    with pytest.raises(CorpusLayoutError, match="esd/0011/0011_001501"):
        prepare("esd", tmp_path)
    kept = by_key(prepare("esd", tmp_path, on_missing="keep"))["esd/0011/0011_001501"]
    assert kept.path is None and kept.label == "surprised" and kept.split == "train"


def test_esd_wrong_root(tmp_path):
    (tmp_path / "Emotion Speech Dataset").mkdir()
    with pytest.raises(CorpusLayoutError, match="0001 ... 0020"):
        prepare("esd", tmp_path)


# --- MELD / EmoryNLP -----------------------------------------------------------------------------
def test_fix_mojibake():
    assert fix_mojibake("company\x92s") == "company’s"
    assert fix_mojibake("Iâ€™m") == "I’m"
    assert fix_mojibake("Iâ\x80\x99m") == "I’m"
    assert fix_mojibake("wait\x85 what\x97no") == "wait… what—no"
    assert fix_mojibake("café, naïve — “fine”") == "café, naïve — “fine”"


def test_meld_text_only(tmp_path):
    make_meld(tmp_path, clips=False)
    utts = prepare("meld", tmp_path)
    assert Counter(u.split for u in utts) == {"train": 3, "dev": 1, "test": 2}
    assert all(u.path is None and u.duration is None for u in utts)
    u = by_key(utts)["meld/train/dia0_utt0"]
    assert u.text == "also I was the point person on my company’s transition."
    assert (u.speaker, u.dialogue, u.turn, u.label, u.raw_label) == ("Chandler", "train/dia0", 0, "neutral", "neutral")
    assert u.extra == {"sentiment": "neutral", "season": 8, "episode": 21,
                       "episode_start": 976.059, "episode_end": 981.731}
    assert by_key(utts)["meld/train/dia1_utt0"].text == "Oh, I’m fine."
    assert by_key(utts)["meld/train/dia0_utt1"].label == "happy"  # joy -> happy
    assert by_key(utts)["meld/test/dia0_utt0"].label == "surprised"
    assert len(prepare("meld", tmp_path, splits=["dev"])) == 1


def test_meld_with_clips(tmp_path):
    facts = make_meld(tmp_path)
    utts = by_key(prepare("meld", tmp_path))  # clip folders found under root; missing clip skipped
    assert len(utts) == 5 and facts["missing"][0] not in utts
    mp4 = utts["meld/train/dia0_utt0"]
    assert mp4.path.endswith("train_splits/dia0_utt0.mp4")
    assert mp4.duration == pytest.approx(SECONDS, abs=0.1)  # AAC adds encoder padding
    assert utts["meld/test/dia0_utt1"].path.endswith("output_repeated_splits_test/dia0_utt1.wav")
    with pytest.raises(CorpusLayoutError, match="meld/train/dia1_utt0"):
        prepare("meld", tmp_path, on_missing="error")
    kept = by_key(prepare("meld", tmp_path, on_missing="keep", with_duration=False))
    assert kept["meld/train/dia1_utt0"].path is None and "train_splits" in kept["meld/train/dia1_utt0"].extra["missing_audio"]


def test_meld_clips_elsewhere(tmp_path):
    make_meld(tmp_path / "raw")
    text = tmp_path / "text"
    text.mkdir()
    for p in (tmp_path / "raw").glob("*.csv"):
        (text / p.name).write_bytes(p.read_bytes())
    assert all(u.path is None for u in prepare("meld", text))
    with_clips = prepare("meld", text, clips=tmp_path / "raw", with_duration=False)
    assert sum(u.path is not None for u in with_clips) == 5
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusLayoutError, match="train_splits/"):
        prepare("meld", text, clips=tmp_path / "empty")


def test_meld_wrong_root(tmp_path):
    (tmp_path / "train.csv").write_text("a,b\n")
    with pytest.raises(CorpusLayoutError, match="train_sent_emo.csv") as e:
        prepare("meld", tmp_path)
    assert "train.csv" in str(e.value)


def test_emorynlp(tmp_path):
    make_emorynlp(tmp_path / "emorynlp")
    utts = by_key(prepare("emorynlp", tmp_path))  # a MELD-style folder with emorynlp/ inside
    assert len(utts) == 4
    two = utts["emorynlp/train/s01_e02_c01_u02"]
    assert two.speaker == "Monica Geller & Phoebe Buffay" and two.extra["speakers"] == ["Monica Geller", "Phoebe Buffay"]
    assert (two.label, two.raw_label, two.dialogue, two.turn) == ("other", "Powerful", "s01e02c01", 2)
    assert utts["emorynlp/dev/s01_e15_c01_u01"].label == "calm"
    assert utts["emorynlp/test/s02_e05_c03_u01"].label == "fearful"
    assert utts["emorynlp/train/s01_e02_c01_u01"].extra["episode_start"] == 2.877


# --- generic -------------------------------------------------------------------------------------
def test_folder_recipe(tmp_path):
    write_audio(tmp_path / "angry" / "spk1_a.wav")
    write_audio(tmp_path / "Happy" / "session2" / "spk2_a.flac")
    write_audio(tmp_path / "bored" / "spk1_c.wav")
    write_audio(tmp_path / "bored" / "noise.wav")
    utts = by_key(prepare("folder", tmp_path, speaker_regex=r"^(spk\d)_", corpus_name="mine", language="en"))
    assert set(utts) == {"mine/angry/spk1_a", "mine/Happy/session2/spk2_a", "mine/bored/spk1_c", "mine/bored/noise"}
    assert utts["mine/Happy/session2/spk2_a"].label == "happy" and utts["mine/Happy/session2/spk2_a"].speaker == "spk2"
    assert utts["mine/bored/spk1_c"].label == "bored" and utts["mine/bored/noise"].speaker is None
    assert all(u.corpus == "mine" and u.language == "en" for u in utts.values())


def test_folder_recipe_empty(tmp_path):
    (tmp_path / "angry").mkdir()
    with pytest.raises(CorpusLayoutError, match="one sub-folder per label"):
        prepare("folder", tmp_path)


def test_csv_recipe(tmp_path):
    write_audio(tmp_path / "audio" / "a.wav", seconds=1.0)
    write_audio(tmp_path / "audio" / "b.flac")
    (tmp_path / "list.csv").write_text(
        "path,label,speaker,text,gender,split,start,end,mood\n"
        "audio/a.wav,Anger,s1,hello,female,train,0.0,0.4,x\n"
        "audio/a.wav,joy,s1,there,female,train,0.5,0.9,\n"
        f"{tmp_path / 'audio' / 'b.flac'},frustration,s2,,M,test,,,y\n")
    utts = prepare("csv", tmp_path / "list.csv")
    assert [u.key for u in utts] == ["list/s1/a", "list/s1/a@0.500", "list/s2/b"]
    a, a2, b = utts
    assert (a.label, a.raw_label, a.gender, a.split, a.text, a.extra) == ("angry", "Anger", "F", "train", "hello", {"mood": "x"})
    assert a.duration == pytest.approx(0.4) and a2.duration == pytest.approx(0.4) and a2.label == "happy"
    assert b.label == "frustration" and b.text is None and b.duration == pytest.approx(SECONDS)
    assert Path(a.path).is_absolute()


def test_csv_recipe_errors(tmp_path):
    (tmp_path / "bad.csv").write_text("file,emotion\nx.wav,angry\n")
    with pytest.raises(CorpusLayoutError, match="columns path,label"):
        prepare("csv", tmp_path / "bad.csv")
    (tmp_path / "gone.csv").write_text("path,label\nnot_here.wav,angry\n")
    with pytest.raises(CorpusLayoutError, match="not_here.wav"):
        prepare("csv", tmp_path / "gone.csv")
    with pytest.raises(CorpusLayoutError, match="is not a file"):
        prepare("csv", tmp_path)


# --- manifests -----------------------------------------------------------------------------------
def test_recipe_output_round_trips_through_a_manifest(tmp_path):
    make_iemocap(tmp_path / "iemocap", sessions=(1,))
    utts = prepare("iemocap", tmp_path / "iemocap")
    out = tmp_path / "iemocap.jsonl"
    assert write_manifest(out, utts) == 6
    assert [u.model_dump() for u in read_manifest(out)] == [u.model_dump() for u in utts]


def test_csv_recipe_bad_segment_names_the_line(tmp_path):
    write_audio(tmp_path / "a.wav")
    (tmp_path / "seg.csv").write_text("path,label,start,end\na.wav,sad,0.5,0.2\n")
    with pytest.raises(CorpusLayoutError, match=r"seg.csv:2: .*end \(0.2\) must be after start \(0.5\)"):
        prepare("csv", tmp_path / "seg.csv")


def test_meld_damaged_row_names_the_line(tmp_path):
    make_meld(tmp_path, clips=False)
    dev = tmp_path / "dev_sent_emo.csv"
    dev.write_text(dev.read_text(encoding="utf-8").replace(",0,0,4,7,", ",x,0,4,7,"), encoding="utf-8")
    with pytest.raises(CorpusLayoutError, match=r"dev_sent_emo.csv:2: Dialogue_ID, Utterance_ID must be integers"):
        prepare("meld", tmp_path)
