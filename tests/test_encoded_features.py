"""features.encoded: the per-layer store (pooling, float16, resume after a kill, fingerprints, file
identity, per-segment errors), the ``encoded`` provider, and speaker normalisation by hand."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from fake_encoder import CALLS, EXPLODE_AFTER, VERSION, FakeEncoder, fake_encoders, fake_lookup  # noqa: F401
from spokenemo.audio import load_audio
from spokenemo.core.errors import ConfigError
from spokenemo.data.manifest import Segment
from spokenemo.features.encoded import (
    ENCODER_LOOKUPS,
    EncodedStore,
    Standardiser,
    get_encoder_lookup,
    pool_hidden_states,
    select_layers,
)
from spokenemo.features.encoded.normalise import summarise
from spokenemo.features.providers import FeatureBank

CLIPS = sorted((Path(__file__).parent / "data" / "ravdess").rglob("*.flac"))


def segments(n: int = 6) -> list[Segment]:
    return [Segment(key=f"ravdess/{p.stem}", path=str(p), speaker=p.parent.name[-2:], corpus="ravdess")
            for p in CLIPS[:n]]


def test_pooling_is_mean_and_std_per_layer():
    hidden = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)  # 2 layers, 3 frames, dim 2
    pooled = pool_hidden_states(hidden)
    assert pooled.shape == (2, 2, 2)
    assert pooled[0, 0].tolist() == [2.0, 3.0] and pooled[1, 0].tolist() == [8.0, 9.0]
    assert np.allclose(pooled[:, 1], np.sqrt(8 / 3))  # frames 0, 2, 4 -> population std sqrt(8/3)


@pytest.mark.usefixtures("fake_encoders")
def test_store_holds_float16_pooled_features_of_each_segment(tmp_path):
    enc = FakeEncoder()
    store = EncodedStore(tmp_path, enc, fake_lookup)
    summary = store.compute(segments(3))
    assert (summary.total, summary.computed, summary.errors) == (3, 3, [])
    u = segments(1)[0]
    arr = store.get(u)
    assert arr.dtype == np.float16 and arr.shape == (3, 2, 4)
    expected = pool_hidden_states(enc.encode(load_audio(u.path)).hidden_states)
    assert np.allclose(arr.astype(np.float64), expected, rtol=2e-3, atol=2e-3)
    assert store.folder.name == f"encoded-fake-enc-pooled-{store.fingerprint}"
    settings = json.loads((store.folder / "settings.json").read_text())
    assert settings["encoder"] == "fake-enc" and settings["layout"] == "pooled" and settings["n_layers"] == 3


@pytest.mark.usefixtures("fake_encoders")
def test_store_resumes_after_a_kill_and_a_torn_index_line(tmp_path):
    segs = segments(6)
    EXPLODE_AFTER["fake-enc"] = 4
    store = EncodedStore(tmp_path, FakeEncoder(), fake_lookup)
    with pytest.raises(KeyboardInterrupt):
        store.compute(segs, chunk_size=1)
    index = store.folder / "index.jsonl"
    assert len(index.read_text().splitlines()) == 4  # four saved before the kill
    with open(index, "a") as fh:
        fh.write('{"key": "ravdess/half')  # a write cut off by the kill
    EXPLODE_AFTER.clear()
    CALLS.clear()
    again = EncodedStore(tmp_path, FakeEncoder(), fake_lookup)
    summary = again.compute(segs)
    assert (summary.cached, summary.computed) == (4, 2) and CALLS["fake-enc"] == 2
    fresh = EncodedStore(tmp_path / "fresh", FakeEncoder(), fake_lookup)
    fresh.compute(segs)
    for u in segs:
        assert np.array_equal(again.get(u), fresh.get(u))


@pytest.mark.usefixtures("fake_encoders")
def test_store_recomputes_for_new_weights_and_edited_files(tmp_path):
    clip = tmp_path / "clip.flac"
    clip.write_bytes(CLIPS[0].read_bytes())
    segs = [Segment(key="c/1", path=str(clip), speaker="1", corpus="c"), *segments(2)]
    first = EncodedStore(tmp_path / "f", FakeEncoder(), fake_lookup)
    first.compute(segs)
    CALLS.clear()
    VERSION["value"] = 2  # new weights: another fingerprint, another folder
    second = EncodedStore(tmp_path / "f", FakeEncoder(), fake_lookup)
    assert second.fingerprint != first.fingerprint and second.folder != first.folder
    assert second.compute(segs).computed == 3 and CALLS["fake-enc"] == 3
    assert second.compute(segs).computed == 0  # and then nothing is left to do
    os.utime(clip, ns=(1_000_000_000, 1_000_000_000))  # the file changed (its mtime did)
    summary = second.compute(segs)
    assert (summary.cached, summary.computed) == (2, 1)


@pytest.mark.usefixtures("fake_encoders")
def test_a_clip_shorter_than_one_frame_is_a_recorded_error(tmp_path):
    segs = [Segment(key="short", path=str(CLIPS[0]), start=0.0, end=0.005, speaker="01", corpus="ravdess"),
            Segment(key="gone", path=str(tmp_path / "missing.wav"), speaker="01", corpus="ravdess"),
            *segments(1)]
    store = EncodedStore(tmp_path, FakeEncoder(), fake_lookup)
    summary = store.compute(segs)
    assert summary.computed == 1 and len(summary.errors) == 2
    failure = store.failure("short")
    assert failure["error"] == "AudioTooShortError"
    assert "0.0050 s of audio is shorter than one frame of fake-enc (0.0200 s)" in failure["message"]
    assert store.failure("gone")["error"] == "AudioNotFoundError"
    assert store.get(segs[0]) is None and store.get(segs[2]) is not None


@pytest.mark.usefixtures("fake_encoders")
def test_provider_requests_prepares_and_serves_matrices(tmp_path):
    bank = FeatureBank(tmp_path, lambda name: {})
    bank.request("encoded", encoders=["fake-enc"])
    bank.request("encoded", encoders="fake-b", frames=True)
    provider = bank.get("encoded")
    assert provider.requested == {"fake-enc": {"pooled"}, "fake-b": {"pooled", "frames"}}
    segs = [*segments(3), Segment(key="short", path=str(CLIPS[0]), end=0.001, speaker="01", corpus="ravdess")]
    bank.prepare("encoded", segs)
    assert {p.name.rsplit("-", 1)[0] for p in tmp_path.iterdir()} == {
        "encoded-fake-enc-pooled", "encoded-fake-b-pooled", "encoded-fake-b-frames"}
    pooled = provider.pooled(segs, "fake-enc")
    assert pooled.shape == (4, 3, 2, 4) and np.isnan(pooled[3]).all() and not np.isnan(pooled[:3]).any()
    m = provider.matrix(segs, encoder="fake-enc", layers=[-1], stats="mean")
    assert m.shape == (4, 4) and np.allclose(m[:3], pooled[:3, 2, 0])
    assert provider.matrix(segs, encoder="fake-enc").shape == (4, 3 * 2 * 4)
    frames = provider.frames(segs, "fake-b")
    assert frames[0].shape[0] == 3 and frames[0].shape[2] == 4 and frames[3] is None
    assert np.allclose(frames[0].astype(np.float64).mean(axis=1), provider.pooled(segs[:1], "fake-b")[0, :, 0],
                       rtol=2e-3, atol=2e-3)
    assert set(provider.failures(segs, "fake-enc")) == {"short"}
    assert set(bank.fingerprint_part("encoded")) == {"fake-enc/pooled", "fake-b/pooled", "fake-b/frames"}
    with pytest.raises(ConfigError, match="name the encoder"):
        provider.matrix(segs)


@pytest.mark.slow
@pytest.mark.usefixtures("fake_encoders")
def test_two_processes_give_the_same_arrays(tmp_path):
    segs = segments(4)
    inline = EncodedStore(tmp_path / "a", FakeEncoder(), fake_lookup)
    inline.compute(segs)
    pooled = EncodedStore(tmp_path / "b", FakeEncoder(), fake_lookup)
    assert pooled.compute(segs, workers=2, chunk_size=1).computed == 4
    assert all(np.array_equal(inline.get(u), pooled.get(u)) for u in segs)


def test_layer_selection_and_lookup_errors():
    assert select_layers(7, "all") == list(range(7)) and select_layers(7, "last") == [6]
    assert select_layers(7, [0, -1]) == [0, 6]
    with pytest.raises(ConfigError, match=r"layer 7 does not exist: the encoder has layers 0 .. 6"):
        select_layers(7, [7])
    with pytest.raises(ConfigError, match="no speech encoder lookup 'nope'"):
        get_encoder_lookup("nope")
    assert "speech" in ENCODER_LOOKUPS  # importing the ser system registered the models layer's lookup


def test_speaker_statistics_by_hand():
    # speaker a: 3 segments (enough for N = 3), speaker b: 1 segment (falls back to global statistics)
    X = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0], [7.0, 4.0]])
    speakers = ["a", "a", "a", "b"]
    std = Standardiser(speaker_min_segments=3).fit(np.array([[0.0, 0.0], [4.0, 2.0]]))  # training rows
    assert std.mean.tolist() == [2.0, 1.0] and std.std.tolist() == [2.0, 1.0]
    Z, used = std.transform(X, speakers)
    sd_a = np.sqrt(8 / 3)  # a's first feature: mean 3, population std sqrt(8/3); second: constant -> centred
    assert np.allclose(Z[:3, 0], [-2 / sd_a, 0.0, 2 / sd_a]) and np.allclose(Z[:3, 1], 0.0)
    assert np.allclose(Z[3], [(7 - 2) / 2, (4 - 1) / 1])
    assert used == ["speaker", "speaker", "speaker", "global"]
    assert summarise(["k1", "k2", "k3", "k4"], used) == {"speaker_stats": 3, "global_stats": 1, "fell_back": ["k4"],
                                                         "fell_back_truncated": False}
    # without the rule every row uses the global statistics; a row without features stays NaN
    Zg, used_g = Standardiser().fit(X).transform(np.vstack([X, [np.nan, np.nan]]), [*speakers, "c"])
    assert used_g == ["global"] * 5 and np.isnan(Zg[4]).all()
    assert np.allclose(Zg[:4].mean(axis=0), 0.0) and np.allclose(Zg[:4].std(axis=0), 1.0)
    # N = 4: speaker a (3 segments) now falls back too
    assert Standardiser(speaker_min_segments=4).fit(X).transform(X, speakers)[1] == ["global"] * 4
