"""The bundled SmolLM2-135M-Instruct (transformers, in-process): loading, chat, batching, scoring,
and a real explanation for a real RAVDESS clip from tests/data."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from spokenemo.data.manifest import read_manifest

pytestmark = pytest.mark.slow
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def embedded():
    from spokenemo.llm import get_backend
    from spokenemo.llm.embedded import embedded_model_dir

    try:
        embedded_model_dir()  # converts the GGUF once (~30 s) if not cached yet
    except Exception as err:  # noqa: BLE001 - the package may be absent
        pytest.skip(f"embedded model unavailable: {err}")
    t0 = time.perf_counter()
    backend = get_backend("embedded", batch_size=4)
    backend.measured_load_s = time.perf_counter() - t0
    return backend


def test_loads_from_the_cached_copy_quickly(embedded):
    assert embedded.name == "embedded" and embedded.model_name == "SmolLM2-135M-Instruct"
    assert embedded.device == "cpu" or embedded.device.startswith("cuda")
    assert embedded.measured_load_s < 60  # the cached safetensors copy, not the 20-30 s GGUF conversion


def test_answers_a_fact_and_batches_like_one_by_one(embedded):
    questions = [[{"role": "user", "content": "What is the capital of France? Answer with one word."}],
                 [{"role": "user", "content": "Is fire hot or cold? Answer with one word."}]]
    batched = embedded.chat_batch(questions, max_tokens=12)
    assert "Paris" in batched[0].text
    assert batched[0].finish_reason == "stop"
    single = embedded.chat(questions[1], max_tokens=12)
    assert batched[1].text == single.text


def test_scores_the_right_answer_higher(embedded):
    prompt = [{"role": "user", "content": "What is the capital of France? Answer with one word."}]
    paris, london, banana = embedded.score(prompt, ["Paris", "London", "Banana"])
    assert paris > london > banana


def test_explains_a_real_clip(embedded, tmp_path):
    from spokenemo.features.cues.extract import extract_file
    from spokenemo.features.cues.text import render_cue_text
    from spokenemo.features.cues.thresholds import Thresholds
    from spokenemo.systems.aecotd.teacher import load_teacher_outputs, run_teacher

    utts = [u for u in read_manifest(TEST_DATA / "fixtures.jsonl") if u.speaker == "01"]
    rows = {u.key: extract_file(u.audio_path(TEST_DATA)).to_row() for u in utts}
    thresholds = Thresholds.fit(rows.values())
    cue_texts = {k: render_cue_text(r, thresholds) for k, r in rows.items()}
    angry = [u for u in utts if u.label == "angry"]
    assert len(angry) == 1
    out = tmp_path / "cot.jsonl"
    summary = run_teacher(angry, cue_texts, out, backend=embedded, progress=False)
    assert summary.done == 1
    row = load_teacher_outputs(out, valid_only=False)[angry[0].key]
    assert row["cues"] == cue_texts[angry[0].key] and row["cues"].startswith("Pitch: ")
    assert row["raw"].strip() and row["reasoning"].strip()
    assert row["predicted"] == "angry"  # the "Emotion:" line was written and parsed
    assert row["finish_reason"] == "stop"
    assert row["valid"] == (row["failure"] is None)
