"""What every ART attack of the catalog shares: metadata and options read from the ART
class, the ART keyword arguments for a set of option values, and errors as one line."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from feint.attacks.art.options import art_value, first_sentence, init_of, introspect, paper_link
from feint.attacks.base import CLOSED_BOX, OPEN_BOX, Attack
from feint.attacks.targeting import TARGET_LABELS
from feint.errors import BadValue, FeintError

__all__ = ["ArtAttack", "define", "need", "one_hot", "art_access", "IMAGE", "IMAGE_TABULAR"]

IMAGE = ("image",)
IMAGE_TABULAR = ("image", "tabular")


def art_access(art_class: type) -> str:
    """Open-box when ART asks the estimator for gradients, closed-box otherwise."""
    from art.estimators.classification.classifier import ClassGradientsMixin
    from art.estimators.estimator import LossGradientsMixin

    needs = getattr(art_class, "_estimator_requirements", ()) or ()
    gradients = any(isinstance(r, type) and issubclass(r, (LossGradientsMixin, ClassGradientsMixin)) for r in needs)
    return OPEN_BOX if gradients else CLOSED_BOX


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    out = np.zeros((len(labels), classes), np.float32)
    out[np.arange(len(labels)), np.asarray(labels, np.int64)] = 1.0
    return out


class ArtAttack(Attack):
    """An attack of ART. Subclasses are made by :func:`define` from a table entry."""

    framework = "art"
    art_class: ClassVar[type]
    art_options: ClassVar[tuple[str, ...]] = ()  # option names passed to the ART constructor
    art_words: ClassVar[dict[str, tuple[Any, ...]]] = {}  # string options: ART's spelling of each word
    art_signature: ClassVar[frozenset[str]] = frozenset()  # every argument the ART constructor takes
    checks: ClassVar[tuple[Callable[[dict[str, Any]], None], ...]] = ()  # across options: raise BadValue

    def check_options(self, p: dict[str, Any]) -> None:
        for check in self.checks:
            check(p)

    def art_kwargs(self, p: dict[str, Any], names: tuple[str, ...] | None = None) -> dict[str, Any]:
        """ART's keyword arguments for option values ``p``."""
        return {n: art_value(self.art_words.get(n), p[n]) for n in (self.art_options if names is None else names)}

    def construct(self, estimator: Any, kwargs: dict[str, Any]) -> Any:
        """The ART attack object; ART's own refusal of a value becomes one line."""
        if "verbose" in self.art_signature:
            kwargs = {**kwargs, "verbose": False}
        try:
            return self.art_class(estimator, **kwargs)
        except (ValueError, TypeError) as exc:
            raise FeintError(f"ART refused the options of {self.name}: {_one_line(exc)}") from exc

    hint: ClassVar[str] = ""  # what to try when ART fails (said after the failure)

    def failed(self, exc: BaseException) -> FeintError:
        hint = f"; {self.hint}" if self.hint else ""
        return FeintError(f"{self.name} failed inside ART ({type(exc).__name__}): {_one_line(exc)}{hint}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def define(
    base: type[ArtAttack],
    name: str,
    art_class: type,
    *,
    data_types: tuple[str, ...] = IMAGE_TABULAR,
    access: str | None = None,
    function: Callable | None = None,
    choices: dict[str, tuple[Any, ...]] | None = None,
    defaults: dict[str, Any] | None = None,
    summary: str | None = None,
    **attrs: Any,
) -> type[ArtAttack]:
    """An attack class for ``art_class``: name, family and access, the options read from
    the ART class (see :mod:`feint.attacks.art.options`), a summary and a reference from
    its docstring. ``attrs`` set class attributes of ``base`` (mode, output, ...)."""
    params, words = introspect(art_class, function, choices, defaults)
    if defaults:
        unknown = set(defaults) - set(params)
        if unknown:
            raise AssertionError(f"{name}: defaults for options ART does not have: {sorted(unknown)}")
    doc = f"{summary or first_sentence(art_class.__doc__)}\n\nART's {art_class.__name__}."
    namespace: dict[str, Any] = {
        "__doc__": doc,
        "__module__": base.__module__,
        "name": name,
        "art_class": art_class,
        "access": access or art_access(art_class),
        "data_types": data_types,
        "reference": paper_link(art_class.__doc__),
        "art_options": tuple(params),
        "art_words": words,
        "art_signature": frozenset(inspect.signature(init_of(art_class)).parameters),
        **attrs,
        **params,
    }
    if "targeted" in params:
        namespace["target_labels"] = TARGET_LABELS
    cls_name = "Art" + "".join(part.capitalize() for part in name.split(".", 1)[1].split("_")) + "Attack"
    return type(cls_name, (base,), namespace)


def need(condition: bool, name: str, expected: str, given: Any) -> None:
    """Raise BadValue for option ``name`` unless ``condition``."""
    if not condition:
        raise BadValue(name, expected, given)
