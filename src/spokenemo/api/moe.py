"""MiSTER-E (thesis.md 4; docs/methods/mister-e.md): train, predict, save and load outside an experiment.

>>> import spokenemo.api.moe as moe
>>> system = moe.fit_mister_e(train, valid, classes=["angry", "happy"], out_dir="runs/moe/x",
...                           speech_input="whisper-base", text_input="minilm")        # doctest: +SKIP
>>> out = system.outputs(test)        # mixture, each expert, gate weights per turn   # doctest: +SKIP
>>> system.save("runs/moe/x/model"); moe.load_mister_e("runs/moe/x/model", out_dir="runs/moe/x")  # doctest: +SKIP

Segments must form conversations (``dialogue`` + ``turn``); single utterances are strung into
pseudo-conversations with :func:`spokenemo.data.pseudo.pseudo_parts`. The two imbalance-regime
experiments are in :mod:`spokenemo.api.moe_regimes`. Importing this module does not import torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError
from spokenemo.data.manifest import Segment
from spokenemo.features.providers import FeatureBank
from spokenemo.protocols import Fold
from spokenemo.systems import RunContext, load_system
from spokenemo.systems.context import FoldContext
from spokenemo.systems.mister_e.config import MisterEConfig
from spokenemo.systems.mister_e.system import MisterESystem

__all__ = ["MisterEConfig", "MisterESystem", "fit_mister_e", "load_mister_e", "moe_context"]


def moe_context(out_dir: str | Path, classes: Sequence[str], segments: Sequence[Segment], *,
                train: Sequence[Segment] = (), test: Sequence[Segment] = (), seed: int = 0,
                features_dir: str | Path | None = None, features: Any = None, name: str = "mister-e") -> FoldContext:
    """A :class:`FoldContext` for running MiSTER-E outside the experiment runner.

    Parameters
    ----------
    out_dir : folder for the work files (``work/``) and the text-vector cache (``features/``).
    classes : the label set, in order.
    segments : every segment of the task.
    train, test : the fold's parts (recorded in the fold).
    features_dir : feature cache folder (default ``out_dir/features``); pass a shared one (e.g.
        ``runs/feature-cache``) to reuse speech-encoder features other runs computed.
    features : a feature source to use instead of a :class:`FeatureBank` on ``features_dir``.
    """
    out = Path(out_dir)
    bank = features if features is not None else FeatureBank(Path(features_dir or out / "features"), lambda n: {})
    run = RunContext(experiment=None, options=None, out_dir=out, config_path=None, features=bank, path_resolver=Path)
    task = run.for_task(task=name, slug=name, labels=list(classes), segments=list(segments), folds_dir=out)
    fold = Fold(name, [u.key for u in train], [u.key for u in test])
    return task.for_fold(fold=fold, seed=seed, system=name, work_dir=out / "work" / f"seed{seed}", fingerprint="")


def fit_mister_e(train: Sequence[Segment], valid: Sequence[Segment], *, classes: Sequence[str], out_dir: str | Path,
                 seed: int = 0, test: Sequence[Segment] = (), features_dir: str | Path | None = None,
                 features: Any = None, cache_dir: str | Path | None = None, **options: Any) -> MisterESystem:
    """Train MiSTER-E (both phases) on ``train``, choosing epochs on ``valid``; ``options`` are
    :class:`MisterEConfig` fields (a wrong one is a ``ValidationError`` naming it). ``cache_dir``:
    a folder where text vectors and trained phase-1 encoders are shared between calls (the
    ablation rows of one seed train phase 1 once)."""
    cfg = MisterEConfig(**options)
    everything = [*train, *valid, *test]
    context = moe_context(out_dir, classes, everything, train=train, test=test, seed=seed,
                          features_dir=features_dir, features=features)
    system = MisterESystem(cfg)
    system.cache_dir = Path(cache_dir) if cache_dir is not None else None
    system.fit(train, valid, context)
    return system


def load_mister_e(folder: str | Path, *, out_dir: str | Path, classes: Sequence[str] = (),
                  features_dir: str | Path | None = None, features: Any = None) -> MisterESystem:
    """A saved MiSTER-E (``system.save(folder)``) with a context to read features from."""
    context = moe_context(out_dir, classes, [], features_dir=features_dir, features=features)
    system = load_system(folder, context=context)
    if not isinstance(system, MisterESystem):
        raise ConfigError(f"{folder} holds system {system.name!r}, not mister-e",
                          hint="load it with spokenemo.systems.load_system")
    return system
