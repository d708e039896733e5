"""The System protocol: what every emotion-recognition system of spokenemo implements.

A system is a class registered under a name with its pydantic config class
(:func:`spokenemo.systems.registry.register_system`). The experiment runner builds one instance
per fold from a validated config and calls

- :meth:`System.fit` on the fold's training and validation parts (the latter may be empty),
- :meth:`System.predict` on segments: class probabilities per segment (:class:`Predictions`),

and may :meth:`~System.save` / :meth:`~System.load` a fitted system. Everything else the runner
needs is declared on the class, never asked by name:

- ``seeded``: run on every seed of the experiment (trained models) or on the first only
  (deterministic baselines);
- ``needs_audio``, ``needs_text``, ``features`` (or :meth:`System.requirements` when they depend
  on the options): the runner skips a system with a note when a corpus lacks audio or
  transcripts or a feature's library is missing, and extracts the features before the folds;
- :meth:`System.fingerprint_parts` and :meth:`System.run_settings`: what a fold result depends
  on besides the system's options and the fold (a finished fold is reused only when they are
  unchanged), and the settings recorded next to its numbers;
- report hooks (:meth:`System.settings_text`, :meth:`System.report_tables`) and presets
  (``presets``, :meth:`System.ablations`, :meth:`System.preset_for`).

See ``docs/adding-a-system.md`` for a worked example.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.core.fileio import atomic_write
from spokenemo.data.manifest import Segment
from spokenemo.systems.context import FoldContext, RunContext, TaskContext

#: The file :meth:`System.save` writes: which system, with which config.
SYSTEM_FILE = "system.json"


class SystemUnavailable(SpokenemoError):
    """A system cannot run in this experiment (missing teacher outputs, ...); it is skipped with this note."""


class SystemConfig(BaseModel):
    """Base of every system's options: unknown options are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Preset:
    """A named system row: a registered system (``kind``), a report label and options."""

    kind: str
    label: str
    options: Mapping[str, Any] = field(default_factory=dict)


def preset(label: str, **options: Any) -> Preset:
    """A preset of the class it is declared on (``presets = {"name": preset("label", C=0.1)}``)."""
    return Preset("", label, options)


@dataclass(frozen=True)
class Requirements:
    """What a system needs from the data and the feature source.

    Attributes
    ----------
    audio : bool
        Every segment needs an audio path.
    text : bool
        The corpus needs transcripts.
    features : mapping
        Feature name -> request options (``{"cues": {"n_segments": 9}}``); each is extracted
        for the whole task before the folds run.
    """

    audio: bool = False
    text: bool = False
    features: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class Predictions:
    """Class probabilities of segments.

    Attributes
    ----------
    classes : list of str
        Column order of :attr:`probabilities`.
    probabilities : numpy.ndarray, shape (n, len(classes))
        One row per segment; a row of NaN means no prediction (no features, no input).
    labels : list of (str or None), optional
        The system's own decisions, when they are not simply the most probable class (a model
        that breaks ties its own way); None = the argmax of each row.
    """

    classes: list[str]
    probabilities: np.ndarray
    labels: list[str | None] | None = None

    def __post_init__(self) -> None:
        self.classes = [str(c) for c in self.classes]
        probs = np.asarray(self.probabilities, dtype=np.float64)
        if probs.size == 0:
            probs = probs.reshape(len(probs) if probs.ndim == 2 else 0, len(self.classes))
        if probs.ndim != 2 or probs.shape[1] != len(self.classes):
            raise SpokenemoError(f"predictions: probabilities of shape {probs.shape} for {len(self.classes)} classes",
                                 hint="one row per segment, one column per class")
        self.probabilities = probs
        if self.labels is not None and len(self.labels) != len(self.probabilities):
            raise SpokenemoError(f"predictions: {len(self.labels)} labels for {len(self.probabilities)} rows")

    def __len__(self) -> int:
        return len(self.probabilities)

    @classmethod
    def one_hot(cls, labels: Sequence[str | None], classes: Sequence[str] | None = None) -> Predictions:
        """Hard decisions as probability rows (1 for the label; a row of NaN for None)."""
        names = [str(c) for c in (classes if classes is not None else sorted({x for x in labels if x is not None}))]
        probs = np.zeros((len(labels), len(names)))
        for i, label in enumerate(labels):
            if label is None:
                probs[i] = np.nan
            else:
                probs[i, names.index(str(label))] = 1.0
        return cls(names, probs, [None if x is None else str(x) for x in labels])

    def decisions(self) -> list[str | None]:
        """One label per segment (None where there is no prediction)."""
        if self.labels is not None:
            return list(self.labels)
        out: list[str | None] = []
        for row in self.probabilities:
            out.append(None if np.isnan(row).all() else self.classes[int(np.nanargmax(row))])
        return out


class System(ABC):
    """Base class of every registered system; see the module docstring.

    Subclasses are registered with :func:`~spokenemo.systems.registry.register_system`, which
    sets :attr:`name` and :attr:`config_cls`.
    """

    #: Registered name (set by ``register_system``).
    name: ClassVar[str] = ""
    #: The pydantic class of the options (set by ``register_system``).
    config_cls: ClassVar[type[SystemConfig]] = SystemConfig
    #: Run on every seed of the experiment (True) or on the first one only (deterministic).
    seeded: ClassVar[bool] = False
    #: Needs audio for every segment / transcripts in the corpus.
    needs_audio: ClassVar[bool] = False
    needs_text: ClassVar[bool] = False
    #: Names of the features it reads (registered feature providers).
    features: ClassVar[tuple[str, ...]] = ()
    #: Named rows of this system (registered with it; configs name them).
    presets: ClassVar[Mapping[str, Preset]] = {}
    #: Key of :meth:`run_settings` in results.json's ``meta`` (None: not recorded there).
    meta_key: ClassVar[str | None] = None
    #: Top-level sections this system adds to an experiment config, name -> pydantic class (e.g.
    #: AECoTD's ``student`` and ``teacher``). Every registered system's sections become typed,
    #: validated fields of the experiment config; a section absent from a YAML takes its defaults.
    config_sections: ClassVar[Mapping[str, type[BaseModel]]] = {}

    def __init__(self, config: SystemConfig) -> None:
        if not isinstance(config, self.config_cls):
            raise ConfigError(f"system {self.name!r} needs a {self.config_cls.__name__}, got {type(config).__name__}")
        self.config = config
        #: What happened in fit and predict (recorded with the fold's result).
        self.info: dict[str, Any] = {}
        #: The context of the last fit (or the one given to load): features, task segments.
        self.context: FoldContext | TaskContext | None = None

    # --- the protocol ---------------------------------------------------------------------------
    @abstractmethod
    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        """Learn from a fold's training part (``valid`` may be empty); labels are ``segment.label``."""

    @abstractmethod
    def predict(self, segments: Sequence[Segment]) -> Predictions:
        """Class probabilities of ``segments`` (one row each, in order)."""

    def save(self, folder: str | Path) -> Path:
        """Write the fitted system to ``folder`` (``system.json`` + :meth:`save_state`)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(folder / SYSTEM_FILE) as fh:
            json.dump({"system": self.name, "config": self.config.model_dump(mode="json")}, fh, indent=1)
            fh.write("\n")
        self.save_state(folder)
        return folder

    @classmethod
    def load(cls, folder: str | Path, context: FoldContext | TaskContext | None = None) -> System:
        """A fitted system from :meth:`save`'s folder; ``context`` supplies features for predict."""
        data = read_system_file(folder)
        if data["system"] != cls.name:
            raise ConfigError(f"{folder}: holds system {data['system']!r}, not {cls.name!r}",
                              hint="load it with spokenemo.systems.load_system")
        system = cls(cls.config_cls.model_validate(data["config"]))
        system.context = context
        system.load_state(Path(folder))
        return system

    def save_state(self, folder: Path) -> None:
        """Write what :meth:`load_state` needs (the fitted model)."""
        raise SpokenemoError(f"system {self.name!r} cannot be saved")

    def load_state(self, folder: Path) -> None:
        """Read what :meth:`save_state` wrote."""
        raise SpokenemoError(f"system {self.name!r} cannot be loaded")

    def require_context(self) -> FoldContext | TaskContext:
        """The context of the last fit (or of ``load``); an error naming the fix when there is none."""
        if self.context is None:
            raise SpokenemoError(f"system {self.name!r} has no context (features, task segments)",
                                 hint="fit it first, or pass context= to load()")
        return self.context

    # --- declared needs and records -------------------------------------------------------------
    @classmethod
    def requirements(cls, config: SystemConfig) -> Requirements:
        """What this configuration needs; by default the class's ``needs_*`` and ``features``."""
        return Requirements(audio=cls.needs_audio, text=cls.needs_text, features={f: {} for f in cls.features})

    @classmethod
    def fingerprint_parts(cls, config: SystemConfig, context: TaskContext) -> dict[str, Any]:
        """What a fold result depends on besides the options, the fold and the seed.

        By default: each feature's fingerprint part (its settings and library version).
        """
        return {name: context.features.fingerprint_part(name) for name in cls.requirements(config).features}

    @classmethod
    def run_settings(cls, context: RunContext) -> dict[str, Any]:
        """Settings of the run that this system's numbers depend on (recorded with every row)."""
        return {}

    # --- reports and presets --------------------------------------------------------------------
    @classmethod
    def is_seeded(cls, config: SystemConfig) -> bool:
        """Whether a row with ``config`` depends on the seed (run on every seed) or not (first seed only)."""
        return cls.seeded

    @classmethod
    def settings_text(cls, options: Mapping[str, Any], seed: int, settings: Mapping[str, Any],
                      folds: Sequence[Mapping[str, Any]]) -> str:
        """The report's settings cell of one row."""
        return f"seed {seed}" if cls.seeded else "baseline (deterministic)"

    @classmethod
    def report_tables(cls, rows: Mapping[str, Any], experiment: Any, caption: Callable[[str], str],
                      summary: Callable[[Any, str], str]) -> list[str]:
        """Extra Markdown sections of a task's report (a paper's tables); ``rows`` maps row names
        to finished results (``.system``, ``.aggregate``, ``.seed``, ``.settings``, ``.folds``)."""
        return []

    @classmethod
    def ablations(cls, n_segments: int) -> list[str]:
        """Preset names added by ``--ablations`` (``n_segments``: the experiment's cue segments)."""
        return []

    @classmethod
    def preset_for(cls, name: str) -> Preset | None:
        """A preset built from its name (``aecotd-no-cot-n11``), for names not in :attr:`presets`."""
        return None


def read_system_file(folder: str | Path) -> dict[str, Any]:
    """The ``system.json`` of a saved system (error naming the folder when absent or broken)."""
    path = Path(folder) / SYSTEM_FILE
    if not path.is_file():
        raise ConfigError(f"{folder}: no {SYSTEM_FILE}; not a saved system", hint="save one with System.save(folder)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err.msg})") from None
    if not isinstance(data, dict) or "system" not in data or "config" not in data:
        raise ConfigError(f"{path}: expected keys 'system' and 'config'")
    return data
