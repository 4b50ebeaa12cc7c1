"""Suites: named sets of transformation runs that one command plans (``feint scan TARGET
--suite corruptions``).

``corruptions`` is the corruption-robustness benchmark of Hendrycks and Dietterich
(ImageNet-C, 2019) as far as feint's transformations cover it: each family at severities
1 to 5 (CIFAR-10-C's settings, for small images), in fixed mode, on every sample. The
scan's summary reads the accuracy per family and severity, their mean and the worst
family from the stored runs (:func:`feint.report.summary.corruptions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from feint.attacks.transforms.table import SPECS
from feint.errors import FeintError
from feint.registry import Registry

__all__ = ["Suite", "SUITES", "suite_plan"]


@dataclass(frozen=True)
class Suite:
    doc: str
    families: dict[str, str]  # family -> attack
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)

    def params(self, attack: str) -> list[dict[str, Any]]:
        return [{"mode": "fixed", "severity": k} for k in self.severities]


SUITES: Registry[Suite] = Registry("suite")
SUITES.register(
    "corruptions",
    Suite(
        "ImageNet-C's corruptions that feint's transformations cover, severities 1 to 5 (CIFAR-10-C's "
        "settings), plus rotation",
        {s.corruption: f"transforms.{s.name}" for s in SPECS.values() if s.severities},
    ),
)


def suite_plan(
    name: str, data_type: str, target_name: str, attacks: Sequence[str] | None = None
) -> tuple[list[str], dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """The attacks, parameter sets and stored settings of suite ``name`` on a target;
    ``attacks``, when given, keeps only those of the suite's attacks (by attack or family name)."""
    suite = SUITES.get(name)
    if data_type != "image":
        raise FeintError(
            f"suite {name} transforms images and target {target_name} is {data_type}: no transformation applies "
            f"to {data_type} samples"
        )
    families = dict(suite.families)
    if attacks:
        by_name = {a: f for f, a in families.items()} | {a.removeprefix("transforms."): f for f, a in families.items()}
        chosen: dict[str, str] = {}
        for given in attacks:
            family = given if given in families else by_name.get(given)
            if family is None:
                raise FeintError(f"attack {given!r} is not in suite {name}; its families: {', '.join(families)}")
            chosen[family] = families[family]
        families = chosen
    names = list(families.values())
    params = {a: suite.params(a) for a in names}
    settings = {"suite": {"name": name, "families": {a: f for f, a in families.items()}}}
    return names, params, settings
