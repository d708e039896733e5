"""The shipped default student (models/spokenemo-default) loads and answers on real clips.

These guard the committed artefact: a broken adapter, stale metadata or a tokenizer mismatch
would make `spokenemo explain FILE` and `make demo` fail for every user.
"""

from __future__ import annotations

import json

import pytest

from spokenemo.systems.aecotd.default_model import DEFAULT_MODEL_DIR

from conftest import TEST_DATA

pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "adapter").is_dir(),
                                reason=f"no shipped model in {DEFAULT_MODEL_DIR} (spokenemo export builds one)")

LABELS = ["angry", "happy", "neutral", "sad"]
CUE_WORDS = ("pitch", "intensity", "speech rate", "articulation rate")


@pytest.fixture(scope="module")
def student():
    from spokenemo.systems.aecotd import load_student

    return load_student(DEFAULT_MODEL_DIR, device="cpu")


def test_shipped_folder_is_slim_and_described():
    files = {p.relative_to(DEFAULT_MODEL_DIR).as_posix() for p in DEFAULT_MODEL_DIR.rglob("*") if p.is_file()}
    assert not any(f.startswith("checkpoints/") for f in files)
    assert {"student.json", "thresholds.json", "README.md", "heldout.json"} <= files
    total = sum((DEFAULT_MODEL_DIR / f).stat().st_size for f in files)
    assert total < 8 * 2**20, f"shipped model is {total / 2**20:.1f} MiB; export it with float16 weights"
    info = json.loads((DEFAULT_MODEL_DIR / "student.json").read_text(encoding="utf-8"))
    assert info["labels"] == LABELS
    assert info["export"]["dtype"] == "float16"
    card = (DEFAULT_MODEL_DIR / "README.md").read_text(encoding="utf-8")
    assert "spokenemo export" in card and "UA" in card
    # the card's held-out numbers come from speakers the model never heard
    heldout = json.loads((DEFAULT_MODEL_DIR / "heldout.json").read_text(encoding="utf-8"))
    trained_on = set(json.loads((DEFAULT_MODEL_DIR / "thresholds.json").read_text())["speaker_medians"])
    held = {f"{corpus}/{spk}" for corpus, spks in heldout["holdout"].items() for spk in spks}
    assert held and not held & trained_on
    assert f"{100 * heldout['all']['ua']:.1f}" in card


def test_shipped_model_scores_fixture_clips(student):
    from spokenemo.systems.aecotd import explain

    clip = TEST_DATA / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.flac"  # angry
    result = explain(student, clip, "Dogs are sitting by the door", max_new_tokens=64)
    assert set(result.probabilities) == set(LABELS)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert result.emotion == max(result.probabilities, key=result.probabilities.get)
    assert result.cue_text.startswith("Pitch: ")
    # the explanation is generated text about the cues, not an empty <think></think>
    assert result.explanation and len(result.explanation.split()) >= 5
    assert any(word in result.explanation.lower() for word in CUE_WORDS)


def test_shipped_model_words_cues_against_the_speakers_own_clips(student):
    from spokenemo.systems.aecotd import explain, speaker_reference, uses_speaker_medians

    assert uses_speaker_medians(student)
    actor = TEST_DATA / "ravdess" / "Actor_01"
    reference = speaker_reference(student, [actor])
    result = explain(student, actor / "03-01-05-01-02-01-01.flac", "Dogs are sitting by the door",
                     max_new_tokens=1, reference=reference)
    assert result.relative_to == "this speaker's 5 reference clips"
    assert set(result.probabilities) == set(LABELS)
