"""A named registry: one small class behind every "pick by name" in spokenemo.

Systems, feature extractors, LLM backends and corpus recipes are each a :class:`Registry`.
Registering twice under one name is an error (two modules fighting over a name), and looking
up an unknown name lists the known ones.

>>> shapes = Registry("shape")
>>> @shapes.register("square")
... class Square: ...
>>> shapes.get("square").__name__
'Square'
>>> shapes.get("circle")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
spokenemo.core.errors.ConfigError: unknown shape 'circle'...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from spokenemo.core.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object, filled by :meth:`register` (a decorator) or :meth:`add`."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items and self._items[name] is not item:
            raise ConfigError(f"{self.what} {name!r} is registered twice",
                              hint="give the new one another name")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        def deco(item: T) -> T:
            return self.add(name, item)

        return deco

    def remove(self, name: str) -> T:
        """Take ``name`` out (toys registered by tests and notebooks); unknown names raise."""
        item = self.get(name)
        del self._items[name]
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(f"unknown {self.what} {name!r}",
                              hint=f"known: {', '.join(sorted(self._items)) or '(none)'}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)
