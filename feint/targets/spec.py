"""What names a target, as text and parsed: a built-in name, a YAML file, or a Python file.

The text form is what the command line takes, what workers rebuild a target from and what
stored scans record, so it never changes shape:

- ``digits_keras``: a built-in target;
- ``models/my.yaml`` (or ``.yml``): a YAML declaration;
- ``models/mine.py`` or ``models/mine.py:MyTarget``: a Python file, and the class in it;
- any of the file forms after ``trusted:``: a target whose model files the user trusted
  (``--trust-model``), so that a worker rebuilding it may load them too.

:meth:`TargetSpec.parse` reads the text and ``str()`` gives it back exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

__all__ = ["TargetSpec", "TRUSTED_PREFIX", "YAML_SUFFIXES", "PYTHON_SUFFIXES", "TARGET_FILES"]

TRUSTED_PREFIX = "trusted:"
YAML_SUFFIXES = (".yaml", ".yml")
PYTHON_SUFFIXES = (".py",)
TARGET_FILES = YAML_SUFFIXES + PYTHON_SUFFIXES

Kind = Literal["builtin", "yaml", "python"]


@dataclass(frozen=True)
class TargetSpec:
    """A parsed target spec.

    ``kind`` is ``builtin`` (``name`` is the target's name), ``yaml`` or ``python``
    (``name`` is the file's path as written; ``class_name`` the class a Python file's
    spec names, if any). ``trusted`` is the ``trusted:`` prefix.

    >>> spec = TargetSpec.parse("trusted:models/mine.py:MyTarget")
    >>> spec.kind, spec.name, spec.class_name, spec.trusted
    ('python', 'models/mine.py', 'MyTarget', True)
    >>> str(spec)
    'trusted:models/mine.py:MyTarget'
    """

    kind: Kind
    name: str
    class_name: str | None = None
    trusted: bool = False

    @classmethod
    def parse(cls, text: str) -> TargetSpec:
        """The spec ``text`` names. Text that names no target file is taken for a built-in
        name; whether one by that name exists is the target registry's business."""
        trusted = text.startswith(TRUSTED_PREFIX)
        rest = text[len(TRUSTED_PREFIX) :] if trusted else text
        head, sep, tail = rest.rpartition(":")
        if sep and head.lower().endswith(PYTHON_SUFFIXES) and tail.isidentifier():
            return cls("python", head, tail, trusted)
        suffix = os.path.splitext(rest)[1].lower()
        if suffix in YAML_SUFFIXES:
            return cls("yaml", rest, None, trusted)
        if suffix in PYTHON_SUFFIXES:
            return cls("python", rest, None, trusted)
        return cls("builtin", rest, None, trusted)

    @property
    def is_file(self) -> bool:
        return self.kind != "builtin"

    @property
    def source(self) -> str:
        """What declared the target, without the trust: the built-in name, or the file and
        its class (``mine.py:MyTarget``)."""
        return self.name + (f":{self.class_name}" if self.class_name else "")

    def with_trust(self, trusted: bool = True) -> TargetSpec:
        return TargetSpec(self.kind, self.name, self.class_name, trusted)

    def __str__(self) -> str:
        return (TRUSTED_PREFIX if self.trusted else "") + self.source
