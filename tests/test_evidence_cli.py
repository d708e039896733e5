"""``spokenemo evidence`` and ``spokenemo faithfulness``."""

from __future__ import annotations

import json

from click.testing import CliRunner

from spokenemo.apps.cli import cli


def test_evidence_command_prints_cues_explanation_and_json(test_data):
    folder = test_data / "ravdess" / "Actor_01"
    clip = folder / "03-01-05-01-02-01-01.flac"
    runner = CliRunner()
    out = runner.invoke(cli, ["evidence", str(clip), "--reference", str(folder), "--probs", "angry=0.6,happy=0.4"])
    assert out.exit_code == 0, out.output
    assert "baseline: 4 reference clips of the speaker" in out.output and "For angry," in out.output
    out = runner.invoke(cli, ["evidence", str(clip), "--json", "--emotion", "sad"])
    data = json.loads(out.output)
    assert data["emotion"] == "sad" and data["evidence"]["baseline"]["source"] == "training"
    assert data["cpu_s"] < 1.0


def test_evidence_command_errors_and_profiles(tmp_path):
    runner = CliRunner()
    out = runner.invoke(cli, ["evidence", str(tmp_path / "missing.wav")])
    assert out.exit_code == 2 and "error" in out.output
    out = runner.invoke(cli, ["evidence", "--profiles"])
    assert out.exit_code == 0 and "emotion=angry" in out.output
    out = runner.invoke(cli, ["evidence", str(tmp_path / "x.wav"), "--probs", "angry:0.5"])
    assert out.exit_code == 2 and "--probs" in out.output


def test_faithfulness_command_on_a_teacher_cache(tmp_path):
    cache = tmp_path / "cot.jsonl"
    rows = [{"key": "a", "cues": "Pitch: high. Intensity: weak. Speech rate: fast. Articulation rate: fast.",
             "reasoning": "The pitch is high, the intensity is weak, and the speech rate is slow."}]
    cache.write_text(json.dumps(rows[0]) + "\n")
    out = CliRunner().invoke(cli, ["faithfulness", str(cache), "--json", "-o", str(tmp_path / "rows.jsonl")])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert (data["claims"], data["agree"], data["contradict"]) == (3, 2, 1)
    assert (tmp_path / "rows.jsonl").read_text().count("contradicts") == 1


def test_cli_choices_match_the_api_without_importing_it():
    from spokenemo.api.evidence_files import AGAINST as api_against
    from spokenemo.apps.cli.evidence import AGAINST

    assert tuple(AGAINST) == tuple(api_against)
