"""Where the default student lives, for ``spokenemo explain FILE`` and ``make demo``.

In order:

1. ``$SPOKENEMO_MODEL``, when set (it must name an existing folder);
2. ``models/spokenemo-default`` of the source checkout (:data:`REPO_ROOT`), when present;
3. otherwise :class:`~spokenemo.core.errors.ModelNotFoundError` says how to get one.

>>> default_model_path()                       # doctest: +SKIP
PosixPath('/home/me/spokenemo/models/spokenemo-default')
"""

from __future__ import annotations

import os
from pathlib import Path

from spokenemo.core.errors import ModelNotFoundError

#: The source checkout (``src/spokenemo/systems/aecotd`` -> three levels up); in an installed wheel this
#: points into site-packages' parent, where no ``models/`` folder exists.
REPO_ROOT = Path(__file__).resolve().parents[4]
#: The shipped default student of a source checkout (a model exported with ``spokenemo export``).
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "spokenemo-default"
#: Environment variable that overrides the default model folder.
MODEL_ENV = "SPOKENEMO_MODEL"

_HINT = ("train one (spokenemo train / experiment, then spokenemo export DIR models/spokenemo-default) "
         "or pass --model (or set SPOKENEMO_MODEL)")


def find_default_model() -> Path | None:
    """The default model folder, or None when there is none (see the module doc for the order).

    Raises
    ------
    ModelNotFoundError
        ``$SPOKENEMO_MODEL`` is set but does not name a folder.
    """
    env = os.environ.get(MODEL_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise ModelNotFoundError(f"{MODEL_ENV}={env}: no such model directory",
                                     hint=f"point {MODEL_ENV} at a trained student folder, or unset it")
        return path
    if DEFAULT_MODEL_DIR.is_dir():
        return DEFAULT_MODEL_DIR
    return None


def default_model_path() -> Path:
    """The default model folder: ``$SPOKENEMO_MODEL``, else ``models/spokenemo-default`` of the checkout.

    Raises
    ------
    ModelNotFoundError
        Neither exists (or ``$SPOKENEMO_MODEL`` names a missing folder).
    """
    path = find_default_model()
    if path is None:
        raise ModelNotFoundError(f"no default model: {MODEL_ENV} is not set and {DEFAULT_MODEL_DIR} does not exist",
                                 hint=_HINT)
    return path
