"""Errors a user can cause. The CLI prints them as one line and exits 2."""

from __future__ import annotations

__all__ = ["FeintError", "UnknownName", "BadValue", "Incompatible"]


class FeintError(Exception):
    """A mistake in what the user asked for: the message says what and what is accepted."""


class UnknownName(FeintError):
    """An unknown target, attack, framework, parameter or stored id."""

    def __init__(self, kind: str, name: str, accepted: list[str] | tuple[str, ...]):
        shown = ", ".join(accepted) if accepted else "none"
        super().__init__(f"unknown {kind} {name!r}; accepted: {shown}")
        self.kind, self.name, self.accepted = kind, name, list(accepted)


class BadValue(FeintError):
    """A parameter value of the wrong type or outside its range."""

    def __init__(self, name: str, expected: str, given: object):
        super().__init__(f"parameter {name!r} expects {expected}; got {given!r}")
        self.name, self.expected, self.given = name, expected, given


class Incompatible(FeintError):
    """An attack that cannot run on a target."""
