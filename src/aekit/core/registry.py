"""A tiny name -> class registry, so parts are chosen by name in configs and the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to classes (or factories) of one family, e.g. all penalties.

    Examples
    --------
    >>> shapes = Registry("shape")
    >>> @shapes.register("square")
    ... class Square:
    ...     pass
    >>> shapes.get("square") is Square
    True
    >>> "square" in shapes
    True
    """

    def __init__(self, family: str, name_attr: str | None = None) -> None:
        self.family = family
        self._name_attr = name_attr
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.family} {name!r} is already registered")
            self._entries[name] = entry
            if self._name_attr is not None:
                # The name travels with the class, so an instance serialises back to
                # {"name": ..., **params} without a reverse lookup.
                setattr(entry, self._name_attr, name)
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise ConfigError(f"unknown {self.family} {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list[str]:
        return sorted(self._entries)
