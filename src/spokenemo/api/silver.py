"""Silver-label pre-training (thesis.md 2): the pool, the labellers, silver quality, the student.

>>> import spokenemo.api.silver as silver
>>> pool = silver.silver_pool("../shared/data/meld")                     # doctest: +SKIP
>>> silver.label_silver("runs/silver/labels/vader.jsonl", pool, labeller="vader")   # doctest: +SKIP
>>> silver.silver_agreement("runs/silver/labels/vader.jsonl")["kappa"]    # doctest: +SKIP
>>> silver.train_silver_encoder("runs/silver/labels/vader.jsonl", "minilm-vader", limit=3000)  # doctest: +SKIP
>>> from spokenemo.models.encoders import get_text_encoder
>>> get_text_encoder("silver-minilm-vader")                               # doctest: +SKIP

Importing this module does not import torch; :func:`train_silver_encoder` loads it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError
from spokenemo.core.lazy import optional_import
from spokenemo.data.manifest import Segment, read_manifest
from spokenemo.llm.base import LLMBackend
from spokenemo.llm.factory import BACKEND_SETTINGS
from spokenemo.llm.jobs import JobStats
from spokenemo.systems.silver.encoders import register_silver_encoder, silver_root
from spokenemo.systems.silver.labellers import (
    LABELLER_KINDS,
    SilverSet,
    label_pool,
    make_labeller,
    read_silver,
)
from spokenemo.systems.silver.parse import SENTIMENTS, THESIS_PROMPT, parse_sentiment
from spokenemo.systems.silver.pool import (
    DEFAULT_MELD_ROOT,
    Pool,
    PoolItem,
    asr_transcriber,
    check_pool,
    default_pool,
    meld_train_gold,
    pool_from_audio,
    pool_from_segments,
)
from spokenemo.systems.silver.quality import agreement

__all__ = ["BACKEND_SETTINGS", "DEFAULT_MELD_ROOT", "LABELLER_KINDS", "SENTIMENTS", "THESIS_PROMPT", "Pool", "PoolItem", "SilverSet", "label_silver",
           "parse_sentiment", "silver_agreement", "silver_labels", "silver_pool", "train_silver_encoder"]


def silver_pool(meld_root: str | Path | None = DEFAULT_MELD_ROOT, *, manifests: Sequence[str | Path] = (),
                audio_manifests: Sequence[str | Path] = (), asr_backend: str = "auto",
                limit: int | None = None, seed: int = 0) -> Pool:
    """The unlabelled pool: text ``manifests`` (labels hidden), ASR transcripts of
    ``audio_manifests``, or by default MELD train + EmoryNLP train/dev under ``meld_root``.
    Test splits never enter it; ``limit`` keeps a seeded subset."""
    if manifests or audio_manifests:
        text: list[Segment] = [u for m in manifests for u in read_manifest(m)]
        pool = pool_from_segments(text)
        if audio_manifests:
            audio = pool_from_audio([u for m in audio_manifests for u in read_manifest(m)],
                                    asr_transcriber(asr_backend))
            pool = Pool(pool.items + audio.items, pool.excluded + audio.excluded)
    elif meld_root is not None:
        pool = default_pool(meld_root)
    else:
        raise ConfigError("no pool source", hint="pass meld_root, manifests or audio_manifests")
    pool = pool.subset(limit, seed)
    check_pool(pool)
    return pool


def label_silver(output: str | Path, pool: Pool, *, labeller: str = "vader", backend: str = "embedded",
                 backend_options: Mapping[str, Any] | None = None, template: str | Path | None = None,
                 max_tokens: int = 16, attempts: int = 1, llm: LLMBackend | None = None,
                 progress: bool = True) -> JobStats:
    """Label ``pool`` into the cache ``output`` (resumable: cached answers are never asked again)."""
    made = make_labeller(labeller, backend=backend, backend_options=backend_options, template=template,
                         max_tokens=max_tokens, attempts=attempts, llm=llm)
    try:
        return label_pool(pool, made, output, progress=progress)
    finally:
        if llm is None:
            made.backend.close()


def silver_labels(output: str | Path, model: str | None = None) -> SilverSet:
    """The silver labels of a cache (``model``: which labeller, when it holds several)."""
    return read_silver(output, model)


def silver_agreement(output: str | Path, *, meld_root: str | Path = DEFAULT_MELD_ROOT,
                     model: str | None = None) -> dict[str, Any]:
    """Agreement of a cache's silver labels with MELD train's gold sentiment."""
    return agreement(read_silver(output, model).labels, meld_train_gold(meld_root))


def train_silver_encoder(labels: str | Path, name: str, *, base: str = "minilm", out_root: str | Path | None = None,
                         model: str | None = None, meld_root: str | Path | None = DEFAULT_MELD_ROOT,
                         resume: bool = True, progress: bool = True, stop_after_steps: int | None = None,
                         **settings: Any) -> Any:
    """Train the silver student on the cache ``labels`` and register it as ``silver-<name>``.

    ``settings`` are :class:`~spokenemo.systems.silver.student.StudentSettings` fields (``epochs``,
    ``lr``, ``batch_size``, ``limit``, ``seed``, ...). The folder is ``<out_root>/<name>``
    (default root: :func:`~spokenemo.systems.silver.encoders.silver_root`). Returns the
    :class:`~spokenemo.systems.silver.student.StudentResult`.
    """
    student = optional_import("spokenemo.systems.silver.student", extra="llm", purpose="the silver student")
    silver = read_silver(labels, model)
    record: dict[str, Any] = {"labels": str(labels), "labeller_model": silver.model, "silver": silver.summary()}
    if meld_root is not None and Path(meld_root).is_dir():
        with contextlib.suppress(ConfigError):  # a pool without MELD train items: no gold to compare with
            record["agreement_meld_train"] = {k: v for k, v in agreement(silver.labels, meld_train_gold(meld_root))
                                              .items() if k != "labels"}
    folder = Path(out_root or silver_root()) / name
    result = student.train_student(silver.labels, silver.texts, base, folder, student.StudentSettings(**settings),
                                   record=record, resume=resume, progress=progress,
                                   stop_after_steps=stop_after_steps)
    if result.finished:
        register_silver_encoder(name, folder)
    return result
