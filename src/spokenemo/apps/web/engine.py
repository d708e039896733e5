"""The work behind the web service: one loaded model, one clip or one long recording at a time.

:class:`Engine` loads the model once (:func:`load_model`) and answers with JSON-ready dicts.
It runs in the server's worker threads, so it blocks; every refusal is an
:class:`~spokenemo.apps.web.errors.ApiError` with a 4xx status and the reason. The timeline
module is imported when a timeline is asked for, so the service runs (and says 501 for the
timeline) where it is not installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from spokenemo.apps.web.errors import ApiError
from spokenemo.apps.web.jsonable import clip_view, jsonable, page_segments
from spokenemo.apps.web.settings import ServeSettings
from spokenemo.audio import audio_info, load_audio
from spokenemo.core.errors import AudioError, EmptyAudioError, MissingDependencyError, ModelNotFoundError

__all__ = ["Engine", "explain_function", "load_model", "model_keyword", "timeline_unavailable"]

log = logging.getLogger("spokenemo.serve")
TIMELINE_MODULE = "spokenemo.api.timeline"
RECOGNISER_MODULE = "spokenemo.api.recogniser"


def _api() -> Any:
    return importlib.import_module("spokenemo.api")


def explain_function(student: bool = False) -> Callable[..., Any]:
    """What answers one clip: :func:`spokenemo.api.explain_clip` (the recogniser), or
    :func:`spokenemo.api.explain` when ``student`` is asked for or the API has no ``explain_clip``."""
    se = _api()
    clip = getattr(se, "explain_clip", None)
    return se.explain if student or clip is None else clip


def model_keyword(fn: Callable[..., Any]) -> str:
    """The keyword under which ``fn`` (``spokenemo.api.explain``) takes a loaded model."""
    return "recogniser" if "recogniser" in inspect.signature(fn).parameters else "model"


def load_model(folder: Path | None, student: bool = False) -> Any:
    """The model :func:`explain_function` answers with, loaded once.

    The recogniser when that function takes one (it has a ``recogniser`` argument), else the student.
    """
    se = _api()
    if model_keyword(explain_function(student)) == "recogniser":
        loader = getattr(se, "load_recogniser", None) or importlib.import_module(RECOGNISER_MODULE).load_recogniser
        return loader(folder) if folder is not None else loader()
    return se.load_student(folder)


def _accepted(fn: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """The options ``fn`` takes (others are dropped, so settings survive a change of signature)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params}


def _unreadable(err: AudioError, path: Path, name: str) -> ApiError:
    """422 for a file the audio layer cannot read; the reason names the upload, not the temporary file."""
    reason = str(err).replace(str(path), name)
    if isinstance(err, EmptyAudioError):
        return ApiError(422, "empty_audio", f"{name}: the file holds no audio samples", hint="record again",
                        detail={"reason": reason})
    return ApiError(422, "corrupt", f"{name}: the file could not be decoded as audio",
                    hint="check that the file is complete and plays in a media player", detail={"reason": reason})


def _no_model(err: Exception) -> ApiError:
    return ApiError(503, "model_unavailable", f"the server has no model for this: {err}",
                    hint=getattr(err, "hint", None) or "ask whoever runs the server")


def timeline_unavailable() -> ApiError:
    """501: this installation has no timeline module."""
    return ApiError(501, "timeline_unavailable", f"the timeline is not part of this installation ({TIMELINE_MODULE} "
                    "is missing)", hint="send clips to /api/explain, or update spokenemo")


class Engine:
    """One loaded model and the limits of :class:`ServeSettings`.

    Parameters
    ----------
    settings : the limits and options.
    model : a loaded model (None: :func:`load_model` of ``settings.model``, now).
    """

    def __init__(self, settings: ServeSettings, model: Any = None) -> None:
        self.settings = settings
        started = time.perf_counter()
        self.model = model if model is not None else load_model(settings.model, settings.student)
        self.load_seconds = time.perf_counter() - started
        self.warm_up_seconds: float | None = None

    def describe(self) -> dict[str, Any]:
        return {"model": type(self.model).__name__, "folder": str(self.settings.model or "default"),
                "answer": getattr(explain_function(self.settings.student), "__name__", "explain"),
                "labels": jsonable(getattr(self.model, "labels", None)),
                "load_seconds": round(self.load_seconds, 2), "timeline": self.timeline_available(),
                "warm_up_seconds": None if self.warm_up_seconds is None else round(self.warm_up_seconds, 2)}

    @staticmethod
    def timeline_available() -> bool:
        return importlib.util.find_spec(TIMELINE_MODULE) is not None

    def duration(self, path: Path, name: str, limit: float, what: str) -> float:
        """Seconds of audio in ``path``; 422 when it cannot be read, 413 when longer than ``limit``."""
        try:
            seconds = audio_info(path).duration
            if not seconds or seconds <= 0:  # streams without a duration in the header (MediaRecorder WebM)
                seconds = load_audio(path, end=limit + 1.0).size / 16000
        except AudioError as err:
            raise _unreadable(err, path, name) from None
        if seconds <= 0:
            raise ApiError(422, "empty_audio", f"{name}: the file holds no audio samples", hint="record again")
        if seconds > limit:
            raise ApiError(413, "too_long", f"{name}: {seconds:.1f} s is longer than the {limit:g} s limit of {what}",
                           hint="use /api/timeline for long recordings" if what == "/api/explain" else
                           "cut the recording, or start the server with a larger limit",
                           detail={"duration": round(seconds, 3), "limit": limit})
        return seconds

    def _explain(self, path: Path, **extra: Any) -> Any:
        fn = explain_function(self.settings.student)
        options = _accepted(fn, {**self.settings.explain_options, **extra})
        return fn(path, **{model_keyword(fn): self.model}, **options)

    def explain(self, path: Path, name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """The answer for one clip: emotion, probabilities, cues, explanation; 422 when no speech.

        ``options`` (e.g. ``{"asr": "none"}``, from the request) override the settings' explain options.
        """
        duration = self.duration(path, name, self.settings.max_seconds, "/api/explain")
        started = time.perf_counter()
        try:
            result = self._explain(path, **(options or {}))
        except AudioError as err:
            raise _unreadable(err, path, name) from None
        except (ModelNotFoundError, MissingDependencyError) as err:
            raise _no_model(err) from None
        raw = jsonable(result)
        view = clip_view(raw, result)
        if view["emotion"] is None:
            reason = raw.get("no_speech_reason") or "no speech"
            raise ApiError(422, "no_speech", f"{name}: no speech found ({reason})",
                           hint="record a voice speaking; silence, noise and tones are not analysed",
                           detail={"reason": reason, "speech": raw.get("speech")})
        body = {**raw, **view, "kind": "clip", "filename": name, "duration": round(duration, 3),
                "analysis_seconds": round(time.perf_counter() - started, 3)}
        return body

    def timeline(self, path: Path, name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Emotion over time in a long recording (501 while the timeline module is not installed).

        ``options`` (e.g. ``{"speakers": 2}``, from the request) override the settings' timeline options.
        """
        try:
            module = importlib.import_module(TIMELINE_MODULE)
        except ModuleNotFoundError as err:
            if err.name != TIMELINE_MODULE:
                raise
            raise timeline_unavailable() from None
        duration = self.duration(path, name, self.settings.max_timeline_seconds, "/api/timeline")
        chosen = _accepted(module.timeline, {**self.settings.timeline_options, **(options or {})})
        if "recogniser" in inspect.signature(module.timeline).parameters and hasattr(self.model, "predict_proba"):
            chosen.setdefault("recogniser", self.model)
        started = time.perf_counter()
        try:
            result = module.timeline(path, **chosen)
        except AudioError as err:
            if isinstance(err, getattr(module, "NoSpeechError", ())):
                raise ApiError(422, "no_speech", f"{name}: no speech found in {duration:.1f} s",
                               hint="send a recording with a voice speaking",
                               detail={"duration": round(duration, 3)}) from None
            raise _unreadable(err, path, name) from None
        except (ModelNotFoundError, MissingDependencyError) as err:
            raise _no_model(err) from None
        raw = jsonable(result)
        segments = page_segments(raw)
        if not segments:
            raise ApiError(422, "no_speech", f"{name}: no speech found in {duration:.1f} s",
                           hint="send a recording with a voice speaking", detail={"duration": round(duration, 3)})
        return {"kind": "timeline", "filename": name, "duration": round(duration, 3), "segments": segments,
                "timeline": raw, "analysis_seconds": round(time.perf_counter() - started, 3)}

    def warm_up(self) -> float:
        """Run the model once on a synthetic voiced clip (speech check off); return the seconds taken."""
        sr = 16000
        t = np.arange(int(1.5 * sr)) / sr
        voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6))
        y = (0.2 * voice * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) / 2.3).astype(np.float32)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="spokenemo-warm-") as folder:
            clip = Path(folder) / "warm.wav"
            sf.write(clip, y, sr)
            try:
                self._explain(clip, min_speech_seconds=0)
            except Exception as err:  # a failed warm-up only costs the first request its speed
                log.warning("warm-up failed: %s: %s", type(err).__name__, err)
        self.warm_up_seconds = time.perf_counter() - started
        return self.warm_up_seconds
