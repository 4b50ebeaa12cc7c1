"""Targets: models under assessment plus their samples.

Built-in targets are named here by import path so that listing them imports nothing
heavy; :func:`get_target` loads one (training its model on first use).
"""

from __future__ import annotations

import importlib

from feint.errors import UnknownName
from feint.targets.base import DATA_TYPES, GRADIENTS, PREDICT, Target

__all__ = ["Target", "DATA_TYPES", "GRADIENTS", "PREDICT", "get_target", "target_classes", "BUILTIN"]

BUILTIN: dict[str, str] = {
    "digits_keras": "feint.targets.builtin.digits:DigitsKeras",
    "digits_blackbox": "feint.targets.builtin.digits:DigitsBlackbox",
}

_loaded: dict[str, Target] = {}


def target_classes() -> dict[str, type[Target]]:
    out = {}
    for name, path in BUILTIN.items():
        module, cls = path.split(":")
        out[name] = getattr(importlib.import_module(module), cls)
    return out


def get_target(name: str | Target, load: bool = True) -> Target:
    """A built-in target by name (loaded once per process), or a Target instance as given."""
    if isinstance(name, Target):
        return name.ensure_loaded() if load else name
    if name not in BUILTIN:
        raise UnknownName("target", name, sorted(BUILTIN))
    if name not in _loaded:
        _loaded[name] = target_classes()[name]()
    target = _loaded[name]
    return target.ensure_loaded() if load else target
