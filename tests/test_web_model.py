"""``spokenemo serve`` with the real default model (the shipped recogniser) on real RAVDESS clips: the
JSON API, the page in headless Chromium (which also takes the screenshot in ``docs/web.md`` when
``SPOKENEMO_WEB_SCREENSHOT`` names where to write it), and the timeline of a joined recording. The model
is loaded once, at start-up, as the server does it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest
import soundfile as sf

import web_browser

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from spokenemo.api import default_recogniser_path  # noqa: E402
from spokenemo.apps.web.engine import TIMELINE_MODULE, Engine  # noqa: E402
from spokenemo.apps.web.server import create_app  # noqa: E402
from spokenemo.apps.web.settings import ServeSettings  # noqa: E402
from spokenemo.core.errors import SpokenemoError  # noqa: E402
from web_fakes import running  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.shared]
# an angry, strong-intensity sentence of 4.2 s
ANGRY = Path("ravdess/Actor_03/03-01-05-02-02-01-03.flac")


@pytest.fixture(scope="module")
def server(shared_data, tmp_path_factory, one_torch_thread):
    try:
        default_recogniser_path()
    except SpokenemoError as err:
        pytest.skip(f"no default model here: {err}")
    tmp = tmp_path_factory.mktemp("serve")
    settings = ServeSettings(tmp_dir=tmp / "uploads", workers=1)
    with running(create_app(settings)) as url:  # loads the model and warms it up before it listens
        labels = httpx.get(f"{url}/api/health").json()["engine"]["labels"]
        assert labels, "the model names its classes"
        yield url, labels, tmp / "uploads"


def test_the_api_answers_a_real_clip(server, shared_data):
    url, labels, uploads = server
    clip = shared_data / ANGRY
    r = httpx.post(f"{url}/api/explain", files={"file": (clip.name, clip.read_bytes(), "audio/flac")}, timeout=300)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["emotion"] in labels and set(body["probabilities"]) == set(labels)
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert body["duration"] == pytest.approx(sf.info(clip).duration, abs=1e-3)
    assert body["emotion"] == max(body["probabilities"], key=body["probabilities"].get)
    assert len(body["explanation_text"]) > 20 and len(body["cue_plot"]["pitch"]) >= 3
    health = httpx.get(f"{url}/api/health").json()
    assert health["engine"]["warm_up_seconds"] > 0 and health["counts"]["answered"] >= 1  # warmed up at start-up
    assert not list(uploads.iterdir())


@pytest.mark.skipif(web_browser.missing() is not None, reason=str(web_browser.missing()))
def test_the_page_shows_a_real_answer(server, shared_data, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, labels, _ = server
    driver = web_browser.chrome(tmp_path)
    try:
        driver.get(url)
        WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "limits").text)
        driver.find_element(By.ID, "file").send_keys(str(shared_data / ANGRY))
        driver.find_element(By.ID, "send").click()
        WebDriverWait(driver, 300).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-state") in ("done", "error"))
        assert driver.find_element(By.ID, "status").get_attribute("data-state") == "done", \
            driver.find_element(By.ID, "error").text
        assert driver.find_element(By.ID, "emotion").text.lower() in labels
        shown = [r.get_attribute("data-label") for r in driver.find_elements(By.CSS_SELECTOR, "#probs .prob")]
        assert sorted(shown) == sorted(labels)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#cueplot polyline")) >= 1
        assert len(driver.find_element(By.ID, "explanation").text) > 20
        shot = tmp_path / "web.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("SPOKENEMO_WEB_SCREENSHOT"):
            shutil.copyfile(shot, os.environ["SPOKENEMO_WEB_SCREENSHOT"])
    finally:
        driver.quit()


@pytest.mark.skipif(not Engine.timeline_available(), reason=f"{TIMELINE_MODULE} is not built yet")
def test_the_timeline_of_a_real_recording(server, shared_data, tmp_path):
    import numpy as np

    url, labels, uploads = server
    parts = []
    for clip in (ANGRY, Path("ravdess/Actor_04/03-01-04-02-01-01-04.flac"), ANGRY):
        y, sr = sf.read(shared_data / clip, dtype="float32")
        parts += [y, np.zeros(sr, dtype=np.float32)]
    talk = tmp_path / "talk.wav"
    sf.write(talk, np.concatenate(parts), sr)
    r = httpx.post(f"{url}/api/timeline", files={"file": ("talk.wav", talk.read_bytes(), "audio/wav")}, timeout=600)
    if r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable":
        pytest.skip(f"the timeline has no recogniser here: {r.json()['error']['message']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "timeline" and body["segments"]
    assert all(0 <= s["start"] < s["end"] <= body["duration"] + 0.05 for s in body["segments"])
    assert {s["emotion"] for s in body["segments"]} <= set(labels)
    assert not list(uploads.iterdir())
