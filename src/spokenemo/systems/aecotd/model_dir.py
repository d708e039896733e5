"""The student model directory: everything needed to use a trained student, in one folder.

Layout::

    MODEL/
      student.json        what this is (written last: its presence marks a complete model)
      adapter/            LoRA adapter (peft save_pretrained)
      tokenizer/          the tokenizer, chat template included (optional: without it the base
                          model's own tokenizer is used, which is what training used)
      thresholds.json     cue thresholds fitted on the training keys
      prompt.json         the student prompt template (name, version, sha256, text)
      config.yaml         the resolved training config
      metrics.json        training metrics and data counts
      train_log.jsonl     logged training steps
      checkpoints/        the last training checkpoints (resume; may be deleted)

``student.json`` holds the base-model reference (``"embedded"``, a folder or a hub name, and
how to obtain it), the label set, whether the target has a chain of thought, the prompt
template's name, version and hash, the cue options and the scoring rule. A slim copy made by
:func:`spokenemo.systems.aecotd.export.export_model_dir` (float16 adapter, no checkpoints, no tokenizer for
the embedded base) also records ``"export"``: where it came from and the adapter's dtype.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spokenemo.core.errors import ModelNotFoundError
from spokenemo.core.fileio import atomic_write

FORMAT = "spokenemo-student/1"
STUDENT_FILE = "student.json"
ADAPTER_DIR = "adapter"
TOKENIZER_DIR = "tokenizer"
THRESHOLDS_FILE = "thresholds.json"
PROMPT_FILE = "prompt.json"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
TRAIN_LOG_FILE = "train_log.jsonl"


class PromptRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    version: str | int | None = None
    sha256: str


class StudentInfo(BaseModel):
    """The contents of ``student.json``."""

    model_config = ConfigDict(extra="allow")

    format: str = FORMAT
    base_model: str
    base_model_howto: str = ""
    labels: list[str] = Field(min_length=2)
    label_set: str
    cot: bool
    prompt: PromptRef
    cues: dict[str, Any] = Field(default_factory=dict)
    scoring: dict[str, Any] = Field(default_factory=lambda: {"score": "sum of head-token log-probabilities",
                                                             "length_normalised": False})
    created: str = Field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    spokenemo_version: str = ""


def write_json(path: Path, obj: Any) -> None:
    with atomic_write(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1)
        fh.write("\n")


def _save_pretrained_atomically(obj: Any, out: Path, name: str) -> None:
    """``obj.save_pretrained`` into ``out/name``, through a ``.name.partial`` folder renamed at the end."""
    tmp = out / f".{name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    obj.save_pretrained(tmp)
    final = out / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def save_adapter(model: Any, out: Path) -> None:
    """Save the peft adapter into ``out/adapter`` atomically (via a ``.partial`` folder)."""
    _save_pretrained_atomically(model, out, ADAPTER_DIR)


def save_tokenizer(tokenizer: Any, out: Path) -> None:
    """Save the tokenizer into ``out/tokenizer`` atomically."""
    _save_pretrained_atomically(tokenizer, out, TOKENIZER_DIR)


def write_model_dir(out: str | Path, *, model: Any, tokenizer: Any, info: StudentInfo, thresholds: dict[str, Any],
                    prompt: dict[str, Any], config: dict[str, Any], metrics: dict[str, Any]) -> Path:
    """Write a complete model directory; ``student.json`` last."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / STUDENT_FILE).unlink(missing_ok=True)  # incomplete until rewritten below
    save_adapter(model, out)
    save_tokenizer(tokenizer, out)
    write_json(out / THRESHOLDS_FILE, thresholds)
    write_json(out / PROMPT_FILE, prompt)
    with atomic_write(out / CONFIG_FILE) as fh:
        yaml.safe_dump(config, fh, sort_keys=False, allow_unicode=True)
    write_json(out / METRICS_FILE, metrics)
    write_json(out / STUDENT_FILE, info.model_dump(mode="json"))
    return out


def read_info(model_dir: str | Path) -> StudentInfo:
    """Read and check ``student.json``.

    Raises
    ------
    ModelNotFoundError
        The folder or file is missing (e.g. training did not finish), or it is not a student.
    """
    model_dir = Path(model_dir)
    path = model_dir / STUDENT_FILE
    if not model_dir.is_dir():
        raise ModelNotFoundError(f"{model_dir}: model directory not found",
                                 hint="train one with `spokenemo train CONFIG -o DIR`")
    if not path.is_file():
        hint = ("training has not finished: run the same `spokenemo train` again to resume"
                if (model_dir / "checkpoints").is_dir() else "train one with `spokenemo train CONFIG -o DIR`")
        raise ModelNotFoundError(f"{model_dir}: not a complete student model (no {STUDENT_FILE})", hint=hint)
    try:
        info = StudentInfo.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as err:
        raise ModelNotFoundError(f"{path}: not a valid student description ({err.error_count()} errors: "
                                 f"{err.errors()[0]['loc']}: {err.errors()[0]['msg']})",
                                 hint="retrain the model with this spokenemo version") from None
    if info.format != FORMAT:
        raise ModelNotFoundError(f"{path}: format {info.format!r}, this spokenemo reads {FORMAT!r}",
                                 hint="retrain the model with this spokenemo version")
    for name in (ADAPTER_DIR, THRESHOLDS_FILE, PROMPT_FILE):  # tokenizer/ is optional (the base's then)
        if not (model_dir / name).exists():
            raise ModelNotFoundError(f"{model_dir}: {name} is missing", hint="copy the whole model directory")
    return info


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
