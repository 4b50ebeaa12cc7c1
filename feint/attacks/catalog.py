"""The attack catalog: every attack of every framework, by name.

A framework is a module that exposes ``ATTACKS``, a sequence of Attack classes; its
attacks are reachable by their names. Frameworks load on first use.
"""

from __future__ import annotations

import importlib

from feint.attacks.base import Attack
from feint.errors import UnknownName

__all__ = ["FRAMEWORKS", "attacks", "get_attack", "frameworks"]

FRAMEWORKS: dict[str, tuple[str, str]] = {
    "native": ("feint.attacks.native", "feint's own batched torch implementations"),
}

_cache: dict[str, dict[str, type[Attack]]] = {}


def _framework(name: str) -> dict[str, type[Attack]]:
    if name not in _cache:
        module = importlib.import_module(FRAMEWORKS[name][0])
        _cache[name] = {cls.name: cls for cls in module.ATTACKS}
    return _cache[name]


def attacks(framework: str | None = None) -> dict[str, type[Attack]]:
    """Attack classes by name, of one framework or of all."""
    if framework is not None and framework not in FRAMEWORKS:
        raise UnknownName("framework", framework, sorted(FRAMEWORKS))
    out: dict[str, type[Attack]] = {}
    for fw in FRAMEWORKS if framework is None else [framework]:
        out.update(_framework(fw))
    return out


def get_attack(name: str) -> type[Attack]:
    catalog = attacks()
    if name not in catalog:
        raise UnknownName("attack", name, sorted(catalog))
    return catalog[name]


def frameworks() -> dict[str, dict[str, object]]:
    return {fw: {"description": desc, "attacks": len(_framework(fw))} for fw, (_, desc) in FRAMEWORKS.items()}
