"""Training data of the student: manifest + training keys + cues + teacher cache -> items.

Everything fitted (the cue thresholds) is fitted on the training keys only. Every utterance
that is left out or changed is counted in :attr:`TrainingData.counts`, which ends up in the
model directory's ``metrics.json``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError, ProtocolError
from spokenemo.core.sampling import balanced_subset
from spokenemo.data.manifest import read_manifest
from spokenemo.protocols import apply_label_set, get_label_set, read_folds
from spokenemo.systems.aecotd.config import StudentConfig
from spokenemo.systems.aecotd.cuetext import CueTable, fit_thresholds, read_cue_table, render, text_config
from spokenemo.systems.aecotd.inputs import StudentInput, load_teacher

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """Items to train on and what was fitted or counted on the way.

    Attributes
    ----------
    items : list of StudentInput
        With label and (possibly None) reasoning.
    labels : list of str
        The label set's classes, in order.
    label_set : str
    thresholds : dict
        Cue thresholds (JSON form) fitted on the training keys.
    cue_options : dict
        Extraction settings of the cue file (fingerprint, ...), recorded with the model.
    counts : dict
        Utterances kept, left out and why.
    """

    items: list[StudentInput]
    labels: list[str]
    label_set: str
    thresholds: dict[str, Any] = field(default_factory=dict)
    cue_options: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)


def read_key_list(value: Path | Sequence[str]) -> list[str]:
    """Keys from a list, or from a file: JSON list, or one key per line (``#`` comments allowed)."""
    if not isinstance(value, (str, Path)):
        return [str(k) for k in value]
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"data.train_keys: {path} not found", hint="a text file with one utterance key per line")
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return [str(k) for k in json.loads(text)]
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def training_keys(cfg: StudentConfig) -> tuple[list[str], str]:
    """The training keys of ``cfg.data`` and a description of where they come from."""
    d = cfg.data
    if d.folds is not None:
        folds = read_folds(d.folds)
        if d.fold is None:
            raise ConfigError(f"{cfg.source}: field data.fold: name the fold of {d.folds} to train on",
                              hint="folds there: " + ", ".join(f.name for f in folds))
        by_name = {f.name: f for f in folds}
        if d.fold not in by_name:
            raise ConfigError(f"{cfg.source}: field data.fold: no fold {d.fold!r} in {d.folds}",
                              hint="folds there: " + ", ".join(by_name))
        return list(by_name[d.fold].train), f"{d.folds}:{d.fold}"
    if d.train_keys is not None:
        return read_key_list(d.train_keys), "train_keys"
    raise ConfigError(f"{cfg.source}: no training keys: give data.folds and data.fold, or data.train_keys",
                      hint="write folds with `spokenemo folds MANIFEST --protocol speaker-kfold -o DIR`")


def _require(path: Path | None, field_name: str, cfg: StudentConfig, why: str) -> Path:
    if path is None:
        raise ConfigError(f"{cfg.source}: field {field_name} is required ({why})")
    return path


def build_training_data(cfg: StudentConfig) -> TrainingData:
    """Read ``cfg.data`` into training items (see the module docstring).

    Raises
    ------
    ConfigError
        A required input is missing.
    ProtocolError
        Training keys that are not in the manifest.
    """
    d = cfg.data
    manifest = _require(d.manifest, "data.manifest", cfg, "the utterances to train on")
    lset = get_label_set(d.label_set)
    every = read_manifest(manifest)
    labelled = {u.key: u for u in apply_label_set(every, lset)}
    known = {u.key for u in every}
    keys, source = training_keys(cfg)
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ProtocolError(f"{len(unknown)} training keys are not in {manifest} (e.g. {unknown[:3]})",
                            hint="build the folds from this manifest")
    counts: dict[str, Any] = {"train_keys": len(keys), "keys_from": source,
                              "outside_label_set": sum(k not in labelled for k in keys)}
    train = [labelled[k] for k in keys if k in labelled]
    if d.max_utterances is not None:
        train = balanced_subset(train, d.max_utterances, cfg.runtime.seed)
        counts["subset"] = d.max_utterances

    use_cues = cfg.cues.coarse or cfg.cues.fine or cfg.cues.extended
    table: CueTable | None = None
    thresholds = None
    if use_cues:
        table = read_cue_table(_require(d.cues, "data.cues", cfg, "the prompt shows cues; set cues.coarse and "
                                        "cues.fine to false for the text-only ablation"))
        # thresholds = medians over the whole training part of the fold (never the test part)
        fit_rows = [table.rows[k] for k in keys if k in labelled and k in table.rows]
        thresholds = fit_thresholds(fit_rows, cfg.cues, info={"keys_from": source, "cue_table": str(d.cues)})
        counts["thresholds_fitted_on"] = len(fit_rows)
    cue_config = text_config(cfg.cues)
    teacher: dict[str, dict[str, Any]] = {}
    if cfg.target.cot:
        teacher = load_teacher(_require(d.teacher, "data.teacher", cfg,
                                        "chain-of-thought targets; set target.cot: false for the no-CoT ablation"))
    why: Counter = Counter()
    items = []
    for u in train:
        if table is not None and u.key not in table.rows:
            why["no_cues"] += 1
            continue
        cue_text = render(table.rows[u.key], thresholds, cue_config) if table is not None else ""
        reasoning = None
        if cfg.target.cot:
            row = teacher.get(u.key)
            if row is None:
                why["no_teacher"] += 1
                if cfg.target.on_missing_teacher == "drop":
                    continue
            else:
                predicted = row.get("predicted")
                if row.get("mode") == "blind" and predicted is not None and predicted != u.label:
                    why["teacher_disagrees"] += 1
                    if cfg.target.on_disagreement == "drop":
                        continue
                    reasoning = None if cfg.target.on_disagreement == "label_only" else row.get("reasoning")
                else:
                    reasoning = row.get("reasoning")
        if not u.text:
            why["no_transcript"] += 1
        items.append(StudentInput(key=u.key, transcript=u.text or "", cue_text=cue_text, label=u.label,
                                  reasoning=reasoning))
    counts.update(dict(why))
    counts["items"] = len(items)
    counts["per_label"] = dict(Counter(i.label for i in items))
    if why:
        log.warning("training data: %s", ", ".join(f"{k}={v}" for k, v in sorted(why.items())))
    return TrainingData(items=items, labels=list(lset.names), label_set=lset.name,
                        thresholds=thresholds.to_json() if thresholds is not None else {},
                        cue_options=table.options if table is not None else {}, counts=counts)
