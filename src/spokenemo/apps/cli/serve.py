"""``spokenemo serve``: the web page and JSON API (:mod:`spokenemo.apps.web.server`) under uvicorn.

FastAPI and uvicorn (the ``web`` extra) are imported when the command runs, so ``spokenemo
--help`` stays fast and works without them.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import click

from spokenemo.apps.web.settings import ServeSettings
from spokenemo.core.lazy import optional_import


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--max-upload-mb", default=50.0, show_default=True, type=float, help="Largest upload (MB).")
@click.option("--max-seconds", default=60.0, show_default=True, type=float,
              help="Longest clip /api/explain analyses (longer: use the timeline).")
@click.option("--max-timeline-seconds", default=3600.0, show_default=True, type=float,
              help="Longest recording /api/timeline analyses.")
@click.option("--workers", default=2, show_default=True, type=int,
              help="Uploads analysed at once (threads sharing one loaded model).")
@click.option("--max-waiting", default=8, show_default=True, type=int,
              help="Uploads allowed to wait for a worker; more are answered 503.")
@click.option("--model", type=click.Path(file_okay=False, path_type=Path),
              help="Model folder: a recogniser, or a student with --student (default: the shipped one).")
@click.option("--max-new-tokens", type=int, help="Longest explanation (tokens) the student writes (--student).")
@click.option("--asr", type=click.Choice(["auto", "pocketsphinx", "faster-whisper", "none"]),
              help="Transcription of uploads (none: faster, the explanation goes without words).")
@click.option("--student", is_flag=True, help="Answer clips with the AECoTD student (spokenemo.api.explain) instead "
                                             "of the recogniser.")
@click.option("--no-warm-up", is_flag=True, help="Skip the model's first run at start-up.")
def serve_command(host: str, port: int, max_upload_mb: float, max_seconds: float, max_timeline_seconds: float,
                  workers: int, max_waiting: int, model: Path | None, max_new_tokens: int | None, asr: str | None,
                  student: bool, no_warm_up: bool) -> None:
    """Serve the page (upload or record, see the emotion and why) and the JSON API.

    \b
    spokenemo serve                       http://127.0.0.1:8000  (API described at /docs)
    spokenemo serve --host 0.0.0.0 --port 8080 --workers 2
    curl -F file=@clip.wav http://127.0.0.1:8000/api/explain

    The model is loaded once at start-up; the service runs offline.
    """
    options = {k: v for k, v in {"max_new_tokens": max_new_tokens, "asr": asr}.items() if v is not None}
    settings = ServeSettings(host=host, port=port, max_upload_mb=max_upload_mb, max_seconds=max_seconds,
                             max_timeline_seconds=max_timeline_seconds, workers=workers, max_waiting=max_waiting,
                             model=model, student=student, warm_up=not no_warm_up, explain_options=options)
    uvicorn = optional_import("uvicorn", extra="web", purpose="spokenemo serve")
    optional_import("fastapi", extra="web", purpose="spokenemo serve")
    server = importlib.import_module("spokenemo.apps.web.server")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    click.echo(f"loading the model; then serving on http://{host}:{port} (API at /docs)")
    uvicorn.run(server.create_app(settings), host=host, port=port, log_level="info")


COMMANDS = [serve_command]
