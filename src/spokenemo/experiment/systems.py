"""The system rows an experiment compares, by name: presets and mappings resolved through the registry.

A row is a :class:`SystemSpec`: a unique ``name``, the registered system it runs (``kind``, see
:mod:`spokenemo.systems`) and that system's validated options. Configs list rows either by a
preset name (``"cue-lr-speaker-z"``) or as a mapping
``{name: my-lr, kind: cue-lr, speaker_z: true, fine: false}``; a mapping named after a preset
without a ``kind`` changes that preset's options. Each system's options class says what the
options are (defaults, validation); each system's ``presets`` name its usual rows.

>>> resolve_system("cue-lr-speaker-z").options["speaker_z"]
True
>>> resolve_system({"name": "z", "kind": "egemaps-svm", "C": 0.1}).to_json()["options"]
{'speaker_z': False, 'C': 0.1}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from spokenemo.core.errors import ConfigError
from spokenemo.systems import (
    Requirements,
    System,
    SystemConfig,
    find_preset,
    get_system,
    preset_names,
    system_classes,
    system_names,
)


@dataclass(frozen=True)
class SystemSpec:
    """One system row of an experiment.

    Parameters
    ----------
    name : str
        Unique within the experiment; used in file names and report rows.
    kind : str
        The registered system's name (:func:`spokenemo.systems.get_system`).
    options : mapping
        The system's options, defaults filled in (its config class, dumped).
    label : str
        Row label for reports (defaults to the name).
    """

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        if not self.label:
            object.__setattr__(self, "label", self.name)

    @property
    def system_cls(self) -> type[System]:
        return get_system(self.kind)

    @property
    def config(self) -> SystemConfig:
        return self.system_cls.config_cls.model_validate(dict(self.options))

    @property
    def seeded(self) -> bool:
        """Run on every seed of the experiment (trained systems) or on the first only."""
        return self.system_cls.is_seeded(self.config)

    def requirements(self) -> Requirements:
        return self.system_cls.requirements(self.config)

    def build(self) -> System:
        """A fresh, unfitted instance of the system with these options."""
        return self.system_cls(self.config)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "options": dict(self.options), "label": self.label}


class _Presets(Mapping[str, SystemSpec]):
    """Every registered preset as a :class:`SystemSpec` (a live view of the registry)."""

    def __getitem__(self, name: str) -> SystemSpec:
        if name not in preset_names():
            raise KeyError(name)
        return resolve_system(name)

    def __iter__(self) -> Iterator[str]:
        return iter(preset_names())

    def __len__(self) -> int:
        return len(preset_names())


#: Preset name -> :class:`SystemSpec`, over every registered system.
PRESETS: Mapping[str, SystemSpec] = _Presets()


def _error_text(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        loc = ".".join(str(x) for x in e["loc"])
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def make_spec(name: str, kind: str | None, label: str = "", options: Mapping[str, Any] | None = None) -> SystemSpec:
    """A validated :class:`SystemSpec` (options checked by the system's config class).

    Raises
    ------
    ValueError
        Unknown kind or option, or an invalid value (the message names the row).
    """
    try:
        cls = get_system(str(kind)) if kind is not None else None
    except ConfigError:
        cls = None
    if cls is None:
        raise ValueError(f"system {name!r}: unknown kind {kind!r}; kinds: {', '.join(system_names())}")
    options = dict(options or {})
    fields = cls.config_cls.model_fields
    bad = sorted(set(options) - set(fields))
    if bad:
        raise ValueError(f"system {name!r} ({cls.name}): unknown option(s) {bad}; options: "
                         f"{', '.join(fields) or '(none)'}")
    try:
        config = cls.config_cls.model_validate(options)
    except ValidationError as err:
        raise ValueError(f"system {name!r}: {_error_text(err)}") from None
    return SystemSpec(name, cls.name, config.model_dump(), label)


def resolve_system(entry: str | Mapping[str, Any]) -> SystemSpec:
    """A :class:`SystemSpec` from a preset name or a mapping with ``name``, ``kind`` and options.

    Raises
    ------
    ValueError
        Unknown preset, kind or option (the message lists the valid ones); pydantic turns it
        into a field error of the config.
    """
    if isinstance(entry, str):
        found = find_preset(entry)
        if found is None:
            raise ValueError(f"unknown system {entry!r}; presets: {', '.join(preset_names())} "
                             "(or a mapping with name, kind and options)")
        return make_spec(entry, found.kind, found.label, found.options)
    if not isinstance(entry, Mapping):
        raise ValueError(f"a system is a preset name or a mapping, got {type(entry).__name__}")
    entry = dict(entry)
    name, kind = entry.pop("name", None), entry.pop("kind", None)
    label = str(entry.pop("label", "") or "")
    if not name or not isinstance(name, str):
        raise ValueError("a system mapping needs a name")
    base = find_preset(name) if kind is None else None
    if base is not None:  # a preset with options changed
        kind, entry = base.kind, {**base.options, **entry}
        label = label or base.label
    return make_spec(name, kind, label, entry)


def ablation_systems(n_default: int = 7) -> list[SystemSpec]:
    """Every system's ablation presets (AECoTD: Table 1's ablations, cumulative as in the paper,
    and Table 4's n sweep without CoT); ``n_default`` is the experiment's fine-cue segment count."""
    return [resolve_system(name) for cls in system_classes() for name in cls.ablations(n_default)]
