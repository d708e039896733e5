"""One YAML config loader: read a file, apply dotted overrides, validate with pydantic.

Every config of spokenemo (a student's training config, an experiment, a system's own
section) is a pydantic model read through :func:`load_yaml_config`, so errors read alike:
the file (and line, for YAML syntax), the dotted field, and what would be valid.

>>> parse_override("optim.lr=0.0003")
('optim.lr', 0.0003)
>>> tree = {"optim": {"lr": 1}}
>>> apply_overrides(tree, ["optim.epochs=2", "model.base=tiny"])
{'optim': {'lr': 1, 'epochs': 2}, 'model': {'base': 'tiny'}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from spokenemo.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Overrides = Iterable[str] | Mapping[str, Any] | None


def parse_override(text: str) -> tuple[str, Any]:
    """``"optim.lr=3e-4"`` -> ``("optim.lr", 0.0003)``; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not KEY=VALUE", hint="e.g. --set optim.epochs=2")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({err})") from None
    return key.strip(), value


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``tree["a"]["b"] = value`` for ``dotted = "a.b"``, creating sections on the way."""
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        child = node.setdefault(k, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted!r}: {k!r} is not a section")
        node = child
    node[keys[-1]] = value


def apply_overrides(tree: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` strings or a ``{dotted: value}`` mapping to ``tree`` (in place; returned)."""
    items = overrides.items() if isinstance(overrides, Mapping) else [parse_override(o) for o in overrides or []]
    for key, value in items:
        set_dotted(tree, key, value)
    return tree


def field_path(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a dotted field (``systems[2].kind``), union branch names left out."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("str", "dict[str,any]") or str(item).startswith(("function-", "literal[")):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def validation_lines(err: ValidationError, source: str) -> list[str]:
    """One ``source: field: message`` line per pydantic error."""
    return [f"{source}: {field_path(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()]


def read_yaml_mapping(path: str | Path, *, example: str = "configs/") -> dict[str, Any]:
    """The mapping in a YAML file (empty file: ``{}``).

    Raises
    ------
    ConfigError
        Missing file, YAML syntax error (with its line), or a top level that is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found", hint=f"pass a YAML file such as {example}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a YAML mapping, got {type(data).__name__}",
                          hint=f"see {example} for the layout")
    return data


def validate_config(model: type[M], data: Mapping[str, Any], *, source: str = "<config>",
                    overrides: Overrides = None, what: str = "config", example: str = "configs/") -> M:
    """``model`` validated from ``data`` with ``overrides`` applied; errors name source and fields."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: the config must be a YAML mapping, got {type(data).__name__}",
                          hint=f"see {example} for the layout")
    tree = apply_overrides(dict(data), overrides)
    try:
        return model.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(f"invalid {what}\n  " + "\n  ".join(validation_lines(err, source)),
                          hint=f"fix the fields named above (see {example} for examples)") from None


def load_yaml_config(model: type[M], path: str | Path, overrides: Overrides = None, *, what: str = "config",
                     example: str = "configs/") -> M:
    """Read ``path``, apply ``overrides`` and validate it as ``model``."""
    return validate_config(model, read_yaml_mapping(path, example=example), source=str(path),
                           overrides=overrides, what=what, example=example)
