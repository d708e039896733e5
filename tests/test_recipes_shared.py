"""Recipes on the real corpora in ../shared/data (counts from shared/data/README.md)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from spokenemo.data import prepare

pytestmark = pytest.mark.shared


def test_ravdess(shared_data):
    utts = prepare("ravdess", shared_data / "ravdess")
    assert len(utts) == 1200
    assert Counter(u.label for u in utts) == {"angry": 160, "calm": 160, "disgust": 160, "fearful": 160,
                                              "happy": 160, "neutral": 80, "sad": 160, "surprised": 160}
    per_actor = Counter(u.speaker for u in utts)
    assert len(per_actor) == 20 and set(per_actor.values()) == {60}
    assert Counter(u.gender for u in utts) == {"M": 600, "F": 600}
    assert {u.text for u in utts} == {"Kids are talking by the door", "Dogs are sitting by the door"}
    assert sum(u.duration for u in utts) == pytest.approx(4416.2, abs=0.1)
    assert all(Path(u.path).is_absolute() and u.path.endswith(".flac") for u in utts)


def test_nemo_is_fast_and_complete(shared_data):
    t0 = time.perf_counter()
    utts = prepare("nemo", shared_data / "nemo")
    elapsed = time.perf_counter() - t0
    assert len(utts) == 2696
    assert Counter(u.raw_label for u in utts) == {"anger": 450, "fear": 449, "happiness": 449, "neutral": 450,
                                                  "sadness": 450, "surprised": 448}
    assert Counter(u.speaker for u in utts) == {"EB0": 539, "IC0": 540, "KD0": 540, "SM0": 538, "TP0": 539}
    assert {u.speaker: u.gender for u in utts} == {"EB0": "F", "IC0": "F", "KD0": "F", "SM0": "M", "TP0": "M"}
    assert sum(u.duration for u in utts) == pytest.approx(6575.6, abs=0.1)
    assert all(u.text for u in utts)
    # 2,696 Opus headers: a few seconds at most even on a loaded machine (about 1 s measured)
    assert elapsed < 10, f"prepare('nemo') took {elapsed:.1f} s"


def test_korean(shared_data):
    utts = prepare("korean_emotiontts", shared_data / "korean_emotiontts")
    assert len(utts) == 100
    assert Counter(u.label for u in utts) == {"neutral": 25, "happy": 25, "angry": 25, "sad": 25}
    assert Counter(u.speaker for u in utts) == {s: 20 for s in ("ema", "emb", "emf", "emg", "emh")}
    assert Counter(u.gender for u in utts) == {"F": 40, "M": 60}
    assert all(u.text and not u.text.startswith("\ufeff") for u in utts)
    assert sum(u.duration for u in utts) == pytest.approx(678.8, abs=0.1)


def test_meld_text(shared_data):
    utts = prepare("meld", shared_data / "meld")
    assert Counter(u.split for u in utts) == {"train": 9989, "dev": 1109, "test": 2610}
    assert all(u.path is None for u in utts)
    assert len({u.speaker for u in utts}) == 304
    assert not any(ch in u.text for u in utts for ch in "\x92\x85\x97")


def test_emorynlp_text(shared_data):
    utts = prepare("emorynlp", shared_data / "meld" / "emorynlp")
    assert Counter(u.split for u in utts) == {"train": 7551, "dev": 954, "test": 984}
    assert Counter(u.raw_label for u in utts)["Joyful"] == 1677 + 205 + 217
