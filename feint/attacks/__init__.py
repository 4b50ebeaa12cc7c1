"""Attacks: catalog entries with typed parameters and batched implementations.

``feint.attacks`` is both this package and, as the public API promises, the catalog's
:func:`~feint.attacks.catalog.attacks`: once the package is imported it is the attribute
``feint.attacks``, so the package itself is callable, ``feint.attacks()`` or
``feint.attacks("native")``.
"""

import sys
import types
from typing import Any

from feint.attacks.base import Attack, AttackOutput, Batch
from feint.attacks.catalog import attacks, frameworks, get_attack

__all__ = ["Attack", "AttackOutput", "Batch", "attacks", "frameworks", "get_attack"]


class _CallablePackage(types.ModuleType):
    def __call__(self, framework: str | None = None) -> Any:
        return attacks(framework)


sys.modules[__name__].__class__ = _CallablePackage
