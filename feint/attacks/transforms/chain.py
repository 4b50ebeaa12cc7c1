"""Transformations written as text, for chains: ``jpeg:70``, ``jpeg:70+rotate:5``.

A transformation attack's ``pre`` applies such a chain before its own transformation
(does the sample turn when the image was JPEG-compressed first?), and a gradient attack's
``eot`` makes its adversarial robust to one (expectation over transformation,
``rotate:10,samples=8``: the mean gradient over eight rotations drawn in [-10, 10]).
Each item is a transformation's name and its strength in its own unit; without a
strength it takes its default. The text is checked against each strength's range when
the option is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from feint.attacks.params import Param
from feint.attacks.transforms.ops import Draws
from feint.attacks.transforms.table import SPECS, Spec, spec
from feint.errors import BadValue, FeintError

__all__ = ["Chain", "EOT", "Step", "parse_chain", "parse_eot", "apply_chain", "to_unit", "from_unit", "images"]


@dataclass(frozen=True)
class Step:
    spec: Spec
    value: float | None  # None: a transformation without a strength

    def text(self) -> str:
        if self.value is None:
            return self.spec.name
        s = self.spec.strength
        assert s is not None
        return f"{self.spec.name}:{int(self.value) if s.integer else f'{self.value:g}'}"

    def options(self) -> dict[str, Any]:
        return {name: p.default for name, p in self.spec.options.items()}


def _step(item: str, option: str) -> Step:
    name, _, value = item.partition(":")
    try:
        sp = spec(name)
    except FeintError:
        raise BadValue(
            option, f"transformations as NAME[:STRENGTH] joined by '+', NAME one of {', '.join(SPECS)}", item
        ) from None
    if sp.strength is None:
        if value.strip():
            raise BadValue(option, f"{sp.name} without a strength (it has none)", item)
        return Step(sp, None)
    param = sp.strength.option()
    object.__setattr__(param, "name", option)
    parsed = param.parse(value) if value.strip() else param.default
    return Step(sp, float(parsed))


def parse_chain(text: str, option: str = "pre") -> list[Step]:
    """The steps of ``jpeg:70+rotate:5`` (empty text: none); a bad item raises BadValue."""
    text = str(text).strip()
    if text.lower() in ("", "none", "-"):
        return []
    return [_step(item.strip(), option) for item in text.split("+")]


def parse_eot(text: str, option: str = "eot") -> tuple[list[Step], int]:
    """``rotate:10,samples=8`` -> the steps and the number of draws per gradient (default 8)."""
    head, *rest = [p.strip() for p in str(text).split(",")]
    samples = 8
    for part in rest:
        key, _, value = part.partition("=")
        if key.strip() != "samples" or not value.strip().isdigit() or not 1 <= int(value) <= 1000:
            raise BadValue(option, "TRANSFORMATIONS[,samples=N] with N from 1 to 1000", text)
        samples = int(value)
    return parse_chain(head, option), samples


class Chain(Param[str]):
    """A chain of transformations as text (``jpeg:70+rotate:5``; empty: none)."""

    type_name = "transformations like jpeg:70 or jpeg:70+rotate:5 (empty: none)"

    def validate(self, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(value)
        return "+".join(s.text() for s in parse_chain(value, self.name))

    def show(self, value: Any) -> str:
        return value or "-"


class EOT(Param[str]):
    """Expectation over transformation: ``rotate:10,samples=8`` (empty: none)."""

    type_name = "transformations like rotate:10 or jpeg:70+rotate:5, then ,samples=N (empty: none)"

    def validate(self, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(value)
        steps, samples = parse_eot(value, self.name)
        return f"{'+'.join(s.text() for s in steps)},samples={samples}" if steps else ""

    def show(self, value: Any) -> str:
        return value or "-"


# -- images in [0, 1], four dimensions --------------------------------------------------------
def images(shape: tuple[int, ...]) -> bool:
    """Whether samples of ``shape`` are images the transformations take: (C, H, W) or (H, W)."""
    return len(shape) in (2, 3) and all(d >= 1 for d in shape)


def to_unit(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """``(N, C, H, W)`` in [0, 1] from samples ``(N, C, H, W)`` or ``(N, H, W)`` in [lo, hi]."""
    x4 = x.unsqueeze(1) if x.dim() == 3 else x
    return ((x4.float() - lo) / (hi - lo)).clamp(0, 1)


def from_unit(x01: torch.Tensor, like: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    out = x01 * (hi - lo) + lo
    return out.reshape(like.shape).to(like.dtype)


def apply_chain(
    steps: list[Step],
    x01: torch.Tensor,
    seed: int,
    indices,
    values: list[torch.Tensor] | None = None,
    salt: str = "pre",
) -> torch.Tensor:
    """``x01`` through each step in turn, at its strength (or at ``values[k]``, one per
    row, for step ``k``), each with draws of its own."""
    out = x01
    for k, step in enumerate(steps):
        n = len(out)
        if values is not None:
            s = values[k]
        else:
            s = torch.full((n,), 0.0 if step.value is None else step.value)
        draws = Draws(seed, indices, f"{salt}{k}:{step.spec.name}")
        out = step.spec.op(out, s, draws, step.options())
    return out
