"""`spokenemo prepare | folds | stats` through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from spokenemo.apps.cli import cli
from spokenemo.data import read_manifest, write_manifest
from spokenemo.data.manifest import Segment
from spokenemo.protocols.folds import read_folds, read_folds_index

WIDE = {"COLUMNS": "200"}  # rich wraps tables to the terminal width; keep cells whole for assertions


def run(*args: str | Path):
    result = CliRunner().invoke(cli, [str(a) for a in args], env=WIDE)
    return result


@pytest.fixture
def fixtures(test_data) -> Path:
    return test_data / "fixtures.jsonl"


def test_prepare_ravdess_fixture_clips(test_data, tmp_path):
    out = tmp_path / "m.jsonl"
    result = run("prepare", "ravdess", test_data / "ravdess", "-o", out)
    assert result.exit_code == 0, result.output
    utts = read_manifest(out)
    assert len(utts) == 20 and {u.speaker for u in utts} == {"01", "02", "03", "04"}
    hours = sum(u.duration for u in utts) / 3600
    assert f"{out}: 20 utterances, 4 speakers, 8 labels" in result.output
    assert "angry=4, happy=4, neutral=4, sad=4, calm=1" in result.output
    assert f"{hours:.3f} h" in result.output


def test_prepare_no_duration_and_bad_corpus(test_data, tmp_path):
    out = tmp_path / "m.jsonl"
    result = run("prepare", "ravdess", test_data / "ravdess", "-o", out, "--no-duration")
    assert result.exit_code == 0, result.output
    assert all(u.duration is None for u in read_manifest(out))
    assert "(20 without duration)" in result.output
    result = run("prepare", "savee", test_data, "-o", tmp_path / "x.jsonl")
    assert result.exit_code == 2
    assert "no recipe for corpus 'savee'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.jsonl").exists()



def test_prepare_generic_and_readme_aliases(test_data, tmp_path):
    table = tmp_path / "mine"
    table.mkdir()
    clip = sorted((test_data / "ravdess").rglob("*.flac"))[0]
    (table / "list.csv").write_text(f"path,label,speaker\n{clip},angry,a1\n{clip},calm,a2\n")
    result = run("prepare", "generic", table, "-o", tmp_path / "g.jsonl")
    assert result.exit_code == 0, result.output
    assert [u.speaker for u in read_manifest(tmp_path / "g.jsonl")] == ["a1", "a2"]
    result = run("prepare", "korean", tmp_path / "nowhere", "-o", tmp_path / "k.jsonl")
    assert result.exit_code == 2 and "korean_emotiontts: corpus root" in result.output  # the alias reached its recipe


def test_prepare_help_lists_recipes_and_aliases():
    result = run("prepare", "--help")
    assert result.exit_code == 0
    for line in ("crema_d (also: crema-d, cremad)", "csv (also: generic)", "folder (also: generic)",
                 "korean_emotiontts (also: korean)", "msp_podcast (also: msp-podcast, msppodcast)", "  ravdess"):
        assert line in result.output, line

def test_folds_speaker_kfold_on_fixtures(fixtures, tmp_path):
    out = tmp_path / "folds"
    result = run("folds", fixtures, "--protocol", "speaker-kfold", "--k", "2", "--label-set", "4class", "-o", out)
    assert result.exit_code == 0, result.output
    assert "speaker-kfold: 2 folds, label set 4class" in result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if line.startswith("│ fold")}
    assert "8 (2)" in lines["fold1"] and "01,02" in lines["fold1"]
    assert "03,04" in lines["fold2"]
    index = read_folds_index(out)
    assert index["folds"][0]["counts"]["test"]["classes"] == {"angry": 2, "happy": 2, "neutral": 2, "sad": 2}
    assert len(read_folds(out)) == 2


def test_folds_explicit_groups_and_validation(fixtures, tmp_path):
    result = run("folds", fixtures, "--protocol", "speaker-kfold", "--groups", "01,03", "--groups", "02,04",
                 "--n-valid", "1", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    folds = read_folds(tmp_path)
    assert folds[0].info["test_speakers"] == ["01", "03"] and folds[0].info["valid_speakers"] == ["02"]
    assert folds[0].label_set is None and len(folds[0].test) == 10  # no label set: all 8 emotions kept
    same = run("folds", fixtures, "--protocol", "speaker-kfold", "--groups", "01,03;02,04", "--n-valid", "1",
               "-o", tmp_path / "b")
    assert same.exit_code == 0 and read_folds(tmp_path / "b") == folds


def test_folds_errors_are_clean(fixtures, tmp_path):
    result = run("folds", fixtures, "--protocol", "official", "-o", tmp_path)
    assert result.exit_code == 2
    assert "20 utterances have no official split" in result.output and "Traceback" not in result.output
    result = run("folds", fixtures, "--protocol", "speaker-kfold", "--groups", "01,02", "-o", tmp_path)
    assert result.exit_code == 2 and "speakers in no group: 03, 04" in result.output
    result = run("folds", tmp_path / "none.jsonl", "--protocol", "loso-speaker", "-o", tmp_path)
    assert result.exit_code == 2 and "manifest not found" in result.output
    result = run("folds", fixtures, "--protocol", "loso-speaker", "--label-set", "sixclass", "-o", tmp_path)
    assert result.exit_code == 2 and "unknown label set 'sixclass'" in result.output


def _meld_manifest(path: Path) -> Path:
    utts = []
    for split in ("train", "dev", "test"):
        for i, raw in enumerate(["neutral", "joy", "anger", "sadness", "surprise"] * 2):
            label = {"joy": "happy", "anger": "angry", "sadness": "sad", "surprise": "surprised"}.get(raw, raw)
            utts.append(Segment(key=f"meld/{split}/dia{i // 3}_utt{i % 3}", label=label, raw_label=raw,
                                  speaker=["Ross", "Monica"][i % 2], dialogue=f"{split}/dia{i // 3}", turn=i % 3,
                                  corpus="meld", split=split))
    write_manifest(path, utts)
    return path


def test_folds_meld4_full_is_flagged_speaker_dependent(tmp_path):
    manifest = _meld_manifest(tmp_path / "meld.jsonl")
    result = run("folds", manifest, "--protocol", "meld4-full", "-o", tmp_path / "f")
    assert result.exit_code == 0, result.output
    assert "meld4-test-full" in result.output and "speaker_independent=False" in result.output
    index = read_folds_index(tmp_path / "f")
    assert index["label_set"] == "4class" and index["speaker_independent"] is False
    assert index["folds"][0]["counts"]["test"]["classes"] == {"angry": 2, "happy": 2, "neutral": 2, "sad": 2}
    result = run("folds", manifest, "--protocol", "meld4-balanced", "-o", tmp_path / "g")
    assert result.exit_code == 2 and "fewer than 60" in result.output


def test_folds_cross_corpus(fixtures, tmp_path):
    utts = read_manifest(fixtures)
    korean = [Segment(key=f"ko/{s}/{lab}", label=lab, speaker=s, corpus="korean_emotiontts")
              for s in ("ema", "emf") for lab in ("angry", "happy", "neutral", "sad")]
    manifest = tmp_path / "mixed.jsonl"
    write_manifest(manifest, utts + korean)
    result = run("folds", manifest, "--protocol", "cross-corpus", "--train-corpus", "ravdess", "--test-corpus",
                 "korean", "--test-by-speaker", "--label-set", "4class", "-o", tmp_path / "f")
    assert result.exit_code == 0, result.output
    folds = read_folds(tmp_path / "f")
    assert [f.name for f in folds] == ["ravdess->korean:korean_emotiontts/ema", "ravdess->korean:korean_emotiontts/emf"]
    assert all(len(f.train) == 16 and len(f.test) == 4 for f in folds)
    on_disk = sorted(p.name for p in (tmp_path / "f").iterdir())
    assert on_disk == ["index.json", "ravdess_to_korean_korean_emotiontts_ema.json",
                       "ravdess_to_korean_korean_emotiontts_emf.json"]


def test_stats_on_fixtures(fixtures):
    result = run("stats", fixtures)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "20 utterances, 4 speakers, 8 labels, 0.020 h" in out
    assert "by class" in out and "by speaker" in out and "class x speaker" in out
    angry = next(line for line in out.splitlines() if line.startswith("│ angry"))
    assert angry.split("│")[2].strip() == "4" and angry.split("│")[3].strip() == "20.0"
    spk02 = [line for line in out.splitlines() if line.startswith("│ 02 ")]
    # by-speaker row (5 utterances) and cross-table row (one per label: 4 x 1 + fearful 1)
    assert spk02[0].split("│")[2].strip() == "5"
    assert [c.strip() for c in spk02[1].split("│")[2:-1]] == ["1", "1", "1", "1", "0", "0", "1", "0"]


def test_stats_truncates_wide_tables(tmp_path):
    labels = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "excited",
              "frustrated", "contempt", "other"]
    utts = [Segment(key=f"k{s}-{lab}", label=lab, speaker=f"spk{s}", corpus="x", duration=1.5)
            for s in range(40) for lab in labels]
    utts.append(Segment(key="extra", label="sad", speaker="spk39", corpus="x", duration=12.0))
    manifest = tmp_path / "wide.jsonl"
    write_manifest(manifest, utts)
    result = run("stats", manifest, "--max-rows", "5")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "481 utterances, 40 speakers, 12 labels, 0.203 h" in out
    assert "by speaker (top 5 of 40 by utterances)" in out
    assert "… 35 more speakers" in out and "+35 more" in out
    assert "2 other labels" in out
    more = next(line for line in out.splitlines() if line.startswith("│ +35 more"))
    cells = [c.strip() for c in more.split("│")[2:-1]]
    assert cells == ["35"] * 10 + ["70"]
    # the most frequent speaker first, then ties in natural order; the rest summed, not listed
    listed = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│ spk")]
    assert listed[:5] == ["spk39", "spk0", "spk1", "spk2", "spk3"]
    assert "spk4 " not in out
    spk39 = next(line for line in out.splitlines() if line.startswith("│ spk39"))
    assert [c.strip() for c in spk39.split("│")[2:4]] == ["13", "0.5"]  # 12 x 1.5 s + 12 s = 0.5 min


def test_stats_without_durations(tmp_path):
    manifest = tmp_path / "m.jsonl"
    write_manifest(manifest, [Segment(key=f"k{i}", label="sad", speaker="a") for i in range(3)])
    result = run("stats", manifest)
    assert result.exit_code == 0, result.output
    assert "3 utterances, 1 speakers, 1 labels, 0.000 h (0.0 s); 3 utterances without duration" in result.output
    row = next(line for line in result.output.splitlines() if line.startswith("│ a "))
    assert [c.strip() for c in row.split("│")[2:4]] == ["3", "-"]


def test_commands_are_registered():
    result = run("--help")
    assert result.exit_code == 0
    for name in ("prepare", "folds", "stats", "pseudo"):
        assert name in result.output
