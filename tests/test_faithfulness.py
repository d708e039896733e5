"""The faithfulness checker on hand-written sentences, on AECoTD-style teacher text against its cue
line, and the grounded explanations on real clips (100 % by construction)."""

from __future__ import annotations

import json

import pytest

from spokenemo.api.evidence import measure_evidence
from spokenemo.api.evidence_files import faithfulness_of_file
from spokenemo.core.errors import ConfigError
from spokenemo.features.evidence import (
    Baseline,
    Comparison,
    Evidence,
    check_faithfulness,
    evidence_from_cue_text,
    explain,
    parse_claims,
)
from spokenemo.features.evidence.catalogue import CUE_NAMES, direction

DELTAS = {"pitch": 3.0, "loudness": 6.0, "speech_rate": 20.0, "pitch_range": -3.0, "pause_count": 0.0,
          "articulation_rate": 2.0}


def hand_evidence() -> Evidence:
    """Pitch +3 st, loudness +6 dB, rate +20 %, range -3 st, pauses same (0), articulation +2 % (same);
    the rest unmeasured; contour rising by 3 st."""
    comps = {}
    for name in CUE_NAMES:
        d = DELTAS.get(name)
        comps[name] = (Comparison(name, 0.0 if name == "pause_count" else 1.0, 1.0, d, direction(name, d))
                       if d is not None else Comparison(name, None, None, None, None, "not measured"))
    return Evidence(measures=None, baseline=Baseline("speaker", "the speaker's other segments", 3, {}),
                    comparisons=comps, contour_shape="rising", contour_change=3.0)


@pytest.mark.parametrize("text, verdict", [
    ("The voice is louder than usual.", "agrees"),
    ("She sounds loud.", "agrees"),
    ("The pitch is high.", "agrees"),
    ("A high-pitched voice.", "agrees"),
    ("The intonation is rising.", "agrees"),
    ("The pitch rises towards the end.", "agrees"),
    ("The delivery is monotone.", "agrees"),
    ("The speaker talks fast.", "agrees"),
    ("There are no pauses.", "agrees"),
    ("The articulation rate is about the same.", "agrees"),
    ("The pitch is not low.", "agrees"),
    ("The speaker talks slowly.", "contradicts"),
    ("The voice is quiet.", "contradicts"),
    ("The pitch is falling.", "contradicts"),
    ("The pitch is low.", "contradicts"),
    ("The pitch range is wide.", "contradicts"),
    ("The pitch is about the same as usual.", "contradicts"),
    ("The articulation rate is fast.", "not supported"),
    ("The voice is breathy.", "unverifiable"),
    ("The jitter is high.", "unverifiable"),
])
def test_hand_written_sentences(text, verdict):
    result = check_faithfulness(text, hand_evidence())
    assert [v.verdict for v in result.verdicts] == [verdict], (text, result.to_dict()["verdicts"])


def test_general_statements_and_texts_without_cues_make_no_claim():
    assert parse_claims("Angry speech is usually loud and fast.") == []
    assert parse_claims("Together, these cues fit sadness; the words carry no emotion.") == []
    result = check_faithfulness("The speaker seems upset.", hand_evidence())
    assert result.n_claims == 0 and result.agreement is None and "no claim" in result.reason


def test_scores_count_claims_agreements_and_unverifiable():
    text = "The voice is louder and faster, but the pitch falls. The jitter is high."
    r = check_faithfulness(text, hand_evidence())
    d = r.to_dict()
    assert (d["claims"], d["agree"], d["contradict"], d["unverifiable"]) == (4, 2, 1, 1)
    assert r.agreement == pytest.approx(2 / 3)


def test_aecotd_teacher_text_is_checked_against_its_cue_line():
    cues = ("Pitch: high. Intensity: strong. Speech rate: slow. Articulation rate: slow.\n"
            "Pitch by segment: [0.00, 0.10, 0.20, 0.40, 0.70, 0.90, 0.00]. Intensity by segment: [0.00, 0.5].")
    ev = evidence_from_cue_text(cues)
    text = ("The pitch is high, the intensity is weak, and the speech rate and articulation rate are fast. "
            "The pitch rises.")
    r = check_faithfulness(text, ev)
    verdicts = {(v.claim.cue, v.verdict) for v in r.verdicts}
    assert verdicts == {("pitch", "agrees"), ("loudness", "contradicts"), ("speech_rate", "contradicts"),
                        ("articulation_rate", "contradicts"), ("contour", "agrees")}
    assert check_faithfulness("The rate is about the same.", ev).verdicts[0].verdict == "unverifiable"


def test_grounded_text_agrees_100_percent_on_real_clips(test_data):
    labels = ["angry", "happy", "neutral", "sad"]
    clips = sorted((test_data / "ravdess").rglob("*.flac"))
    total = 0
    for clip in clips:
        ev = measure_evidence(clip, reference=clip.parent)
        for i, emotion in enumerate(labels):
            probs = {e: (0.4 if e == emotion else 0.2) for e in labels}
            probs[labels[(i + 1) % 4]] = 0.35                            # a close runner-up
            ex = explain(ev, probs)
            r = check_faithfulness(ex.text, ev)
            assert r.agreement == 1.0, (clip.name, emotion, ex.text, r.to_dict()["verdicts"])
            assert r.n_verifiable >= 3 and ex.uncertain
            total += r.n_verifiable
    assert total >= 3 * 4 * len(clips)


def test_explanation_lists_supports_opposes_and_the_runner_up(test_data):
    clip = test_data / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.flac"      # angry
    ev = measure_evidence(clip, reference=clip.parent)
    ex = explain(ev, {"angry": 0.18, "happy": 0.28, "neutral": 0.26, "sad": 0.28})
    assert ex.emotion in ("happy", "sad") and ex.uncertain and "uncertain" in ex.text
    ex = explain(ev, {"angry": 0.7, "happy": 0.2, "sad": 0.1})
    assert {r.cue for r in ex.supports} >= {"loudness", "pitch"} and not ex.uncertain
    assert ex.runner_up["emotion"] == "happy" and ex.runner_up["separating"]
    assert all(s["favours"] in ("angry", "happy") for s in ex.runner_up["separating"])


def test_faithfulness_of_a_teacher_cache(tmp_path):
    cache = tmp_path / "cot.jsonl"
    rows = [{"key": "a", "valid": True, "cues": "Pitch: high. Intensity: strong. Speech rate: fast. Articulation "
             "rate: fast.", "reasoning": "The pitch is high and the voice is loud."},
            {"key": "b", "valid": True, "cues": "Pitch: low. Intensity: weak. Speech rate: slow. Articulation "
             "rate: slow.", "reasoning": "The speech rate was fast. These cues fit sadness."},
            {"key": "c", "valid": False, "cues": "Pitch: low.", "reasoning": "Pitch is high."},
            {"key": "d", "valid": True, "cues": "Pitch: low.", "reasoning": "It sounds sad."}]
    cache.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    summary, per_row = faithfulness_of_file(cache)
    d = summary.to_dict()
    assert (d["explanations"], d["claims"], d["agree"], d["contradict"], d["without_claims"]) == (3, 3, 2, 1, 1)
    assert [r["key"] for r in per_row] == ["a", "b", "d"]
    with pytest.raises(ConfigError, match="not found"):
        faithfulness_of_file(tmp_path / "missing.jsonl")


def test_faithfulness_of_a_predictions_file_against_the_audio(test_data, tmp_path):
    folder = test_data / "ravdess" / "Actor_01"
    rows = [{"key": p.stem, "path": str(p), "speaker": "01", "explanation": "The voice is louder than usual."}
            for p in sorted(folder.glob("*.flac"))]
    rows.append({"key": "x", "explanation": "The pitch is high."})                   # no audio: reported
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps(rows))
    summary, per_row = faithfulness_of_file(preds, against="audio")
    d = summary.to_dict()
    assert d["explanations"] == 5 and d["claims"] == 5 and "x" in d["failures"]
    angry = next(r for r in per_row if r["key"] == "03-01-05-01-02-01-01")          # the loud, angry clip
    assert angry["agreement"] == 1.0
    assert 0 < d["agree"] < 5                                                          # not every clip is louder
