"""Typed, documented, validated attack parameters, and the options of one attack instance.

A parameter knows its type, default, valid range and doc; it parses text (from the
CLI or the shell) by type, never with ``eval``, and a bad value raises
:class:`~feint.errors.BadValue` naming the parameter, what it expects and what it got.

Declared on an attack class, a parameter is also the attack's typed view of its option:
``self.eps`` on an instance is the option's current value, typed by the parameter
(``Float`` gives a ``float``), so a misspelt option is a type error, not a failure at
run time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from feint.errors import BadValue, FeintError, UnknownName
from feint.records import RUN_PARAMS

__all__ = [
    "Param",
    "Float",
    "Int",
    "Bool",
    "Choice",
    "Labels",
    "Indices",
    "Options",
    "format_indices",
    "parse_indices",
]

V = TypeVar("V")

TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Param(Generic[V]):
    """Base of every parameter: a default and a doc; subclasses add the type and range."""

    default: Any
    doc: str
    name: str = ""
    type_name = "value"

    def __set_name__(self, owner: type, attr: str) -> None:
        object.__setattr__(self, "_attr", attr)  # the option this descriptor reads

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Param[V]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> V: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Param[V] | V:
        """On the class, the parameter; on an attack instance, the option's current value."""
        if obj is None:
            return self
        return obj.options.current[getattr(self, "_attr", "") or self.name]  # type: ignore[attr-defined]

    def parse(self, text: str) -> Any:
        """Convert text to a value of this parameter's type, then validate it."""
        return self.validate(text)

    def validate(self, value: Any) -> Any:
        return value

    def range_text(self) -> str:
        return ""

    def fail(self, given: object) -> BadValue:
        rng = self.range_text()
        expected = f"{self.type_name} {rng}".strip()
        return BadValue(self.name, expected, given)

    def show(self, value: Any) -> str:
        """The value as a person reads it (``%g`` for numbers): for display only."""
        return str(value)

    def to_json(self, value: Any) -> Any:
        """The value as JSON data, which :meth:`validate` takes back unchanged (lossless)."""
        return value


@dataclass(frozen=True)
class _Number(Param[V]):
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def range_text(self) -> str:
        if self.low is None and self.high is None:
            return ""
        lo = "-inf" if self.low is None else _num(self.low)
        hi = "inf" if self.high is None else _num(self.high)
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        return f"in {left}{lo}, {hi}{right}"

    def _check_range(self, value: float, given: object) -> None:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise self.fail(given)
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise self.fail(given)


FLOAT32_MAX = 3.4028234663852886e38  # the largest float32: a number option's largest size


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


@dataclass(frozen=True)
class Float(_Number[float]):
    type_name = "a number"

    def parse(self, text: str) -> float:
        try:
            value = float(str(text).strip())
        except ValueError:
            raise self.fail(text) from None
        return self.validate(value, given=text)

    def validate(self, value: Any, given: object = None) -> float:
        given = value if given is None else given
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(given)
        value = float(value)
        if not math.isfinite(value):
            raise self.fail(given)
        self._check_range(value, given)
        if abs(value) > FLOAT32_MAX:  # attacks compute in float32: a larger number overflows there
            expected = f"{self.type_name} {self.range_text()}".strip()
            raise BadValue(self.name, f"{expected} that float32 holds (at most {FLOAT32_MAX:.4g} in size)", given)
        return value

    def show(self, value: Any) -> str:
        return f"{value:g}"


@dataclass(frozen=True)
class Int(_Number[int]):
    type_name = "an integer"

    def parse(self, text: str) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            raise self.fail(text) from None
        return self.validate(value, given=text)

    def validate(self, value: Any, given: object = None) -> int:
        given = value if given is None else given
        if isinstance(value, bool):
            raise self.fail(given)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise self.fail(given)
        self._check_range(value, given)
        return value


@dataclass(frozen=True)
class Bool(Param[bool]):
    type_name = "true or false"

    def parse(self, text: str) -> bool:
        word = str(text).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise self.fail(text)

    def validate(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return self.parse(value)
        raise self.fail(value)


@dataclass(frozen=True)
class Choice(Param[str]):
    choices: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def type_name(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.choices)

    def validate(self, value: Any) -> str:
        word = str(value).strip().lower()
        word = self.aliases.get(word, word)
        if word not in self.choices:
            raise self.fail(value)
        return word


@dataclass(frozen=True)
class Labels(Param[tuple[str | int, ...]]):
    """Class labels, by index or by name: one for every sample, or one per sample."""

    type_name = "class labels (indices or names, comma-separated)"

    def parse(self, text: str) -> tuple[str | int, ...]:
        parts = [p.strip() for p in str(text).split(",") if p.strip()]
        return self.validate(parts)

    def validate(self, value: Any) -> tuple[str | int, ...]:
        if value is None:
            return ()
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]
        out: list[str | int] = []
        for item in value:
            if isinstance(item, bool):
                raise self.fail(value)
            if isinstance(item, int):
                out.append(item)
            elif isinstance(item, str):
                out.append(int(item) if item.lstrip("-").isdigit() else item)
            else:
                raise self.fail(value)
        return tuple(out)

    def show(self, value: Any) -> str:
        return ",".join(str(v) for v in value) if value else "-"

    def to_json(self, value: Any) -> list[str | int]:
        return list(value)


# Python's range written as text, as Counterfit's users type it: range(STOP),
# range(START, STOP) or range(START, STOP, STEP), with non-negative integers.
_RANGE = re.compile(r"range\(\s*(\d+)\s*(?:,\s*(\d+)\s*(?:,\s*(\d+)\s*)?)?\)")


def _range_text(text: str) -> range:
    """The range that ``range(...)`` text names, read by a pattern (the text is never run)."""
    match = _RANGE.fullmatch(text.strip())
    if match is None:
        raise ValueError(text)
    first, second, third = match.groups()
    start, stop = (0, int(first)) if second is None else (int(first), int(second))
    step = 1 if third is None else int(third)
    if step <= 0 or stop <= start:
        raise ValueError(text)
    return range(start, stop, step)


# No sample set is larger, and no run asks for more samples at once: bounds that keep a
# mistyped index from turning into an overflow or a list of billions.
MAX_INDEX = 10**9
MAX_SAMPLES = 10**7
INDICES_TEXT = (
    f"sample indices (e.g. 3, 1,4,7, 0:100 or range(100); each below {MAX_INDEX:,}, at most {MAX_SAMPLES:,} of them)"
)


def _counted(items: Any, spec: Any) -> Any:
    """``items`` (a range or a list), refused when it would hold too many or too large indices."""
    if len(items) > MAX_SAMPLES or (len(items) and max(items[0], items[-1]) >= MAX_INDEX):
        raise ValueError(spec)
    return items


def parse_indices(spec: Any) -> tuple[int, ...]:
    """Parse ``3``, ``[1, 2]``, ``range(0, 5)`` (a range, or its text), ``"0:100"``,
    ``"0:10:2"`` or ``"1,4,7:9"``.

    Ranges are half-open like Python slices. Raises ``ValueError`` on bad syntax, on an
    index of :data:`MAX_INDEX` or more, and on more than :data:`MAX_SAMPLES` indices.
    """
    if isinstance(spec, bool):
        raise ValueError(spec)
    if isinstance(spec, int):
        items: list[int] = list(_counted([spec], spec))
    elif isinstance(spec, range):
        items = list(_counted(spec, spec))
    elif isinstance(spec, (list, tuple)):
        items = []
        for part in spec:
            items.extend(parse_indices(part))
    elif isinstance(spec, str) and _RANGE.fullmatch(spec.strip()):
        items = list(_counted(_range_text(spec), spec))
    elif isinstance(spec, str):
        items = []
        text = spec.strip().strip("[]")
        if not text:
            raise ValueError(spec)
        for part in (p.strip() for p in text.split(",")):
            if not part or any(c.isspace() for c in part):  # "1 2" is not 12
                raise ValueError(spec)
            if ":" in part:
                bits = part.split(":")
                if len(bits) > 3 or not bits[0] or not bits[1]:
                    raise ValueError(spec)
                start, stop = int(bits[0]), int(bits[1])
                step = int(bits[2]) if len(bits) == 3 and bits[2] else 1
                if step <= 0 or stop <= start:
                    raise ValueError(spec)
                items.extend(_counted(range(start, stop, step), spec))
            else:
                items.extend(_counted([int(part)], spec))
            if len(items) > MAX_SAMPLES:
                raise ValueError(spec)
    else:
        raise ValueError(spec)
    if any(i < 0 for i in items):
        raise ValueError(spec)
    return tuple(dict.fromkeys(items))


def format_indices(indices: Iterable[int]) -> str:
    """The compact text form of a list of indices: ``0:5,9`` for 0,1,2,3,4,9."""
    idx = list(indices)
    parts: list[str] = []
    i = 0
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and idx[j + 1] == idx[j] + 1:
            j += 1
        parts.append(str(idx[i]) if j - i < 2 else f"{idx[i]}:{idx[j] + 1}")
        if 0 < j - i < 2:
            parts.extend(str(v) for v in idx[i + 1 : j + 1])
        i = j + 1
    return ",".join(parts)


@dataclass(frozen=True)
class Indices(Param[tuple[int, ...]]):
    """Sample indices: an int, a list, or a range like ``0:100``."""

    type_name = INDICES_TEXT

    def parse(self, text: str) -> tuple[int, ...]:
        return self.validate(text)

    def validate(self, value: Any) -> tuple[int, ...]:
        try:
            return parse_indices(value)
        except (ValueError, TypeError):
            raise self.fail(value) from None

    def show(self, value: Any) -> str:
        return format_indices(value)

    def to_json(self, value: Any) -> str:
        return format_indices(value)  # compact and lossless: parse_indices reads it back, in order


class Options:
    """The options of one attack instance: per parameter its default, current and previous values.

    >>> opts = Options({"eps": Float(0.3, "budget", name="eps", low=0)})
    >>> opts.set("eps", "0.2"); opts["eps"], opts.previous["eps"]
    (0.2, [0.3])
    """

    def __init__(self, specs: dict[str, Param], values: dict[str, Any] | None = None):
        self.specs = dict(specs)
        self.current: dict[str, Any] = {n: p.default for n, p in self.specs.items()}
        self.previous: dict[str, list[Any]] = {n: [] for n in self.specs}
        for name, value in (values or {}).items():
            self.set(name, value)

    def spec(self, name: str) -> Param:
        key = name.strip().lstrip("-").replace("-", "_")
        if key not in self.specs:
            if key in RUN_PARAMS:
                raise FeintError(
                    f"{key} is part of a run's shape, not an attack option: set it with attack.set({key!r}, ...) "
                    "or give execute_run a RunShape"
                )
            raise UnknownName("parameter", name, sorted(self.specs))
        return self.specs[key]

    def set(self, name: str, value: Any) -> Any:
        """Set a parameter from a Python value or from text; the old value goes to ``previous``."""
        spec = self.spec(name)
        new = spec.parse(value) if isinstance(value, str) else spec.validate(value)
        if new != self.current[spec.name]:
            self.previous[spec.name].append(self.current[spec.name])
            self.current[spec.name] = new
        return new

    def update(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            self.set(name, value)

    def __getitem__(self, name: str) -> Any:
        return self.current[self.spec(name).name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.current)

    def values(self) -> dict[str, Any]:
        """Current values as JSON data (lossless): what plans, stored runs and workers carry."""
        return {n: self.specs[n].to_json(v) for n, v in self.current.items()}

    def shown(self) -> dict[str, str]:
        """Current values as the text a user would type (for display: ``%g`` rounds numbers)."""
        return {n: self.specs[n].show(v) for n, v in self.current.items()}
