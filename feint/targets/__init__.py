"""Targets: models under assessment plus their samples.

Built-in targets register in :data:`TARGETS` by import path, so listing them imports
nothing heavy; :func:`get_target` loads one. Users' own targets come from files, read by
the loaders: a YAML declaration (:mod:`feint.targets.loaders.yaml`) or a Python file
holding a target class (:mod:`feint.targets.loaders.python_file`). What names a target,
as text and parsed, is :class:`feint.targets.spec.TargetSpec`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feint.errors import FeintError, UnknownName
from feint.registry import Registry
from feint.targets.base import DATA_TYPES, GRADIENTS, PREDICT, Target
from feint.targets.spec import TargetSpec

__all__ = [
    "Target",
    "DATA_TYPES",
    "GRADIENTS",
    "PREDICT",
    "TARGETS",
    "BuiltinTarget",
    "TargetSpec",
    "get_target",
    "as_target",
    "reload_target",
    "target_classes",
    "BUILTIN",
]


@dataclass(frozen=True)
class BuiltinTarget:
    """A built-in target: its class as ``"module:Class"`` (imported on first use) and what
    it is, in one line."""

    path: str
    doc: str

    def load_class(self) -> type[Target]:
        module, _, name = self.path.partition(":")
        cls = getattr(importlib.import_module(module), name)
        if not (isinstance(cls, type) and issubclass(cls, Target)):
            raise TypeError(f"{self.path} is not a feint.targets.Target subclass")
        return cls


TARGETS: Registry[BuiltinTarget] = Registry("target")
TARGETS.register(
    "digits_keras",
    BuiltinTarget("feint.targets.builtin.digits:DigitsKeras", "the paper's Keras CNN on real MNIST digits, open-box"),
)
TARGETS.register(
    "digits_blackbox",
    BuiltinTarget(
        "feint.targets.builtin.digits:DigitsBlackbox",
        "a scikit-learn MLP on the same digits, probabilities only (closed-box)",
    ),
)
TARGETS.register(
    "creditfraud",
    BuiltinTarget(
        "feint.targets.builtin.creditfraud:CreditFraud",
        "gradient boosting on credit-card transactions, benign or fraud (closed-box, tabular)",
    ),
)
TARGETS.register(
    "satellite",
    BuiltinTarget(
        "feint.targets.builtin.satellite:Satellite",
        "a small CNN telling airplanes from stadiums, trained on satellite images you provide",
    ),
)
TARGETS.register(
    "photos",
    BuiltinTarget(
        "feint.targets.builtin.photos:Photos", "a small CNN telling which of six photographs a colour patch is from"
    ),
)
TARGETS.register(
    "movie_reviews",
    BuiltinTarget(
        "feint.targets.builtin.movie_reviews:MovieReviews",
        "a torch sentiment model on real IMDB movie reviews, open-box (text)",
    ),
)
TARGETS.register(
    "movie_reviews_blackbox",
    BuiltinTarget(
        "feint.targets.builtin.movie_reviews:MovieReviewsBlackbox",
        "TF-IDF and logistic regression on the same reviews, probabilities only (closed-box, text)",
    ),
)


class _BuiltinPaths(Mapping[str, str]):
    """Built-in name -> ``"module:Class"``, read from :data:`TARGETS` (read-only)."""

    def __getitem__(self, name: str) -> str:
        if name not in TARGETS:
            raise KeyError(name)
        return TARGETS.get(name).path

    def __iter__(self) -> Iterator[str]:
        return iter(TARGETS.names())

    def __len__(self) -> int:
        return len(TARGETS)

    def __repr__(self) -> str:
        return repr(dict(self))


BUILTIN: Mapping[str, str] = _BuiltinPaths()

_loaded: dict[str, Target] = {}
_files: dict[tuple[object, ...], Target] = {}


def reload_target(name: str, trust: bool = False) -> Target:
    """The target ``name`` built afresh: a file read again, a built-in one built again."""
    spec = TargetSpec.parse(name)
    if spec.kind == "builtin":
        _loaded.pop(spec.name, None)
    else:
        wanted = _file_key(spec)[:2]
        for key in [k for k in _files if isinstance(k[0], tuple) and k[0][:2] == wanted]:
            del _files[key]
    return get_target(name, trust=trust)


def as_target(target: str | os.PathLike[str] | Target | Any) -> Target:
    """What a library call that takes a target works on: a Target as given; a name, a
    file or a Counterfit target object as :func:`get_target` builds it (loaded)."""
    if isinstance(target, Target):
        return target
    return get_target(target)


def target_classes() -> dict[str, type[Target]]:
    """Every built-in target's class by name (imports their modules, not their models)."""
    return {name: entry.load_class() for name, entry in TARGETS.items()}


def _file_key(spec: TargetSpec) -> tuple[object, ...]:
    file = Path(spec.name).expanduser()
    try:
        return (str(file.resolve()), spec.class_name, file.stat().st_mtime_ns)
    except OSError:
        return (str(file), None, None)


def get_target(name: str | os.PathLike[str] | Target | Any, load: bool = True, trust: bool = False) -> Target:
    """A target: a built-in name, a path to a YAML declaration (``.yaml``/``.yml``), a path
    to a Python file with a target class (``.py``, or ``FILE.py:CLASS``; loading it runs
    its code), a Target instance as given, or a Counterfit target object (a ``CFTarget``
    or any object with Counterfit's attributes), wrapped. Each is built once per process
    (a file again when it changes). ``trust`` allows model files that unpickling would read."""
    if isinstance(name, Target):
        return name.ensure_loaded() if load else name
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        from feint.targets.loaders.python_file import wrap_counterfit

        wrapped = wrap_counterfit(name)
        return wrapped.ensure_loaded() if load else wrapped
    spec = TargetSpec.parse(name)
    trust = trust or spec.trusted
    if spec.kind == "builtin":
        if spec.name not in TARGETS:
            raise UnknownName("target", spec.name, sorted(TARGETS) + ["a target file (FILE.yaml, FILE.py)"])
        if spec.name not in _loaded:
            _loaded[spec.name] = TARGETS.get(spec.name).load_class()()
        target = _loaded[spec.name]
        return target.ensure_loaded() if load else target
    try:
        return _from_file(spec, trust, load)
    except OSError as exc:  # a name the file system refuses (too long, a loop of links, ...)
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise FeintError(f"cannot read the target file {shown}: {exc.strerror or exc}") from None


def _from_file(spec: TargetSpec, trust: bool, load: bool) -> Target:
    key = (_file_key(spec), trust)
    found = _files.get(key)
    if found is None:
        if spec.kind == "python":
            from feint.targets.loaders.python_file import load_python_target

            found = load_python_target(spec.source, trust=trust)
        else:
            from feint.targets.loaders.yaml import load_yaml_target

            found = load_yaml_target(spec.name, trust=trust)
        if trust:
            found.spec = str(TargetSpec.parse(found.spec).with_trust())
        _files[key] = found
    return found.ensure_loaded() if load else found
