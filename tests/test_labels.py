"""Emotion label normalisation and label sets."""

from __future__ import annotations

import importlib
import logging

import pytest

from spokenemo.core.errors import LabelError
from spokenemo.data import read_manifest
from spokenemo.data.manifest import Segment
from spokenemo.protocols.labels import (
    CANONICAL,
    LABEL_SETS,
    NO_LABEL,
    LabelSet,
    apply_label_set,
    corpus_key,
    get_label_set,
    normalize_label,
)


def _utt(key: str, label: str | None, corpus: str | None = "iemocap", raw: str | None = None) -> Segment:
    return Segment(key=key, label=label, raw_label=raw, corpus=corpus, speaker="s1")


@pytest.mark.parametrize("name", CANONICAL)
def test_canonical_names_are_fixed_points(name):
    assert normalize_label(name) == name
    assert normalize_label(f"  {name.upper()} ") == name
    assert normalize_label(normalize_label(name, "meld"), "meld") == name


@pytest.mark.parametrize(("raw", "corpus", "expected"), [
    ("exc", "iemocap", "excited"), ("fru", "iemocap", "frustrated"), ("xxx", "iemocap", "unknown"),
    ("oth", "iemocap", "other"), ("neu", "iemocap", "neutral"), ("hap", "iemocap", "happy"),
    ("joy", "meld", "happy"), ("anger", "meld", "angry"), ("sadness", "meld", "sad"),
    ("surprise", "meld", "surprised"), ("fear", "meld", "fearful"), ("disgust", "meld", "disgust"),
    ("happiness", "nemo", "happy"), ("surprised", "nemo", "surprised"),
    ("02", "ravdess", "calm"), ("08", "ravdess", "surprised"),
    ("W", "emodb", "angry"), ("A", "emodb", "fearful"), ("L", "emodb", "other"),
    ("FEA", "CREMA-D", "fearful"), ("DIS", "crema_d", "disgust"),
    ("A", "msp_podcast", "angry"), ("U", "MSP-Podcast", "surprised"), ("C", "msp_podcast", "contempt"),
    ("X", "msp_podcast", "unknown"), ("O", "msp_podcast", "other"),
    ("Surprise", "esd", "surprised"), ("惊喜", "esd", "surprised"),
    ("기쁨", "korean_emotiontts", "happy"), ("화남", "korean", "angry"),
    ("Peaceful", "emorynlp", "calm"), ("Scared", "emorynlp", "fearful"),
])
def test_raw_labels_per_corpus(raw, corpus, expected):
    assert normalize_label(raw, corpus) == expected


def test_short_codes_need_their_corpus():
    # "A" means angry in MSP-Podcast but fear ("Angst") in EmoDB: never guessed without the corpus.
    with pytest.raises(LabelError, match="'A'") as err:
        normalize_label("A")
    assert "corpus" in err.value.hint
    with pytest.raises(LabelError, match="'05'"):
        normalize_label("05")


def test_unknown_label_names_label_and_corpus():
    with pytest.raises(LabelError, match="'grumpy' of corpus 'meld'") as err:
        normalize_label("grumpy", "meld")
    assert "joy" in err.value.hint  # lists what MELD knows
    with pytest.raises(LabelError):
        normalize_label(3)  # type: ignore[arg-type]


def test_corpus_key_spellings():
    assert corpus_key("CREMA-D") == corpus_key("crema_d") == "cremad"
    assert corpus_key("korean_emotiontts") == "korean"
    assert corpus_key(None) is None


@pytest.mark.parametrize(("module", "table", "corpus"), [
    ("iemocap", "EMOTIONS", "iemocap"), ("nemo", "EMOTIONS", "nemo"), ("ravdess", "EMOTIONS", "ravdess"),
    ("emodb", "EMOTIONS", "emodb"), ("crema_d", "EMOTIONS", "crema_d"), ("msp_podcast", "EMOTIONS", "msp_podcast"),
    ("esd", "EMOTIONS", "esd"), ("meld", "MELD_EMOTIONS", "meld"), ("meld", "EMORYNLP_EMOTIONS", "emorynlp"),
])
def test_recipes_agree_with_label_tables(module, table, corpus):
    # The recipes write canonical labels and keep the raw ones; normalising a recipe's raw label here
    # must give the label it wrote, or manifests and protocols would disagree.
    mapping = getattr(importlib.import_module(f"spokenemo.data.recipes.{module}"), table)
    for raw, canonical in mapping.items():
        assert canonical in CANONICAL
        assert normalize_label(raw, corpus) == canonical, (raw, corpus)


def test_builtin_sets():
    four = LABEL_SETS["4class"]
    assert four.names == ("angry", "happy", "neutral", "sad")
    assert four.index("neutral") == 2 and len(four) == 4 and "sad" in four
    assert dict(four.merge) == {"excited": "happy"}
    assert len(LABEL_SETS["ravdess8"]) == 8 and len(LABEL_SETS["nemo6"]) == 6 and len(LABEL_SETS["meld7"]) == 7
    assert hash(four) == hash(get_label_set("4class"))


def test_label_set_map():
    four = get_label_set("4class")
    assert four.map("exc", "iemocap") == "happy"
    assert four.map("excited", merge={}) is None
    assert four.map("joy") == "happy"
    assert four.map("fru", "iemocap") is None
    assert four.map("U", "msp_podcast") is None
    with pytest.raises(LabelError, match="'bogus'"):
        four.map("bogus")


def test_get_label_set_custom_and_unknown():
    custom = get_label_set("joy, anger,sadness")
    assert custom.names == ("happy", "angry", "sad")
    assert custom.name == "happy,angry,sad"
    with pytest.raises(LabelError, match="unknown label set 'fiveclass'") as err:
        get_label_set("fiveclass")
    assert "4class" in err.value.hint


def test_invalid_label_sets():
    with pytest.raises(LabelError, match="not canonical"):
        LabelSet("x", ("happy", "joyous"))
    with pytest.raises(LabelError, match="repeats"):
        LabelSet("x", ("happy", "happy"))
    with pytest.raises(LabelError, match="merge target"):
        LabelSet("x", ("happy", "sad"), {"excited": "angry"})
    with pytest.raises(LabelError, match="no classes"):
        LabelSet("x", ())


def test_apply_label_set_maps_counts_and_copies(caplog):
    utts = [_utt("a", "excited", raw="exc"), _utt("b", "hap"), _utt("c", "fru"), _utt("d", "frustrated"),
            _utt("e", None, raw="sad"), _utt("f", None), _utt("g", "xxx")]
    with caplog.at_level(logging.WARNING):
        kept = apply_label_set(utts, "4class")
    assert [(u.key, u.label) for u in kept] == [("a", "happy"), ("b", "happy"), ("e", "sad")]
    assert kept.dropped == {"frustrated": 2, NO_LABEL: 1, "unknown": 1}
    assert kept.counts() == {"angry": 0, "happy": 2, "neutral": 0, "sad": 1}
    assert kept[0].raw_label == "exc"  # the corpus string is kept
    assert kept[1].raw_label == "hap"  # filled from the label when the recipe left it empty
    assert utts[0].label == "excited"  # inputs untouched
    assert "dropped 4" in caplog.text and "frustrated=2" in caplog.text


def test_apply_label_set_merge_override():
    utts = [_utt("a", "excited"), _utt("b", "happy")]
    assert [u.key for u in apply_label_set(utts, "4class", merge={})] == ["b"]


def test_apply_label_set_is_idempotent():
    utts = [_utt("a", "exc"), _utt("b", "ang"), _utt("c", "neu")]
    once = apply_label_set(utts, "4class")
    twice = apply_label_set(once, "4class")
    assert [u.model_dump() for u in once] == [u.model_dump() for u in twice]
    assert not twice.dropped


def test_apply_label_set_unknown_label_names_everything():
    with pytest.raises(LabelError) as err:
        apply_label_set([_utt("ses01/x", "grumpy")], "4class")
    text = str(err.value)
    assert "'ses01/x'" in text and "'grumpy'" in text and "4class" in text


def test_fixture_manifest_four_classes(test_data):
    utts = read_manifest(test_data / "fixtures.jsonl")
    kept = apply_label_set(utts, "4class")
    # 4 actors x (neutral, happy, sad, angry) + one extra emotion each (calm, fearful, disgust, surprised).
    assert kept.counts() == {"angry": 4, "happy": 4, "neutral": 4, "sad": 4}
    assert kept.dropped == {"calm": 1, "fearful": 1, "disgust": 1, "surprised": 1}
    assert len(apply_label_set(utts, "ravdess8")) == len(utts)
