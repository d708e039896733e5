"""``spokenemo serve``: the web service. :func:`create_app` builds the FastAPI application.

Endpoints::

    GET  /               the page: upload a file or record from the microphone, see the answer
    POST /api/explain    one clip (multipart field "file", or the raw bytes) -> emotion, why
    POST /api/timeline   a long recording -> emotion over time, segment by segment
    GET  /api/health     status, model, limits, counts
    GET  /docs           the API described offline (from /openapi.json, no CDN)

The model is loaded once, at start-up. Uploads are streamed to a temporary folder within the
size limit and analysed in a pool of ``workers`` threads, so the event loop keeps answering
(health, the page, refusals) while clips are analysed, and several clips run at once. Every
refusal is a 4xx JSON body with a reason (:class:`~spokenemo.apps.web.errors.ApiError`); the
uploaded file is deleted when its request ends, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from spokenemo.apps.web.api_docs import docs_page
from spokenemo.apps.web.app_page import PAGE
from spokenemo.apps.web.engine import Engine, timeline_unavailable
from spokenemo.apps.web.errors import ApiError
from spokenemo.apps.web.settings import ServeSettings
from spokenemo.apps.web.uploads import DISCONNECTED, receive_upload

__all__ = ["create_app"]

log = logging.getLogger("spokenemo.serve")
#: Transcription choices a request may pick with ``?asr=`` (those of ``spokenemo explain --asr``).
ASR_CHOICES = ("auto", "pocketsphinx", "faster-whisper", "none")
#: Most speakers a request may ask the timeline to find.
MAX_SPEAKERS = 10


def _version() -> str:
    try:
        return version("spokenemo")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "0"


class Workers:
    """The thread pool and its queue: at most ``workers`` analyses at once, ``max_waiting`` queued."""

    def __init__(self, settings: ServeSettings) -> None:
        self.size = settings.workers
        self.room = settings.workers + settings.max_waiting
        self.pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="spokenemo-serve")
        self.in_flight = 0

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.in_flight >= self.room:
            raise ApiError(503, "busy", f"{self.in_flight} requests are being analysed or waiting",
                           hint="try again in a few seconds")
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)
        finally:
            self.in_flight -= 1


def _upload_openapi(summary: str, query: bool = False, speakers: bool = False) -> dict[str, Any]:
    """The request body (and the query options) of an upload endpoint, for /openapi.json."""
    params = [{"name": "filename", "in": "query", "required": False, "schema": {"type": "string"},
               "description": "the file's name when the body is the raw bytes"}]
    if query:
        params.append({"name": "asr", "in": "query", "required": False, "schema": {"enum": list(ASR_CHOICES)},
                       "description": "transcription for this clip (none: fastest, no transcript)"})
    if speakers:
        params.append({"name": "speakers", "in": "query", "required": False,
                       "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SPEAKERS},
                       "description": "how many speakers to find (absent: estimated)"})
    binary = {"schema": {"type": "string", "format": "binary"}}
    form = {"schema": {"type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "format": "binary",
                                               "description": f"the audio or video file ({summary})"}}}}
    return {"parameters": params, "requestBody": {"required": True, "content": {"multipart/form-data": form, "audio/*": binary,
                                                          "application/octet-stream": binary}}}


ERRORS = {400: {"description": "empty upload, or no form field 'file'"},
          413: {"description": "upload over --max-upload-mb, or audio longer than the limit"},
          415: {"description": "not an audio or video format"},
          422: {"description": "corrupt audio, or no speech found"},
          503: {"description": "busy: too many requests waiting"}}


def _lifespan(settings: ServeSettings, engine: Engine | None) -> Callable[[FastAPI], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_tmp = settings.tmp_dir is None
        tmp = Path(tempfile.mkdtemp(prefix="spokenemo-serve-")) if own_tmp else Path(settings.tmp_dir)
        tmp.mkdir(parents=True, exist_ok=True)
        ready = engine
        if ready is None:
            ready = await asyncio.to_thread(Engine, settings)
            log.info("model loaded in %.1f s", ready.load_seconds)
            if settings.warm_up:
                log.info("warm-up took %.1f s", await asyncio.to_thread(ready.warm_up))
        app.state.engine, app.state.tmp, app.state.workers = ready, tmp, Workers(settings)
        try:
            yield
        finally:
            app.state.workers.pool.shutdown(wait=False, cancel_futures=True)
            if own_tmp:
                shutil.rmtree(tmp, ignore_errors=True)
    return lifespan


def _request_options(request: Request) -> dict[str, Any]:
    """Per-request explain options from the query: ``asr`` (400 for a value not in :data:`ASR_CHOICES`)."""
    asr = request.query_params.get("asr")
    if asr is None:
        return {}
    if asr not in ASR_CHOICES:
        raise ApiError(400, "bad_option", f"asr={asr!r} is not one of {', '.join(ASR_CHOICES)}",
                       hint="asr=none answers fastest (no transcript)")
    return {"asr": asr}


def _timeline_options(request: Request) -> dict[str, Any]:
    """``?speakers=N`` (1 to :data:`MAX_SPEAKERS`; absent: estimated) for the timeline."""
    speakers = request.query_params.get("speakers")
    if speakers is None or speakers == "":
        return {}
    if not speakers.isdigit() or not 1 <= int(speakers) <= MAX_SPEAKERS:
        raise ApiError(400, "bad_option", f"speakers={speakers!r} is not a number from 1 to {MAX_SPEAKERS}",
                       hint="leave it out to have the number of speakers estimated")
    return {"speakers": int(speakers)}


async def _analyse(request: Request, method: str, *extra: Any) -> JSONResponse:
    """Receive the upload, run ``engine.<method>`` on it in a worker, delete it, answer JSON."""
    app = request.app
    settings: ServeSettings = app.state.settings
    started = time.perf_counter()
    upload = await receive_upload(request, app.state.tmp, settings.max_upload_bytes)
    try:
        body = await app.state.workers.run(getattr(app.state.engine, method), upload.path, upload.filename, *extra)
    finally:
        upload.path.unlink(missing_ok=True)
    body["elapsed_seconds"] = round(time.perf_counter() - started, 3)
    app.state.counts["answered"] += 1
    log.info("%s %s (%d bytes): %s in %.2f s", method, upload.filename, upload.size,
             body.get("verdict", body.get("kind")), body["elapsed_seconds"])
    return JSONResponse(body)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def refused(request: Request, err: ApiError) -> JSONResponse:
        app.state.counts["disconnected" if err.status == DISCONNECTED else "refused"] += 1
        log.info("%s %s: %d %s", request.method, request.url.path, err.status, err.message)
        return JSONResponse(err.to_json(), status_code=err.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "http_error")
        body = ApiError(err.status_code, code, f"{request.method} {request.url.path}: {err.detail}",
                        hint="see /docs for the endpoints").to_json()
        return JSONResponse(body, status_code=err.status_code)

    @app.exception_handler(Exception)
    async def failed(request: Request, err: Exception) -> JSONResponse:
        app.state.counts["failed"] += 1
        log.exception("%s %s failed", request.method, request.url.path)
        body = ApiError(500, "internal_error", f"{type(err).__name__}: {err}",
                        hint="this is a bug in the service; the server keeps running").to_json()
        return JSONResponse(body, status_code=500)


def _routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse, summary="The page: upload or record, see the emotion and why")
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/docs", response_class=HTMLResponse, summary="This API, described offline")
    async def docs() -> HTMLResponse:
        return HTMLResponse(docs_page(app.openapi()))

    @app.get("/api/health", summary="Status, model, limits and request counts")
    async def health(request: Request) -> dict[str, Any]:
        state = request.app.state
        return {"status": "ok", "version": _version(), "engine": state.engine.describe(),
                "limits": state.settings.limits(), "in_flight": state.workers.in_flight,
                "counts": dict(state.counts)}

    @app.post("/api/explain", summary="One clip: which emotion, how sure, from which cues, and why",
              openapi_extra=_upload_openapi("a clip up to --max-seconds", query=True), responses=ERRORS)
    async def explain(request: Request) -> JSONResponse:
        return await _analyse(request, "explain", _request_options(request))

    @app.post("/api/timeline", summary="A long recording: emotion over time, segment by segment",
              openapi_extra=_upload_openapi("a recording up to --max-timeline-seconds", speakers=True),
              responses={**ERRORS, 501: {"description": "the timeline is not installed"}})
    async def timeline(request: Request) -> JSONResponse:
        if not request.app.state.engine.timeline_available():
            raise timeline_unavailable()  # before the upload is read
        return await _analyse(request, "timeline", _timeline_options(request))


def create_app(settings: ServeSettings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The web service.

    Parameters
    ----------
    settings : limits, workers, model folder (default :class:`ServeSettings`).
    engine : a ready engine (tests pass one with a small model); None loads the model at start-up.
    """
    settings = settings or ServeSettings()
    app = FastAPI(title="spokenemo", version=_version(), docs_url=None, redoc_url=None,
                  description="Which emotion is expressed in speech, and why.",
                  lifespan=_lifespan(settings, engine))
    app.state.settings = settings
    app.state.counts = Counter()
    _handlers(app)
    _routes(app)
    return app
