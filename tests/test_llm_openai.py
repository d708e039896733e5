"""The OpenAI-compatible HTTP backend against a fault-injecting server on 127.0.0.1."""

from __future__ import annotations

import logging
import random
import socket
import time
from email.utils import formatdate

import pytest

from spokenemo.core.errors import AuthenticationError, BackendError
from spokenemo.llm import get_backend
from spokenemo.llm.openai_backend import OpenAIBackend, backoff_delay, default_api_key_env, parse_retry_after

from fault_server import (
    FaultServer,
    cut_connection,
    malformed,
    reasoning,
    slow,
    status,
    truncated_json,
)

HELLO = [{"role": "user", "content": "hello"}]
SECRET = "sk-test-DO-NOT-LEAK-1234567890"


def backend(server: FaultServer, **options) -> OpenAIBackend:
    opts = {"model": "fault-model", "base_url": server.base_url, "api_key_env": "SPOKENEMO_TEST_KEY",
            "retry_base_s": 0.01, "retry_max_s": 2.0, "timeout": 5.0, "max_retries": 3}
    opts.update(options)
    return OpenAIBackend(**opts)


@pytest.fixture
def server():
    with FaultServer(responder=lambda req: f"echo: {req['messages'][-1]['content']}") as s:
        yield s


def test_happy_path_sends_openai_request_and_reads_answer(server, monkeypatch):
    monkeypatch.setenv("SPOKENEMO_TEST_KEY", SECRET)
    result = backend(server).chat(HELLO, max_tokens=7, temperature=0.0, stop=["\n\n"])
    assert result.text == "echo: hello"
    assert result.reasoning is None
    assert result.finish_reason == "stop"
    assert (result.prompt_tokens, result.completion_tokens) == (11, 2)
    (req,) = server.chat_requests()
    assert req["path"] == "/v1/chat/completions"
    assert req["json"] == {"model": "fault-model", "messages": HELLO, "max_tokens": 7, "temperature": 0.0,
                           "stop": ["\n\n"]}
    assert req["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_no_key_sends_no_authorization_header(server, monkeypatch):
    monkeypatch.delenv("SPOKENEMO_TEST_KEY", raising=False)
    assert backend(server).chat(HELLO).text == "echo: hello"
    assert "Authorization" not in server.chat_requests()[0]["headers"]


def test_deepseek_reasoning_content_is_the_reasoning(server):
    server.push(reasoning("Emotion: sad", "The pitch is low and the voice is weak."))
    result = backend(server).chat(HELLO)
    assert result.text == "Emotion: sad"
    assert result.reasoning == "The pitch is low and the voice is weak."


def test_inline_think_block_is_split_off():
    with FaultServer(responder=lambda req: "<think>loud and fast</think>\nEmotion: angry") as s:
        result = backend(s).chat(HELLO)
    assert (result.text, result.reasoning) == ("Emotion: angry", "loud and fast")
    assert result.raw == "<think>loud and fast</think>\nEmotion: angry"


def test_429_honours_retry_after_then_succeeds(server):
    server.push(status(429, retry_after="1", message="rate limited"))
    t0 = time.perf_counter()
    result = backend(server, retry_base_s=0.01).chat(HELLO)
    elapsed = time.perf_counter() - t0
    assert result.text == "echo: hello"
    assert len(server.chat_requests()) == 2
    assert elapsed >= 0.95  # the 1 s Retry-After, not the 0.01 s backoff


def test_500_then_success_is_retried(server):
    server.push(status(500), status(503))
    assert backend(server).chat(HELLO).text == "echo: hello"
    assert len(server.chat_requests()) == 3


def test_500_every_time_gives_up_naming_url_and_attempts(server):
    server.push(*[status(502, message="upstream down")] * 4)
    with pytest.raises(BackendError) as info:
        backend(server, max_retries=3).chat(HELLO)
    msg = str(info.value)
    assert f"{server.base_url}/chat/completions" in msg
    assert "gave up after 4 attempts" in msg and "HTTP 502" in msg and "upstream down" in msg
    assert "lower --concurrency" in msg  # the fix
    assert len(server.chat_requests()) == 4


def test_slow_answer_times_out_then_retry_succeeds(server):
    server.push(slow(1.5))
    t0 = time.perf_counter()
    assert backend(server, timeout=0.3).chat(HELLO).text == "echo: hello"
    assert time.perf_counter() - t0 < 1.4


def test_always_slow_gives_up_with_timeout_reason(server):
    server.push(slow(1.0), slow(1.0))
    with pytest.raises(BackendError, match=r"gave up after 2 attempts; last error: timed out after 0.2 s"):
        backend(server, timeout=0.2, max_retries=1).chat(HELLO)


def test_malformed_json_is_not_retried_and_names_url_and_fix(server):
    server.push(malformed())
    with pytest.raises(BackendError) as info:
        backend(server).chat(HELLO)
    msg = str(info.value)
    assert f"{server.base_url}/chat/completions" in msg and "not valid JSON" in msg
    assert "<html>Bad gateway" in msg
    assert "--base-url" in msg  # the fix
    assert len(server.chat_requests()) == 1


def test_truncated_json_body_is_a_clear_error(server):
    server.push(truncated_json())
    with pytest.raises(BackendError, match="malformed or truncated"):
        backend(server).chat(HELLO)


def test_connection_cut_mid_body_is_retried(server):
    server.push(cut_connection())
    assert backend(server).chat(HELLO).text == "echo: hello"
    assert len(server.chat_requests()) == 2


def test_connection_cut_every_time_gives_up(server):
    server.push(*[cut_connection()] * 3)
    with pytest.raises(BackendError, match=r"gave up after 3 attempts; last error: RemoteProtocolError"):
        backend(server, max_retries=2).chat(HELLO)


def test_401_raises_authentication_error_without_leaking_key(server, monkeypatch, caplog):
    monkeypatch.setenv("SPOKENEMO_TEST_KEY", SECRET)
    server.push(status(401, message="invalid api key"))
    b = backend(server)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as info:
        b.chat(HELLO)
    msg = str(info.value)
    assert "HTTP 401" in msg and "invalid api key" in msg
    assert "$SPOKENEMO_TEST_KEY was rejected" in msg
    assert SECRET not in msg and SECRET not in repr(b) and SECRET not in caplog.text
    assert "SPOKENEMO_TEST_KEY" in repr(b) and "(set)" in repr(b)
    assert len(server.chat_requests()) == 1  # never retried


def test_401_without_key_says_which_variable_to_set(server, monkeypatch):
    monkeypatch.delenv("SPOKENEMO_TEST_KEY", raising=False)
    server.push(status(403))
    with pytest.raises(AuthenticationError, match="set the environment variable SPOKENEMO_TEST_KEY"):
        backend(server).chat(HELLO)


def test_key_echoed_by_server_is_scrubbed_from_errors_and_logs(server, monkeypatch, caplog):
    monkeypatch.setenv("SPOKENEMO_TEST_KEY", SECRET)
    server.push(*[status(500, message=f"bad key {SECRET}")] * 2)
    with caplog.at_level(logging.DEBUG), pytest.raises(BackendError) as info:
        backend(server, max_retries=1).chat(HELLO)
    assert "bad key ***" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in caplog.text
    assert "retry 1/1" in caplog.text  # the retry was logged, without the key


def test_404_is_not_retried_and_hints_at_base_url(server):
    server.push(status(404, message="model not found"))
    with pytest.raises(BackendError, match=r"(?s)HTTP 404.*model not found.*ends with /v1"):
        backend(server).chat(HELLO)
    assert len(server.chat_requests()) == 1


def test_nothing_listening_says_start_the_server():
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    b = OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, retry_base_s=0.01)
    with pytest.raises(BackendError, match=r"(?s)ConnectError.*is the server running"):
        b.chat(HELLO)


def test_batch_keeps_order_and_respects_concurrency():
    with FaultServer(responder=lambda req: req["messages"][-1]["content"].upper(), delay=0.15) as s:
        batch = [[{"role": "user", "content": f"item {i}"}] for i in range(8)]
        t0 = time.perf_counter()
        results = backend(s, concurrency=3).chat_batch(batch)
        elapsed = time.perf_counter() - t0
    assert [r.text for r in results] == [f"ITEM {i}" for i in range(8)]
    assert s.max_in_flight == 3
    assert elapsed < 8 * 0.15  # concurrent, not one after another


def test_batch_failure_per_item_with_return_exceptions(server):
    server.push(malformed())
    results = backend(server, concurrency=1).chat_batch([HELLO, HELLO], return_exceptions=True)
    assert isinstance(results[0], BackendError)
    assert results[1].text == "echo: hello"
    with pytest.raises(BackendError):
        server.push(malformed())
        backend(server, concurrency=1).chat_batch([HELLO, HELLO])


def test_iter_chat_yields_every_index_once(server):
    server.push(status(400, message="bad request"))
    b = backend(server, concurrency=2)
    seen = dict(b.iter_chat([[{"role": "user", "content": str(i)}] for i in range(5)]))
    assert sorted(seen) == [0, 1, 2, 3, 4]
    assert sum(isinstance(r, BackendError) for r in seen.values()) == 1
    assert {r.text for r in seen.values() if not isinstance(r, Exception)} <= {f"echo: {i}" for i in range(5)}


def test_iter_chat_raises_authentication_error(server):
    server.push(status(401))
    with pytest.raises(AuthenticationError):
        list(backend(server, concurrency=1).iter_chat([HELLO, HELLO]))


def test_model_is_discovered_from_server(server):
    b = OpenAIBackend(base_url=server.base_url + "/")
    assert b.model_name == "fault-model"
    assert b.chat(HELLO).text == "echo: hello"
    assert server.chat_requests()[0]["json"]["model"] == "fault-model"


def test_factory_builds_openai_backend(server):
    b = get_backend("openai", base_url=server.base_url, model="x", concurrency=2, api_key_env=None)
    assert isinstance(b, OpenAIBackend) and b.concurrency == 2 and b.model_name == "x"


def test_score_is_not_available_over_http(server):
    with pytest.raises(NotImplementedError, match="Use --backend transformers"):
        backend(server).score(HELLO, ["angry"])


def test_bad_base_url_and_options():
    with pytest.raises(BackendError, match="not an http"):
        OpenAIBackend("m", base_url="127.0.0.1:8080/v1")
    with pytest.raises(ValueError, match="concurrency"):
        OpenAIBackend("m", base_url="http://x/v1", concurrency=0)


def test_default_key_variable_per_host():
    assert default_api_key_env("https://api.deepseek.com/v1") == "DEEPSEEK_API_KEY"
    assert default_api_key_env("http://127.0.0.1:8080/v1") == "OPENAI_API_KEY"


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_backoff_grows_exponentially_with_bounded_jitter():
    rng = random.Random(1)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 10.0)]:
        delays = [backoff_delay(attempt, 0.5, 10.0, rng) for _ in range(200)]
        assert min(delays) >= ceiling / 2 and max(delays) <= ceiling
        assert max(delays) - min(delays) > ceiling / 4  # jitter spreads the retries
