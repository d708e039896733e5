"""The static explanation page (apps/web/page.py): what it holds, that text in it stays inert, that a
browser draws it, and that ``make demo`` writes its page with it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import soundfile as sf

from spokenemo.apps import demo
from spokenemo.apps.web import ClipResult, write_explanation_page

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
HOSTILE = "<script>document.title='pwned'</script> & <b>bold</b>"


def _tone(freq: float, seconds: float = 0.5, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _clips(tmp_path: Path) -> list[ClipResult]:
    plot = tmp_path / "plot.png"
    mpimg.imsave(plot, np.linspace(0, 1, 40 * 60).reshape(40, 60), cmap="viridis")
    return [
        ClipResult(Path("/data/a/clip-angry.flac"), emotion="angry",
                   probabilities={"angry": 0.7, "happy": 0.1, "neutral": 0.15, "sad": 0.05},
                   cue_text="Pitch: high. Intensity: strong.", explanation="The intensity is strong.",
                   transcript="Kids are talking by the door", true_label="angry", plot=plot, signal=_tone(220)),
        ClipResult(Path("/data/b/clip-odd.wav"), emotion="sad", probabilities={"sad": 0.55, "neutral": 0.45},
                   cue_text="Pitch: low. <i>raw</i>", explanation="Because x < y & y > z.", transcript=HOSTILE,
                   true_label="happy", signal=_tone(330)),
    ]


def test_page_holds_audio_labels_and_probabilities(tmp_path):
    out = tmp_path / "site"
    page = write_explanation_page(_clips(tmp_path), out, title="demo <page>", subtitle="two clips & a test")
    assert page == out / "index.html"
    text = page.read_text(encoding="utf-8")
    audio = re.findall(r'<audio controls preload="none" src="([^"]+)"></audio>', text)
    assert audio == ["audio/000-clip-angry.wav", "audio/001-clip-odd.wav"]
    for rel, freq in zip(audio, (220, 330), strict=True):
        samples, sr = sf.read(out / rel)
        assert sr == 16000 and samples.size == 8000
        assert np.argmax(np.abs(np.fft.rfft(samples))) == freq // 2  # 0.5 s: bins are 2 Hz apart
    # the predicted labels, sorted probabilities, and the verdict against the annotation
    assert '<span class="emo">angry <span class="ok">(annotated: angry)</span></span>' in text
    assert '<span class="emo">sad <span class="bad">(annotated: happy)</span></span>' in text
    assert re.findall(r'<span class="bar">(\w+) ([\d.]+)</span>', text) == [
        ("angry", "0.70"), ("neutral", "0.15"), ("happy", "0.10"), ("sad", "0.05"), ("sad", "0.55"),
        ("neutral", "0.45")]
    # only the clip with a plot shows one, copied beside the page
    assert text.count("<img ") == 1 and (out / "plots" / "000-clip-angry.png").is_file()
    assert "<title>demo &lt;page&gt;</title>" in text and "two clips &amp; a test" in text


def test_page_text_is_escaped(tmp_path):
    text = write_explanation_page(_clips(tmp_path), tmp_path / "site").read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "<b>bold" not in text and "<i>raw" not in text
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in text
    assert "<pre>Pitch: low. &lt;i&gt;raw&lt;/i&gt;</pre>" in text
    assert "Because x &lt; y &amp; y &gt; z." in text


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (/usr/bin/chromium); the "
                                              "page is checked as HTML only")
def test_page_renders_in_a_headless_browser(tmp_path):
    page = write_explanation_page(_clips(tmp_path), tmp_path / "site", subtitle="rendered headless")
    shot = tmp_path / "page.png"
    browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}"]
    done = subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1000,900", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file(), f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    image = mpimg.imread(shot)[..., :3]
    assert image.shape[:2] == (900, 1000)
    # not blank: the heading, text and plot leave dark and coloured pixels on the white page
    assert image.std() > 0.05
    assert (image.mean(axis=2) < 0.5).mean() > 0.002
    # the DOM after the page ran: the transcript's script is text, so the title is still the page's own
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
                         check=False).stdout
    assert "<title>spokenemo: which emotion, and why</title>" in dom and "pwned</title>" not in dom
    assert "<script" not in dom and "&lt;script&gt;" in dom


def test_demo_writes_its_page_with_the_page_writer(tmp_path, monkeypatch):
    calls = []

    def spy(clips, out_dir, **kw):
        calls.append([c.path.name for c in clips])
        return write_explanation_page(clips, out_dir, **kw)

    monkeypatch.setattr(demo, "write_explanation_page", spy)
    page = demo.run(demo.DEFAULT_CLIPS, tmp_path / "demo", model=None, n_explain=0, limit=2)
    assert page == tmp_path / "demo" / "index.html" and len(calls) == 1 and len(calls[0]) == 2
    text = page.read_text(encoding="utf-8")
    assert text.count("<audio controls") == 2 and text.count("<img ") == 2
    assert "(not asked)" in text and "Pitch: " in text
    assert (tmp_path / "demo" / "manifest.jsonl").read_text().count("\n") == 2


def test_page_scores_only_labels_the_model_can_answer(tmp_path):
    four = ("angry", "happy", "neutral", "sad")
    clips = [ClipResult(Path("a.wav"), emotion="angry", probabilities={"angry": 0.9, "sad": 0.1}, true_label="angry",
                        classes=four, supports=["the louder voice (+6.0 dB)"], baseline="4 reference clips"),
             ClipResult(Path("b.wav"), emotion="sad", probabilities={"angry": 0.2, "sad": 0.8}, true_label="happy",
                        classes=four, note="uncertain between sad and neutral"),
             ClipResult(Path("c.wav"), emotion="angry", probabilities={"angry": 0.6, "sad": 0.4}, true_label="calm",
                        classes=four)]
    assert [c.scored for c in clips] == [True, True, False] and [c.correct for c in clips] == [True, False, False]
    text = write_explanation_page(clips, tmp_path).read_text(encoding="utf-8")
    assert "<b>1 of 2 clips right</b> (50 %); 1 with a label outside the model&#x27;s classes (not scored)" in text
    assert "outside the model's classes: not scored" in text and 'class="bad"' in text
    assert "supports: the louder voice (+6.0 dB)" in text and "uncertain between sad and neutral" in text


@pytest.mark.slow
def test_demo_with_the_shipped_recogniser(tmp_path):
    pytest.importorskip("faster_whisper", reason="the recogniser's encoder needs the 'encoders' extra")
    from spokenemo.api.recogniser import default_recogniser_path

    page = demo.run(demo.DEFAULT_CLIPS, tmp_path / "demo", model=default_recogniser_path(), n_explain=0, limit=4)
    text = page.read_text(encoding="utf-8")
    assert "clips right</b>" in text and "supports: " in text and "against 4 reference clips" in text.lower()
    assert str(demo.REPO_ROOT) not in text and "/work/" not in text  # no machine paths on the page
