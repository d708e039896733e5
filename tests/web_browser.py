"""Headless Chromium for the web tests: Debian's ``chromium`` driven through its ``chromedriver``
with selenium; nothing is downloaded (selenium's driver manager is never asked)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "") if p and Path(p).is_file()),
                None)
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists()
                                                else None)


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    if CHROMIUM is None:
        return "Debian's chromium is not installed (apt-get install chromium chromium-driver)"
    if CHROMEDRIVER is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[web]')"
    return None


def chrome(tmp_path: Path, fake_microphone: Path | None = None):
    """A headless Chromium; ``fake_microphone`` (a WAV) is what the page hears when it records."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 "--window-size=1100,1400", f"--user-data-dir={tmp_path / 'profile'}",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(flag)
    if fake_microphone is not None:
        options.add_argument("--use-fake-ui-for-media-stream")
        options.add_argument("--use-fake-device-for-media-stream")
        options.add_argument(f"--use-file-for-fake-audio-capture={fake_microphone}")
    try:
        return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    except Exception as err:  # a browser that cannot start here: say why instead of failing every test
        pytest.skip(f"headless chromium could not start: {str(err).splitlines()[0]}")
