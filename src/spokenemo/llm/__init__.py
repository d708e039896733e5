"""LLM backends: one small interface, several implementations.

>>> from spokenemo.llm import get_backend
>>> llm = get_backend("embedded")                       # SmolLM2-135M-Instruct, offline
>>> llm.chat([{"role": "user", "content": "Hi"}], max_tokens=20).text

Kinds: ``embedded``, ``transformers``, ``openai`` (any OpenAI-compatible HTTP server: DeepSeek,
vLLM, llama.cpp, Ollama) and ``llamacpp`` (in-process, when llama-cpp-python is installed).
Heavy libraries (torch, transformers, llama_cpp) are imported only when a backend is built.

:func:`backend_from_settings` / :func:`backend_from_options` build one from a command's flags or
a config's ``backend`` + ``backend_options``; :mod:`spokenemo.llm.jobs` is the cached, resumable
job engine that asks a backend one prompt per item.
"""

from spokenemo.llm.base import ChatResult, LLMBackend, Message, Messages, split_reasoning
from spokenemo.llm.factory import BACKEND_KINDS, backend_from_options, backend_from_settings, get_backend
from spokenemo.llm.llamacpp_backend import LlamaCppBackend, llama_cpp_available
from spokenemo.llm.openai_backend import OpenAIBackend
from spokenemo.llm.transformers_backend import TransformersBackend

__all__ = ["BACKEND_KINDS", "ChatResult", "LLMBackend", "LlamaCppBackend", "Message", "Messages", "OpenAIBackend",
           "TransformersBackend", "backend_from_options", "backend_from_settings", "get_backend",
           "llama_cpp_available", "split_reasoning"]
