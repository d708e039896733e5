"""ABHINAYA: the vote and its tie rule, the long-tail protocol, the lexicon member, the MSP-Podcast
challenge recipe (fake tree), and bad input (docs/methods/abhinaya.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spokenemo.core.errors import ConfigError, ProtocolError
from spokenemo.data.manifest import Segment
from spokenemo.data.recipes import msp_podcast
from spokenemo.protocols import Fold
from spokenemo.protocols.imbalance import (
    balanced_part,
    imbalanced_folds,
    long_tail_counts,
    long_tailed_subset,
)
from spokenemo.systems.abhinaya.prompt import messages, parse_label
from spokenemo.systems.abhinaya.text import lexicon_row
from spokenemo.systems.abhinaya.vote import TABLE_4_9, majority_vote, vote_one

from fake_corpora import make_msp_podcast


# --- the vote ------------------------------------------------------------------------------------
def test_vote_strict_plurality_wins():
    assert vote_one({"S1": "sad", "S2": "angry", "T2": "sad"}, "S2") == "sad"
    five = {"S1": "happy", "S2": "sad", "T1": "happy", "T2": "neutral", "ST1": "angry"}
    assert vote_one(five, "S2") == "happy"  # 2-1-1-1: a strict plurality, not a majority


def test_vote_tie_goes_to_the_tie_breaker():
    assert vote_one({"S1": "a", "S2": "b", "T2": "c"}, "S2") == "b"  # 1-1-1
    four = {"S1": "a", "S2": "b", "T2": "a", "ST1": "b"}
    assert vote_one(four, "S2") == "b" and vote_one(four, "S1") == "a"  # 2-2
    five = {"S1": "a", "S2": "c", "T1": "a", "T2": "b", "ST1": "b"}
    assert vote_one(five, "S2") == "c"  # 2-2-1: S2's label even though it has one vote


def test_vote_abstentions():
    assert vote_one({"S1": None, "S2": None, "T2": None}, "S2") is None
    assert vote_one({"S1": "a", "S2": None, "T2": None}, "S2") == "a"
    # tie and the tie-breaker abstains: the tied label of the first member in order
    assert vote_one({"S1": "b", "S2": None, "T2": "a"}, "S2") == "b"


def test_majority_vote_over_items_and_bad_votes():
    got = majority_vote({"S1": ["a", "a", "b"], "S2": ["b", "c", "b"], "T2": ["a", "d", "c"]}, "S2")
    assert got == ["a", "c", "b"]
    with pytest.raises(ConfigError, match="at least 3 members, got 2"):
        majority_vote({"S1": ["a"], "S2": ["b"]})
    with pytest.raises(ConfigError, match="tie-breaker 'S9' is not a member"):
        majority_vote({"S1": ["a"], "S2": ["b"], "T2": ["c"]}, "S9")
    with pytest.raises(ConfigError, match="different numbers of predictions"):
        majority_vote({"S1": ["a"], "S2": ["b", "c"], "T2": ["c"]})
    assert TABLE_4_9["all five"]["valid"] == 42.31 and TABLE_4_9["S1+T2+ST1"]["tie_breaker"] == "ST1"


# --- the long-tail protocol ----------------------------------------------------------------------
def _segs(counts: dict[str, int], speaker: str = "1") -> list[Segment]:
    return [Segment(key=f"{speaker}/{c}/{i}", path="x.wav", label=c, speaker=speaker, corpus="toy")
            for c, n in counts.items() for i in range(n)]


def test_long_tail_counts_hand_computed():
    # ratio 10 over 8 classes: n_k = round(112 * 10 ** (-k / 7)), capped by what a class has
    available = {"happy": 112, "sad": 112, "angry": 112, "fearful": 112, "disgust": 112, "surprised": 112,
                 "calm": 112, "neutral": 56}
    counts = long_tail_counts(available, ratio=10, seed=0)
    assert sorted(counts.values(), reverse=True) == [112, 81, 58, 42, 30, 22, 16, 11]
    assert counts["neutral"] == 11  # the class with fewest examples is last in the order
    assert long_tail_counts({"a": 100, "b": 90, "c": 80}, ratio=4.0) == {"a": 100, "b": 50, "c": 25}
    assert long_tail_counts({"a": 10, "b": 3}, ratio=2.0) == {"a": 10, "b": 3}  # capped at what b has
    with pytest.raises(ProtocolError, match=r"class\(es\) \['b'\] have no training example"):
        long_tail_counts({"a": 5, "b": 0})
    with pytest.raises(ProtocolError, match="ratio 0.5 < 1"):
        long_tail_counts({"a": 5}, ratio=0.5)


def test_long_tailed_subset_is_seeded_and_order_free():
    segs = _segs({"a": 40, "b": 40, "c": 40, "d": 40})
    one = long_tailed_subset(segs, ratio=8, seed=3)
    again = long_tailed_subset(list(reversed(segs)), ratio=8, seed=3)
    assert {u.key for u in one} == {u.key for u in again}
    assert sorted(np.unique([u.label for u in one], return_counts=True)[1]) == [5, 10, 20, 40]
    assert {u.key for u in long_tailed_subset(segs, ratio=8, seed=4)} != {u.key for u in one}


def test_imbalanced_folds_keep_speakers_and_balance_eval():
    train = _segs({"a": 30, "b": 30, "c": 30}, "1") + _segs({"a": 30, "b": 30, "c": 30}, "2")
    valid = _segs({"a": 4, "b": 8, "c": 8}, "3")
    test = _segs({"a": 6, "b": 9, "c": 12}, "4")
    fold = Fold("fold1", [u.key for u in train], [u.key for u in test], [u.key for u in valid],
                protocol="speaker-kfold")
    (out,) = imbalanced_folds([fold], train + valid + test, ratio=4, seed=0)
    labels = {u.key: u.label for u in train + valid + test}
    counts = sorted(np.unique([labels[k] for k in out.train], return_counts=True)[1])
    assert counts == [15, 30, 60]
    assert sorted(np.unique([labels[k] for k in out.valid], return_counts=True)[1]) == [4, 4, 4]
    assert sorted(np.unique([labels[k] for k in out.test], return_counts=True)[1]) == [6, 6, 6]
    assert set(out.test) <= set(fold.test) and out.protocol == "speaker-kfold+long-tail4+balanced-test"
    assert out.info["imbalance"]["train_counts"] == {"a": 60, "b": 30, "c": 15} or \
        sorted(out.info["imbalance"]["train_counts"].values()) == [15, 30, 60]
    # MELD-style: training part untouched, 5 test items per class
    (meld,) = imbalanced_folds([fold], train + valid + test, ratio=None, balance_valid=False, test_per_class=5)
    assert len(meld.train) == len(train) and len(meld.valid) == len(valid) and len(meld.test) == 15
    (small,) = imbalanced_folds([fold], train + valid + test, ratio=4, train_limit=21, balance_test=False)
    assert sorted(np.unique([labels[k] for k in small.train], return_counts=True)[1]) == [3, 6, 12]
    assert len(small.test) == len(test) and small.info["imbalance"]["train_limit"] == 21
    with pytest.raises(ProtocolError, match="fewer"):
        imbalanced_folds([fold], train + valid + test, ratio=None, test_per_class=7)
    with pytest.raises(ProtocolError, match="not in the manifest"):
        imbalanced_folds([fold], train, ratio=4)


def test_balanced_part_default_is_the_smallest_class():
    segs = _segs({"a": 3, "b": 7})
    assert len(balanced_part(segs)) == 6 and balanced_part([]) == []


# --- T1: lexicon and prompt ----------------------------------------------------------------------
def test_lexicon_row_maps_counts_and_falls_back_to_neutral():
    classes = ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    row = lexicon_row({"angry": 2, "fearful": 1, "happy": 0}, classes)
    assert row[classes.index("angry")] == pytest.approx(2 / 3) and row[classes.index("fearful")] == pytest.approx(1 / 3)
    assert lexicon_row({}, classes)[0] == 1.0
    assert np.allclose(lexicon_row({}, ["happy", "sad"]), [0.5, 0.5])
    assert lexicon_row({"calm": 3}, ["happy", "sad"]).sum() == pytest.approx(1.0)


def test_lexicon_scores_with_nrclex():
    nrclex = pytest.importorskip("nrclex")
    from spokenemo.systems.abhinaya.text import lexicon_scores

    lex = nrclex.NRCLex()
    scores = lexicon_scores("I hate this, it makes me furious", lex)
    assert scores["angry"] >= 1
    assert sum(lexicon_scores("Kids are talking by the door", lex).values()) == 0


def test_prompt_and_answer_parsing():
    classes = ["angry", "happy", "neutral"]
    msgs = messages("  I won!  ", classes)
    assert "3 emotions: angry, happy, neutral" in msgs[0]["content"] and msgs[1]["content"] == "sentence: I won!"
    assert parse_label("Joy.", classes) == "happy"
    assert parse_label("The emotion is: Anger", classes) == "angry"
    assert parse_label("contempt", classes) is None


# --- the MSP-Podcast challenge layout (fake tree) ------------------------------------------------
def test_challenge_drops_other_and_no_agreement(tmp_path):
    make_msp_podcast(tmp_path, more=True)
    every = msp_podcast.prepare(tmp_path, with_duration=False)
    kept = msp_podcast.prepare(tmp_path, with_duration=False, challenge=True)
    raw = {u.raw_label for u in every}
    assert {"O", "X"} & raw, "the fake tree should hold 'other' / 'no agreement' rows"
    assert all(u.label in msp_podcast.CHALLENGE_CLASSES for u in kept)
    dropped = msp_podcast.challenge_segments(every)[1]
    assert len(every) - len(kept) == sum(dropped.values()) > 0


def _msp(label: str, i: int, split: str = "dev", text: str | None = None) -> Segment:
    return Segment(key=f"msp_podcast/{i}/MSP-PODCAST_0001_{i:04d}", path="x.wav", label=label, speaker=str(i),
                   corpus="msp_podcast", split=split, text=text)


def test_balanced_validation_builder():
    segs = [_msp(c, 100 * k + i) for k, c in enumerate(msp_podcast.CHALLENGE_CLASSES) for i in range(3 + k)]
    segs += [_msp("happy", 990 + i, split="train") for i in range(5)]
    chosen = msp_podcast.balanced_validation(segs, per_class=3, seed=1)
    assert len(chosen) == 24 and all(u.split == "dev" for u in chosen)
    assert {u.key for u in chosen} == {u.key for u in msp_podcast.balanced_validation(segs[::-1], per_class=3, seed=1)}
    with pytest.raises(ProtocolError, match=r"\['angry'\] have fewer than 4"):
        msp_podcast.balanced_validation(segs, per_class=4)


def test_transcript_cache_transcribes_each_file_once(tmp_path):
    cache = tmp_path / "asr.jsonl"
    segs = [_msp("sad", 1), _msp("happy", 2, text="already here"), _msp("angry", 3)]
    asked: list[str] = []

    def asr(batch):
        asked.extend(u.key for u in batch)
        return [f"words of {u.key[-4:]}" for u in batch]

    first = msp_podcast.cache_transcripts(segs, cache, asr)
    assert [u.text for u in first] == ["words of 0001", "already here", "words of 0003"]
    assert len(asked) == 2
    with open(cache, "a", encoding="utf-8") as fh:
        fh.write('{"key": "torn')  # a killed run's last line
    again = msp_podcast.cache_transcripts(segs, cache, asr)
    assert [u.text for u in again] == [u.text for u in first] and len(asked) == 2
    rows = [json.loads(x) for x in cache.read_text().splitlines()[:2]]
    assert {r["key"] for r in rows} == {segs[0].key, segs[2].key}
    assert msp_podcast.cache_transcripts([_msp("sad", 9)], tmp_path / "none.jsonl")[0].text is None


# --- the member losses are the shared ones ------------------------------------------------------
def test_member_losses_are_the_shared_losses_with_balanced_weights():
    torch = pytest.importorskip("torch")
    from spokenemo.core.errors import LabelError
    from spokenemo.models import losses
    from spokenemo.systems.abhinaya.training import class_counts, make_loss

    z = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, -2.0, 0.0], [0.0, 0.0, 3.0]])
    y = torch.tensor([0, 1, 0, 2])
    counts = class_counts(y.numpy(), 3)
    assert counts.tolist() == [2, 1, 1]
    w = torch.tensor([4 / 6, 4 / 3, 4 / 3])  # N / (N_c C) by hand
    assert torch.allclose(losses.balanced_class_weights(counts), w)
    assert float(make_loss("ce", counts)(z, y)) == pytest.approx(float(torch.nn.functional.cross_entropy(z, y)))
    assert float(make_loss("wce", counts)(z, y)) == pytest.approx(float(losses.weighted_cross_entropy(z, y, w)))
    assert float(make_loss("wfl", counts)(z, y)) == pytest.approx(float(losses.focal_loss(z, y, 2.0, w)))
    assert float(make_loss("vs", counts)(z, y)) == pytest.approx(float(losses.vs_loss(z, y, counts, weight=w)))
    with pytest.raises(ConfigError, match="unknown loss 'focal'"):
        make_loss("focal", counts)
    with pytest.raises(LabelError, match=r"\['fear'\] have no training example"):
        class_counts([0, 0, 1], 3, ["happy", "sad", "fear"])
