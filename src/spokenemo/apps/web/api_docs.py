"""``GET /docs``: the OpenAPI description as one plain HTML page, readable without a network.

FastAPI's own docs pages load Swagger UI or ReDoc from a CDN; this page is drawn from
``app.openapi()`` on the server, with no script, so it works offline. The machine-readable
description stays at ``/openapi.json``.
"""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["docs_page"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#222;line-height:1.45}
.op{border:1px solid #ddd;border-radius:8px;padding:.6rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:ui-monospace,monospace}
.get{color:#1a7f37}.post{color:#0b5cad} code,pre{font-family:ui-monospace,monospace;font-size:.88rem}
pre{background:#f6f8fa;padding:.6rem;border-radius:6px;overflow-x:auto} td{padding:.1rem .8rem .1rem 0}
"""

EXAMPLES = {
    ("post", "/api/explain"): "curl -F file=@clip.wav http://HOST/api/explain\n"
                              "curl --data-binary @clip.flac -H 'Content-Type: audio/flac' "
                              "'http://HOST/api/explain?filename=clip.flac'",
    ("post", "/api/timeline"): "curl -F file=@interview.mp3 http://HOST/api/timeline",
    ("get", "/api/health"): "curl http://HOST/api/health",
}


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    esc = html.escape
    parts = [f'<div class="op" id="{esc(method)}-{esc(path.strip("/").replace("/", "-") or "root")}">',
             f'<p><span class="m {esc(method)}">{method.upper()}</span> <code>{esc(path)}</code> '
             f"&mdash; {esc(op.get('summary', ''))}</p>"]
    body = op.get("requestBody", {}).get("content", {})
    if body:
        parts.append("<p>Body: " + ", ".join(f"<code>{esc(kind)}</code>" for kind in body) + "</p>")
    responses = op.get("responses", {})
    if responses:
        rows = "".join(f"<tr><td><code>{esc(str(code))}</code></td><td>{esc(r.get('description', ''))}</td></tr>"
                       for code, r in sorted(responses.items()))
        parts.append(f"<table>{rows}</table>")
    example = EXAMPLES.get((method, path))
    if example:
        parts.append(f"<pre>{esc(example)}</pre>")
    parts.append("</div>")
    return "\n".join(parts)


def docs_page(spec: dict[str, Any]) -> str:
    """The HTML page for an OpenAPI ``spec`` (what ``app.openapi()`` returns)."""
    info = spec.get("info", {})
    ops = [_operation(path, method, op) for path, methods in spec.get("paths", {}).items()
           for method, op in methods.items() if isinstance(op, dict)]
    errors = json.dumps({"error": {"status": 413, "code": "too_large", "message": "...", "hint": "..."}})
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(info.get('title', 'API'))} API</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(info.get('title', 'API'))} API <small>{html.escape(str(info.get('version', '')))}"
            f"</small></h1><p>{html.escape(info.get('description', ''))} The machine-readable description "
            "(OpenAPI 3) is at <a href='/openapi.json'>/openapi.json</a>. Every refusal is JSON with a "
            f"reason:</p><pre>{html.escape(errors)}</pre>" + "\n".join(ops) + "</body></html>\n")
