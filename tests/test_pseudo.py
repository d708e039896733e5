"""Pseudo-conversations: seeded, sticky emotions near the stay probability, the i.i.d. control,
speakers as the spec says, traceable to their source segments, and folds over them."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from click.testing import CliRunner

from spokenemo.apps.cli import cli
from spokenemo.data import (
    PseudoConversationError,
    PseudoSpec,
    Segment,
    conversations,
    pseudo_conversations,
    pseudo_parts,
    read_manifest,
    same_label_rate,
    write_manifest,
)
from spokenemo.data.pseudo import emotion_chain
from spokenemo.protocols import official_split, speaker_kfold, write_folds

FOUR = ("angry", "happy", "neutral", "sad")


def acted(corpus: str = "ravdess", speakers: int = 6, per_class: int = 4, labels=FOUR, skew: bool = False):
    """Every speaker says every label ``per_class`` times (``skew``: neutral three times as often)."""
    return [Segment(key=f"{corpus}/{s:02d}/{lab}{i}", path=f"/a/{s}/{lab}{i}.wav", label=lab, speaker=f"{s:02d}",
                    corpus=corpus) for s in range(1, speakers + 1) for lab in labels
            for i in range(per_class * (3 if skew and lab == "neutral" else 1))]


def pairs(turns):
    return [(a.label, b.label) for c in conversations(turns) for a, b in zip(c.segments, c.segments[1:], strict=False)]


def test_seeded_determinism_and_independence_of_input_order():
    pool = acted()
    a = pseudo_conversations(pool, 20, seed=3)
    assert [t.model_dump() for t in a] == [t.model_dump() for t in pseudo_conversations(list(reversed(pool)), 20, seed=3)]
    b = pseudo_conversations(pool, 20, seed=4)
    assert [t.extra["source_key"] for t in a] != [t.extra["source_key"] for t in b]


def test_turns_are_traceable_rows_of_a_manifest(tmp_path):
    pool = {s.key: s for s in acted()}
    turns = pseudo_conversations(list(pool.values()), 5, seed=0, split="train")
    write_manifest(tmp_path / "p.jsonl", turns)
    back = read_manifest(tmp_path / "p.jsonl")
    convs = conversations(back)
    assert len(convs) == 5 and all(c.turns == tuple(range(len(c))) for c in convs)
    assert all(8 <= len(c) <= 20 for c in convs)
    first = back[0]
    assert first.key == "pseudo-sticky/c0000/t00" and first.dialogue == "pseudo-sticky/c0000" and first.split == "train"
    src = pool[first.extra["source_key"]]
    assert (first.path, first.label, first.speaker, first.corpus) == (src.path, src.label, src.speaker, src.corpus)
    assert first.extra["pseudo"] == {"kind": "sticky", "stay": 0.7, "seed": 0, "weights": "uniform"}
    assert all(t.label == pool[t.extra["source_key"]].label for t in back)


def test_sticky_stay_fraction_is_near_p_on_a_long_run():
    pool = acted(speakers=4)
    for stay in (0.7, 0.3):
        turns = pseudo_conversations(pool, 400, PseudoSpec(stay=stay, seed=1))
        rate = same_label_rate(conversations(turns))
        assert abs(rate - stay) < 0.02, (stay, rate)
        # the switches go to another class uniformly: every ordered pair of different labels ~ equally often
        switches = Counter(p for p in pairs(turns) if p[0] != p[1])
        assert len(switches) == 12 and max(switches.values()) / min(switches.values()) < 1.4


def test_iid_control_follows_the_label_marginals():
    pool = acted(speakers=4, skew=True)  # neutral is half of the pool
    turns = pseudo_conversations(pool, 400, kind="iid", weights="pool", seed=2)
    freq = Counter(t.label for t in turns)
    n = sum(freq.values())
    assert abs(freq["neutral"] / n - 0.5) < 0.02 and abs(freq["sad"] / n - 1 / 6) < 0.02
    # consecutive turns agree as often as two independent draws do: sum of squared marginals
    expected = 0.5 ** 2 + 3 * (1 / 6) ** 2
    assert abs(same_label_rate(conversations(turns)) - expected) < 0.03
    uniform = pseudo_conversations(pool, 400, kind="iid", seed=2)
    assert abs(same_label_rate(conversations(uniform)) - 0.25) < 0.03


def test_emotion_chain_extremes():
    rng = random.Random(0)
    weights = {c: 1.0 for c in FOUR}
    chain = emotion_chain(rng, FOUR, 50, PseudoSpec(stay=0.0), weights)
    assert all(a != b for a, b in zip(chain, chain[1:], strict=False))  # stay 0: always move to another class
    assert emotion_chain(rng, FOUR, 1, PseudoSpec(), weights)[0] in FOUR


def test_ravdess_alternates_two_actors_and_nemo_is_a_monologue():
    rav = pseudo_conversations(acted("ravdess"), 10, seed=0)
    for conv in conversations(rav):
        a, b = conv.speakers
        assert a != b and [s.speaker for s in conv] == [(a, b)[t % 2] for t in range(len(conv))]
    nemo = pseudo_conversations(acted("nemo", labels=("anger", "fear", "neutral")), 10, seed=0)
    assert all(len(c.speakers) == 1 for c in conversations(nemo))
    three = pseudo_conversations(acted("korean"), 5, speakers=3, seed=0)
    assert all(len(c.speakers) == 3 for c in conversations(three))


def test_clips_are_not_repeated_in_a_conversation_until_used_up():
    # 8 turns, 2 speakers: at most 4 turns of one speaker and class, and each has 6 clips
    for conv in conversations(pseudo_conversations(acted(speakers=2, per_class=6), 50, seed=0, min_turns=8,
                                                   max_turns=8)):
        assert len({s.extra["source_key"] for s in conv}) == len(conv) == 8
    # one clip per speaker and class: a monologue must reuse, cycling through what there is
    tiny = pseudo_conversations(acted(speakers=1, per_class=1), 1, seed=0, min_turns=20, max_turns=20, speakers=1)
    assert len(tiny) == 20 and {t.extra["source_key"] for t in tiny} <= {s.key for s in acted(speakers=1, per_class=1)}


def test_speakers_missing_a_class_are_left_out_and_errors_are_clear():
    pool = acted(speakers=3) + [Segment(key="ravdess/09/angry0", label="angry", speaker="09", corpus="ravdess")]
    turns = pseudo_conversations(pool, 30, seed=0)
    assert "09" not in {t.speaker for t in turns}
    with pytest.raises(PseudoConversationError, match="at least 2 classes"):
        pseudo_conversations(acted(labels=("sad",)), 2)
    with pytest.raises(PseudoConversationError, match="needs 2 speakers with every class"):
        pseudo_conversations(acted(speakers=1), 2)
    with pytest.raises(PseudoConversationError, match="stay must be in"):
        PseudoSpec(stay=1.0)
    with pytest.raises(PseudoConversationError, match="unknown pseudo-conversation kind"):
        PseudoSpec(kind="markov")  # type: ignore[arg-type]
    with pytest.raises(PseudoConversationError, match="positive weight"):
        pseudo_conversations(acted(), 2, weights={"sad": 1.0})


def test_fold_parts_give_a_speaker_independent_conversation_whole_split():
    pool = acted(speakers=10)
    fold = speaker_kfold(pool, k=5, n_valid=2)[0]
    parts = {p: fold.select(pool, p) for p in ("train", "valid", "test")}
    turns = pseudo_parts(parts, {"train": 30, "valid": 5, "test": 6}, seed=0)
    assert Counter(c.segments[0].split for c in conversations(turns)) == {"train": 30, "dev": 5, "test": 6}
    for part, split in (("train", "train"), ("valid", "dev"), ("test", "test")):
        allowed = {s.speaker for s in parts[part]}
        assert {t.speaker for t in turns if t.split == split} <= allowed
    (official,) = official_split(turns)  # checks speakers and conversations: both stay on one side
    assert official.speaker_independent and "split_conversations" not in official.info
    assert len(official.test) == sum(1 for t in turns if t.split == "test")


def test_cli_pseudo_per_fold(tmp_path):
    manifest = tmp_path / "m.jsonl"
    pool = acted(speakers=10)
    write_manifest(manifest, pool)
    write_folds(speaker_kfold(pool, k=5, n_valid=2), tmp_path / "folds", pool)
    run = CliRunner().invoke(cli, ["pseudo", str(manifest), "--folds", str(tmp_path / "folds"), "-n", "4",
                                   "-o", str(tmp_path / "out"), "--turns", "10-12"])
    assert run.exit_code == 0, run.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"fold{i}.jsonl" for i in range(1, 6)]
    assert "fold1.jsonl: 12 conversations" in run.output
    rows = [json.loads(x) for x in (tmp_path / "out" / "fold3.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"train", "dev", "test"}
    assert all(r["dialogue"].startswith("pseudo-sticky-fold3-") for r in rows)
    assert {len(c) for c in conversations(read_manifest(tmp_path / "out" / "fold3.jsonl"))} <= {10, 11, 12}
    single = CliRunner().invoke(cli, ["pseudo", str(manifest), "--kind", "iid", "-o", str(tmp_path / "p.jsonl")])
    assert single.exit_code == 0, single.output
    assert len(conversations(read_manifest(tmp_path / "p.jsonl"))) == 11  # 160 segments / 14 turns on average
    bad = CliRunner().invoke(cli, ["pseudo", str(manifest), "--turns", "a-b", "-o", str(tmp_path / "x.jsonl")])
    assert bad.exit_code != 0 and "not a turn count or range" in bad.output
