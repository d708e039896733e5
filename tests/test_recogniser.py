"""The shipped-recogniser machinery: fitting on held-out speakers, heads, folder, answers, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spokenemo.api.recogniser import ClipAnswer, recognise, require_recogniser
from spokenemo.apps.cli import cli
from spokenemo.core.errors import ModelNotFoundError, SpokenemoError
from spokenemo.systems.ser.recogniser import LinearHead, Recogniser, is_recogniser_folder, read_meta
from spokenemo.systems.ser.recogniser_fit import TrainingRows, fit_recogniser, speaker_folds

CLASSES = ["angry", "sad"]


def _rows(seed: int = 0, n_per: int = 12, shift: float = 3.0) -> TrainingRows:
    """Two corpora x 4 speakers; class 'angry' has feature 0 raised by ``shift``; each speaker has
    its own offset on every feature (what speaker statistics remove)."""
    rng = np.random.default_rng(seed)
    X, labels, speakers, corpora = [], [], [], []
    for corpus in ("a", "b"):
        for s in range(4):
            offset = rng.normal(0, 2.0, size=6)
            for i in range(n_per):
                label = CLASSES[i % 2]
                x = rng.normal(0, 1.0, size=6) + offset
                x[0] += shift if label == "angry" else 0.0
                X.append(x)
                labels.append(label)
                speakers.append(f"{corpus}/{s}")
                corpora.append(corpus)
    return TrainingRows(np.array(X), labels, speakers, corpora)


def test_speaker_folds_hold_out_whole_speakers_of_every_corpus():
    rows = _rows()
    folds = speaker_folds(rows, 4, seed=1)
    assert sorted(i for f in folds for i in f) == list(range(len(rows.X)))
    for f in folds:
        held = {rows.speakers[i] for i in f}
        rest = {rows.speakers[i] for i in range(len(rows.X)) if i not in set(f)}
        assert not held & rest
        assert {rows.corpora[i] for i in f} == {"a", "b"}  # each fold holds out speakers of both corpora


def test_fit_chooses_C_on_held_out_speakers_and_calibrates():
    rows = _rows()
    rec, report = fit_recogniser(rows, CLASSES, grid=(0.01, 1.0), n_folds=4, min_segments=6)
    for how in ("global", "speaker"):
        r = report[how]
        assert set(r["C_grid_ua"]) == {"0.01", "1.0"}
        # C maximises the mean of held-out-speaker UA and leave-one-corpus-out UA (two corpora here)
        mean = {c: (r["C_grid_ua"][c] + r["C_grid_loco_ua"][c]) / 2 for c in r["C_grid_ua"]}
        assert r["C"] in (0.01, 1.0) and mean[str(r["C"])] == max(mean.values())
        assert r["selection"].startswith("mean of held-out-speaker UA and mean leave-one-corpus-out")
        assert r["n_folds"] == 4
        assert set(r["leave_one_corpus_out_ua"]) == {"a", "b"}
        assert r["temperature"] > 0 and r["ece_after"] <= r["ece_before"] + 1e-9
    # each speaker's offset hides the class from global statistics; their own statistics remove it
    assert report["speaker"]["held_out_ua"] > 85 > report["global"]["held_out_ua"] > 55
    assert rec.classes == CLASSES and set(rec.heads) == {"global", "speaker"}


def test_speaker_statistics_only_with_enough_segments(tmp_path: Path):
    rows = _rows()
    rec, _ = fit_recogniser(rows, CLASSES, grid=(1.0,), n_folds=4, min_segments=6)
    X = rows.X[:12]
    _, used = rec.probabilities_from_features(X, ["x"] * 12)
    assert used == ["speaker"] * 12
    _, used = rec.probabilities_from_features(X[:3], ["x"] * 3)  # 3 < 6 clips: global, and says so
    assert used == ["global"] * 3
    _, used = rec.probabilities_from_features(X[:2])  # no speakers named
    assert used == ["global", "global"]
    with pytest.raises(SpokenemoError, match="rows of 6 features"):
        rec.probabilities_from_features(np.zeros((2, 5)))


def test_folder_round_trip_and_answers(tmp_path: Path):
    rows = _rows()
    rec, report = fit_recogniser(rows, CLASSES, grid=(1.0,), n_folds=4, min_segments=6)
    rec.save(tmp_path / "r", card="# card\n")
    again = Recogniser.load(tmp_path / "r")
    assert is_recogniser_folder(tmp_path / "r") and (tmp_path / "r" / "README.md").read_text() == "# card\n"
    p1, _ = rec.probabilities_from_features(rows.X)
    p2, _ = again.probabilities_from_features(rows.X)
    np.testing.assert_allclose(p1, p2)
    np.testing.assert_allclose(p1.sum(axis=1), 1.0)
    answer = again.answer(np.array([0.52, 0.48]), "global")
    assert answer.label == "angry" and answer.uncertain_between == ("angry", "sad")
    assert again.answer(np.array([0.9, 0.1]), "global").uncertain_between is None


def test_temperature_softens_without_changing_the_answer():
    head = LinearHead(np.zeros(2), np.ones(2), np.array([[2.0, 0.0], [0.0, 2.0]]), np.zeros(2), 1.0)
    sharp = head.probabilities(np.array([[1.0, 0.0]]))
    head.temperature = 4.0
    soft = head.probabilities(np.array([[1.0, 0.0]]))
    assert np.argmax(sharp) == np.argmax(soft) == 0
    assert soft[0, 0] < sharp[0, 0]
    np.testing.assert_allclose(sharp[0, 0], np.exp(2) / (np.exp(2) + 1))


def test_bad_folders_are_typed_errors(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="not a recogniser folder"):
        read_meta(tmp_path)
    (tmp_path / "recogniser.json").write_text("{broken")
    with pytest.raises(ModelNotFoundError, match="unreadable"):
        Recogniser.load(tmp_path)
    (tmp_path / "recogniser.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ModelNotFoundError, match="format-1"):
        Recogniser.load(tmp_path)
    with pytest.raises(ModelNotFoundError, match="recogniser.json"):
        require_recogniser(tmp_path / "nowhere")


def test_no_emotion_for_silence_and_no_model_loaded(tmp_path: Path):
    silence = np.zeros(16000 * 2, dtype=np.float32)
    # the recogniser path does not exist: it is never loaded for a clip without speech
    answer = recognise(silence, recogniser=tmp_path / "absent")
    assert isinstance(answer, ClipAnswer)
    assert answer.label is None and answer.no_speech_reason == "silent" and answer.probabilities == {}
    with pytest.raises(SpokenemoError, match="mono waveform"):
        recognise(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(SpokenemoError, match="2 inputs but 1 speakers"):
        recognise([silence, silence], speakers=["a"])


def test_cli_recognise_refuses_a_folder_that_is_not_a_recogniser(tmp_path: Path):
    res = CliRunner().invoke(cli, ["recognise", "--recogniser", str(tmp_path), str(tmp_path / "x.wav")])
    assert res.exit_code == 2 and "not a recogniser folder" in res.output


def test_the_shipped_recogniser_and_its_model_card():
    from spokenemo.api.recogniser import DEFAULT_RECOGNISER_DIR

    rec = Recogniser.load(DEFAULT_RECOGNISER_DIR)
    assert rec.classes == ["angry", "happy", "neutral", "sad"] and set(rec.heads) == {"global", "speaker"}
    assert rec.encoder_name == "whisper-base" and rec.heads["global"].coef.shape == (4, 7 * 2 * 512)
    assert all(h.temperature > 0 for h in rec.heads.values())
    assert sum(p.stat().st_size for p in DEFAULT_RECOGNISER_DIR.iterdir()) < 2_000_000  # a few hundred kB
    card = (DEFAULT_RECOGNISER_DIR / "README.md").read_text(encoding="utf-8")
    report = rec.meta["report"]
    for how in ("global", "speaker"):  # the card states the numbers the training measured
        assert f"| {how} |" in card and f"| {report[how]['held_out_ua']} |" in card
        assert set(report[how]["leave_one_corpus_out_ua"]) == {"korean_emotiontts", "nemo", "ravdess"}
    assert report["data"]["segments"] == 2459 and "leave-one-corpus-out" in card


@pytest.mark.slow
def test_inference_features_equal_the_stored_training_features(tmp_path, test_data):
    pytest.importorskip("faster_whisper", reason="the Whisper-base encoder needs the 'encoders' extra")
    from spokenemo.api.recogniser import load_recogniser
    from spokenemo.audio import load_audio
    from spokenemo.data.manifest import Segment
    from spokenemo.systems.ser.recogniser_train import pooled_rows

    clip = test_data / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.flac"
    rec = load_recogniser()
    stored, ok = pooled_rows([Segment(key="a", path=str(clip), label="angry")], rec, tmp_path / "cache")
    live = rec.features([load_audio(clip)])
    assert ok == [0] and live.shape == stored.shape
    np.testing.assert_allclose(live, stored, atol=1e-3)  # both float16-rounded pooled layers
