"""The web service's endpoints through FastAPI's TestClient: answers, every refusal, temporary files.

The model's answer is a stand-in (:mod:`web_fakes`); the upload handling, limits, decoding and the
speech check are the real ones. The real model is tested in ``test_web_model.py``.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
pytest.importorskip("python_multipart", reason="the web extra is not installed (pip install -e '.[web]')")

from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import spokenemo.api as se  # noqa: E402
import web_fakes  # noqa: E402
from spokenemo.apps.cli import cli  # noqa: E402
from spokenemo.apps.web import engine as engine_module  # noqa: E402
from spokenemo.apps.web.settings import ServeSettings  # noqa: E402
from spokenemo.apps.web.uploads import sniff  # noqa: E402
from spokenemo.core.errors import ConfigError  # noqa: E402
from web_fakes import CLIP, PROBABILITIES, fake_explain, make_app  # noqa: E402


@pytest.fixture(autouse=True)
def _fake_model(monkeypatch):
    monkeypatch.setattr(se, "explain_clip", fake_explain, raising=False)  # what answers a clip


def _client(tmp_path, **kw):
    # server errors come back as responses, as a real client gets them
    return TestClient(make_app(tmp_path, **kw), raise_server_exceptions=False)


def _left(tmp_path):
    return sorted(p.name for p in (tmp_path / "uploads").iterdir())


def _wav(signal, sr=16000):
    buf = io.BytesIO()
    sf.write(buf, signal, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["status"] == status and body["code"] == code and body["message"]
    return body


def test_health_reports_limits_model_and_counts(tmp_path):
    with _client(tmp_path, max_upload_mb=3, max_seconds=12, workers=3) as c:
        body = c.get("/api/health").json()
    assert body["status"] == "ok" and body["in_flight"] == 0
    assert body["limits"]["max_upload_mb"] == 3 and body["limits"]["max_seconds"] == 12
    assert body["limits"]["workers"] == 3 and ".webm" in body["limits"]["formats"]
    assert body["engine"]["model"] == "object"


def test_page_is_self_contained(tmp_path):
    with _client(tmp_path) as c:
        r = c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for element in ("file", "record", "mode", "emotion", "probs", "cueplot", "explanation", "tl-svg", "tl-player"):
        assert f'id="{element}"' in r.text, element
    # offline: no script, style, image or font from anywhere else (the SVG namespace is a name, not a fetch)
    assert re.findall(r"https?://[^\s'\"`]+", r.text) == ["http://www.w3.org/2000/svg"]
    assert "<script src" not in r.text and "<link" not in r.text
    assert "MediaRecorder" in r.text and "textContent" in r.text and "innerHTML" not in r.text


def test_docs_work_offline_and_describe_every_endpoint(tmp_path):
    with _client(tmp_path) as c:
        docs, spec = c.get("/docs"), c.get("/openapi.json").json()
    assert docs.status_code == 200 and "<script" not in docs.text and "cdn" not in docs.text.lower()
    for path in ("/api/explain", "/api/timeline", "/api/health"):
        assert f"<code>{path}</code>" in docs.text and path in spec["paths"]
    assert "curl -F file=@clip.wav" in docs.text
    body = spec["paths"]["/api/explain"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert {"413", "415", "422"} <= set(spec["paths"]["/api/explain"]["post"]["responses"])


def test_explain_a_clip_sent_as_a_form(tmp_path):
    with _client(tmp_path) as c:
        r = c.post("/api/explain", files={"file": ("clip.flac", CLIP.read_bytes(), "audio/flac")})
        counts = c.get("/api/health").json()["counts"]
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "clip" and body["filename"] == "clip.flac"
    assert body["emotion"] == "happy" and body["verdict"] == "happy" and body["probabilities"] == PROBABILITIES
    assert body["duration"] == pytest.approx(sf.info(CLIP).duration, abs=1e-3)
    assert body["speech"]["is_speech"] is True
    # numpy values and NaN made JSON-ready; the plot gets the finest segment tracks
    assert body["cue_plot"] == {"pitch": [190.0, 230.0, None], "pitch_unit": "0-1 within the clip", "pitch_mean": 210.5,
                                "intensity": [-20.0, -18.5, -25.0], "intensity_unit": "0-1 within the clip",
                                "intensity_mean": -21.0}
    assert body["explanation_text"] == body["explanation"] and body["transcript_text"] == body["transcript"]
    assert body["elapsed_seconds"] >= body["analysis_seconds"] >= 0
    assert counts == {"answered": 1} and _left(tmp_path) == []


def test_a_request_picks_the_transcription(tmp_path):
    with _client(tmp_path) as c:
        fast = c.post("/api/explain?asr=none", files={"file": ("a.flac", CLIP.read_bytes(), "audio/flac")})
        default = c.post("/api/explain", files={"file": ("a.flac", CLIP.read_bytes(), "audio/flac")})
        bad = _error(c.post("/api/explain?asr=whisper-xl", files={"file": ("a.flac", CLIP.read_bytes(), "audio/flac")}),
                     400, "bad_option")
    assert fast.json()["transcript_source"] == "none" and default.json()["transcript_source"] == "auto"
    assert bad["message"] == "asr='whisper-xl' is not one of auto, pocketsphinx, faster-whisper, none"
    assert _left(tmp_path) == []


def test_explain_raw_bytes_with_a_filename(tmp_path):
    with _client(tmp_path) as c:
        r = c.post("/api/explain?filename=mine.flac", content=CLIP.read_bytes(),
                   headers={"content-type": "audio/flac"})
    assert r.status_code == 200 and r.json()["filename"] == "mine.flac" and r.json()["emotion"] == "happy"
    assert _left(tmp_path) == []


def test_zero_length_upload(tmp_path):
    with _client(tmp_path) as c:
        form = _error(c.post("/api/explain", files={"file": ("clip.wav", b"", "audio/wav")}), 400, "empty_upload")
        raw = _error(c.post("/api/explain", content=b"", headers={"content-type": "audio/wav"}), 400, "empty_upload")
    assert form["message"] == "clip.wav: the upload is empty (0 bytes)" and "0 bytes" in raw["message"]
    assert _left(tmp_path) == []


def test_silent_and_toneonly_uploads_are_no_speech(tmp_path):
    t = np.arange(32000) / 16000
    with _client(tmp_path) as c:
        silent = _error(c.post("/api/explain", files={"file": ("quiet.wav", _wav(np.zeros(32000)), "audio/wav")}),
                        422, "no_speech")
        tone = _error(c.post("/api/explain", files={"file": ("tone.wav", _wav(0.3 * np.sin(2 * np.pi * 440 * t)),
                                                                 "audio/wav")}), 422, "no_speech")
    assert silent["message"] == "quiet.wav: no speech found (silent)" and silent["reason"] == "silent"
    assert silent["speech"]["is_speech"] is False and "voice" in silent["hint"]
    assert tone["reason"] == "no speech detected"
    assert _left(tmp_path) == []


@pytest.mark.parametrize("name, data", [
    ("clip.wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200))),      # a WAV header, then garbage
    ("clip.flac", b"fLaC" + bytes(997)),                                    # a FLAC mark, nothing decodable
    ("clip.mp3", np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()),  # noise, audio name
])
def test_corrupt_uploads(tmp_path, name, data):
    with _client(tmp_path) as c:
        body = _error(c.post("/api/explain", files={"file": (name, data, "audio/whatever")}), 422, "corrupt")
        assert c.get("/api/health").json()["status"] == "ok"
    assert body["message"] == f"{name}: the file could not be decoded as audio"
    assert name in body["reason"] and "upload-" not in body["reason"]  # the user's name, not the temporary one
    assert _left(tmp_path) == []


def test_unsupported_uploads(tmp_path):
    with _client(tmp_path) as c:
        text = _error(c.post("/api/explain", files={"file": ("notes.txt", b"hello world", "text/plain")}),
                      415, "unsupported_format")
        pdf = _error(c.post("/api/explain", files={"file": ("paper.pdf", b"%PDF-1.7 ...", "application/pdf")}),
                     415, "unsupported_format")
        js = _error(c.post("/api/explain", json={"file": "clip.wav"}), 415, "unsupported_type")
        nofield = _error(c.post("/api/explain", files={"audio": ("clip.flac", CLIP.read_bytes(), "audio/flac")}),
                         400, "no_file")
    assert "notes.txt" in text["message"] and ".flac" in text["hint"] and "paper.pdf" in pdf["message"]
    assert "application/json" in js["message"] and "no field named 'file'" in nofield["message"]
    assert _left(tmp_path) == []


def test_malformed_forms(tmp_path):
    with _client(tmp_path) as c:
        nobound = _error(c.post("/api/explain", content=b"--x\r\n", headers={"content-type": "multipart/form-data"}),
                         400, "bad_form")
        broken = _error(c.post("/api/explain", content=b"garbage without any boundary line" * 10,
                               headers={"content-type": "multipart/form-data; boundary=XyZ"}), 400, "bad_form")
    assert "no boundary" in nobound["message"] and "curl -F" in broken["hint"]
    assert _left(tmp_path) == []


def test_uploads_over_the_size_limit(tmp_path):
    big = _wav(np.zeros(40000))  # 80 kB
    with _client(tmp_path, max_upload_mb=0.02) as c:  # 20 kB
        declared = _error(c.post("/api/explain", files={"file": ("big.wav", big, "audio/wav")}), 413, "too_large")
        # no Content-Length: refused while the body streams in
        streamed = _error(c.post("/api/explain", content=(big[i:i + 4096] for i in range(0, len(big), 4096)),
                                 headers={"content-type": "audio/wav"}), 413, "too_large")
        small = c.post("/api/explain", files={"file": ("ok.wav", _wav(np.zeros(4000)), "audio/wav")})
    assert "0.02 MB" in declared["message"] and "--max-upload-mb" in declared["hint"] and streamed
    assert small.status_code == 422  # within the limit: it reached the speech check
    assert _left(tmp_path) == []


def test_clips_over_the_duration_limit(tmp_path):
    with _client(tmp_path, max_seconds=1.5) as c:
        body = _error(c.post("/api/explain", files={"file": ("long.flac", CLIP.read_bytes(), "audio/flac")}),
                      413, "too_long")
    assert body["duration"] == pytest.approx(sf.info(CLIP).duration, abs=1e-3) and body["limit"] == 1.5
    assert "/api/timeline" in body["hint"] and _left(tmp_path) == []


def test_timeline_without_the_module_is_501(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_module, "TIMELINE_MODULE", "spokenemo.api.no_such_timeline")
    with _client(tmp_path) as c:
        assert c.get("/api/health").json()["engine"]["timeline"] is False
        body = _error(c.post("/api/timeline", files={"file": ("a.flac", CLIP.read_bytes(), "audio/flac")}),
                      501, "timeline_unavailable")
    assert "spokenemo.api.no_such_timeline" in body["message"] and "/api/explain" in body["hint"]
    assert _left(tmp_path) == []


def test_timeline_through_a_timeline_module(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_module, "TIMELINE_MODULE", "web_fakes")  # its timeline() stands in
    with _client(tmp_path, max_timeline_seconds=2.0) as c:
        r = c.post("/api/timeline", files={"file": ("talk.flac", CLIP.read_bytes(), "audio/flac")})
        _error(r, 413, "too_long")
    with _client(tmp_path) as c:
        r = c.post("/api/timeline?speakers=2", files={"file": ("talk.flac", CLIP.read_bytes(), "audio/flac")})
        _error(c.post("/api/timeline?speakers=0", files={"file": ("t.flac", CLIP.read_bytes(), "audio/flac")}),
               400, "bad_option")
    assert r.status_code == 200, r.text
    # the stand-in model has no predict_proba: the timeline is left to load its own recogniser
    assert web_fakes.CALLS[-1] == {"speakers": 2, "recogniser": None}
    body = r.json()
    half = body["duration"] / 2
    assert body["kind"] == "timeline" and body["timeline"]["speakers"] == ["S1", "S2"]
    assert body["segments"] == [
        {"start": 0.0, "end": pytest.approx(half, abs=1e-3), "speaker": "S1", "emotion": "angry",
         "probabilities": {"angry": 0.8, "sad": 0.2}, "explanation": "loud and fast"},
        {"start": pytest.approx(half, abs=1e-3), "end": pytest.approx(2 * half, abs=1e-3), "speaker": "S2", "emotion": "sad",
         "probabilities": {"angry": 0.1, "sad": 0.9}, "explanation": "low and slow"}]
    assert _left(tmp_path) == []


def test_errors_are_json_and_the_server_keeps_serving(tmp_path):
    with _client(tmp_path, fail=True) as c:
        bug = _error(c.post("/api/explain", files={"file": ("a.flac", CLIP.read_bytes(), "audio/flac")}),
                     500, "internal_error")
        missing = _error(c.get("/api/nothing"), 404, "not_found")
        wrong = _error(c.get("/api/explain"), 405, "method_not_allowed")
        health = c.get("/api/health").json()
    assert "a bug in the model" in bug["message"] and "/docs" in missing["hint"] and wrong
    assert health["status"] == "ok" and health["counts"]["failed"] == 1 and _left(tmp_path) == []


@pytest.mark.parametrize("head, suffix", [
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", ".wav"), (b"fLaC\x00\x00\x00\x22", ".flac"), (b"OggS\x00\x02", ".ogg"),
    (b"\x1aE\xdf\xa3\x9fB\x86\x81", ".webm"), (b"ID3\x04\x00", ".mp3"), (b"\xff\xfb\x90\x64", ".mp3"),
    (b"\xff\xf1\x50\x80", ".aac"), (b"\x00\x00\x00\x20ftypM4A ", ".m4a"), (b"FORM\x00\x00\x00\x00AIFF", ".aiff"),
    (b"%PDF-1.7", None), (b"hello", None), (b"", None)])
def test_sniff_reads_the_format_from_the_first_bytes(head, suffix):
    assert sniff(head) == suffix


def test_every_refusal_has_the_same_shape(tmp_path):
    with _client(tmp_path) as c:
        r = c.post("/api/explain", files={"file": ("x.txt", b"x", "text/plain")})
    assert set(r.json()) == {"error"} and set(json.loads(r.text)["error"]) == {"status", "code", "message", "hint"}


def test_a_recogniser_shaped_answer_is_read_too(tmp_path, monkeypatch):
    """explain() taking ``recogniser=`` and answering with label, evidence and {"text": ...} (api/clip.py)."""
    seen = {}

    class Answer:
        def to_dict(self):
            return {"label": "sad", "probabilities": {"sad": 0.7, "neutral": 0.3}, "uncertain_between": None,
                    "no_speech_reason": None,
                    "explanation": {"text": "Lower pitch than usual.", "supports": []},
                    "evidence": {"contour": {"segments_st": [0.0, -1.5, -2.0]},
                                 "cues": [{"cue": "pitch", "value": 180.0, "baseline": 200.0, "unit": "Hz",
                                           "direction": -1, "reason": None, "delta": -1.8}]},
                    "transcript": {"text": "dogs are sitting", "source": "faster-whisper"}}

    def explain(file, *, recogniser=None, asr="auto"):
        seen.update(model=recogniser, asr=asr)
        return Answer()

    monkeypatch.setattr(se, "explain_clip", explain)
    app = make_app(tmp_path)
    app.state.settings.explain_options.update(asr="none", not_an_option=1)  # dropped: explain does not take it
    with TestClient(app) as c:
        body = c.post("/api/explain", files={"file": ("a.flac", CLIP.read_bytes(), "audio/flac")}).json()
    assert seen["asr"] == "none" and seen["model"] is app.state.engine.model
    assert body["emotion"] == "sad" and body["verdict"] == "sad" and body["label"] == "sad"
    assert body["explanation_text"] == "Lower pitch than usual." and body["transcript_text"] == "dogs are sitting"
    assert body["cue_plot"] == {"pitch": [0.0, -1.5, -2.0], "pitch_unit": "st"}
    assert body["comparisons"] == [{"cue": "pitch", "value": 180.0, "baseline": 200.0, "unit": "Hz",
                                    "direction": -1, "reason": None}]


def test_serve_command_checks_its_options_before_loading_anything():
    runner = CliRunner()
    shown = runner.invoke(cli, ["serve", "--help"])
    assert shown.exit_code == 0
    for option in ("--host", "--port", "--max-upload-mb", "--max-seconds", "--workers", "--max-timeline-seconds"):
        assert option in shown.output
    bad = runner.invoke(cli, ["serve", "--workers", "0"])
    assert bad.exit_code == 2 and "workers=0 is out of range" in bad.output
    with pytest.raises(ConfigError, match="max_upload_mb=-1"):
        ServeSettings(max_upload_mb=-1)
    assert ServeSettings(max_upload_mb=2.5).max_upload_bytes == 2_500_000


def test_the_model_loaded_is_the_one_explain_takes(monkeypatch):
    loaded = []
    monkeypatch.setattr(se, "load_student", lambda folder=None: loaded.append(("student", folder)) or "S")
    monkeypatch.setattr(se, "load_recogniser", lambda folder=None: loaded.append(("recogniser", folder)) or "R",
                        raising=False)

    def student_explain(file, model=None, *, asr="auto"):
        return None

    def recogniser_explain(file, *, recogniser=None, asr="auto"):
        return None

    monkeypatch.setattr(se, "explain", student_explain)
    monkeypatch.setattr(se, "explain_clip", recogniser_explain, raising=False)
    # by default the recogniser answers (as `spokenemo explain` does); --student: the student
    assert engine_module.explain_function() is recogniser_explain
    assert engine_module.explain_function(student=True) is student_explain
    assert engine_module.load_model(Path("/models/r")) == "R" and engine_module.load_model(None, student=True) == "S"
    # an API whose explain takes the recogniser itself
    monkeypatch.delattr(se, "explain_clip")
    monkeypatch.setattr(se, "explain", recogniser_explain)
    assert engine_module.model_keyword(engine_module.explain_function()) == "recogniser"
    assert engine_module.load_model(None) == "R"
    assert loaded == [("recogniser", Path("/models/r")), ("student", None), ("recogniser", None)]
