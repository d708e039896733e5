"""The web service under uvicorn on a real socket: several uploads at once, a full queue, a client that
goes away mid-upload. The model's answer is a stand-in that takes a set time (:mod:`web_fakes`)."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install -e '.[web]')")

import httpx  # noqa: E402

import spokenemo.api as se  # noqa: E402
from web_fakes import CLIP, fake_explain, make_app, running  # noqa: E402

DELAY = 3.0  # long against the rest of an answer (decoding, the speech check), even on a busy machine


@pytest.fixture(autouse=True)
def _fake_model(monkeypatch):
    monkeypatch.setattr(se, "explain_clip", fake_explain, raising=False)  # what answers a clip


def _post(url: str) -> tuple[int, float, float]:
    """Upload the clip; (status, start, end) on the monotonic clock."""
    start = time.monotonic()
    r = httpx.post(f"{url}/api/explain", files={"file": ("clip.flac", CLIP.read_bytes(), "audio/flac")}, timeout=60)
    return r.status_code, start, time.monotonic()


def test_two_uploads_run_at_once_and_health_answers_meanwhile(tmp_path):
    app = make_app(tmp_path, delay=DELAY, workers=2)
    with running(app) as url, ThreadPoolExecutor(2) as pool:
        _post(url)  # the speech detector's first load is not what is measured
        started = time.monotonic()
        jobs = [pool.submit(_post, url) for _ in range(2)]
        time.sleep(0.5)
        t0 = time.monotonic()
        health = httpx.get(f"{url}/api/health", timeout=10).json()
        health_seconds = time.monotonic() - t0
        results = [j.result() for j in jobs]
    both = time.monotonic() - started
    assert [r[0] for r in results] == [200, 200]
    assert health["in_flight"] == 2 and health_seconds < 1.0  # not behind the analyses
    # in parallel: both done in well under two delays back to back
    assert DELAY <= both < 2 * DELAY - 1.0, both
    assert not list((tmp_path / "uploads").iterdir())


def test_a_full_queue_answers_503(tmp_path):
    app = make_app(tmp_path, delay=DELAY, workers=1, max_waiting=0)
    with running(app) as url, ThreadPoolExecutor(1) as pool:
        first = pool.submit(_post, url)
        deadline = time.monotonic() + 10
        while httpx.get(f"{url}/api/health").json()["in_flight"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        r = httpx.post(f"{url}/api/explain", files={"file": ("b.flac", CLIP.read_bytes(), "audio/flac")})
        assert r.status_code == 503 and r.json()["error"]["code"] == "busy"
        assert first.result()[0] == 200
        assert httpx.post(f"{url}/api/explain", files={"file": ("c.flac", CLIP.read_bytes(),
                                                                 "audio/flac")}).status_code == 200
    assert not list((tmp_path / "uploads").iterdir())


def test_a_client_leaving_mid_upload_leaves_nothing_behind(tmp_path):
    app = make_app(tmp_path)
    with running(app) as url:
        port = int(url.rsplit(":", 1)[1])
        boundary = "XyZ"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.wav\"\r\n"
                "Content-Type: audio/wav\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall((f"POST /api/explain HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n"
                       f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode() + head)
            s.sendall(b"RIFF" + bytes(200_000))
            time.sleep(0.5)  # the server has written part of it to its temporary folder
            assert len(list((tmp_path / "uploads").iterdir())) == 1
        deadline = time.monotonic() + 10
        counts: dict = {}
        while counts.get("disconnected") != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
            counts = httpx.get(f"{url}/api/health").json()["counts"]
        assert counts == {"disconnected": 1}
        assert not list((tmp_path / "uploads").iterdir())
        # and it goes on serving
        assert httpx.post(f"{url}/api/explain", files={"file": ("a.flac", CLIP.read_bytes(),
                                                                 "audio/flac")}).status_code == 200
