"""A student's calibration temperature: ``calibration.json`` in its model folder.

:func:`~spokenemo.systems.aecotd.manifest_prediction.calibrate_student` fits the temperature on
validation predictions (speakers the student did not train on) and writes the file;
:func:`~spokenemo.systems.aecotd.explanation.explain` and
:func:`~spokenemo.systems.aecotd.manifest_prediction.predict_manifest` then scale every
prediction's probabilities with it (the predicted label never changes). A folder without the
file gives the raw probabilities, as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import ModelNotFoundError
from spokenemo.core.fileio import atomic_write
from spokenemo.protocols.calibration import Calibration, apply_temperature

__all__ = ["CALIBRATION_FILE", "calibrated", "read_temperature", "write_calibration"]

CALIBRATION_FILE = "calibration.json"


def read_temperature(model_dir: str | Path | None) -> float | None:
    """The temperature saved in ``model_dir/calibration.json``; None when there is none.

    Raises
    ------
    ModelNotFoundError
        The file exists but holds no positive ``temperature``.
    """
    if model_dir is None:
        return None
    path = Path(model_dir) / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        value = float(json.loads(path.read_text(encoding="utf-8"))["temperature"])
    except (ValueError, KeyError, TypeError) as err:
        raise ModelNotFoundError(f"{path}: no readable temperature ({err})",
                                 hint="delete the file or fit it again with spokenemo calibrate") from err
    if not value > 0:
        raise ModelNotFoundError(f"{path}: temperature must be positive, got {value}",
                                 hint="delete the file or fit it again with spokenemo calibrate")
    return value


def write_calibration(model_dir: str | Path, calibration: Calibration, **fitted_on: Any) -> Path:
    """Write ``calibration.json`` (the temperature, its effect, and what it was fitted on)."""
    path = Path(model_dir) / CALIBRATION_FILE
    with atomic_write(path) as fh:
        json.dump({**calibration.to_dict(), "fitted_on": fitted_on}, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    return path


def calibrated(probabilities: Mapping[str, float], temperature: float | None) -> dict[str, float]:
    """``probabilities`` scaled by ``temperature`` (as given when None or empty)."""
    if temperature is None or not probabilities:
        return dict(probabilities)
    labels = list(probabilities)
    scaled = apply_temperature(np.array([[probabilities[k] for k in labels]]), temperature, kind="probabilities")[0]
    return {k: float(v) for k, v in zip(labels, scaled, strict=True)}
