"""From a config to utterances and folds: run the corpus recipes, apply a label set, build folds.

(``speaker_of`` and ``stratified_subset`` are the project's one speaker rule and sampling rule,
:mod:`spokenemo.core.speakers` and :mod:`spokenemo.core.sampling`, re-exported here.)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from spokenemo.core.errors import ConfigError, CorpusLayoutError
from spokenemo.core.sampling import stratified_subset
from spokenemo.core.speakers import speaker_of
from spokenemo.data import get_recipe, prepare
from spokenemo.data.manifest import Segment
from spokenemo.experiment.config import ExperimentConfig, resolve_path
from spokenemo.protocols import Fold, LabelledUtterances, apply_label_set, build_folds, get_label_set
from spokenemo.protocols.folds import normalize_split

log = logging.getLogger(__name__)


@dataclass
class Task:
    """One label set of an experiment: its utterances and folds.

    Attributes
    ----------
    name : str
        The label set's name (``"4class"``, ``"meld7"``).
    labels : list of str
        Class order.
    utterances : LabelledUtterances
        The utterances kept by the label set (``label`` = class).
    folds : list of Fold
        The folds run (all of the protocol's unless ``--folds`` picked some).
    n_protocol_folds : int
        How many folds the protocol has (0 = as many as ``folds``).
    """

    name: str
    labels: list[str]
    utterances: LabelledUtterances
    folds: list[Fold]
    n_protocol_folds: int = 0

    def by_key(self) -> dict[str, Segment]:
        return {u.key: u for u in self.utterances}


def corpus_roots(cfg: ExperimentConfig, config_path: str | Path | None,
                 overrides: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Resolved root of every corpus of ``cfg`` (``overrides`` maps corpus name -> root)."""
    overrides = dict(overrides or {})
    over = {get_recipe(k).name: v for k, v in overrides.items()}
    unknown = sorted(set(over) - {c.name for c in cfg.corpora})
    if unknown:
        raise ConfigError(f"--root given for {unknown}, which the config does not use",
                          hint="corpora of this config: " + ", ".join(c.name for c in cfg.corpora))
    return {c.name: (Path(over[c.name]).expanduser().resolve() if c.name in over
                     else resolve_path(c.root, config_path)) for c in cfg.corpora}


def load_utterances(cfg: ExperimentConfig, config_path: str | Path | None = None,
                    overrides: Mapping[str, str] | None = None) -> list[Segment]:
    """Run every corpus recipe of ``cfg`` and apply its ``speakers``/``splits`` filters.

    Raises
    ------
    ConfigError
        A corpus root does not exist (the message names the corpus, the path, and ``--root``).
    CorpusLayoutError
        A root exists but does not hold the release the recipe expects.
    """
    roots = corpus_roots(cfg, config_path, overrides)
    out: list[Segment] = []
    for c in cfg.corpora:
        root = roots[c.name]
        if not root.exists():
            where = f" (config {config_path})" if config_path else ""
            raise ConfigError(f"corpus {c.name!r}: root {root} does not exist{where}",
                              hint=f"set corpora[].root in the config or pass --root {c.name}=/path/to/{c.name}")
        utts = prepare(c.name, root, **c.options)
        if c.speakers is not None:
            wanted = set(c.speakers)
            found = {str(u.speaker) for u in utts}
            missing = sorted(wanted - found)
            if missing:
                raise CorpusLayoutError(f"corpus {c.name!r}: speakers {missing} not found under {root}",
                                        hint=f"speakers present: {', '.join(sorted(found)[:30])}")
            utts = [u for u in utts if str(u.speaker) in wanted]
        if c.splits is not None:
            wanted_splits = {normalize_split(s) for s in c.splits}
            utts = [u for u in utts if normalize_split(u.split) in wanted_splits]
        if not utts:
            raise CorpusLayoutError(f"corpus {c.name!r}: no utterances under {root} after filtering")
        log.info("corpus %s: %d utterances from %s", c.name, len(utts), root)
        out.extend(utts)
    return out


def build_task(cfg: ExperimentConfig, utterances: Sequence[Segment], label_set: str,
               only_folds: Sequence[str] | None = None) -> Task:
    """Apply ``label_set`` and build the protocol's folds (optionally only the named ones)."""
    lset = get_label_set(label_set)
    labelled = apply_label_set(utterances, lset)
    p = cfg.protocol
    folds = build_folds(labelled, p.name, label_set=None, k=p.k, groups=p.groups, n_valid=p.n_valid,
                        train_corpora=p.train_corpora, test_corpora=p.test_corpora,
                        valid_corpora=p.valid_corpora, test_by_speaker=p.test_by_speaker,
                        test_split=p.test_split, seed=p.seed)
    total = len(folds)
    if only_folds:
        names = [f.name for f in folds]
        missing = [n for n in only_folds if n not in names]
        if missing:
            raise ConfigError(f"--folds {', '.join(missing)}: no such fold", hint="folds: " + ", ".join(names))
        folds = [f for f in folds if f.name in set(only_folds)]
    return Task(name=lset.name, labels=list(lset.names), utterances=labelled, folds=folds, n_protocol_folds=total)


__all__ = ["Task", "build_task", "corpus_roots", "load_utterances", "speaker_of", "stratified_subset"]
