"""One-line errors for the loaders: each names the file, the key, and what is accepted."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from feint.errors import CodeFailed, FeintError

__all__ = [
    "Checker",
    "Key",
    "key_names",
    "shown",
    "number",
    "user_code",
    "guarded",
    "MAX_INPUT_ELEMENTS",
    "shape_too_large",
]

# The values of one sample, at most: an input_shape past it is refused before any array is made.
MAX_INPUT_ELEMENTS = 1 << 25


def shape_too_large(shape: Sequence[int]) -> str | None:
    """Why ``shape`` is too large for one sample (its values past :data:`MAX_INPUT_ELEMENTS`),
    or None."""
    count = math.prod(int(d) for d in shape)
    if count <= MAX_INPUT_ELEMENTS:
        return None
    return f"holds {count:,} values per sample; accepted: at most {MAX_INPUT_ELEMENTS:,}"


R = TypeVar("R")


@dataclass(frozen=True)
class Key:
    """A key a declaration accepts: its name, whether it is required, its default as the
    reference shows it (empty: none), and what it takes, in one line."""

    name: str
    doc: str
    required: bool = False
    default: str = ""


def key_names(keys: Sequence[Key]) -> tuple[str, ...]:
    return tuple(k.name for k in keys)


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@contextmanager
def user_code(where: str, what: str) -> Iterator[None]:
    """Run a user's code (a target class's method, a model): whatever it raises becomes one
    :class:`~feint.errors.CodeFailed` line naming ``where`` and ``what``, the exception kept
    as its cause. Errors feint already words (:class:`~feint.errors.FeintError`) and Ctrl-C
    pass through unchanged; ``sys.exit`` in the user's code is a one-line error too, so a
    target cannot end feint with an exit code of its own."""
    try:
        yield
    except (FeintError, KeyboardInterrupt):
        raise
    except SystemExit as exc:
        raise FeintError(
            f"{where}: {what} called sys.exit({exc.code!r}); a target's code must return or raise, not exit"
        ) from exc
    except BaseException as exc:  # noqa: BLE001 - any failure of the user's code is one line
        raise CodeFailed(where, what, exc) from exc


def guarded(where: str, what: str, fn: Callable[..., R]) -> Callable[..., R]:
    """``fn`` run inside :func:`user_code`."""

    def call(*args: Any, **kwargs: Any) -> R:
        with user_code(where, what):
            return fn(*args, **kwargs)

    call.__name__ = getattr(fn, "__name__", "call")
    call.__doc__ = getattr(fn, "__doc__", None)
    return call


class Checker:
    """Builds one-line errors prefixed with the file and the key."""

    def __init__(self, where: str) -> None:
        self.where = where

    def error(self, key: str, message: str) -> FeintError:
        return FeintError(f"{self.where}: {key}: {message}" if key else f"{self.where}: {message}")

    def expect(self, key: str, expected: str, got: Any) -> FeintError:
        return self.error(key, f"expects {expected}; got {shown(got)}")

    def keys(self, key: str, mapping: Mapping[Any, Any], accepted: Sequence[str]) -> None:
        for k in mapping:
            if k not in accepted:
                raise self.error(key, f"unknown key {k!r}; accepted keys: {', '.join(accepted)}")

    def file(self, key: str, base: Path, value: Any, folder: bool = False) -> Path:
        if not isinstance(value, str) or not value.strip():
            raise self.expect(key, "a path (relative to the YAML file's folder)", value)
        try:
            path = (base / Path(value).expanduser()).resolve()
            if folder and not path.is_dir():
                raise self.error(key, f"folder not found: {path}")
            if not folder and not path.exists():
                raise self.error(key, f"file not found: {path}")
            if not folder and not (path.is_file() or path.is_dir()):
                raise self.error(key, f"{path} is not a regular file (a device, a pipe or a socket); accepted: a file")
        except (OSError, RuntimeError) as exc:  # too long a name, a loop of links
            raise self.error(key, f"cannot read {shown(value)}: {getattr(exc, 'strerror', None) or exc}") from None
        return path
