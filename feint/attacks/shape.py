"""A run's shape: which samples, the seed, how many samples at a time, what is logged.

The shape says how a run is laid out, not what the attack does: the same attack with the
same options gives the same adversarial for a sample whatever the batch size or the chunk
it ran in. Attacks never declare these; :func:`feint.engine.run.execute_run` takes a
:class:`RunShape` beside the attack, an executor hands each chunk of a run its own, and a
stored run keeps the shape's values beside the attack's options (under the names of
:data:`SHAPE_PARAMS`, so stored runs read as before).

>>> shape = RunShape.of({"sample_index": "0:3", "seed": "7"})
>>> shape.samples, shape.seed, shape.values()["sample_index"]
((0, 1, 2), 7, '0:3')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from feint.attacks.params import Choice, Indices, Int, Param
from feint.errors import UnknownName
from feint.records import RUN_PARAMS

__all__ = ["RunShape", "SHAPE_PARAMS", "split_shape"]

# The typed parameters of a shape, under the names users type (--set seed=3, set
# sample_index 0:10 in the shell) and stored runs keep; in RUN_PARAMS order.
SHAPE_PARAMS: dict[str, Param] = {
    "sample_index": Indices((0,), "samples to attack: an int, a list, or a range like 0:100", name="sample_index"),
    "seed": Int(0, "random seed; the same seed gives the same result", name="seed", low=0, high=2**32 - 1),
    "logger": Choice(
        "counts",
        "counts: query counts per sample; calls: also every model call in the store",
        name="logger",
        choices=("counts", "calls"),
    ),
    "batch_size": Int(100, "samples attacked together", name="batch_size", low=1, high=100_000),
}
assert tuple(SHAPE_PARAMS) == RUN_PARAMS

# Parameter name -> field name (a field may be named too).
_FIELDS = {"sample_index": "samples", "seed": "seed", "logger": "logger", "batch_size": "batch_size"}
_NAMES = {field: name for name, field in _FIELDS.items()}


def _key(name: str) -> str:
    """The parameter name of ``name`` (``samples``, ``--sample-index``, ``sample_index``), or ''."""
    key = name.strip().lstrip("-").replace("-", "_")
    return _NAMES.get(key, key) if _NAMES.get(key, key) in SHAPE_PARAMS else ""


def split_shape(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``values`` cut in two: the shape's (by parameter name) and the rest, in order."""
    shape: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for name, value in values.items():
        key = _key(name)
        if key:
            shape[key] = value
        else:
            rest[name] = value
    return shape, rest


@dataclass(frozen=True)
class RunShape:
    """How one run is laid out. Build it with :meth:`of` (text or values, checked by the
    parameters' types and ranges) or directly from values already checked."""

    samples: tuple[int, ...] = (0,)
    seed: int = 0
    logger: str = "counts"
    batch_size: int = 100

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(SHAPE_PARAMS)

    @classmethod
    def is_shape(cls, name: str) -> bool:
        """Whether ``name`` names a part of the shape rather than an attack option."""
        return bool(_key(name))

    @classmethod
    def of(cls, values: Mapping[str, Any] | None = None, **more: Any) -> RunShape:
        """A shape from values or text by parameter name (``sample_index``) or field name
        (``samples``); a bad value raises BadValue, an unknown name UnknownName."""
        return cls().replace(**{**(values or {}), **more})

    def replace(self, **values: Any) -> RunShape:
        """This shape with some parts changed, each parsed and checked as :meth:`of` does."""
        changes: dict[str, Any] = {}
        for name, value in values.items():
            key = _key(name)
            if not key:
                raise UnknownName("run parameter", name, list(SHAPE_PARAMS))
            spec = SHAPE_PARAMS[key]
            changes[_FIELDS[key]] = spec.parse(value) if isinstance(value, str) else spec.validate(value)
        return dataclasses.replace(self, **changes)

    def with_samples(self, samples: Iterable[int]) -> RunShape:
        """This shape on other samples (a chunk of the run), taken as given."""
        return dataclasses.replace(self, samples=tuple(int(i) for i in samples))

    def get(self, name: str) -> Any:
        """The value of the part ``name`` (a parameter or a field name)."""
        key = _key(name)
        if not key:
            raise UnknownName("run parameter", name, list(SHAPE_PARAMS))
        return getattr(self, _FIELDS[key])

    def values(self) -> dict[str, Any]:
        """The shape as JSON data under the parameters' names (lossless, as options' values)."""
        return {name: spec.to_json(getattr(self, _FIELDS[name])) for name, spec in SHAPE_PARAMS.items()}

    def shown(self) -> dict[str, str]:
        """The shape as the text a user would type."""
        return {name: spec.show(getattr(self, _FIELDS[name])) for name, spec in SHAPE_PARAMS.items()}
