"""Targets: models under assessment plus their samples.

Built-in targets are named here by import path so that listing them imports nothing
heavy; :func:`get_target` loads one (training its model on first use). Users' own
targets come from files: a YAML declaration (:mod:`feint.targets.declared`) or a Python
file holding a target class (:mod:`feint.targets.adapters.python_file`).
"""

from __future__ import annotations

import importlib
import os

from feint.errors import UnknownName
from feint.targets.base import DATA_TYPES, GRADIENTS, PREDICT, Target

__all__ = ["Target", "DATA_TYPES", "GRADIENTS", "PREDICT", "get_target", "target_classes", "BUILTIN"]

BUILTIN: dict[str, str] = {
    "digits_keras": "feint.targets.builtin.digits:DigitsKeras",
    "digits_blackbox": "feint.targets.builtin.digits:DigitsBlackbox",
    "creditfraud": "feint.targets.builtin.creditfraud:CreditFraud",
    "satellite": "feint.targets.builtin.satellite:Satellite",
    "photos": "feint.targets.builtin.photos:Photos",
}

_loaded: dict[str, Target] = {}
_files: dict[tuple, Target] = {}


def target_classes() -> dict[str, type[Target]]:
    out = {}
    for name, path in BUILTIN.items():
        module, cls = path.split(":")
        out[name] = getattr(importlib.import_module(module), cls)
    return out


# A spec with this prefix rebuilds a target whose model file the user trusted explicitly
# (``--trust-model``), so that a worker process rebuilding it from ``target.spec`` may load it.
TRUSTED_PREFIX = "trusted:"
TARGET_FILES = (".yaml", ".yml", ".py")


def _file_key(path: str) -> tuple:
    from pathlib import Path

    from feint.targets.adapters.python_file import split_class

    file = Path(split_class(path)[0]).expanduser()
    try:
        return (str(file.resolve()), path.rpartition(":")[2] if split_class(path)[1] else None, file.stat().st_mtime_ns)
    except OSError:
        return (str(file), None, None)


def get_target(name: str | Target, load: bool = True, trust: bool = False) -> Target:
    """A target: a built-in name, a path to a YAML declaration (``.yaml``/``.yml``), a path
    to a Python file with a target class (``.py``, or ``FILE.py:CLASS``; loading it runs
    its code), or a Target instance as given. Each is built once per process (a file
    again when it changes). ``trust`` allows model files that unpickling would read."""
    if isinstance(name, Target):
        return name.ensure_loaded() if load else name
    if isinstance(name, str) and name.startswith(TRUSTED_PREFIX):
        name, trust = name[len(TRUSTED_PREFIX) :], True
    if name in BUILTIN:
        if name not in _loaded:
            _loaded[name] = target_classes()[name]()
        target = _loaded[name]
        return target.ensure_loaded() if load else target
    from feint.targets.adapters.python_file import split_class

    file = split_class(name)[0] if isinstance(name, str) else ""
    suffix = os.path.splitext(file)[1].lower()
    if suffix not in TARGET_FILES:
        raise UnknownName("target", name, sorted(BUILTIN) + ["a target file (FILE.yaml, FILE.py)"])
    key = (_file_key(name), trust)
    target = _files.get(key)
    if target is None:
        if suffix == ".py":
            from feint.targets.adapters.python_file import load_python_target

            target = load_python_target(name, trust=trust)
        else:
            from feint.targets.declared import load_yaml_target

            target = load_yaml_target(name, trust=trust)
        if trust:
            target.spec = TRUSTED_PREFIX + target.spec
        _files[key] = target
    return target.ensure_loaded() if load else target
