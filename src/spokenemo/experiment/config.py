"""Experiment configuration: one YAML file says what to run, validated with pydantic.

A config names the corpora (recipe + root), the label set(s), the protocol that builds the
folds, the cue options, the systems to compare (rows of registered systems: presets or mappings,
see :mod:`.systems`), the sections systems declare (AECoTD: ``student``, ``teacher``) and the seeds. Every mistake is a :class:`~spokenemo.core.errors.ConfigError` that
names the file and the field (``configs/x.yaml: protocol.k: Input should be a valid integer``).

Relative corpus roots are resolved, in order, against the folder of the config file, the
repository root (the nearest parent of the config holding ``pyproject.toml``) and the working
directory; the first that exists wins. So ``root: ../shared/data/ravdess`` in ``configs/`` finds
``shared/data`` beside the repository.

>>> cfg = load_config("configs/ravdess-4class.yaml")        # doctest: +SKIP
>>> cfg.protocol.name, [s.name for s in cfg.resolved_systems()]  # doctest: +SKIP
('speaker-kfold', ['cue-lr', 'cue-lr-speaker-z', 'egemaps-svm', ...])
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from spokenemo.core.config import read_yaml_mapping, validate_config
from spokenemo.core.errors import ConfigError
from spokenemo.data import get_recipe
from spokenemo.experiment.systems import SystemSpec, ablation_systems, resolve_system
from spokenemo.protocols import PROTOCOLS, get_label_set
from spokenemo.protocols.labels import corpus_key
from spokenemo.systems.registry import experiment_sections

METRICS = ("ua", "wa", "macro_f1", "weighted_f1")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CorpusConfig(_Strict):
    """One corpus: a recipe name and the root of its release.

    Parameters
    ----------
    name : str
        Recipe name (``ravdess``, ``nemo``, ``korean``, ``meld``, ``iemocap``, ...).
    root : str
        Corpus root; relative paths are resolved as the module docstring says.
    options : dict
        Keyword options of the recipe (``on_missing: skip``, ``clips: ...`` for MELD).
    speakers : list of str, optional
        Keep only these speakers (RAVDESS actors ``"01"``..``"20"``).
    splits : list of str, optional
        Keep only these official splits (MELD ``test``).
    """

    name: str
    root: str
    options: dict[str, Any] = Field(default_factory=dict)
    speakers: list[str] | None = None
    splits: list[str] | None = None

    @field_validator("name")
    @classmethod
    def _known_recipe(cls, v: str) -> str:
        try:
            return get_recipe(v).name
        except Exception as err:  # SpokenemoError with the list of recipes
            raise ValueError(str(err)) from None

    @field_validator("speakers", mode="before")
    @classmethod
    def _str_speakers(cls, v: Any) -> Any:
        # YAML reads 01 as the integer 1; speakers are strings ("01")
        if isinstance(v, list):
            return [f"{x:02d}" if isinstance(x, int) else str(x) for x in v]
        return v


class ProtocolConfig(_Strict):
    """How folds are built: a name from :data:`spokenemo.protocols.PROTOCOLS` and its options."""

    name: str
    k: int = Field(5, ge=2)
    groups: list[list[str]] | None = None
    n_valid: int = Field(0, ge=0)
    train_corpora: list[str] = Field(default_factory=list)
    test_corpora: list[str] = Field(default_factory=list)
    valid_corpora: list[str] = Field(default_factory=list)
    test_by_speaker: bool = False
    test_split: str = "test"
    seed: int = 0

    @field_validator("name")
    @classmethod
    def _known_protocol(cls, v: str) -> str:
        if v not in PROTOCOLS:
            raise ValueError(f"unknown protocol {v!r}; protocols: {', '.join(PROTOCOLS)}")
        return v

    @field_validator("groups", mode="before")
    @classmethod
    def _str_groups(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [[f"{x:02d}" if isinstance(x, int) else str(x) for x in g] if isinstance(g, list) else g
                    for g in v]
        return v

    @model_validator(mode="after")
    def _corpora_for_cross(self) -> ProtocolConfig:
        if self.name == "cross-corpus" and not (self.train_corpora and self.test_corpora):
            raise ValueError("cross-corpus needs train_corpora and test_corpora")
        return self


class CueConfig(_Strict):
    """Cue options shared by the student prompts and the cue baselines.

    Parameters
    ----------
    n_segments : int
        Fine-cue segments (7 in the paper).
    speaker_relative : bool
        Coarse-cue thresholds relative to each speaker instead of the training fold's medians.
    extended : bool
        Render the extended cue set (where the cue module offers one).
    options : dict
        Extra keyword options for the cue extractor (``fmin``, ``fmax``, ...).
    """

    n_segments: int = Field(7, ge=1, le=50)
    speaker_relative: bool = False
    extended: bool = False
    options: dict[str, Any] = Field(default_factory=dict)


class ExperimentConfig(_Strict):
    """A whole experiment; see the module docstring and ``configs/*.yaml``.

    The sections that belong to a system (AECoTD's ``student`` and ``teacher``) are not fields of
    this class: every registered system declares its own (:attr:`spokenemo.systems.System.config_sections`)
    and :func:`experiment_config_model` adds them as typed fields, so configs are validated as a
    whole without this layer knowing any system. Read one with :meth:`section`.
    """

    name: str
    description: str = ""
    corpora: list[CorpusConfig] = Field(min_length=1)
    label_sets: list[str] = Field(min_length=1)
    protocol: ProtocolConfig
    cues: CueConfig = CueConfig()
    features: dict[str, dict[str, Any]] = Field(default_factory=dict)
    feature_cache: str | None = None
    systems: list[str | dict[str, Any]] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    metric: Literal["ua", "wa", "macro_f1", "weighted_f1"] = "ua"
    data_note: str = ""
    paper_reference: Literal["iemocap-ua", "meld-ood-wa"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "corpus" in data:
                if "corpora" in data:
                    raise ValueError("give either corpus or corpora, not both")
                data["corpora"] = [data.pop("corpus")]
            if "label_set" in data:
                if "label_sets" in data:
                    raise ValueError("give either label_set or label_sets, not both")
                data["label_sets"] = [data.pop("label_set")]
        return data

    @field_validator("label_sets")
    @classmethod
    def _known_label_sets(cls, v: list[str]) -> list[str]:
        for name in v:
            try:
                get_label_set(name)
            except Exception as err:
                raise ValueError(str(err)) from None
        if len(set(v)) != len(v):
            raise ValueError(f"label set listed twice: {v}")
        return v

    @field_validator("systems")
    @classmethod
    def _known_systems(cls, v: list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
        specs = [resolve_system(s) for s in v]
        names = [s.name for s in specs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"system names repeat: {dup}")
        return v

    @model_validator(mode="after")
    def _corpora_consistent(self) -> ExperimentConfig:
        names = [c.name for c in self.corpora]
        if len(set(names)) != len(names):
            raise ValueError(f"corpus listed twice: {names}")
        known = {corpus_key(n) for n in names}
        for field in ("train_corpora", "test_corpora", "valid_corpora"):
            for c in getattr(self.protocol, field):
                if corpus_key(c) not in known:
                    raise ValueError(f"protocol.{field}: corpus {c!r} is not in corpora ({', '.join(names)})")
        return self

    # --- derived -----------------------------------------------------------------------------
    def resolved_systems(self, *, ablations: bool = False, only: list[str] | None = None) -> list[SystemSpec]:
        """The systems to run: the configured ones, plus the ablation set when asked.

        Parameters
        ----------
        ablations : bool
            Add every system's ablation presets (see :func:`~.systems.ablation_systems`).
        only : list of str, optional
            Keep only the systems with these names (error for a name that is not configured).
        """
        specs = [resolve_system(s) for s in self.systems]
        if ablations:
            have = {s.name for s in specs}
            specs += [s for s in ablation_systems(self.cues.n_segments) if s.name not in have]
        if only:
            by_name = {s.name: s for s in specs}
            missing = [n for n in only if n not in by_name]
            extra = [n for n in missing if _try_resolve(n) is not None]
            missing = [n for n in missing if n not in extra]
            if missing:
                raise ConfigError(f"--systems {', '.join(missing)}: not configured",
                                  hint="configured: " + ", ".join(by_name) + " (add --ablations for the ablation set)")
            specs = [by_name[n] if n in by_name else resolve_system(n) for n in only]
        return specs

    def feature_settings(self, name: str) -> dict[str, Any]:
        """The settings of feature provider ``name``: the ``cues`` section for ``cues``, else
        ``features.<name>`` (e.g. ``features: {encoded: {workers: 2, executor: dask}}``)."""
        if name == "cues":
            return self.cues.model_dump()
        return dict(self.features.get(name, {}))

    def fingerprint(self) -> str:
        """Short hash of the validated config (recorded in results.json)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def section(self, name: str) -> BaseModel:
        """A system's section of this config (its defaults when the YAML has none)."""
        value = getattr(self, name, None)
        if not isinstance(value, BaseModel) or name in ExperimentConfig.model_fields:
            raise ConfigError(f"the experiment config has no system section {name!r}",
                              hint="sections: " + ", ".join(sorted(experiment_sections())))
        return value


def _try_resolve(name: str) -> SystemSpec | None:
    try:
        return resolve_system(name)
    except ValueError:
        return None


# --- loading ------------------------------------------------------------------------------------
_MODELS: dict[tuple[tuple[str, int], ...], type[ExperimentConfig]] = {}


def experiment_config_model() -> type[ExperimentConfig]:
    """:class:`ExperimentConfig` with every registered system's sections as typed fields."""
    sections = experiment_sections()
    clash = sorted(set(sections) & set(ExperimentConfig.model_fields))
    if clash:
        raise ConfigError(f"system config section(s) {clash} clash with experiment config fields",
                          hint="rename the system's section")
    key = tuple(sorted((name, id(model)) for name, model in sections.items()))
    if key not in _MODELS:
        fields: dict[str, Any] = {name: (model, Field(default_factory=model)) for name, model in sections.items()}
        _MODELS[key] = create_model("ExperimentConfig", __base__=ExperimentConfig,
                                    __module__=ExperimentConfig.__module__, **fields)
    return _MODELS[key]


def config_from_dict(data: Any, source: str = "<config>") -> ExperimentConfig:
    """Validate a parsed YAML mapping; errors name ``source`` and each bad field."""
    return validate_config(experiment_config_model(), data, source=source, what="experiment config",
                           example="configs/ravdess-4class.yaml")


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment YAML file.

    Raises
    ------
    ConfigError
        The file is missing, is not YAML (with its line), or a field is invalid (file and field named).
    """
    return config_from_dict(read_yaml_mapping(path, example="configs/ravdess-4class.yaml"), str(path))


def repo_root_of(path: Path) -> Path | None:
    """Nearest parent of ``path`` that holds ``pyproject.toml`` (the repository root)."""
    for parent in [path.resolve(), *path.resolve().parents]:
        if (parent / "pyproject.toml").is_file():
            return parent
    return None


def resolve_path(value: str | Path, config_path: str | Path | None) -> Path:
    """Resolve a path of a config: absolute as is; relative against the config's folder, the
    repository root, then the working directory (the first that exists; the config's folder
    when none does, so the error names a sensible place)."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return p
    bases: list[Path] = []
    if config_path is not None:
        cfg_dir = Path(config_path).resolve().parent
        bases.append(cfg_dir)
        root = repo_root_of(cfg_dir)
        if root is not None:
            bases.append(root)
    bases.append(Path.cwd())
    for base in bases:
        if (base / p).exists():
            return (base / p).resolve()
    return (bases[1] if len(bases) > 2 else bases[0]) / p
