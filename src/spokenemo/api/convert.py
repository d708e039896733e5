"""Emotion style transfer (S2S-ZEST): the source's words and voice in a reference's emotional style.

>>> from spokenemo.api.convert import convert
>>> result = convert("neutral.wav", "angry.wav", out="converted.wav")      # doctest: +SKIP
>>> result.durations.sum() / result.source_durations.sum()                 # doctest: +SKIP
0.93
>>> convert_pairs("pairs.tsv", "runs/converted")                            # doctest: +SKIP

The converter folder is found in this order: the ``converter`` argument, ``$SPOKENEMO_CONVERTER``,
the checkout's ``models/zest-ravdess``, then ``runs/zest/model`` (written by
``spokenemo convert-train configs/zest-ravdess.yaml -o runs/zest/model``). Files are decoded and
resampled to 16 kHz mono by :func:`spokenemo.audio.load_audio`; arrays are taken at ``sr`` and
resampled. The output is 16 kHz mono. Importing this module does not import torch.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from spokenemo.audio import RESAMPLE_QUALITY, load_audio
from spokenemo.core.errors import ConfigError, ModelNotFoundError, SpokenemoError

SAMPLE_RATE = 16000
CONVERTER_ENV = "SPOKENEMO_CONVERTER"
_REPO = Path(__file__).resolve().parents[3]
SHIPPED = _REPO / "models" / "zest-ravdess"
TRAINED = _REPO / "runs" / "zest" / "model"

Input = str | PathLike[str] | np.ndarray


def default_converter_path() -> Path:
    """``$SPOKENEMO_CONVERTER``, else ``models/zest-ravdess``, else ``runs/zest/model``."""
    env = os.environ.get(CONVERTER_ENV)
    candidates = [Path(env)] if env else [SHIPPED, TRAINED]
    for path in candidates:
        if (path / "zest.json").is_file():
            return path
    where = f"{CONVERTER_ENV}={env}" if env else f"{SHIPPED} or {TRAINED}"
    raise ModelNotFoundError(f"no S2S-ZEST converter at {where}",
                             hint="train one: spokenemo convert-train configs/zest-ravdess.yaml -o runs/zest/model")


@functools.lru_cache(maxsize=2)
def _load(folder: str) -> Any:
    return importlib.import_module("spokenemo.systems.zest.converter").ZestConverter.load(folder)


def load_converter(path: str | PathLike[str] | Any | None = None) -> Any:
    """A :class:`~spokenemo.systems.zest.converter.ZestConverter` (loaded once per process)."""
    if path is not None and not isinstance(path, (str, PathLike)):
        return path
    folder = Path(path) if path is not None else default_converter_path()
    return _load(str(folder.resolve()))


def read_input(item: Input, sr: int = SAMPLE_RATE, what: str = "input") -> np.ndarray:
    """16 kHz mono float32 from a path (any rate, decoded) or an array at ``sr`` (resampled)."""
    if isinstance(item, np.ndarray):
        if item.ndim != 1:
            raise SpokenemoError(f"{what}: expected a mono waveform (1-D array), got shape {item.shape}",
                                 hint="average the channels first: wave.mean(axis=1)")
        wave = item.astype(np.float32)
        return wave if sr == SAMPLE_RATE else soxr.resample(wave, sr, SAMPLE_RATE,
                                                            quality=RESAMPLE_QUALITY).astype(np.float32)
    return load_audio(item, sr=SAMPLE_RATE)


def save_wave(path: str | PathLike[str], wave: np.ndarray, sr: int = SAMPLE_RATE) -> Path:
    """Write 16-bit PCM WAV atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.wav")
    sf.write(tmp, np.clip(wave, -1, 1), sr, subtype="PCM_16")
    tmp.replace(path)
    return path


def convert(source: Input, reference: Input, *, out: str | PathLike[str] | None = None,
            converter: str | PathLike[str] | Any | None = None, sr: int = SAMPLE_RATE,
            use_duration: bool | None = None, f0_mode: str | None = None,
            envelope_strength: float | None = None) -> Any:
    """Convert ``source`` to ``reference``'s emotional style; a ``Conversion`` (``.wave`` at 16 kHz).

    Raises
    ------
    AudioError
        A path is missing or not audio, or a clip is shorter than 0.5 s (checked before loading a model).
    NoVoicedFramesError
        The source or reference has no voiced frame.
    ModelNotFoundError
        No converter folder.
    """
    src = read_input(source, sr, "source")
    ref = read_input(reference, sr, "reference")
    check = importlib.import_module("spokenemo.systems.zest.analysis").check_clip
    src, ref = check(src, str(source) if not isinstance(source, np.ndarray) else "source"), \
        check(ref, str(reference) if not isinstance(reference, np.ndarray) else "reference")
    result = load_converter(converter).convert(src, ref, use_duration=use_duration, f0_mode=f0_mode,
                                               envelope_strength=envelope_strength)
    if out is not None:
        save_wave(out, result.wave, result.sr)
    return result


@dataclass(frozen=True)
class PairRow:
    """One line of a pairs file: source, reference and the output path."""

    source: str
    reference: str
    output: str


def read_pairs(path: str | PathLike[str], out_dir: str | PathLike[str]) -> list[PairRow]:
    """Pairs from a file of ``SOURCE<TAB>REFERENCE[<TAB>OUTPUT]`` lines (``#`` comments, blank lines skipped;
    relative paths are relative to the pairs file; OUTPUT defaults to ``<source>__<reference>.wav``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no pairs file", hint="one 'SOURCE<TAB>REFERENCE[<TAB>OUTPUT]' line per pair")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in (line.split("\t") if "\t" in line else line.split())]
        if len(parts) not in (2, 3):
            raise ConfigError(f"{path}:{n}: expected SOURCE, REFERENCE and optionally OUTPUT, got {len(parts)} fields",
                              hint="separate the fields by a tab")
        src, ref = (str((path.parent / p) if not Path(p).is_absolute() else p) for p in parts[:2])
        name = parts[2] if len(parts) == 3 else f"{Path(src).stem}__{Path(ref).stem}.wav"
        rows.append(PairRow(src, ref, str(Path(out_dir) / name)))
    if not rows:
        raise ConfigError(f"{path}: no pairs in the file")
    return rows


def convert_pairs(pairs: str | PathLike[str] | Sequence[PairRow], out_dir: str | PathLike[str], *,
                  converter: str | PathLike[str] | Any | None = None, use_duration: bool | None = None,
                  f0_mode: str | None = None, envelope_strength: float | None = None) -> list[dict[str, Any]]:
    """Convert every pair of a pairs file (or rows); one result dict per pair (``error`` on failure)."""
    rows = read_pairs(pairs, out_dir) if isinstance(pairs, (str, PathLike)) else list(pairs)
    model = load_converter(converter)
    out = []
    for row in rows:
        try:
            res = convert(row.source, row.reference, out=row.output, converter=model, use_duration=use_duration,
                          f0_mode=f0_mode, envelope_strength=envelope_strength)
            out.append({"source": row.source, "reference": row.reference, "output": row.output,
                        "seconds": round(len(res.wave) / res.sr, 3),
                        "duration_ratio": round(float(res.durations.sum() / res.source_durations.sum()), 3)})
        except SpokenemoError as err:
            out.append({"source": row.source, "reference": row.reference, "output": None, "error": str(err)})
    return out


def train_converter(config: str | PathLike[str], out_dir: str | PathLike[str], overrides: list[str] | None = None
                    ) -> Any:
    """Train a converter from a ``configs/zest-*.yaml`` file into ``out_dir``."""
    cfg = importlib.import_module("spokenemo.systems.zest.config").load_zest_config(config, overrides)
    return importlib.import_module("spokenemo.systems.zest.train").train_converter(cfg, out_dir)
