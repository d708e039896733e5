"""The grounded teacher backend (llm/grounded.py): deterministic, valid AECoTD teacher answers that
agree with the cues they were given; the paraphrase gate; the teacher stage end to end."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from spokenemo.api.evidence import measure_evidence
from spokenemo.api.evidence_files import faithfulness_of_file
from spokenemo.core.errors import BackendError
from spokenemo.data.manifest import Segment
from spokenemo.features.evidence import check_faithfulness, evidence_from_cue_text
from spokenemo.llm.base import ChatResult, LLMBackend
from spokenemo.llm.factory import BACKEND_KINDS, get_backend
from spokenemo.llm.grounded import GroundedTeacher, accept_paraphrase, grounded_chain_of_thought
from spokenemo.llm.prompts import load_template
from spokenemo.systems.aecotd.teacher import run_teacher
from spokenemo.systems.aecotd.teacher_validate import parse_teacher_output, validate_output

LABELS = ["angry", "happy", "neutral", "sad"]
CUES = ("Pitch: high. Intensity: weak. Speech rate: slow. Articulation rate: fast.\n"
        "Pitch by segment: [0.00, 0.20, 0.35, 0.80, 1.00, 0.90, 0.00]. "
        "Intensity by segment: [0.00, 0.90, 0.80, 0.70, 0.60, 0.50, 0.00].")


def prompt(label: str, cues: str = CUES) -> list[dict[str, str]]:
    return load_template("teacher_label").render(transcript="Kids are talking by the door", cues=cues, label=label,
                                                 labels=LABELS)


class FixedAnswer(LLMBackend):
    """A fake paraphraser that always answers ``text``."""

    name, model_name = "fake", "fake-paraphraser"

    def __init__(self, text: str) -> None:
        self.text = text

    def chat_batch(self, batch: Sequence, **kwargs) -> list:
        return [ChatResult(text=self.text, finish_reason="stop") for _ in batch]


@pytest.mark.parametrize("label", LABELS)
def test_answers_are_valid_teacher_output_and_agree_with_the_cue_text(label):
    backend = get_backend("grounded")
    assert "grounded" in BACKEND_KINDS and isinstance(backend, GroundedTeacher)
    result = backend.chat(prompt(label))
    assert result.text.endswith(f"Emotion: {label}") and backend.chat(prompt(label)).text == result.text
    parsed = parse_teacher_output(result.text, result.reasoning, LABELS)
    assert parsed.label == label
    assert validate_output(parsed, cue_text=CUES, mode="label", annotated=label, labels=LABELS,
                           finish_reason="stop") == []
    check = check_faithfulness(parsed.reasoning, evidence_from_cue_text(CUES))
    assert check.agreement == 1.0 and check.n_verifiable >= 4
    assert f"For {label}," in parsed.reasoning


def test_sad_reasoning_names_supporting_and_opposing_cues():
    text = grounded_chain_of_thought(evidence_from_cue_text(CUES), "sad")
    assert "the softer voice and the slower speech rate fit" in text
    assert "the higher pitch" in text.split("fit;")[1]                   # speaks against sadness


def test_audio_evidence_is_used_when_registered_for_the_cue_text(test_data):
    clip = test_data / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.flac"
    ev = measure_evidence(clip, reference=clip.parent)
    result = GroundedTeacher(evidence={CUES: ev}).chat(prompt("angry"))
    assert result.extra["evidence"] == "audio" and "semitones" in result.text
    reasoning = parse_teacher_output(result.text, None, LABELS).reasoning
    assert check_faithfulness(reasoning, ev).agreement == 1.0


def test_a_paraphrase_is_used_only_when_the_checker_passes_it():
    ev = evidence_from_cue_text(CUES)
    original = grounded_chain_of_thought(ev, "sad")
    good = "The voice is softer, the speech rate is slower, the articulation rate is faster and the pitch is " \
           "higher. Over the sentence, the pitch rises."
    bad = "The voice is louder and the speech is slow."
    assert accept_paraphrase(original, good, ev)[0]
    ok, why = accept_paraphrase(original, bad, ev)
    assert not ok and "disagree" in why
    accepted = GroundedTeacher(paraphraser=FixedAnswer(good)).chat(prompt("sad"))
    assert accepted.extra["paraphrase"].startswith("accepted") and accepted.text.startswith(good)
    rejected = GroundedTeacher(paraphraser=FixedAnswer(bad)).chat(prompt("sad"))
    assert rejected.extra["paraphrase"].startswith("rejected") and rejected.text.startswith(original)


def test_a_prompt_that_is_not_a_teacher_prompt_is_a_typed_error():
    backend = GroundedTeacher()
    with pytest.raises(BackendError, match="label-conditioned"):
        backend.chat([{"role": "user", "content": "Hello"}])
    out = backend.chat_batch([[{"role": "user", "content": "Hello"}]], return_exceptions=True)
    assert isinstance(out[0], BackendError)


def test_teacher_stage_with_the_grounded_backend_writes_a_faithful_cache(tmp_path):
    segments = [Segment(key=f"u{i}", label=label, text="Kids are talking by the door") for i, label in
                enumerate(LABELS)]
    texts = {s.key: CUES for s in segments}
    cache = tmp_path / "cot.jsonl"
    summary = run_teacher(segments, texts, cache, backend=get_backend("grounded"), progress=False)
    assert summary.valid == 4
    totals, _ = faithfulness_of_file(cache)
    assert totals.agreement == 1.0 and totals.to_dict()["verifiable_per_explanation"] >= 4
