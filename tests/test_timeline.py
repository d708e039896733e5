"""timeline(): the pipeline on a built two-speaker recording with a fake recogniser; outputs; no speech; CLI."""

from __future__ import annotations

import csv
import importlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from spokenemo.api.timeline import NoSpeechError, Timeline, TimelineSegment, timeline
from spokenemo.api.timeline_score import score_timeline
from spokenemo.apps.cli import cli
from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.data import read_manifest
from spokenemo.data.longform import LongformSpec, build_longform, read_rttm

# ``spokenemo.api.timeline`` the attribute is the function (re-exported by spokenemo.api); the module:
timeline_mod = importlib.import_module("spokenemo.api.timeline")

DATA = Path(__file__).parent / "data"
HAS_RESEMBLYZER = importlib.util.find_spec("resemblyzer") is not None
LABELS = ["angry", "happy", "neutral", "sad"]


class FakeRecogniser:
    """Louder segments lean angry, quieter ones sad; records what it was given."""

    labels = LABELS

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, signals, sr=16000):
        self.calls.append(len(signals))
        rows = []
        for x in signals:
            level = 20 * np.log10(np.sqrt(np.mean(np.square(x))) + 1e-9)
            loud = 1 / (1 + np.exp(-(level + 25) / 3))
            p = np.array([loud, 0.1, 0.2, 1 - loud]) + 0.01
            rows.append(p / p.sum())
        return np.array(rows)


class LengthRecogniser(FakeRecogniser):
    """Remembers the length of every signal it is given."""

    def predict_proba(self, signals, sr=16000):
        self.sizes = getattr(self, "sizes", []) + [x.size for x in signals]
        return super().predict_proba(signals, sr)


class SpeakerAwareRecogniser(FakeRecogniser):
    """Offers the two-phase interface; checks that every segment comes with its speaker."""

    def features(self, signals, sr=16000):
        return np.array([[float(np.sqrt(np.mean(np.square(x))))] for x in signals])

    def probabilities_from_features(self, X, speakers=None):
        self.speakers = list(speakers)
        p = np.tile([0.1, 0.2, 0.6, 0.1], (len(X), 1))
        return p, ["speaker"] * len(X)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    clips = read_manifest(DATA / "fixtures.jsonl")
    clips = [c for c in clips if c.speaker in ("01", "02")]  # one male, one female actor
    out = tmp_path_factory.mktemp("longform")
    return build_longform(clips, out, spec=LongformSpec(duration=45.0, turn_clips=(1, 2)), seed=2, root=DATA)[0]


@pytest.fixture(scope="module")
def result(recording):
    return timeline(recording.path, recogniser=FakeRecogniser(), speakers=2 if HAS_RESEMBLYZER else 1)


def test_segments_follow_the_speech_and_carry_probabilities(result, recording):
    assert result.duration == pytest.approx(recording.duration, abs=0.01)
    assert result.labels == LABELS and len(result.segments) >= len(recording.turns) * 0.8
    for seg in result.segments:
        assert 0 <= seg.start < seg.end <= result.duration and seg.duration <= 8.0 + 1e-6
        assert sum(seg.probabilities.values()) == pytest.approx(1.0)
        assert seg.emotion == max(seg.probabilities, key=seg.probabilities.get)
        assert any(min(seg.end, t.end) - max(seg.start, t.start) > 0.5 * seg.duration for t in recording.turns)
    assert set(result.timings) == {"decode+vad", "speakers", "emotion", "explain", "total"}
    assert result.timings["decode+vad"]["audio_s"] == pytest.approx(recording.duration, abs=0.01)


@pytest.mark.skipif(not HAS_RESEMBLYZER, reason="resemblyzer is not installed (pip install 'spokenemo[speakers]')")
def test_two_speakers_are_told_apart(result, recording):
    scores = score_timeline(recording.rttm, result)
    assert result.speakers["n_speakers"] == 2
    assert scores["speaker"]["purity"] > 0.9 and scores["speaker"]["coverage"] > 0.9


def test_explanations_compare_each_segment_with_its_speakers_other_segments(result):
    for seg in result.segments:
        n = sum(1 for s in result.segments if s.speaker == seg.speaker) - 1
        assert seg.explanation["baseline"] == f"the speaker's other {n} segment{'s' * (n != 1)}"
        assert isinstance(seg.explanation["text"], str | dict) and seg.explanation["text"]
        assert set(seg.cues) == {"pitch", "loudness", "speech_rate"}
    assert any(seg.cues["pitch"] for seg in result.segments)


def test_a_custom_explainer_gets_the_same_speakers_other_segments(recording):
    seen = []

    def explainer(signal, others, probabilities):
        seen.append((signal.size, len(others), sum(o.size for o in others[:2])))
        return {"text": f"{len(others)} others", "cues": {"pitch": 100.0}}

    tl = timeline(recording.path, recogniser=FakeRecogniser(), speakers=1, explainer=explainer)
    assert [n for _, n, _ in seen] == [len(tl.segments) - 1] * len(tl.segments)
    assert all(s.cues == {"pitch": 100.0} and s.explanation == {"text": f"{len(tl.segments) - 1} others"}
               for s in tl.segments)
    assert all(size > 0 and first_two > 0 for size, _, first_two in seen)


def test_speaker_aware_recognisers_get_every_segments_speaker(recording):
    model = SpeakerAwareRecogniser()
    tl = timeline(recording.path, recogniser=model, speakers=1, explainer=False)
    assert model.speakers == ["S1"] * len(tl.segments)
    assert all(s.emotion == "neutral" and s.explanation is None for s in tl.segments)
    assert "explain" not in tl.timings
    serial = timeline(recording.path, recogniser=FakeRecogniser(), speakers=1, explainer=False, workers=1)
    parallel = timeline(recording.path, recogniser=FakeRecogniser(), speakers=1, explainer=False, workers=2)
    assert [s.to_dict() for s in serial.segments] == [s.to_dict() for s in parallel.segments]


def test_segments_reach_the_recogniser_with_silence_around_them(recording):
    model = LengthRecogniser()
    tl = timeline(recording.path, recogniser=model, speakers=1, explainer=False, pad=0.5, workers=1)
    assert model.sizes == [round(s.end * 16000) - round(s.start * 16000) + 16000 for s in tl.segments]
    bare = LengthRecogniser()
    timeline(recording.path, recogniser=bare, speakers=1, explainer=False, pad=0, workers=1)
    assert [a - b for a, b in zip(model.sizes, bare.sizes, strict=True)] == [16000] * len(tl.segments)
    with pytest.raises(SpokenemoError, match="pad"):
        timeline(recording.path, recogniser=bare, pad=-1)


def test_writers_json_csv_vtt_srt_and_figure(result, tmp_path):
    data = json.loads(result.write(tmp_path / "t.json").read_text())
    assert len(data["segments"]) == len(result.segments) and data["summary"]["segments"] == len(result.segments)
    rows = list(csv.DictReader(result.write(tmp_path / "t.csv").open()))
    assert len(rows) == len(result.segments) and float(rows[0]["p_angry"]) == pytest.approx(
        result.segments[0].probabilities["angry"], abs=1e-4)
    vtt = result.write(tmp_path / "t.vtt").read_text()
    assert vtt.startswith("WEBVTT\n\n1\n") and vtt.count(" --> ") == len(result.segments)
    first = result.segments[0]
    assert f"{first.speaker}: {first.emotion} ({first.probabilities[first.emotion]:.2f})" in vtt
    srt = result.write(tmp_path / "t.txt", "srt").read_text()
    assert srt.startswith("1\n00:00:") and "," in srt.splitlines()[1] and "WEBVTT" not in srt
    with pytest.raises(SpokenemoError, match="unknown timeline format"):
        result.write(tmp_path / "t.xml")
    png = tmp_path / "fig.png"
    result.plot(png)
    assert png.stat().st_size > 10_000


def test_summary_shares_and_strongest_moments_by_hand():
    segs = [TimelineSegment(0, 2, "S1", "angry", {"angry": 0.9, "neutral": 0.1}),
            TimelineSegment(2, 3, "S1", "neutral", {"angry": 0.3, "neutral": 0.7}),
            TimelineSegment(3, 7, "S2", "neutral", {"angry": 0.05, "neutral": 0.95})]
    tl = Timeline("x.wav", 8.0, ["angry", "neutral"], segs, np.zeros(0), "energy")
    s = tl.summary(top=2)
    assert s["share"]["S1"] == {"angry": pytest.approx(2 / 3, abs=1e-4), "neutral": pytest.approx(1 / 3, abs=1e-4)}
    assert s["share"]["all"] == {"angry": pytest.approx(2 / 7, abs=1e-4), "neutral": pytest.approx(5 / 7, abs=1e-4)}
    assert s["speech_seconds"] == {"S1": 3.0, "S2": 4.0, "all": 7.0}
    # strongest = highest non-neutral probability: the angry 0.9, then the 0.3
    assert [(m["start"], m["emotion"], m["probability"]) for m in s["strongest"]] == [(0, "angry", 0.9),
                                                                                       (2, "angry", 0.3)]


def test_no_speech_gets_no_emotion(tmp_path):
    model = FakeRecogniser()
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 5, np.float32), 16000)
    with pytest.raises(NoSpeechError, match="no speech found"):
        timeline(silent, recogniser=model)
    noise = tmp_path / "noise.flac"
    sf.write(noise, np.random.default_rng(0).normal(0, 0.1, 16000 * 20).astype(np.float32), 16000)
    with pytest.raises(NoSpeechError, match="no emotion can be given"):
        timeline(noise, recogniser=model)
    assert model.calls == []


def test_bad_arguments_are_refused_before_decoding(tmp_path):
    with pytest.raises(ConfigError):
        timeline(tmp_path / "missing.wav", recogniser=FakeRecogniser(), min_len=6, max_len=8)
    with pytest.raises(SpokenemoError, match="not a recogniser"):
        timeline(tmp_path / "missing.wav", recogniser=object())


def test_cli_timeline_longform_and_score(recording, tmp_path, monkeypatch):
    monkeypatch.setattr(timeline_mod, "resolve_recogniser", lambda r: FakeRecogniser())
    runner = CliRunner()
    out, fig = tmp_path / "t.json", tmp_path / "t.png"
    got = runner.invoke(cli, ["timeline", str(recording.path), "-o", str(out), "--plot", str(fig), "--speakers", "1",
                              "--no-explain", "--quiet"])
    assert got.exit_code == 0, got.output
    assert json.loads(out.read_text())["segments"] and fig.is_file()
    vtt = tmp_path / "t.vtt"
    got = runner.invoke(cli, ["timeline", str(recording.path), "-o", str(vtt), "--speakers", "1", "--no-explain"])
    assert got.exit_code == 0 and "share of speech time" in got.output and vtt.read_text().startswith("WEBVTT")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 3, np.float32), 16000)
    got = runner.invoke(cli, ["timeline", str(silent), "--quiet", "-o", str(tmp_path / "s.json")])
    assert got.exit_code == 3 and "no speech" in got.output and not (tmp_path / "s.json").exists()
    scored = runner.invoke(cli, ["timeline-score", str(recording.rttm), str(out), "--json"])
    assert scored.exit_code == 0, scored.output
    scores = json.loads(scored.output)
    assert 0 <= scores["eder"] <= 1 and 0 <= scores["frame_ua"] <= 1 and scores["speaker"]["purity"] > 0
    built = runner.invoke(cli, ["longform", "build", "ravdess", str(DATA / "ravdess"), "-o", str(tmp_path / "lf"),
                                "--duration", "12", "--only-speakers", "03,04", "-n", "2"])
    assert built.exit_code == 0, built.output
    names = read_rttm(tmp_path / "lf" / "longform-001.rttm")
    assert {t.speaker for t in names["longform-001"]} == {"ravdess/03", "ravdess/04"}
    assert {t.label for t in names["longform-001"]} <= set(LABELS)
