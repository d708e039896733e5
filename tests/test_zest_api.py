"""S2S-ZEST API, settings builder, metrics and CLI (an untrained tiny converter on real clips)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spokenemo.api.convert import read_pairs
from spokenemo.api.convert_eval import summarise, word_errors
from spokenemo.core.errors import AudioTooShortError, ConfigError, ModelNotFoundError

SR = 16000


def test_pairs_file_parses_tabs_comments_and_relative_paths(tmp_path):
    f = tmp_path / "pairs.tsv"
    f.write_text("# source\treference\n\na.wav\tb.wav\n/x/c.wav\td.wav\tout1.wav\n", encoding="utf-8")
    rows = read_pairs(f, tmp_path / "out")
    assert [Path(r.source).name for r in rows] == ["a.wav", "c.wav"]
    assert rows[0].source == str(tmp_path / "a.wav") and rows[1].source == "/x/c.wav"
    assert rows[0].output == str(tmp_path / "out" / "a__b.wav") and rows[1].output.endswith("out1.wav")
    f.write_text("only-one-field\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="pairs.tsv:1: expected SOURCE"):
        read_pairs(f, tmp_path)
    with pytest.raises(ConfigError, match="no pairs file"):
        read_pairs(tmp_path / "missing.tsv", tmp_path)


def test_word_errors_and_summary_on_hand_computed_rows():
    assert word_errors("Kids are talking by the door", "kids are walking by door.") == (2, 6)
    rows = [{"setting": "SSST", "variant": "zest", "emo_acc": a, "emo_acc_source": 0.0, "p_ref": None,
             "p_ref_source": None, "emo_sim": 0.5, "emo_sim_source": 0.25, "spk_sim_source": 0.9,
             "spk_sim_reference": 0.6, "spk_sim_source_reference": 0.5, "rate_ref": r, "rate_conv": 2 * r,
             "rate_source": 1.0, "word_errors": 1, "words": 5} for a, r in ((1.0, 3.0), (0.0, 4.0), (None, 5.0))]
    (row,) = summarise(rows)
    assert row["pairs"] == 3 and row["emo_acc"] == 0.5 and row["emo_sim"] == 0.5
    assert row["rhythm_pcc"] == pytest.approx(1.0) and row["rhythm_pcc_source"] is None
    assert row["wer"] == pytest.approx(20.0)


def test_settings_pair_sources_and_references_as_table_5_1_says(shared_data):
    from spokenemo.api.convert_run import build_pairs

    pairs = build_pairs(["SSST", "SSDT", "DSST", "DSDT", "UTE"], str(shared_data / "ravdess"))
    by = {s: [p for p in pairs if p.setting == s] for s in ("SSST", "SSDT", "DSST", "DSDT", "UTE")}
    assert len(by["SSST"]) == 64 and len(by["UTE"]) == 32   # 16 neutral sources x 4 (2) emotions
    for s, ps in by.items():
        for p in ps:
            assert p.source.emotion == "neutral" and p.reference.emotion != "neutral"
            assert (p.source.speaker == p.reference.speaker) == s.startswith("SS")
            assert (p.source.text == p.reference.text) == (s.endswith("ST") and s != "UTE") or s == "UTE"
            assert p.reference.speaker[-2:] in ("17", "18", "19", "20")
    assert {p.reference.emotion for p in by["UTE"]} == {"fearful", "disgust"}
    assert build_pairs(["DSST"], str(shared_data / "ravdess")) == by["DSST"]   # seeded: the same pairs again
    with pytest.raises(ConfigError, match="USS needs foreign"):
        build_pairs(["USS"], str(shared_data / "ravdess"))


@pytest.fixture(scope="module")
def tiny_converter(shared_data, tmp_path_factory, one_torch_thread):
    """An untrained tiny converter (random k-means centres and weights) saved to a folder."""
    import torch

    from spokenemo.models.zest.nets import SpeakerModule
    from spokenemo.models.zest.style import StyleModel, StyleSizes
    from spokenemo.models.zest.units import UnitTokenizer
    from spokenemo.systems.zest.config import ZestConfig
    from spokenemo.systems.zest.converter import ZestConverter

    torch.manual_seed(0)
    cfg = ZestConfig.model_validate({"units": {"layer": 4, "k": 8}, "speaker": {"dim": 16}, "style": {"dim": 16}})
    tok = UnitTokenizer(np.random.default_rng(0).normal(size=(8, 512)).astype(np.float32), layer=4)
    conv = ZestConverter(cfg, tok, SpeakerModule(2, 2, dim=16),
                         StyleModel(StyleSizes(n_units=8, n_emotions=2, n_speakers=2, s_dim=16, dim=16)),
                         ["angry", "neutral"], ["01", "02"])
    folder = tmp_path_factory.mktemp("zest") / "model"
    conv.save(folder)
    return folder


@pytest.mark.slow
def test_converter_round_trips_and_converts_real_clips(tiny_converter, shared_data, tmp_path):
    from spokenemo.api.convert import convert, load_converter
    from spokenemo.audio import load_audio
    from spokenemo.models.zest.pitch import NoVoicedFramesError

    src = shared_data / "ravdess" / "Actor_17" / "03-01-01-01-01-01-17.flac"
    ref = shared_data / "ravdess" / "Actor_18" / "03-01-05-02-01-01-18.flac"
    out = tmp_path / "out.wav"
    res = convert(src, ref, out=out, converter=tiny_converter)
    assert out.is_file() and res.sr == SR
    assert np.all(np.abs(res.durations - res.source_durations) <= np.ceil(0.4 * res.source_durations))
    assert abs(len(res.wave) - res.durations.sum() * 320) <= 640
    conv = load_converter(tiny_converter)
    again = type(conv).load(tiny_converter)
    a = conv.analyser.analyse(load_audio(src, sr=SR))
    assert np.array_equal(conv.units(a), again.units(a))
    plan, plan2 = conv.transfer_plan(a, a), again.transfer_plan(a, a)
    assert np.array_equal(plan["durations"], plan2["durations"])
    assert np.allclose(plan["f0"], plan2["f0"], atol=0.5)   # weights are stored as float16
    with pytest.raises(NoVoicedFramesError, match="source: silent"):
        convert(np.zeros(SR, np.float32), ref, converter=tiny_converter)
    with pytest.raises(NoVoicedFramesError, match="reference: no voiced frame"):
        convert(src, np.random.default_rng(0).normal(0, 0.01, SR).astype(np.float32), converter=tiny_converter)
    with pytest.raises(ConfigError, match="no envelope-style model"):
        convert(src, ref, converter=tiny_converter, envelope_strength=1.0)
    with pytest.raises(AudioTooShortError, match="too short"):
        convert(src, np.zeros(1000, np.float32), converter=tiny_converter)
    at8k = load_audio(src, sr=8000)
    res8 = convert(at8k, ref, sr=8000, converter=tiny_converter)
    assert abs(len(res8.wave) - len(res.wave)) <= 2 * 320 * 2


@pytest.mark.slow
def test_cli_convert_one_pair_and_a_pairs_file(tiny_converter, shared_data, tmp_path):
    from spokenemo.apps.cli import cli

    src = shared_data / "ravdess" / "Actor_17" / "03-01-01-01-01-01-17.flac"
    ref = shared_data / "ravdess" / "Actor_19" / "03-01-04-02-01-01-19.flac"
    runner = CliRunner()
    got = runner.invoke(cli, ["convert", str(src), str(ref), "-o", str(tmp_path / "a.wav"), "--model", str(tiny_converter)])
    assert got.exit_code == 0, got.output
    assert (tmp_path / "a.wav").is_file() and "duration x" in got.output
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(f"{src}\t{ref}\n{src}\t{tmp_path / 'missing.wav'}\n", encoding="utf-8")
    got = runner.invoke(cli, ["convert", "--pairs", str(pairs), "-o", str(tmp_path / "out"), "--model",
                              str(tiny_converter)])
    assert got.exit_code == 1 and "1 converted, 1 failed" in got.output
    got = runner.invoke(cli, ["convert", str(src), "-o", str(tmp_path / "b.wav")])
    assert got.exit_code != 0 and "needs SOURCE and REFERENCE" in got.output


def test_missing_converter_folder_is_a_typed_error(tmp_path, monkeypatch):
    from spokenemo.api.convert import default_converter_path, load_converter

    monkeypatch.setenv("SPOKENEMO_CONVERTER", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="no S2S-ZEST converter"):
        default_converter_path()
    with pytest.raises(ModelNotFoundError, match="not a S2S-ZEST converter folder"):
        load_converter(tmp_path)


@pytest.mark.parametrize("name", ["zest-ravdess", "zest-tiny", "zest-thesis-gpu"])
def test_configs_validate_and_reject_unknown_fields(name, tmp_path):
    from spokenemo.systems.zest.config import load_zest_config

    root = Path(__file__).resolve().parents[1] / "configs"
    cfg = load_zest_config(root / f"{name}.yaml")
    assert cfg.transfer.clip == 0.4 and cfg.speaker.adv_weight == 10.0 and cfg.style.lambda_e == 1000.0
    with pytest.raises(ConfigError, match="style.epochz"):
        load_zest_config(root / f"{name}.yaml", ["style.epochz=3"])


@pytest.mark.slow
def test_cli_trains_the_tiny_config_end_to_end(shared_data, tmp_path, one_torch_thread):
    from spokenemo.apps.cli import cli
    from spokenemo.systems.zest.converter import ZestConverter

    out = tmp_path / "model"
    got = CliRunner().invoke(cli, ["convert-train", str(Path(__file__).resolve().parents[1] / "configs" / "zest-tiny.yaml"), "-o", str(out),
                                   "--set", f"data.root={shared_data / 'ravdess'}",
                                   "--set", f"cache_dir={tmp_path / 'cache'}", "--set", "data.limit=6"])
    assert got.exit_code == 0, got.output
    conv = ZestConverter.load(out)
    assert conv.tokenizer.k == 8 and conv.summary["clips"] == 6 and conv.emotions == ["angry", "neutral"]
    assert not (out / "work").exists() and (out / "weights.pt").stat().st_size < 2_000_000
