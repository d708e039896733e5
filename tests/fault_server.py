"""A small OpenAI-compatible chat server on 127.0.0.1 that injects faults, for backend tests.

Each ``POST /v1/chat/completions`` takes the next action from a script (``push``); with the script
empty it answers normally. Actions:

- ``ok()``: 200 with ``responder(request) -> content`` (default ``"Emotion: neutral"``);
- ``status(code, retry_after=None, message=...)``: an error status with an OpenAI error body;
- ``slow(seconds)``: wait, then answer normally (a client with a shorter timeout gives up);
- ``malformed()``: 200 whose body is not JSON;
- ``truncated_json()``: 200 with a complete HTTP body holding half a JSON document;
- ``cut_connection()``: 200 that promises more bytes than it sends, then closes the connection;
- ``reasoning(content, reasoning_content)``: a DeepSeek-reasoner style answer.

``delay`` slows every answer (for kill-mid-run tests); ``requests`` records what arrived
(``path``, ``headers``, ``json``); ``max_in_flight`` is the most requests handled at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Action:
    kind: str
    args: dict[str, Any] = field(default_factory=dict)


def ok() -> Action:
    return Action("ok")


def status(code: int, retry_after: str | None = None, message: str = "injected failure") -> Action:
    return Action("status", {"code": code, "retry_after": retry_after, "message": message})


def slow(seconds: float) -> Action:
    return Action("slow", {"seconds": seconds})


def malformed() -> Action:
    return Action("malformed")


def truncated_json() -> Action:
    return Action("truncated_json")


def cut_connection() -> Action:
    return Action("cut_connection")


def reasoning(content: str, reasoning_content: str) -> Action:
    return Action("reasoning", {"content": content, "reasoning_content": reasoning_content})


def completion(content: str, model: str = "fault-model", reasoning_content: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning_content is not None:
        message["reasoning_content"] = reasoning_content
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": len(content.split()), "total_tokens": 11}}


class FaultServer:
    """Start with ``with FaultServer() as server:``; ``server.base_url`` ends in ``/v1``."""

    def __init__(self, responder: Callable[[dict[str, Any]], str] | None = None, delay: float = 0.0,
                 model: str = "fault-model") -> None:
        self.responder = responder or (lambda request: "Emotion: neutral")
        self.delay = delay
        self.model = model
        self.script: deque[Action] = deque()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def push(self, *actions: Action) -> FaultServer:
        self.script.extend(actions)
        return self

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_action(self) -> Action:
        with self._lock:
            return self.script.popleft() if self.script else ok()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None,
                      length: int | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if length is None else length))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests.append({"path": self.path, "headers": dict(self.headers), "json": None})
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": [{"id": server.model}]}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    payload = json.loads(self.rfile.read(length) or b"null")
                except ValueError:
                    payload = None
                server.requests.append({"path": self.path, "headers": dict(self.headers), "json": payload})
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "unknown path"}}')
                    return
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, payload: Any) -> None:
                action = server._next_action()
                if server.delay:
                    time.sleep(server.delay)
                if action.kind == "slow":
                    time.sleep(action.args["seconds"])
                    action = ok()
                if action.kind == "ok":
                    body = completion(server.responder(payload), server.model)
                    self._send(200, json.dumps(body).encode())
                elif action.kind == "reasoning":
                    body = completion(action.args["content"], server.model, action.args["reasoning_content"])
                    self._send(200, json.dumps(body).encode())
                elif action.kind == "status":
                    headers = {"Retry-After": action.args["retry_after"]} if action.args["retry_after"] else {}
                    body = {"error": {"message": action.args["message"], "type": "test"}}
                    self._send(action.args["code"], json.dumps(body).encode(), headers)
                elif action.kind == "malformed":
                    self._send(200, b"<html>Bad gateway page, not JSON</html>")
                elif action.kind == "truncated_json":
                    text = json.dumps(completion("Emotion: neutral", server.model)).encode()
                    self._send(200, text[: len(text) // 2])
                elif action.kind == "cut_connection":
                    text = json.dumps(completion("Emotion: neutral", server.model)).encode()
                    self._send(200, text[: len(text) // 2], length=len(text))
                    self.close_connection = True
                else:
                    raise ValueError(f"unknown action {action.kind}")

        return Handler
