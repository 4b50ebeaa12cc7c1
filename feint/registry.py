"""One shape for every extension point: a named registry of entries.

Report formats (:data:`feint.report.formats.FORMATS`) and executors
(:data:`feint.engine.executors.EXECUTORS`) register here; the command line takes its
choices, and the documentation its reference tables, from the registries, so a new entry
is one module, one registration and its tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from feint.errors import UnknownName

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind by name, in registration order.

    >>> colours = Registry[str]("colour")
    >>> colours.register("red", "#f00")
    '#f00'
    >>> colours.names()
    ['red']
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered already")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry ``name``; an unknown name raises :class:`UnknownName` listing the accepted ones."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownName(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
