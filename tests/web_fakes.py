"""Helpers of the web service tests: a stand-in for the model, a timeline module, a server in a thread."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn

import spokenemo.api as se
from spokenemo.apps.web.engine import Engine
from spokenemo.apps.web.server import create_app
from spokenemo.apps.web.settings import ServeSettings
from spokenemo.systems.aecotd.answer import Explanation

CLIP = Path(__file__).parent / "data" / "ravdess" / "Actor_01" / "03-01-01-01-01-01-01.flac"
PROBABILITIES = {"angry": 0.2, "happy": 0.6, "neutral": 0.15, "sad": 0.05}


class FakeEngine(Engine):
    """The real engine (limits, speech check, JSON) around a stand-in for the model's answer.

    ``delay`` seconds pass inside each analysis (to test workers); ``fail`` raises a bug.
    """

    def __init__(self, settings: ServeSettings, delay: float = 0.0, fail: bool = False) -> None:
        super().__init__(settings, model=object())
        self.delay, self.fail = delay, fail
        self.calls: list[str] = []

    def explain(self, path: Path, name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append(name)
        if self.fail:
            raise RuntimeError("a bug in the model")
        time.sleep(self.delay)
        return super().explain(path, name, options)


def fake_explain(file: Any, model: Any = None, asr: str = "auto", **_: Any) -> Explanation:
    """The real speech check, then a fixed answer (what :func:`spokenemo.api.explain` returns); the
    transcript's source is the ``asr`` asked for."""
    speech = se.check_speech(file)
    if not speech.is_speech:
        return Explanation.without_speech(speech)
    cues = {"pitch": np.float64(210.5), "intensity": -21.0, "pitch_seg_3": [190.0, 230.0, float("nan")],
            "intensity_seg_3": np.array([-20.0, -18.5, -25.0])}
    return Explanation(emotion="happy", probabilities=dict(PROBABILITIES), transcript="kids are talking by the door",
                       transcript_source=asr, cues=cues, cue_text="Pitch: high. <b>Intensity</b>: strong.",
                       explanation="The pitch is high <script>x</script> and rising.", speech=speech)


@dataclass
class FakeTimeline:
    """What a timeline function returns, as far as the service reads it."""

    segments: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"segments": self.segments, "speakers": sorted({s["speaker"] for s in self.segments})}


CALLS: list[dict[str, Any]] = []


def timeline(path: Any, *, speakers: int | None = None, recogniser: Any = None) -> FakeTimeline:
    """A stand-in for ``spokenemo.api.timeline.timeline``: two speakers over the file's length."""
    CALLS.append({"speakers": speakers, "recogniser": recogniser})
    duration = se.audio_info(path).duration
    cut = duration / 2
    return FakeTimeline([
        {"start": 0.0, "end": cut, "speaker": "S1", "label": "angry", "probabilities": {"angry": 0.8, "sad": 0.2},
         "explanation": "loud and fast"},
        {"start": cut, "end": duration, "speaker": "S2", "label": "sad", "probabilities": {"angry": 0.1, "sad": 0.9},
         "explanation": "low and slow"}])


def make_app(tmp_path: Path, delay: float = 0.0, fail: bool = False, **limits: Any) -> Any:
    settings = ServeSettings(tmp_dir=tmp_path / "uploads", warm_up=False, **limits)
    return create_app(settings, engine=FakeEngine(settings, delay=delay, fail=fail))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app: Any):
    """Serve ``app`` with uvicorn on a free local port in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
