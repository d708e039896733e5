"""Thresholds (fit, strictly-above rule, save/load, speaker-relative) and the cue text."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from spokenemo.core.errors import ConfigError
from spokenemo.core.speakers import speaker_of_row
from spokenemo.features.cues import (
    CueTextConfig,
    FineCues,
    Thresholds,
    UtteranceCues,
    render_cue_text,
    render_table,
)


def row(key: str, speaker: str, pitch: float, intensity: float, rate: float, art: float, corpus: str = "c") -> dict:
    return {"key": key, "speaker": speaker, "corpus": corpus, "label": "sad", "pitch": pitch,
            "intensity": intensity, "speech_rate": rate, "articulation_rate": art}


ROWS = [
    row("a1", "A", 100.0, -30.0, 3.0, 5.0),
    row("a2", "A", 120.0, -20.0, 4.0, 6.0),
    row("a3", "A", 110.0, -25.0, 5.0, 4.0),
    row("b1", "B", 200.0, -40.0, 2.0, 3.0),
    row("b2", "B", 220.0, -35.0, 3.5, 4.5),
    row("c1", "C", 300.0, -10.0, 6.0, 8.0),
]


def cues(pitch=150.0, intensity=-28.0, rate=3.75, art=5.5, fine=None) -> UtteranceCues:
    fine = fine or {7: FineCues(pitch=(0.123, 0.35, 0.8, 1.0, 0.6449, 0.225, 0.0),
                                intensity=(0.0, 0.5, 0.995, 1.0, 0.33333, 0.1, 0.0))}
    return UtteranceCues(coarse={"pitch": pitch, "intensity": intensity, "speech_rate": rate,
                                 "articulation_rate": art},
                         fine=fine, duration=3.0, syllables=11, phonation_time=2.0)


# --- thresholds ------------------------------------------------------------------------------------
def test_fit_takes_the_medians():
    th = Thresholds.fit(ROWS)
    # medians of 6 values: mean of the 3rd and 4th smallest
    assert th.medians == {"pitch": 160.0, "intensity": -27.5, "speech_rate": 3.75, "articulation_rate": 4.75}
    assert th.n_rows == 6 and not th.speaker_relative


def test_value_equal_to_the_median_gets_the_second_word():
    th = Thresholds.fit(ROWS)
    assert th.word("pitch", 160.0) == "low"
    assert th.word("pitch", 160.0001) == "high"
    assert th.words({"pitch": 100.0, "intensity": -27.5, "speech_rate": 3.76, "articulation_rate": 1.0}) == {
        "pitch": "low", "intensity": "weak", "speech_rate": "fast", "articulation_rate": "slow"}


def test_save_and_load_round_trip(tmp_path):
    th = Thresholds.fit(ROWS, speaker_relative=True, info={"fold": "fold1"})
    path = th.save(tmp_path / "t.json")
    again = Thresholds.load(path)
    assert again == th
    assert json.loads(path.read_text())["format"] == "spokenemo-cue-thresholds"


def test_load_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="thresholds file not found"):
        Thresholds.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Thresholds.load(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"pitch": 1}))
    with pytest.raises(ConfigError, match="not a cue thresholds file") as err:
        Thresholds.load(other)
    assert "thresholds fit" in (err.value.hint or "")


def test_fit_errors():
    with pytest.raises(ConfigError, match="zero rows"):
        Thresholds.fit([])
    with pytest.raises(ConfigError, match="no value for cue"):
        Thresholds.fit(ROWS, cues=["pitch", "jitter"])
    with pytest.raises(ConfigError, match="unknown cue"):
        Thresholds.fit(ROWS, cues=["loudness"])


def test_speaker_relative_thresholds_use_each_speakers_medians():
    th = Thresholds.fit(ROWS, speaker_relative=True)
    assert th.speaker_medians["c/A"] == {"pitch": 110.0, "intensity": -25.0, "speech_rate": 4.0,
                                         "articulation_rate": 5.0}
    assert th.speaker_medians["c/B"]["pitch"] == 210.0
    assert "c/C" not in th.speaker_medians            # one utterance: falls back to the global medians
    assert th.word("pitch", 115.0, speaker="c/A") == "high"    # above A's own 110
    assert th.word("pitch", 115.0) == "low"                     # below the global 160
    assert th.for_speaker("c/C") == th.medians
    assert th.for_speaker("unknown") == th.medians


def test_speaker_relative_at_inference_for_unseen_speakers():
    th = Thresholds.fit(ROWS, speaker_relative=True)
    test_rows = [row("d1", "D", 90.0, -50.0, 1.0, 2.0), row("d2", "D", 95.0, -45.0, 1.5, 2.5),
                 row("e1", "E", 400.0, 0.0, 9.0, 9.0)]
    adapted = th.with_speakers(test_rows)
    assert adapted.for_speaker("c/D")["pitch"] == 92.5
    assert adapted.word("pitch", 94.0, speaker="c/D") == "high"
    assert adapted.for_speaker("c/E") == th.medians   # a single utterance: global fold medians
    assert th.speaker_medians == Thresholds.fit(ROWS, speaker_relative=True).speaker_medians   # unchanged


def test_speaker_relative_is_off_by_default_even_with_speaker_medians():
    th = Thresholds.fit(ROWS).with_speakers(ROWS)
    assert th.word("pitch", 115.0, speaker="c/A") == "low"


def test_speaker_identity():
    assert speaker_of_row({"speaker": "01", "corpus": "ravdess"}) == "ravdess/01"
    assert speaker_of_row({"speaker": "01"}) == "01"
    assert speaker_of_row({"speaker": None}) is None


# --- text ------------------------------------------------------------------------------------------
def test_paper_rendering_exact_string():
    th = Thresholds.fit(ROWS)
    text = render_cue_text(cues(), th)
    assert text == ("Pitch: low. Intensity: weak. Speech rate: slow. Articulation rate: fast.\n"
                    "Pitch by segment: [0.12, 0.35, 0.80, 1.00, 0.64, 0.23, 0.00]. "
                    "Intensity by segment: [0.00, 0.50, 0.99, 1.00, 0.33, 0.10, 0.00].")


def test_rendering_from_a_table_row_equals_rendering_from_cues():
    th = Thresholds.fit(ROWS)
    c = cues(pitch=161.0, intensity=-27.0, rate=4.0, art=4.0)
    assert render_cue_text(c.to_row(), th) == render_cue_text(c, th)
    assert render_cue_text(c, th).startswith("Pitch: high. Intensity: strong. Speech rate: fast. "
                                             "Articulation rate: slow.")


def test_variants():
    th = Thresholds.fit(ROWS)
    c = cues(fine={3: FineCues((0.1, 0.2, 0.3), (0.4, 0.5, 0.6)), 7: cues().fine[7]})
    assert render_cue_text(c, th, CueTextConfig.variant("no-fine")) == \
        "Pitch: low. Intensity: weak. Speech rate: slow. Articulation rate: fast."
    assert render_cue_text(c, th, CueTextConfig.variant("no-coarse")).startswith("Pitch by segment: [0.12,")
    assert render_cue_text(c, th, CueTextConfig.variant("text-only")) == ""
    assert render_cue_text(c, th, CueTextConfig.variant("n=3")).endswith(
        "Pitch by segment: [0.10, 0.20, 0.30]. Intensity by segment: [0.40, 0.50, 0.60].")
    with pytest.raises(ConfigError, match="no fine cues with 5 segments"):
        render_cue_text(c, th, CueTextConfig(n_segments=5))
    with pytest.raises(ConfigError, match="unknown cue text variant"):
        CueTextConfig.variant("no-cot")


def test_templates_are_options_and_are_checked():
    th = Thresholds.fit(ROWS)
    cfg = CueTextConfig(coarse_template="The voice is {pitch}-pitched and {intensity}.", fine=False)
    assert render_cue_text(cues(), th, cfg) == "The voice is low-pitched and weak."
    cfg = CueTextConfig(fine_template="{n} segments: {pitch_segments}", coarse=False, decimals=1)
    assert render_cue_text(cues(), th, cfg) == "7 segments: [0.1, 0.3, 0.8, 1.0, 0.6, 0.2, 0.0]"
    with pytest.raises(ValidationError, match="unknown placeholder"):
        CueTextConfig(coarse_template="Pitch: {pitch}. Loudness: {loudness}.")


def test_raw_rendering_without_thresholds():
    text = render_cue_text(cues(), None, CueTextConfig(fine=False))
    assert text == "Pitch: 150.0 Hz. Intensity: -28.0 dBFS. Speech rate: 3.75 syll/s. Articulation rate: 5.50 syll/s."


def test_extended_rendering_needs_extended_cues_and_thresholds():
    c = cues()
    with pytest.raises(ConfigError, match="the cues lack"):
        render_cue_text(c, None, CueTextConfig(extended=True))
    ext = {"pitch_range": 8.0, "pitch_variability": 2.0, "intensity_variability": 6.0, "pause_count": 1.0,
           "pause_length": 0.4, "jitter": 1.0, "shimmer": 3.0, "hnr": 10.0, "spectral_tilt": -12.0}
    c = UtteranceCues(coarse=c.coarse, fine=c.fine, duration=3.0, syllables=11, phonation_time=2.0, extended=ext)
    low = {k: v + 1 for k, v in ext.items()}
    th = Thresholds.fit([{**c.coarse, **low}, {**c.coarse, **low}])
    text = render_cue_text(c, th, CueTextConfig.variant("extended"))
    assert text.splitlines()[1] == ("Pitch range: narrow. Pitch variability: low. Intensity variability: low. "
                                    "Pauses: few. Pause length: short. Jitter: low. Shimmer: low. HNR: low. "
                                    "Spectral tilt: steep.")
    coarse_only = Thresholds.fit([c.coarse])
    with pytest.raises(ConfigError, match="thresholds have no value"):
        render_cue_text(c, coarse_only, CueTextConfig.variant("extended"))


def test_render_table_uses_each_rows_speaker():
    th = Thresholds.fit(ROWS, speaker_relative=True)
    rows = [{**r, **{f"{c}_seg_7": [0.5] * 7 for c in ("pitch", "intensity")}} for r in ROWS]
    texts = render_table(rows, th, CueTextConfig(fine=False))
    assert set(texts) == {r["key"] for r in ROWS}
    # a2 has pitch 120: above speaker A's median (110), below the global one (160)
    assert texts["a2"].startswith("Pitch: high.")
    assert render_cue_text(rows[1], th, CueTextConfig(fine=False), speaker="nobody").startswith("Pitch: low.")
