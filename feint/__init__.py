"""feint: assess the security of machine-learning models by attacking them.

The public API, importable from ``feint`` (heavy modules load on first use)::

    from feint import get_target, get_attack, execute_run, Store
    target = get_target("digits_keras")
    attack = get_attack("pgd")(eps=0.2)
    run = execute_run(target, attack, shape=RunShape.of(sample_index="0:10"))

The commands of the command line, as typed functions over live objects, are
:mod:`feint.api`.
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # one autograd engine: Keras runs on torch

__version__ = "0.1.0"

_API = {
    "Target": "feint.targets.base",
    "get_target": "feint.targets",
    "Attack": "feint.attacks.base",
    "get_attack": "feint.attacks.catalog",
    "attacks": "feint.attacks.catalog",
    "frameworks": "feint.attacks.catalog",
    "Options": "feint.attacks.params",
    "RunShape": "feint.attacks.shape",
    "execute_run": "feint.engine.run",
    "plan_scan": "feint.engine.scan",
    "execute_scan": "feint.engine.scan",
    "RunResult": "feint.records",
    "SampleResult": "feint.records",
    "ScanResult": "feint.records",
    "Store": "feint.store.db",
    "FeintError": "feint.errors",
}

__all__ = ["__version__", *_API]  # noqa: PLE0604 - the names of the lazy API


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'feint' has no attribute {name!r}")
