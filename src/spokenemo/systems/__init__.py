"""Emotion-recognition systems behind one protocol, found by name.

Every system is a :class:`System` subclass registered with :func:`register_system` under a name
with its options class; the experiment runner only ever talks to this protocol. The built-in
systems (one folder each, found and registered on the first lookup, see :mod:`.registry`):

- ``aecotd`` (:mod:`spokenemo.systems.aecotd.system`): the AECoTD student (alias ``student``);
- ``cue-lr``, ``egemaps-svm``, ``majority``, ``tfidf-lr`` (:mod:`spokenemo.systems.baselines`).

>>> from spokenemo.systems import get_system
>>> get_system("cue-lr").seeded, get_system("aecotd").seeded
(False, True)

Adding a system: one folder with one registration (``docs/adding-a-system.md``).
"""

from spokenemo.systems.base import (
    Predictions,
    Preset,
    Requirements,
    System,
    SystemConfig,
    SystemUnavailable,
    preset,
)
from spokenemo.systems.context import FeatureSource, FoldContext, RunContext, TaskContext
from spokenemo.systems.registry import (
    ENTRY_POINT_GROUP,
    builtin_system_modules,
    find_preset,
    get_system,
    load_builtin_systems,
    load_system,
    preset_names,
    register_system,
    system_classes,
    system_names,
    unregister_system,
)

__all__ = [
    "ENTRY_POINT_GROUP", "FeatureSource", "FoldContext", "Predictions", "Preset", "Requirements", "RunContext",
    "System", "SystemConfig", "SystemUnavailable", "TaskContext", "builtin_system_modules", "find_preset", "get_system",
    "load_builtin_systems", "load_system", "preset", "preset_names", "register_system", "system_classes",
    "system_names", "unregister_system",
]
