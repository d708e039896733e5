"""The teacher stage: parsing, validation, the cache, the run and the CLI (fast; no model)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from spokenemo.apps.cli import cli
from spokenemo.core.errors import AuthenticationError, BackendError, ConfigError, SpokenemoError
from spokenemo.data.manifest import Segment, write_manifest
from spokenemo.llm.base import ChatResult, LLMBackend
from spokenemo.llm.job_cache import failure_kind
from spokenemo.llm.openai_backend import OpenAIBackend
from spokenemo.llm.prompts import load_template, messages_sha256
from spokenemo.systems.aecotd.teacher import (
    MAX_CONSECUTIVE_BACKEND_ERRORS,
    build_requests,
    cue_texts_for,
    label_names,
    load_teacher_outputs,
    run_teacher,
    select_utterances,
)
from spokenemo.systems.aecotd.teacher_validate import (
    WorkedExample,
    copies_example,
    cue_errors,
    example_answers,
    is_repetitive,
    label_conflicts,
    parse_teacher_output,
    validate_output,
)

from fault_server import FaultServer, status

LABELS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
HIGH = ("Pitch: high. Intensity: strong. Speech rate: fast. Articulation rate: slow.\n"
        "Pitch by segment: [0.00, 0.20, 0.90, 1.00, 0.70, 0.40, 0.00]. "
        "Intensity by segment: [0.00, 0.50, 1.00, 0.90, 0.80, 0.50, 0.00].")
LOW = ("Pitch: low. Intensity: weak. Speech rate: slow. Articulation rate: slow.\n"
       "Pitch by segment: [0.00, 0.80, 0.60, 0.40, 0.30, 0.10, 0.00]. "
       "Intensity by segment: [0.00, 1.00, 0.70, 0.60, 0.40, 0.20, 0.00].")
GOOD_HIGH = ("The pitch is high, the intensity is strong, the speech rate is fast and the articulation rate "
             "is slow. Pitch rises from 0.20 to 1.00 and then falls to 0.40. These cues fit anger.")


def explain(request: dict) -> str:
    """A well-behaved teacher: restates the prompt's own cues and label."""
    last = request["messages"][-1]["content"]
    label = re.search(r"Emotion heard: (\w+)", last).group(1)
    words = dict(re.findall(r"(Pitch|Intensity|Speech rate|Articulation rate): (\w+)\.", last))
    return (f"The pitch is {words['Pitch']}, the intensity is {words['Intensity']}, and the speech rate is "
            f"{words['Speech rate']}. These cues fit the emotion {label}.\nEmotion: {label}")


def utterances(n: int = 6) -> list[Segment]:
    labels = ["angry", "sad", "happy", "neutral", "fearful", "calm"]
    return [Segment(key=f"c/{i:02d}", path=f"/audio/{i}.flac", label=labels[i % len(labels)],
                      text="Kids are talking by the door", speaker=str(i % 2)) for i in range(n)]


def cue_texts(utts: Sequence[Segment]) -> dict[str, str]:
    return {u.key: HIGH if u.label in ("angry", "happy", "fearful") else LOW for u in utts}


class ScriptedBackend(LLMBackend):
    """Answers from a function of the messages; exceptions in the script become per-item errors."""

    name = "scripted"

    def __init__(self, answer, model_name: str = "scripted-model") -> None:
        self.answer = answer
        self.model_name = model_name
        self.calls: list[list[dict]] = []

    def chat_batch(self, batch, *, max_tokens=256, temperature=0.0, stop=None, return_exceptions=False):
        out = []
        for messages in batch:
            self.calls.append(list(messages))
            try:
                out.append(self.answer({"messages": messages}))
            except BackendError as err:
                if not return_exceptions:
                    raise
                out.append(err)
        return [r if isinstance(r, (Exception, ChatResult)) else ChatResult(text=r, raw=r, finish_reason="stop")
                for r in out]


# --- parsing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,reasoning,label,expected_reasoning", [
    ("Pitch is high and loud.\nEmotion: angry", None, "angry", "Pitch is high and loud."),
    ("**Emotion:** Anger.\nReasoning: loud and fast speech", None, "angry", "loud and fast speech"),
    ("Label: sadness", None, "sad", ""),
    ("<think>slow and low</think>\nEmotion: sad", None, "sad", "slow and low"),
    ("Emotion: happy", "the pitch rises", "happy", "the pitch rises"),
    ("angry<think>strong intensity</think>", None, "angry", "strong intensity"),
    ("Happy", None, "happy", ""),
    ("Emotion: calm\nThe voice is low.\nEmotion: sad", None, "sad", "Emotion: calm\nThe voice is low."),
])
def test_parse_teacher_output(text, reasoning, label, expected_reasoning):
    parsed = parse_teacher_output(text, reasoning, LABELS)
    assert parsed.label == label
    assert parsed.reasoning == expected_reasoning


def test_parse_without_label_or_with_unknown_label():
    parsed = parse_teacher_output("The pitch is high and the voice is strong and fast.", None, LABELS)
    assert parsed.label is None and parsed.label_text is None
    assert parsed.reasoning.startswith("The pitch is high")
    parsed = parse_teacher_output("Loud.\nEmotion: bored", None, LABELS)
    assert parsed.label is None and parsed.label_text == "bored"
    parsed = parse_teacher_output("Loud.\nEmotion: excited", None, ["angry", "happy"])  # not in this set
    assert parsed.label is None


# --- validation ------------------------------------------------------------------------------------
def check(text: str, cues: str = HIGH, mode: str = "label", annotated: str = "angry", finish: str = "stop",
          examples: Sequence[str] = ()) -> list[str]:
    return validate_output(parse_teacher_output(text, None, LABELS), cue_text=cues, mode=mode,
                           annotated=annotated, labels=LABELS, finish_reason=finish, examples=examples)


def test_good_answer_is_valid():
    assert check(GOOD_HIGH + "\nEmotion: angry") == []


@pytest.mark.parametrize("text,kwargs,reason", [
    ("", {}, "empty answer"),
    (GOOD_HIGH, {}, 'no label ("Emotion: X" line)'),
    (GOOD_HIGH + "\nEmotion: bored", {}, "label 'bored' is not one of"),
    (GOOD_HIGH + "\nEmotion: happy", {}, "label 'happy' disagrees with the annotated 'angry'"),
    ("It is anger.\nEmotion: angry", {}, "reasoning too short (3 words)"),
    ("The speaker seems upset about the children and the door today.\nEmotion: angry", {},
     "reasoning does not refer to any acoustic cue"),
    ("The pitch is low and the voice is strong and fast, which fits anger well.\nEmotion: angry", {},
     "says low pitch, cue is high"),
    (GOOD_HIGH + " " + GOOD_HIGH + "\nEmotion: angry", {}, "repetitive"),
    (GOOD_HIGH + " The pitch", {"finish": "length"}, "cut off at max_tokens"),
    (GOOD_HIGH + "\nEmotion: angry", {"examples": [WorkedExample(GOOD_HIGH, LOW)]}, "copies the worked example"),
])
def test_each_failure_is_reported(text, kwargs, reason):
    problems = check(text, **kwargs)
    assert any(reason in p for p in problems), problems


def test_blind_mode_disagreement_is_not_a_failure():
    assert check(GOOD_HIGH + "\nEmotion: happy", mode="blind") == []


def test_blind_mode_flags_the_example_emotion_repeated_for_other_cues():
    examples = example_answers(load_template("teacher_blind"))
    assert [ex.label for ex in examples] == ["sad"]
    answer = GOOD_HIGH.replace("anger", "sadness") + "\nEmotion: sad"
    assert check(answer, mode="blind", examples=examples) == [
        "repeats the worked example's emotion (sad) for other cues"]
    low = "The pitch is low, the intensity is weak, and the speech rate is slow. These cues fit sadness.\nEmotion: sad"
    assert check(low, cues=LOW, mode="blind", examples=examples) == []  # same cues as the example: fine


@pytest.mark.parametrize("reasoning,expected", [
    ("The pitch is high and the intensity is strong.", []),
    ("High pitch, loud voice and slow articulation.", []),
    ("The intensity is low.", ["says weak intensity, cue is strong"]),
    ("A low, quiet voice.", ["says low pitch, cue is high", "says weak intensity, cue is strong"]),
    ("The speech rate is slow.", ["says slow speech rate, cue is fast"]),
    ("The articulation rate is fast.", ["says fast articulation rate, cue is slow"]),
    ("A fast voice.", []),  # rates disagree in HIGH: "fast voice" is not wrong
    ("Pitch falls from 0.20 to 1.00.", ["says pitch falls from 0.20 to 1.00"]),
    ("Pitch rises from 0.20 to 1.00 and intensity drops from 1.00 to 0.50.", []),
    ("Intensity peaks at 0.95.", ["cites values not in the cues: 0.95"]),
    ("Over the spoken part, pitch goes from 0.20 to 0.40 and intensity from 0.50 to 0.80.", []),
    ("Pitch goes from 0.70 to 0.20.", ["says pitch goes from 0.70 to 0.20, but 0.70 comes after 0.20"]),
    ("Intensity goes from 0.20 to 0.50.", ["intensity values 0.20 are not in the intensity segments"]),
    ("Pitch moves from 0.33 to 0.90.", ["pitch values 0.33 are not in the pitch segments"]),
])
def test_cue_errors(reasoning, expected):
    assert cue_errors(reasoning, HIGH) == expected


def test_cue_errors_skip_raw_value_cues():
    raw = "Pitch: 182.3 Hz. Intensity: -21.0 dBFS. Speech rate: 4.1 syll/s. Articulation rate: 5.0 syll/s."
    assert cue_errors("The pitch is low and the intensity weak.", raw) == []


def test_repetition_and_copy_detection():
    assert is_repetitive("The pitch is high here. It is loud. The pitch is high here.")
    assert not is_repetitive(GOOD_HIGH)
    assert is_repetitive(" ".join(["so the emotion is calm"] * 8))
    examples = example_answers(load_template("teacher_label"))
    assert len(examples) == 1 and examples[0].cue_text.startswith('Words: "The meeting starts at nine."')
    example = examples[0].reasoning
    assert example.startswith("The pitch is low") and "Emotion:" not in example
    assert copies_example(example, examples, HIGH)  # the example's low/weak/slow answer for high cues
    assert copies_example(example.replace("sadness", "anger"), examples, HIGH)
    assert not copies_example(example, examples, LOW)  # same cue words: repeating it is simply right
    assert not copies_example(GOOD_HIGH, examples, HIGH)


@pytest.mark.parametrize("reasoning,label,expected", [
    ("High pitch and strong intensity fit anger.", "angry", []),
    ("A mix of anger and sadness.", "angry", ["names another emotion (sadness)"]),
    ("Loud, but not sadness: anger.", "angry", []),
    ("The words are neutral; the voice is loud.", "angry", []),
    ("This is a positive emotion.", "disgust", ["calls disgust a positive emotion"]),
    ("This is a negative emotion.", "happy", ["calls happy a negative emotion"]),
])
def test_label_conflicts(reasoning, label, expected):
    assert label_conflicts(reasoning, label) == expected


def test_failure_kind_drops_specifics():
    assert failure_kind("label 'sad' disagrees with the annotated 'angry'; x") == "label disagrees with the annotated"
    assert failure_kind("reasoning too short (3 words)") == "reasoning too short"


# --- requests --------------------------------------------------------------------------------------
def test_build_requests_skips_and_hashes():
    utts = utterances(4) + [Segment(key="c/nolabel", text="hi"), Segment(key="c/nocues", label="sad")]
    texts = cue_texts(utts[:4]) | {"c/nolabel": LOW}
    template = load_template("teacher_label")
    requests, skipped = build_requests(utts, texts, template, LABELS)
    assert [r.key for r in requests] == [u.key for u in utts[:4]]
    assert skipped == {"no cues": ["c/nocues"], "no label": ["c/nolabel"]}
    assert requests[0].prompt_sha256 == messages_sha256(requests[0].messages)
    assert len({r.prompt_sha256 for r in requests}) == 4
    blind, skipped = build_requests(utts, texts, load_template("teacher_blind"), LABELS)
    assert "c/nolabel" in [r.key for r in blind] and skipped == {"no cues": ["c/nocues"]}
    with pytest.raises(ConfigError, match="not a teacher one"):
        build_requests(utts, texts, load_template("student"), LABELS)


def test_label_names_in_canonical_order_and_selection():
    utts = utterances(6)
    assert label_names(utts) == ["neutral", "calm", "happy", "sad", "angry", "fearful"]
    assert [u.key for u in select_utterances(utts, limit=2)] == ["c/00", "c/01"]
    shuffled = select_utterances(utts, seed=3)
    assert sorted(u.key for u in shuffled) == [u.key for u in utts] and shuffled != utts
    assert shuffled == select_utterances(utts, seed=3)
    with pytest.raises(ConfigError, match="--limit"):
        select_utterances(utts, limit=0)


# --- the run and the cache -------------------------------------------------------------------------
def test_run_writes_readable_rows_and_never_asks_twice(tmp_path):
    utts, out = utterances(6), tmp_path / "cot.jsonl"
    backend = ScriptedBackend(explain)
    s = run_teacher(utts, cue_texts(utts), out, backend=backend, progress=False)
    assert (s.total, s.cached, s.todo, s.done, s.valid) == (6, 0, 6, 6, 6)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["key"] for r in rows] == [u.key for u in utts]
    row = rows[1]
    assert row["label"] == row["predicted"] == "sad"
    assert row["reasoning"].startswith("The pitch is low, the intensity is weak")
    assert row["raw"].endswith("Emotion: sad") and row["valid"] is True and row["failure"] is None
    assert row["model"] == "scripted-model" and row["backend"] == "scripted" and row["mode"] == "label"
    template = load_template("teacher_label")
    assert (row["template"], row["template_version"], row["template_sha256"]) == \
        (template.name, template.version, template.sha256)
    assert row["prompt_sha256"] == messages_sha256(backend.calls[1])
    assert row["transcript"] == "Kids are talking by the door" and row["cues"] == LOW
    assert row["agreement"] is None and row["created_at"].endswith("+00:00")
    # second run: everything cached, nothing asked
    s2 = run_teacher(utts, cue_texts(utts), out, backend=backend, progress=False)
    assert (s2.cached, s2.todo, s2.done) == (6, 0, 0) and len(backend.calls) == 6
    # another model or another template is a new request
    other = ScriptedBackend(explain, model_name="other-model")
    assert run_teacher(utts[:2], cue_texts(utts), out, backend=other, progress=False).done == 2
    # the cache key is the rendered prompt: a version bump alone re-asks nothing, new wording does
    tpl = tmp_path / "t.yaml"
    tpl.write_text(re.sub(r"(?m)^version: .*$", "version: test", template.text))
    assert run_teacher(utts[:1], cue_texts(utts), out, backend=backend, template=tpl, progress=False).cached == 1
    tpl.write_text(template.text.replace("Reason only from these cues", "Reason from these cues"))
    assert run_teacher(utts[:1], cue_texts(utts), out, backend=backend, template=tpl, progress=False).done == 1
    assert len(out.read_text().splitlines()) == 9


def test_invalid_answers_are_kept_with_reason(tmp_path):
    utts, out = utterances(2), tmp_path / "cot.jsonl"
    backend = ScriptedBackend(lambda req: "I am not sure about this one at all, sorry.")
    s = run_teacher(utts, cue_texts(utts), out, backend=backend, progress=False)
    assert (s.done, s.valid) == (2, 0)
    assert s.failures == {"no label in the answer": 2}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["valid"] is False and "no label" in r["failure"] for r in rows)
    assert rows[0]["raw"] == "I am not sure about this one at all, sorry."
    # kept, so not asked again
    assert run_teacher(utts, cue_texts(utts), out, backend=backend, progress=False).cached == 2
    assert load_teacher_outputs(out) == {}
    assert set(load_teacher_outputs(out, valid_only=False)) == {"c/00", "c/01"}


def test_blind_mode_records_agreement(tmp_path):
    utts, out = utterances(3), tmp_path / "cot.jsonl"  # angry, sad, happy
    backend = ScriptedBackend(lambda req: "The pitch is high and the intensity is strong.\nEmotion: angry")
    s = run_teacher(utts, cue_texts(utts), out, backend=backend, mode="blind", progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["agreement"] for r in rows] == [True, False, False]
    assert s.agreement == 1 and rows[0]["mode"] == "blind"
    assert "Emotion heard" not in json.dumps(backend.calls)
    assert not rows[1]["valid"]  # "high pitch" contradicts the LOW cues of the sad item
    assert rows[2]["valid"]  # disagreeing but well-founded answers stay valid in blind mode


def test_backend_errors_are_recorded_and_retried_next_run(tmp_path):
    utts, out = utterances(4), tmp_path / "cot.jsonl"

    def flaky(req):  # the second request of the first run fails
        if len(backend.calls) == 2:
            raise BackendError("http://x/v1/chat/completions: gave up after 6 attempts")
        return explain(req)

    backend = ScriptedBackend(flaky)
    s = run_teacher(utts, cue_texts(utts), out, backend=backend, progress=False)
    assert (s.done, s.backend_errors) == (3, 1)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    failed = [r for r in rows if r["raw"] is None]
    assert len(failed) == 1 and failed[0]["failure"].startswith("backend: BackendError: http://x/v1")
    s2 = run_teacher(utts, cue_texts(utts), out, backend=backend, progress=False)
    assert (s2.cached, s2.done) == (3, 1)
    assert set(load_teacher_outputs(out)) == {u.key for u in utts}


def test_run_stops_when_backend_keeps_failing(tmp_path):
    utts, out = utterances(8), tmp_path / "cot.jsonl"

    def down(req):
        raise BackendError("http://x: gave up", hint="is the server running?")

    with pytest.raises(SpokenemoError, match=f"failed {MAX_CONSECUTIVE_BACKEND_ERRORS} requests in a row"):
        run_teacher(utts, cue_texts(utts), out, backend=ScriptedBackend(down), progress=False)
    assert len(out.read_text().splitlines()) == MAX_CONSECUTIVE_BACKEND_ERRORS


def test_torn_last_line_is_ignored_and_redone(tmp_path):
    utts, out = utterances(3), tmp_path / "cot.jsonl"
    backend = ScriptedBackend(explain)
    run_teacher(utts, cue_texts(utts), out, backend=backend, progress=False)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])  # crash in the middle of line 3
    s = run_teacher(utts, cue_texts(utts), out, backend=backend, progress=False)
    assert (s.cached, s.done) == (2, 1)
    assert set(load_teacher_outputs(out)) == {u.key for u in utts}
    assert [json.loads(line)["key"] for line in out.read_text().splitlines()] == ["c/00", "c/01", "c/02"]


def test_corrupt_middle_line_is_a_clear_error(tmp_path):
    out = tmp_path / "cot.jsonl"
    out.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n')
    with pytest.raises(ConfigError, match="not JSON"):
        load_teacher_outputs(out)
    with pytest.raises(ConfigError, match="run `spokenemo teach"):
        load_teacher_outputs(tmp_path / "missing.jsonl")


def test_load_teacher_outputs_last_answer_wins_and_filters(tmp_path):
    out = tmp_path / "cot.jsonl"
    rows = [{"key": "a", "raw": "x", "valid": True, "model": "m1", "mode": "label", "reasoning": "old", "cues": "P1"},
            {"key": "a", "raw": "y", "valid": True, "model": "m2", "mode": "label", "reasoning": "new", "cues": "P2"},
            {"key": "b", "raw": None, "valid": False, "model": "m1", "mode": "label"},
            {"key": "c", "raw": "z", "valid": False, "model": "m1", "mode": "blind"}]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert {k: r["reasoning"] for k, r in load_teacher_outputs(out).items()} == {"a": "new"}
    assert load_teacher_outputs(out, model="m1")["a"]["reasoning"] == "old"
    assert set(load_teacher_outputs(out, valid_only=False)) == {"a", "c"}
    assert set(load_teacher_outputs(out, valid_only=False, mode="blind")) == {"c"}
    assert load_teacher_outputs(out, cue_texts={"a": "P1"})["a"]["reasoning"] == "old"  # this fold's cue text
    assert load_teacher_outputs(out, cue_texts={"a": "P3"}) == {}


def test_dry_run_counts_without_a_backend(tmp_path):
    utts, out = utterances(6), tmp_path / "cot.jsonl"
    run_teacher(utts[:2], cue_texts(utts), out, backend=ScriptedBackend(explain), progress=False)
    s = run_teacher(utts, cue_texts(utts), out, model_name="scripted-model", dry_run=True, max_tokens=100)
    assert (s.total, s.cached, s.todo) == (6, 2, 4)
    assert s.est_completion_tokens == 400
    s = run_teacher(utts, cue_texts(utts), out, model_name="scripted-model", dry_run=True,
                    count_tokens=lambda messages: 123)
    assert s.est_prompt_tokens == 4 * 123
    heuristic = run_teacher(utts, cue_texts(utts), out, dry_run=True)  # no model: any model counts
    assert heuristic.todo == 4 and heuristic.est_prompt_tokens > 4 * 300


def test_bad_arguments(tmp_path):
    utts = utterances(2)
    with pytest.raises(ConfigError, match="unknown teacher mode"):
        run_teacher(utts, cue_texts(utts), tmp_path / "o.jsonl", backend=ScriptedBackend(explain), mode="guess")
    with pytest.raises(ConfigError, match="is a teacher_blind template but mode is 'label'"):
        run_teacher(utts, cue_texts(utts), tmp_path / "o.jsonl", backend=ScriptedBackend(explain),
                    template="teacher_blind")
    with pytest.raises(ConfigError, match="needs a backend"):
        run_teacher(utts, cue_texts(utts), tmp_path / "o.jsonl")


# --- against the HTTP backend and through the CLI ----------------------------------------------
def test_run_over_http_with_a_429(tmp_path):
    utts, out = utterances(5), tmp_path / "cot.jsonl"
    with FaultServer(responder=explain) as server:
        server.push(status(429, retry_after="0"))
        backend = OpenAIBackend("fault-model", base_url=server.base_url, concurrency=2, retry_base_s=0.01)
        s = run_teacher(utts, cue_texts(utts), out, backend=backend, progress=False)
    assert (s.done, s.valid, s.backend_errors) == (5, 5, 0)
    assert len(server.chat_requests()) == 6
    assert sorted(load_teacher_outputs(out)) == [u.key for u in utts]


def test_run_over_http_stops_on_authentication_error(tmp_path):
    utts = utterances(3)
    with FaultServer(responder=explain) as server:
        server.push(status(401))
        backend = OpenAIBackend("m", base_url=server.base_url, concurrency=1, api_key_env="SPOKENEMO_NO_KEY")
        with pytest.raises(AuthenticationError, match="SPOKENEMO_NO_KEY"):
            run_teacher(utts, cue_texts(utts), tmp_path / "cot.jsonl", backend=backend, progress=False)


def write_inputs(folder: Path, utts: Sequence[Segment]) -> tuple[Path, Path]:
    manifest, cues = folder / "m.jsonl", folder / "cues.jsonl"
    write_manifest(manifest, utts)
    texts = cue_texts(utts)
    cues.write_text("".join(json.dumps({"key": k, "cue_text": t}) + "\n" for k, t in texts.items()))
    return manifest, cues


def test_cli_teach_against_server_then_dry_run(tmp_path):
    manifest, cues = write_inputs(tmp_path, utterances(6))
    out = tmp_path / "cot.jsonl"
    runner = CliRunner()
    with FaultServer(responder=explain) as server:
        args = ["teach", "--manifest", str(manifest), "--cues", str(cues), "--backend", "openai",
                "--base-url", server.base_url, "--limit", "4", "--no-progress", "-o", str(out)]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "valid" in result.output and "4/4" in result.output and "utterances/min" in result.output
        dry = runner.invoke(cli, args[:-3] + ["--limit", "6", "--model", "fault-model", "--dry-run",
                                              "-o", str(out)])
    assert dry.exit_code == 0, dry.output
    assert "2 requests to send (4 of 6 cached" in dry.output
    assert len(load_teacher_outputs(out)) == 4


def test_cli_reports_bad_input_without_traceback(tmp_path):
    manifest, cues = write_inputs(tmp_path, utterances(2))
    result = CliRunner().invoke(cli, ["teach", "--manifest", str(manifest), "--cues", str(tmp_path / "nope.parquet"),
                                      "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert "cue table not found" in result.output and "Traceback" not in result.output


def test_cue_texts_rendered_from_a_cue_table(tmp_path):
    """A table from `spokenemo cues` (raw values, no text column) is rendered with median thresholds."""
    rows = []
    for i, (pitch, intensity, rate) in enumerate([(120.0, -30.0, 3.0), (220.0, -20.0, 5.0), (180.0, -25.0, 4.0)]):
        rows.append({"key": f"k{i}", "speaker": "s", "corpus": "c", "duration": 3.0, "syllables": 9,
                     "phonation_time": 2.0, "pitch": pitch, "intensity": intensity, "speech_rate": rate,
                     "articulation_rate": rate + 1, "pitch_seg_7": [0.0, 0.1, 0.5, 1.0, 0.5, 0.25, 0.0],
                     "intensity_seg_7": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.0]})
    path = tmp_path / "cues.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    texts, source = cue_texts_for(path)
    assert "fitted on 3 rows" in source
    assert texts["k1"].startswith("Pitch: high. Intensity: strong. Speech rate: fast. Articulation rate: fast.")
    assert texts["k0"].startswith("Pitch: low. Intensity: weak. Speech rate: slow. Articulation rate: slow.")
    assert texts["k2"].startswith("Pitch: low.")  # the median itself is not above the threshold
    assert "Pitch by segment: [0.00, 0.10, 0.50, 1.00, 0.50, 0.25, 0.00]." in texts["k0"]
    only, _ = cue_texts_for(path, keys=["k0", "k1"])
    assert set(only) == {"k0", "k1"}
