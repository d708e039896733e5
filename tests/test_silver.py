"""Silver labels (issue #18): parsing, the pool, the labellers on the cached job engine, resume,
silver quality. Fast: no model is loaded (the LLM is a scripted backend)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import spokenemo.api.silver as silver_api
from spokenemo.apps.cli import cli
from spokenemo.core.errors import BackendError, ConfigError, SpokenemoError
from spokenemo.data.manifest import Segment, write_manifest
from spokenemo.llm.base import ChatResult, LLMBackend
from spokenemo.models.encoders import TEXT_ENCODERS
from spokenemo.systems.silver import encoders as silver_encoders
from spokenemo.systems.silver.labellers import (
    NO_SENTIMENT,
    RuleBackend,
    label_pool,
    make_labeller,
    read_silver,
    threshold,
)
from spokenemo.systems.silver.parse import THESIS_PROMPT, default_template, labeller_template, parse_sentiment
from spokenemo.systems.silver.pool import Pool, PoolItem, default_pool, pool_from_audio, pool_from_segments
from spokenemo.systems.silver.quality import agreement


# --- parsing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer, expected", [
    ("positive", "positive"),
    ("Positive sentiment: positive\nNegative", "positive"),
    ("The sentiment is NEUTRAL.", "neutral"),
    ("negative, not positive", "negative"),   # the first one named wins
    ("Sentiment: Negative!", "negative"),
    ("I'm glad to have", None),               # SmolLM2 sometimes answers with a sentence of its own
    ("positively thrilled", None),            # whole words only
    ("", None),
    (None, None),
])
def test_parse_sentiment(answer, expected):
    assert parse_sentiment(answer) == expected


def test_default_template_is_the_thesis_prompt_verbatim():
    messages = default_template().render(sentence="Oh my God!")
    assert messages == [{"role": "system", "content": THESIS_PROMPT}, {"role": "user", "content": "Oh my God!"}]
    assert THESIS_PROMPT == ("You are a sentiment classification bot. Given the [sentence], classify as positive, "
                             "negative or neutral sentiment. Please give the sentiment and no extra text as output.")


def test_a_template_that_never_shows_the_sentence_is_refused(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("name: t\nversion: 1\nkind: teacher_blind\nmessages:\n  - role: user\n    content: Hi {x}\n")
    with pytest.raises(ConfigError, match=r"never show \{sentence\}"):
        labeller_template(path)


# --- rule labellers: known answers --------------------------------------------------------------
@pytest.mark.parametrize("kind, text, label, score", [
    ("vader", "I love this so much!", "positive", 0.6696),
    ("vader", "This is terrible.", "negative", -0.4767),
    ("vader", "The meeting starts at nine.", "neutral", 0.0),
    ("textblob", "I love this so much!", "positive", 0.375),
    ("textblob", "This is terrible.", "negative", -1.0),
    ("textblob", "The meeting starts at nine.", "neutral", 0.0),
])
def test_rule_labellers_known_answers(kind, text, label, score):
    backend = RuleBackend(kind)
    got, value = backend.label(text)
    assert got == label and value == pytest.approx(score, abs=1e-4)
    answer = backend.chat([{"role": "user", "content": text}]).text
    assert parse_sentiment(answer) == label and answer.startswith(label)


def test_thresholds():
    assert [threshold(v) for v in (0.05, 0.0499, 0.0, -0.0499, -0.05, 0.9)] == [
        "positive", "neutral", "neutral", "neutral", "negative", "positive"]


# --- the pool -----------------------------------------------------------------------------------
def _seg(key, text, split="train", **kw):
    return Segment(key=key, text=text, label="happy", split=split, corpus="toy", **kw)


def test_pool_hides_labels_excludes_test_and_keeps_reasons():
    pool = pool_from_segments([
        _seg("a", "I love it"), _seg("b", "   "), _seg("c", "Привет, как дела?"),
        _seg("d", "Ich bin so froh", language="de"), _seg("e", "secret test line", split="test"),
        _seg("f", "fine", split="dev")])
    assert [i.key for i in pool.items] == ["a", "b", "c", "d", "f"]
    assert pool.excluded == {"test split (never in the pool)": 1}
    assert [i.key for i in pool.usable()] == ["a", "f"]
    assert pool.skipped() == {"empty": 1, "non-english": 2}
    assert not hasattr(pool.items[0], "label")
    assert pool.subset(3, seed=1).items == pool.subset(4, seed=1).items[:3]   # nested seeded subsets


def test_audio_pool_counts_asr_failures_and_empty_transcripts():
    def fake_asr(u):
        if u.key == "boom":
            raise RuntimeError("decoder crashed")
        return {"a": "what a lovely day", "quiet": ""}[u.key]

    segs = [Segment(key=k, path=f"/x/{k}.wav", split=None) for k in ("a", "quiet", "boom")]
    segs.append(Segment(key="t", path="/x/t.wav", split="test"))
    pool = pool_from_audio(segs, fake_asr)
    reasons = {i.key: i.reason for i in pool.items}
    assert reasons == {"a": None, "quiet": "empty: no letters", "boom": "asr failed: RuntimeError: decoder crashed"}
    assert pool.excluded["test split (never in the pool)"] == 1


def test_default_pool_is_meld_train_and_emorynlp_train_dev(shared_data):
    pool = default_pool(shared_data / "meld")
    by_source = pool.summary()["by_source"]
    assert by_source == {"meld/train": 9989, "emorynlp/train": 7551, "emorynlp/dev": 954}
    assert not any("/test/" in i.key or "/dev/" in i.key and i.key.startswith("meld") for i in pool.items)


# --- labelling on the job engine: invalid answers, skipped items, resume --------------------------
class ScriptedLLM(LLMBackend):
    """Answers from a dict by sentence; raises a BackendError after ``fail_after`` answers."""

    name = "scripted"
    model_name = "scripted-1"
    batch_size = 1

    def __init__(self, answers, fail_after=None):
        self.answers, self.fail_after, self.asked = answers, fail_after, []

    def chat_batch(self, batch, *, max_tokens=256, temperature=0.0, stop=None, return_exceptions=False):
        out = []
        for messages in batch:
            sentence = messages[-1]["content"]
            if self.fail_after is not None and len(self.asked) >= self.fail_after:
                out.append(BackendError("server down"))
                continue
            self.asked.append(sentence)
            out.append(ChatResult(text=self.answers[sentence], raw=self.answers[sentence]))
        return out


def _pool(n=8):
    items = [PoolItem(f"k{i}", f"sentence {i}") for i in range(n)]
    items += [PoolItem("empty", "", reason="empty: no letters"), PoolItem("ru", "Привет", reason="non-english: x")]
    return Pool(items)


def test_llm_labeller_records_answers_without_a_sentiment(tmp_path):
    answers = {f"sentence {i}": a for i, a in enumerate(
        ["Positive.", "negative", "I'm glad to have", "neutral sentiment", "Positive", "no idea", "NEUTRAL", "neg"])}
    labeller = make_labeller("llm", llm=ScriptedLLM(answers))
    stats = label_pool(_pool(), labeller, tmp_path / "c.jsonl", progress=False)
    assert (stats.done, stats.valid) == (8, 5) and stats.failures == {NO_SENTIMENT: 3}
    silver = read_silver(tmp_path / "c.jsonl")
    assert silver.labels == {"k0": "positive", "k1": "negative", "k3": "neutral", "k4": "positive", "k6": "neutral"}
    assert silver.invalid == {NO_SENTIMENT: 3} and silver.skipped == {"empty": 1, "non-english": 1}
    rows = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    skipped = [r for r in rows if r.get("skipped")]
    assert {r["key"]: r["failure"] for r in skipped} == {"empty": "skipped: empty: no letters",
                                                         "ru": "skipped: non-english: x"}
    assert all(r["template"] == "silver_sentiment" for r in rows if not r.get("skipped"))


def test_a_labeller_failing_mid_run_resumes_without_relabelling(tmp_path):
    answers = {f"sentence {i}": "positive" for i in range(12)}
    cache = tmp_path / "c.jsonl"
    flaky = ScriptedLLM(answers, fail_after=4)
    with pytest.raises(SpokenemoError, match="failed 5 requests in a row"):
        label_pool(_pool(12), make_labeller("llm", llm=flaky), cache, progress=False)
    assert len(flaky.asked) == 4
    first = read_silver(cache)
    assert len(first.labels) == 4 and first.pending == 5
    again = ScriptedLLM(answers)
    stats = label_pool(_pool(12), make_labeller("llm", llm=again), cache, progress=False)
    assert sorted(again.asked) == sorted(f"sentence {i}" for i in range(4, 12))   # nothing asked twice
    assert stats.cached == 4 and stats.done == 8
    assert len(read_silver(cache).labels) == 12
    skipped_rows = [line for line in cache.read_text().splitlines() if '"skipped": true' in line]
    assert len(skipped_rows) == 2   # written once, not again on resume
    third = ScriptedLLM(answers)
    assert label_pool(_pool(12), make_labeller("llm", llm=third), cache, progress=False).done == 0
    assert third.asked == []


def test_read_silver_needs_a_model_when_the_cache_mixes_labellers(tmp_path):
    cache = tmp_path / "c.jsonl"
    label_pool(_pool(3), make_labeller("vader"), cache, progress=False)
    label_pool(_pool(3), make_labeller("llm", llm=ScriptedLLM({f"sentence {i}": "neutral" for i in range(3)})),
               cache, progress=False)
    with pytest.raises(ConfigError, match="several labellers"):
        read_silver(cache)
    assert read_silver(cache, "scripted-1").labels == {"k0": "neutral", "k1": "neutral", "k2": "neutral"}


# --- silver quality -----------------------------------------------------------------------------
def test_agreement_by_hand():
    gold = {"a": "positive", "b": "negative", "c": "neutral", "d": "neutral"}
    silver = {"a": "positive", "b": "neutral", "c": "neutral", "d": "positive", "x": "neutral"}
    a = agreement(silver, gold)
    # 2 of 4 agree; expected by chance: gold shares (.25,.5,.25) x silver shares (0,.5,.5) = .375
    assert a["n"] == 4 and a["accuracy"] == 0.5 and a["kappa"] == pytest.approx((0.5 - 0.375) / 0.625)
    assert a["confusion"] == [[0, 1, 0], [0, 1, 1], [0, 0, 1]]
    with pytest.raises(ConfigError, match="no silver-labelled key has a gold sentiment"):
        agreement({"x": "neutral"}, gold)


# --- registration and the command ----------------------------------------------------------------
def test_silver_encoders_are_registered_as_text_encoders(tmp_path, monkeypatch):
    (tmp_path / "minilm-toy").mkdir()
    (tmp_path / "minilm-toy" / "silver.json").write_text(json.dumps({"fingerprint": "abc", "steps": 3}))
    (tmp_path / "unfinished").mkdir()
    try:
        assert silver_encoders.register_found(tmp_path) == ["silver-minilm-toy"]
        assert "silver-minilm-toy" in TEXT_ENCODERS and "silver-unfinished" not in TEXT_ENCODERS
        assert silver_encoders.encoder_identity("silver-minilm-toy")["silver_fingerprint"] == "abc"
    finally:
        TEXT_ENCODERS.remove("silver-minilm-toy")
        silver_encoders._REGISTERED.pop("silver-minilm-toy", None)


def test_cli_label_resumes(tmp_path):
    manifest = tmp_path / "m.jsonl"
    write_manifest(manifest, [_seg("a", "I love it"), _seg("b", "This is awful."), _seg("c", ""),
                              _seg("d", "hidden test text", split="test")])
    out = tmp_path / "labels.jsonl"
    args = ["silver", "label", "--labeller", "vader", "--manifest", str(manifest), "-o", str(out), "--no-progress",
            "--meld-root", str(tmp_path / "none")]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "2 labelled now (2 valid), 0 cached" in first.output
    second = CliRunner().invoke(cli, args)
    assert "0 labelled now (0 valid), 2 cached" in second.output
    assert read_silver(out).labels == {"a": "positive", "b": "negative"}
    assert "hidden test text" not in out.read_text()


def test_api_pool_from_audio_and_text_manifests(tmp_path, monkeypatch):
    text, audio = tmp_path / "text.jsonl", tmp_path / "audio.jsonl"
    write_manifest(text, [_seg("t1", "What a day!"), _seg("t2", "hidden", split="test")])
    write_manifest(audio, [Segment(key="a1", path=str(tmp_path / "a1.wav"), split="train"),
                           Segment(key="a2", path=str(tmp_path / "a2.wav"), split="train")])
    heard = {"a1": "I am so happy today", "a2": ""}
    monkeypatch.setattr(silver_api, "asr_transcriber", lambda backend="auto": lambda u: heard[u.key])
    pool = silver_api.silver_pool(None, manifests=[text], audio_manifests=[audio])
    assert {i.key: (i.text, i.reason) for i in pool.items} == {
        "t1": ("What a day!", None), "a1": ("I am so happy today", None), "a2": ("", "empty: no letters")}
    assert pool.excluded == {"test split (never in the pool)": 1}
    with pytest.raises(ConfigError, match="no pool source"):
        silver_api.silver_pool(None)
