"""The system registry: register a system class under a name, find it, its presets, a saved one.

In the style of peft's ``register_peft_method``::

    from spokenemo.systems import Predictions, System, SystemConfig, register_system

    class CentroidConfig(SystemConfig):
        temperature: float = 1.0

    @register_system("nearest-centroid", CentroidConfig)
    class NearestCentroid(System):
        features = ("egemaps",)
        ...

A config then lists ``{name: my-centroid, kind: nearest-centroid, temperature: 0.5}``.

Where systems come from (imported on the first lookup, so importing one system's modules stays
cheap and free of cycles): every folder ``spokenemo/systems/<name>/`` (its ``system`` module when
it has one, else the package itself: adding a system is one folder with one registration), and
the ``spokenemo.systems`` entry-point group of installed packages (``name = "pkg.module"``).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel

from spokenemo.core.errors import ConfigError
from spokenemo.core.registry import Registry
from spokenemo.systems.base import Preset, System, SystemConfig, read_system_file
from spokenemo.systems.context import FoldContext, TaskContext

#: Entry-point group through which installed packages add systems.
ENTRY_POINT_GROUP = "spokenemo.systems"
_PACKAGE = "spokenemo.systems"

SYSTEMS: Registry[type[System]] = Registry("system")
SYSTEM_PRESETS: Registry[Preset] = Registry("system preset")
_loaded: list[str] = []


def builtin_system_modules() -> list[str]:
    """The module of every system folder under ``spokenemo/systems`` (``<folder>.system`` or the folder)."""
    package = importlib.import_module(_PACKAGE)
    out = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        folder = f"{_PACKAGE}.{info.name}"
        out.append(f"{folder}.system" if importlib.util.find_spec(f"{folder}.system") is not None else folder)
    return out


def load_builtin_systems() -> None:
    """Import every system folder's module and every entry point once (each registers its systems)."""
    if _loaded:
        return
    for module in builtin_system_modules():
        importlib.import_module(module)
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        entry.load()
    _loaded.append("*")  # only once all imported: a failing module raises again on the next lookup


def register_system(name: str, config_cls: type[SystemConfig] = SystemConfig, *,
                    aliases: Sequence[str] = ()) -> Callable[[type[System]], type[System]]:
    """Class decorator: register a :class:`~spokenemo.systems.base.System` under ``name``.

    Parameters
    ----------
    name : str
        The system's name (a config's ``kind``; file and report names use the row's name).
    config_cls : type
        Its options, a :class:`~spokenemo.systems.base.SystemConfig` subclass (defaults and
        validation).
    aliases : sequence of str
        Other kind names accepted in configs (older spellings).

    Raises
    ------
    ConfigError
        The name, an alias or a preset name is taken, or a preset's options are invalid.
    """

    def deco(cls: type[System]) -> type[System]:
        if not (isinstance(cls, type) and issubclass(cls, System)):
            raise ConfigError(f"register_system({name!r}): {cls!r} is not a System subclass")
        if not (isinstance(config_cls, type) and issubclass(config_cls, SystemConfig)):
            raise ConfigError(f"register_system({name!r}): the config class must derive from SystemConfig")
        cls.name = name
        cls.config_cls = config_cls
        SYSTEMS.add(name, cls)
        for alias in aliases:
            SYSTEMS.add(alias, cls)
        for preset_name, p in cls.presets.items():
            config_cls.model_validate(dict(p.options))  # a wrong preset fails at registration
            SYSTEM_PRESETS.add(preset_name, replace(p, kind=name))
        return cls

    return deco


def unregister_system(name: str) -> None:
    """Remove a system, its aliases and its presets (tests and notebooks that register toys)."""
    cls = SYSTEMS.get(name)
    for key in [k for k in SYSTEMS.names() if SYSTEMS.get(k) is cls]:
        SYSTEMS.remove(key)
    for key in [k for k in SYSTEM_PRESETS.names() if SYSTEM_PRESETS.get(k).kind == cls.name]:
        SYSTEM_PRESETS.remove(key)


def get_system(name: str) -> type[System]:
    """The system class registered as ``name`` (an alias gives the same class).

    Raises
    ------
    ConfigError
        Unknown name (the message lists the known ones).
    """
    load_builtin_systems()
    return SYSTEMS.get(name)


def system_names() -> list[str]:
    """Registered system names (aliases included), sorted."""
    load_builtin_systems()
    return SYSTEMS.names()


def system_classes() -> list[type[System]]:
    """Each registered system class once, in name order of its registered name."""
    load_builtin_systems()
    out: list[type[System]] = []
    for name in SYSTEMS.names():
        cls = SYSTEMS.get(name)
        if cls not in out and cls.name == name:
            out.append(cls)
    return out


def preset_names() -> list[str]:
    """Names of the registered presets (not the ones built from a pattern), sorted."""
    load_builtin_systems()
    return SYSTEM_PRESETS.names()


def find_preset(name: str) -> Preset | None:
    """The preset called ``name``: a registered one, or one a system builds from the name."""
    load_builtin_systems()
    if name in SYSTEM_PRESETS:
        return SYSTEM_PRESETS.get(name)
    for cls in system_classes():
        found = cls.preset_for(name)
        if found is not None:
            return replace(found, kind=cls.name)
    return None


def load_system(folder: str | Path, context: FoldContext | TaskContext | None = None) -> System:
    """A system saved with :meth:`System.save`, whatever its class (read from ``system.json``)."""
    return get_system(str(read_system_file(folder)["system"])).load(folder, context)


def experiment_sections() -> dict[str, type[BaseModel]]:
    """Every registered system's experiment-config sections (:attr:`System.config_sections`).

    Raises
    ------
    ConfigError
        Two systems claim the same section name.
    """
    load_builtin_systems()
    out: dict[str, type[BaseModel]] = {}
    owner: dict[str, str] = {}
    for cls in system_classes():
        for section, model in cls.config_sections.items():
            if section in out and out[section] is not model:
                raise ConfigError(f"systems {owner[section]!r} and {cls.name!r} both define the experiment "
                                  f"config section {section!r}", hint="rename one of the sections")
            out[section], owner[section] = model, cls.name
    return out
