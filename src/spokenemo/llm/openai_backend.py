"""OpenAI-compatible chat over HTTP: DeepSeek, vLLM, llama.cpp's server, Ollama, OpenAI.

- The API key is read from an environment variable (``OPENAI_API_KEY`` by default,
  ``DEEPSEEK_API_KEY`` for a deepseek.com URL, any name via ``api_key_env``). It is sent only in the
  ``Authorization`` header: never logged, never in an error message or ``repr``.
- Batches run concurrently (asyncio + one ``httpx.AsyncClient`` + a semaphore of ``concurrency``).
- 429, 5xx, timeouts and connection errors are retried with exponential backoff and jitter; a
  ``Retry-After`` header (seconds or an HTTP date) is honoured, capped at ``retry_max_s``.
- 401/403 raise :class:`~spokenemo.core.errors.AuthenticationError` at once (retrying cannot help).
- A 200 answer that is not valid JSON (malformed, or cut short) raises
  :class:`~spokenemo.core.errors.BackendError` naming the URL and what to check.
- Reasoning models: DeepSeek's ``reasoning_content`` (or ``reasoning``, as some vLLM/Ollama
  versions call it) and inline ``<think>...</think>`` both end up in ``ChatResult.reasoning``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timezone
from typing import Any
from urllib.parse import urlparse

import httpx

from spokenemo.core.errors import AuthenticationError, BackendError
from spokenemo.llm.base import ChatResult, LLMBackend, Message, check_messages, split_reasoning

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
DEFAULT_BASE_URL = "https://api.openai.com/v1"


def default_api_key_env(base_url: str) -> str:
    """``DEEPSEEK_API_KEY`` for a deepseek.com URL, else ``OPENAI_API_KEY``."""
    host = urlparse(base_url).hostname or ""
    return "DEEPSEEK_API_KEY" if host.endswith("deepseek.com") else "OPENAI_API_KEY"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if
    absent or unreadable. Negative waits become 0."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now_ts = time.time() if now is None else now
    return max(0.0, when.timestamp() - now_ts)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half of ``min(cap, base * 2**attempt)`` fixed, the
    other half random, so concurrent clients spread out but never retry at once."""
    ceiling = min(cap, base * (2 ** attempt))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class OpenAIBackend(LLMBackend):
    """Chat completions from an OpenAI-compatible server.

    Parameters
    ----------
    model : model name sent in each request; ``None`` asks the server (``GET /models``) and uses
        the first one it serves (handy for llama.cpp / vLLM with one model).
    base_url : the API root, ending in ``/v1`` (``$OPENAI_BASE_URL`` or OpenAI's by default).
    api_key_env : the environment variable that holds the key (see :func:`default_api_key_env`).
        A missing key is fine for local servers; a server that wants one answers 401.
    concurrency : requests in flight at once in :meth:`chat_batch`.
    timeout : seconds to wait for an answer (per attempt); ``connect_timeout`` for connecting.
    max_retries : retries after the first attempt for 429/5xx/timeouts/connection errors.
    retry_base_s, retry_max_s : backoff base and cap (and the cap on a ``Retry-After`` wait).
    extra_body : extra JSON fields for every request (e.g. ``{"top_p": 0.9}``).
    """

    name = "openai"

    def __init__(self, model: str | None = None, *, base_url: str | None = None, api_key_env: str | None = None,
                 concurrency: int = 4, timeout: float = 120.0, connect_timeout: float = 10.0,
                 max_retries: int = 5, retry_base_s: float = 1.0, retry_max_s: float = 60.0,
                 extra_body: dict[str, Any] | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if urlparse(self.base_url).scheme not in {"http", "https"}:
            raise BackendError(f"base URL {self.base_url!r} is not an http(s) URL",
                               hint="pass e.g. --base-url http://127.0.0.1:8080/v1")
        self.api_key_env = api_key_env or default_api_key_env(self.base_url)
        self._api_key = os.environ.get(self.api_key_env) or None
        self.concurrency = concurrency
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.max_retries = max_retries
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.extra_body = dict(extra_body or {})
        self._model = model
        self._model_lock = threading.Lock()

    # --- identity --------------------------------------------------------------------------------
    @property
    def model_name(self) -> str:  # type: ignore[override]
        """The model name; asks the server once when none was given."""
        with self._model_lock:
            if self._model is None:
                self._model = self._discover_model()
            return self._model

    def __repr__(self) -> str:
        key = "set" if self._api_key else "not set"
        return (f"OpenAIBackend(model={self._model!r}, base_url={self.base_url!r}, "
                f"api_key_env={self.api_key_env!r} ({key}), concurrency={self.concurrency})")

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _scrub(self, text: str) -> str:
        """Remove the key from text that might reach a log or an error (a server could echo it)."""
        return text.replace(self._api_key, "***") if self._api_key else text

    def _discover_model(self) -> str:
        url = f"{self.base_url}/models"
        try:
            resp = httpx.get(url, headers=self._headers(), timeout=self.timeout)
        except httpx.HTTPError as err:
            raise BackendError(f"cannot reach {url}: {type(err).__name__}: {self._scrub(str(err))}",
                               hint="is the server running? Check --base-url, or name the model with --model") from err
        self._raise_for_auth(resp, url)
        try:
            models = [m["id"] for m in resp.json()["data"]]
        except (ValueError, KeyError, TypeError):
            models = []
        if resp.status_code != 200 or not models:
            raise BackendError(f"{url} did not list any model (HTTP {resp.status_code})",
                               hint="name the model with --model")
        return str(models[0])

    # --- errors ----------------------------------------------------------------------------------
    def _server_message(self, resp: httpx.Response) -> str:
        try:
            body = resp.json()
            msg = body.get("error", body) if isinstance(body, dict) else body
            if isinstance(msg, dict):
                msg = msg.get("message", msg)
            text = str(msg)
        except ValueError:
            text = resp.text
        return self._scrub(" ".join(text.split())[:300])

    def _raise_for_auth(self, resp: httpx.Response, url: str) -> None:
        if resp.status_code not in (401, 403):
            return
        if self._api_key:
            hint = f"the key in ${self.api_key_env} was rejected: check it (and that it is for {url})"
        else:
            hint = f"set the environment variable {self.api_key_env} to your API key (it is not set)"
        raise AuthenticationError(
            f"{url} refused the request (HTTP {resp.status_code}): {self._server_message(resp)}", hint=hint)

    # --- one request -----------------------------------------------------------------------------
    def _payload(self, messages: Sequence[Message], max_tokens: int, temperature: float,
                 stop: Sequence[str] | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model_name, "messages": check_messages(messages),
                                   "max_tokens": max_tokens, "temperature": temperature}
        if stop:
            payload["stop"] = list(stop)
        payload.update(self.extra_body)
        return payload

    async def _attempt(self, client: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> ChatResult:
        try:
            resp = await client.post(url, json=payload, headers=self._headers())
        except httpx.TimeoutException as err:
            raise _Retryable(f"timed out after {self.timeout.read:g} s ({type(err).__name__})") from err
        except httpx.TransportError as err:
            # Connection refused/reset, or the server closed the connection mid-body.
            raise _Retryable(f"{type(err).__name__}: {self._scrub(str(err)) or 'connection failed'}") from err
        self._raise_for_auth(resp, url)
        if resp.status_code in RETRY_STATUS or resp.status_code >= 500:
            raise _Retryable(f"HTTP {resp.status_code}: {self._server_message(resp)}",
                             parse_retry_after(resp.headers.get("Retry-After")))
        if resp.status_code != 200:
            hint = ("check that --base-url ends with /v1 and that --model names a model the server has"
                    if resp.status_code in (404, 400, 422) else "see the server's message above")
            raise BackendError(f"{url} answered HTTP {resp.status_code}: {self._server_message(resp)}", hint=hint)
        return self._parse(resp, url)

    def _parse(self, resp: httpx.Response, url: str) -> ChatResult:
        try:
            body = json.loads(resp.content)
        except (ValueError, UnicodeDecodeError) as err:
            snippet = self._scrub(resp.text[:120].replace("\n", " "))
            raise BackendError(
                f"{url} sent a response that is not valid JSON (malformed or truncated, "
                f"{len(resp.content)} bytes): {err}; it starts with {snippet!r}",
                hint="check that --base-url points at an OpenAI-compatible /v1 API (not a web page or a proxy "
                     "that cuts answers short); retry when the server is healthy") from err
        try:
            choice = body["choices"][0]
            message = choice["message"]
            content = message.get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError) as err:
            raise BackendError(f"{url} answered JSON without choices[0].message: {self._scrub(str(body))[:200]}",
                               hint="check that the server speaks the OpenAI chat-completions API") from err
        api_reasoning = message.get("reasoning_content") or message.get("reasoning")
        text, reasoning = split_reasoning(content, api_reasoning)
        usage = body.get("usage") or {}
        return ChatResult(text=text, reasoning=reasoning, prompt_tokens=usage.get("prompt_tokens"),
                          completion_tokens=usage.get("completion_tokens"),
                          finish_reason=choice.get("finish_reason"), raw=content,
                          extra={"served_model": body.get("model")})

    async def _request(self, client: httpx.AsyncClient, payload: dict[str, Any]) -> ChatResult:
        url = f"{self.base_url}/chat/completions"
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                return await self._attempt(client, url, payload)
            except _Retryable as err:
                last = err.reason
                if attempt == self.max_retries:
                    break
                delay = backoff_delay(attempt, self.retry_base_s, self.retry_max_s)
                if err.retry_after is not None:
                    delay = min(err.retry_after, self.retry_max_s)
                log.warning("%s: %s; retry %d/%d in %.1f s", url, last, attempt + 1, self.max_retries, delay)
                await asyncio.sleep(delay)
        hint = ("is the server running and reachable? Check --base-url"
                if "Connect" in last else "the server is overloaded or failing: retry later, lower --concurrency "
                                          "or raise --timeout")
        raise BackendError(f"{url}: gave up after {self.max_retries + 1} attempts; last error: {last}", hint=hint)

    # --- public API ------------------------------------------------------------------------------
    async def achat_batch(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 256,
                          temperature: float = 0.0, stop: Sequence[str] | None = None,
                          return_exceptions: bool = False) -> list[ChatResult | Exception]:
        """Async :meth:`chat_batch` (at most ``concurrency`` requests in flight)."""
        payloads = [self._payload(m, max_tokens, temperature, stop) for m in batch]
        gate = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)

        async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
            async def one(payload: dict[str, Any]) -> ChatResult:
                async with gate:
                    return await self._request(client, payload)

            results = await asyncio.gather(*(one(p) for p in payloads), return_exceptions=True)
        for r in results:
            # Authentication failures and programming errors are never per-item results.
            if isinstance(r, AuthenticationError) or (isinstance(r, BaseException) and not isinstance(r, BackendError)):
                raise r
            if isinstance(r, BackendError) and not return_exceptions:
                raise r
        return list(results)  # type: ignore[arg-type]

    def chat_batch(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 256,
                   temperature: float = 0.0, stop: Sequence[str] | None = None,
                   return_exceptions: bool = False) -> list[ChatResult | Exception]:
        coro = self.achat_batch(batch, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                return_exceptions=return_exceptions)
        return _run_sync(coro)

    @property
    def chunk_size(self) -> int:
        return self.concurrency

    def iter_chat(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 256, temperature: float = 0.0,
                  stop: Sequence[str] | None = None) -> Iterator[tuple[int, ChatResult | Exception]]:
        """Yield ``(index, result)`` in completion order while ``concurrency`` requests stay in flight.

        The requests run on an event loop in a background thread; closing the generator (or Ctrl-C
        in the consumer) cancels what is still pending, so an interrupted run stops at once.
        """
        payloads = [self._payload(m, max_tokens, temperature, stop) for m in batch]
        results: queue.Queue[Any] = queue.Queue()
        done = object()
        state: dict[str, Any] = {}
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)

        async def main() -> None:
            state["loop"] = asyncio.get_running_loop()
            gate = asyncio.Semaphore(self.concurrency)
            try:
                async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
                    async def one(index: int, payload: dict[str, Any]) -> None:
                        async with gate:
                            try:
                                results.put((index, await self._request(client, payload)))
                            except asyncio.CancelledError:
                                raise
                            except Exception as err:  # handed to the consumer, which decides
                                results.put((index, err))

                    state["tasks"] = [asyncio.ensure_future(one(i, p)) for i, p in enumerate(payloads)]
                    await asyncio.gather(*state["tasks"], return_exceptions=True)
            finally:
                results.put(done)

        thread = threading.Thread(target=asyncio.run, args=(main(),), name="spokenemo-openai", daemon=True)
        thread.start()
        try:
            received = 0
            while received < len(payloads):
                try:
                    item = results.get(timeout=0.2)  # short waits keep Ctrl-C responsive
                except queue.Empty:
                    continue
                if item is done:
                    break
                received += 1
                index, result = item
                if isinstance(result, AuthenticationError) or not isinstance(result, (ChatResult, BackendError)):
                    raise result
                yield index, result
        finally:
            loop = state.get("loop")
            if thread.is_alive() and loop is not None:
                def cancel_all() -> None:
                    for task in state.get("tasks", []):
                        task.cancel()
                with contextlib.suppress(RuntimeError):  # the loop may close in between
                    loop.call_soon_threadsafe(cancel_all)
            thread.join(timeout=5)

    def score(self, prompt_messages: Sequence[Message], continuations: Sequence[str]) -> list[float]:
        raise NotImplementedError(
            "the openai (HTTP) backend cannot score continuations: the chat-completions API does not return "
            "the log-probabilities of given text. Use --backend transformers or embedded for label scoring.")


def _run_sync(coro: Any) -> Any:
    """Run a coroutine from sync code, also when an event loop is already running (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as err:  # re-raised in the caller's thread
            box["error"] = err

    thread = threading.Thread(target=target, name="spokenemo-openai")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]

