"""The page of ``spokenemo serve`` in a real browser (headless Chromium through chromedriver):
upload a clip, record one from a (fake) microphone, see the answer, the errors and the timeline.

Here the model's answer is a stand-in (:mod:`web_fakes`), so these run in seconds; the upload,
decoding, speech check and the whole page are real. ``test_web_model.py`` drives the same page with
the real model on a RAVDESS clip and takes the screenshot of ``docs/web.md``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

import web_browser

pytestmark = pytest.mark.skipif(web_browser.missing() is not None, reason=str(web_browser.missing()))

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import spokenemo.api as se  # noqa: E402
from spokenemo.apps.web import engine as engine_module  # noqa: E402
from web_fakes import CLIP, PROBABILITIES, fake_explain, make_app, running  # noqa: E402


@pytest.fixture(autouse=True)
def _fake_model(monkeypatch):
    monkeypatch.setattr(se, "explain_clip", fake_explain, raising=False)  # what answers a clip
    monkeypatch.setattr(engine_module, "TIMELINE_MODULE", "web_fakes")  # its timeline() stands in


@pytest.fixture
def browser(tmp_path):
    driver = web_browser.chrome(tmp_path)
    yield driver
    driver.quit()


def upload(driver, url, path, mode="auto"):
    driver.get(url)
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "limits").text)  # health answered
    driver.find_element(By.ID, "mode").send_keys(mode)
    driver.find_element(By.ID, "file").send_keys(str(path))
    driver.find_element(By.ID, "send").click()
    WebDriverWait(driver, 120).until(
        lambda d: d.find_element(By.ID, "status").get_attribute("data-state") in ("done", "error"))
    return driver.find_element(By.ID, "status").get_attribute("data-state")


def test_upload_shows_emotion_bars_cue_plot_and_explanation(browser, tmp_path):
    with running(make_app(tmp_path)) as url:
        assert upload(browser, url, CLIP) == "done", browser.find_element(By.ID, "error").text
        find = browser.find_element
        assert find(By.ID, "emotion").text.lower() == "happy"
        assert not find(By.ID, "result").get_attribute("hidden") and not find(By.ID, "error").is_displayed()
        rows = browser.find_elements(By.CSS_SELECTOR, "#probs .prob")
        assert [r.get_attribute("data-label") for r in rows] == ["happy", "angry", "neutral", "sad"]
        assert [r.find_element(By.CLASS_NAME, "pv").text for r in rows] == ["0.60", "0.20", "0.15", "0.05"]
        track = rows[0].find_element(By.CLASS_NAME, "track").size["width"]
        widths = [r.find_element(By.CLASS_NAME, "fill").size["width"] / track for r in rows]
        assert widths == pytest.approx([PROBABILITIES[k] for k in ("happy", "angry", "neutral", "sad")], abs=0.02)
        # the cue plot: a pitch line through the two measured segments, an intensity line through three
        lines = browser.find_elements(By.CSS_SELECTOR, "#cueplot polyline")
        assert [len(x.get_attribute("points").split()) for x in lines] == [2, 3]
        # server text is shown as text: the tags in the explanation are not elements
        assert find(By.ID, "explanation").text == "The pitch is high <script>x</script> and rising."
        assert browser.find_elements(By.CSS_SELECTOR, "#explanation script") == []
        assert find(By.ID, "transcript").text == "kids are talking by the door"
        assert browser.execute_script("return document.getElementById('player').src").startswith("blob:")


def test_refusals_are_shown_with_reason_and_fix(browser, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio")
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(32000, dtype=np.float32), 16000)
    with running(make_app(tmp_path)) as url:
        assert upload(browser, url, notes) == "error"
        error = browser.find_element(By.ID, "error")
        assert error.is_displayed() and "notes.txt: not an audio or video format" in error.text
        assert "What to do: send WAV, FLAC" in error.text
        assert upload(browser, url, quiet) == "error"
        assert "quiet.wav: no speech found (silent)" in browser.find_element(By.ID, "error-message").text
        assert browser.find_element(By.ID, "result").get_attribute("hidden")


def test_timeline_cursor_follows_playback(browser, tmp_path):
    with running(make_app(tmp_path)) as url:
        assert upload(browser, url, CLIP, mode="timeline") == "done", browser.find_element(By.ID, "error").text
        rects = browser.find_elements(By.CSS_SELECTOR, "#tl-svg rect.seg")
        assert len(rects) == 2 and [r.get_attribute("fill") for r in rects] == ["#d1495b", "#3d5a80"]
        assert len(browser.find_elements(By.CSS_SELECTOR, "#tl-rows tr")) == 2
        assert "2 segments, 2 speaker(s)" in browser.find_element(By.ID, "tl-summary").text
        player = "document.getElementById('tl-player')"
        WebDriverWait(browser, 20).until(lambda d: d.execute_script(f"return {player}.readyState") >= 1)
        browser.execute_script(f"{player}.currentTime = 2.5")  # the second half: S2, sad
        WebDriverWait(browser, 10).until(lambda d: "S2 sad" in d.find_element(By.ID, "tl-now").text)
        cursor = browser.find_element(By.ID, "tl-cursor")
        x_late = float(cursor.get_attribute("x1"))
        assert browser.find_element(By.CSS_SELECTOR, "#tl-rows tr.now").get_attribute("data-i") == "1"
        browser.execute_script(f"{player}.currentTime = 0; {player}.play()")
        WebDriverWait(browser, 20).until(lambda d: float(d.find_element(By.ID, "tl-cursor").get_attribute("data-t")
                                                         or 0) > 0.3)
        x_playing = float(cursor.get_attribute("x1"))
        assert 70 < x_playing < x_late  # moved from the start along the recording, before the seek's place
        assert "S1 angry" in browser.find_element(By.ID, "tl-now").text


def test_recording_from_the_microphone(tmp_path):
    speech, sr = sf.read(CLIP, dtype="float32")
    mic = tmp_path / "mic.wav"
    sf.write(mic, np.concatenate([speech, np.zeros(sr // 2, dtype=np.float32)]), sr, subtype="PCM_16")
    driver = web_browser.chrome(tmp_path, fake_microphone=mic)
    try:
        with running(make_app(tmp_path)) as url:
            driver.get(url)
            WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "limits").text)
            driver.find_element(By.ID, "record").click()
            WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "record").text == "Stop")
            assert driver.find_element(By.ID, "status").get_attribute("data-state") == "recording"
            time.sleep(3.5)  # the fake microphone plays the clip
            driver.find_element(By.ID, "record").click()
            WebDriverWait(driver, 120).until(
                lambda d: d.find_element(By.ID, "status").get_attribute("data-state") in ("done", "error"))
            state = driver.find_element(By.ID, "status").get_attribute("data-state")
            assert state == "done", driver.find_element(By.ID, "error").text
            assert driver.find_element(By.ID, "status").text.startswith("recording.webm: answered in")
            assert driver.find_element(By.ID, "emotion").text.lower() == "happy"
    finally:
        driver.quit()
