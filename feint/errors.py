"""Errors a user can cause. The CLI prints them as one line and exits 2."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

__all__ = ["FeintError", "UnknownName", "BadValue", "Incompatible", "ParamError", "CodeFailed", "exception_line"]


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


class ParamError(FeintError):
    """A bad argument of a library call. The message's template names the call's
    parameters as ``{name}`` fields; the other fields are filled from ``values`` (what the
    user gave, never read as a template). ``str()`` gives the plain names (``max_queries
    expects ...``); a front end with its own spelling for a parameter (the command line's
    ``--max-queries``) renders the message with :meth:`spelled`.

    >>> err = ParamError("{max_queries} expects 1 or more; got {given}", given=0)
    >>> str(err), err.spelled(lambda name: "--" + name.replace("_", "-"))
    ('max_queries expects 1 or more; got 0', '--max-queries expects 1 or more; got 0')
    """

    def __init__(self, template: str, **values: Any) -> None:
        self.template, self.values = template, values
        fields = (f for _, f, _, _ in string.Formatter().parse(template) if f)
        self.params = [f for f in dict.fromkeys(fields) if f not in values]
        super().__init__(self.spelled(lambda name: name))

    def spelled(self, spell: Callable[[str], str]) -> str:
        """The message with each parameter named by ``spell(name)``."""
        return self.template.format(**self.values, **{name: spell(name) for name in self.params})


def exception_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as the last line of its traceback says it (``ValueError: bad shape``),
    its message's lines joined into one and cut at ``limit`` characters."""
    text = " ".join(str(exc).split())
    line = f"{type(exc).__qualname__}: {text}" if text else type(exc).__qualname__
    return line if len(line) <= limit else line[: limit - 3] + "..."


class CodeFailed(FeintError):
    """Code of a user's target or model raised: one line naming the file (``where``), what
    failed (``what``: ``MyTarget.load()``) and the exception's own line. The exception is
    kept as ``__cause__``, so a traceback (``feint --debug``) shows where it was raised."""

    def __init__(self, where: str, what: str, exc: BaseException, at: str = "") -> None:
        super().__init__(f"{where}: {what} failed{' ' + at if at else ''} ({exception_line(exc)})")
        self.where, self.what = where, what
        self.__cause__ = exc
