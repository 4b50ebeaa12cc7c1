"""A transformation as an attack: applied at one strength (``fixed``), or searched for the
smallest strength that changes each sample's label (``search``, the default).

The search is batched over every sample: a grid of ``steps`` strengths from the weakest
towards the strength option, each grid step one model call covering the samples not yet
turned, then a bisection between the last strength that did not turn a sample and the
first that did, one call per round for the samples still bisecting. Each sample spends at
most ``max_queries`` model rows (the runner's first and last prediction come on top). The
strength found is the sample's ``strength`` measure: the strength at which it was seen to
turn, or, for a sample that survived, the strongest it was shown; its adversarial is the
transformation at that strength, which is what re-applying the strength in fixed mode with
the same seed gives.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch

from feint.attacks.base import CLOSED_BOX, Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Choice, Int, Param
from feint.attacks.transforms.chain import Chain, apply_chain, from_unit, images, parse_chain, to_unit
from feint.attacks.transforms.ops import Draws
from feint.attacks.transforms.table import Spec
from feint.errors import Incompatible
from feint.targets.base import LABELS, Target

__all__ = ["Transformation", "SearchedTransformation", "define", "TOLERANCE"]

TOLERANCE = 1e-3  # the bisection stops when the bracket is this share of the searched span


class Transformation(Attack):
    """Base of the transformation attacks (one subclass per row of the table)."""

    framework: ClassVar[str] = "transforms"
    access = CLOSED_BOX
    needs = LABELS  # a label per image is all it asks: labels-only targets and endpoints too
    data_types = ("image",)
    measures = ("strength",)
    reference = "Papakipos and Bitton, AugLy: Data Augmentations for Robustness, 2022"
    spec: ClassVar[Spec]

    @classmethod
    def stops(cls) -> bool:
        """No distance trajectory or stopping rules: a transformation's result is the image
        at the strength its search found (not the closest image among its queries), and its
        own ``max_queries`` bounds the search."""
        return False

    pre = Chain("", "transformations applied first, at fixed strengths: jpeg:70 or jpeg:70+rotate:5 (empty: none)")

    @classmethod
    def check_target(cls, target: Target) -> None:
        if target.data_type != "image":
            raise Incompatible(
                f"attack {cls.name} transforms images and target {target.target_name} is {target.data_type}: "
                f"no transformation applies to {target.data_type} samples"
            )
        super().check_target(target)
        if not images(tuple(target.input_shape)):
            raise Incompatible(
                f"attack {cls.name} transforms images shaped (channels, height, width) or (height, width); "
                f"target {target.target_name} has samples shaped {tuple(target.input_shape)}"
            )

    def values(self) -> dict[str, Any]:
        """The option values as stored, a severity's table row in place of the options it
        sets (what the run applies), and the run's shape."""
        out = super().values()
        level = int(out.get("severity", 0) or 0)
        if level:
            out.update({k: v for k, v in self.spec.severities[level - 1].items() if k in out})
        return out

    # -- what one option set means ---------------------------------------------------------
    def settings(self, p: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
        """The strength to apply (or search up to) and the other options, a severity's
        table row replacing the options it names."""
        opts = {name: p[name] for name in self.spec.options}
        strength = self.spec.strength
        value = None if strength is None else float(p[strength.param])
        level = int(p.get("severity", 0) or 0)
        if level:
            row = self.spec.severities[level - 1]
            opts.update({k: v for k, v in row.items() if k in opts})
            if strength is not None and strength.param in row:
                value = float(row[strength.param])
        return value, opts

    def apply(self, x01: torch.Tensor, s: torch.Tensor, draws: Draws, opts: dict[str, Any]) -> torch.Tensor:
        return self.spec.op(x01, s, draws, opts)

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        lo, hi = model.lower, model.upper
        n = len(batch.x)
        indices = batch.indices if batch.indices is not None else np.arange(n)
        base = to_unit(batch.x, lo, hi)
        steps = parse_chain(p["pre"])
        if steps:
            base = apply_chain(steps, base, batch.seed, indices)
        draws = Draws(batch.seed, indices, self.spec.name)
        value, opts = self.settings(p)
        notes: list[str | None] = [None] * n
        if self.spec.op.colour and base.shape[1] != 3:  # nothing to do: no query spent
            weakest = 0.0 if self.spec.strength is None else float(self.spec.strength.weakest)
            note = f"{self.spec.name} changes colour and the image has {base.shape[1]} channel(s)"
            extras = {} if self.spec.strength is None else {"strength": np.full(n, weakest)}
            return AttackOutput(batch.x.clone(), extras=extras, notes=[note] * n)
        if self.spec.strength is None or p.get("mode", "fixed") == "fixed":
            s = torch.full((n,), 0.0 if value is None else value)
            out = self.apply(base, s, draws, opts)
        else:
            s, out, notes = _Search(self, model, batch, base, draws, opts, value, p).run()
        extras = {} if self.spec.strength is None else {"strength": s.double().numpy()}
        return AttackOutput(from_unit(out, batch.x, lo, hi), extras=extras, notes=notes)


class SearchedTransformation(Transformation):
    """A transformation with a strength: fixed, or searched per sample."""

    mode = Choice(
        "search",
        "search: per sample, the smallest strength that changes the label (up to the strength option); "
        "fixed: apply the strength option to every sample",
        choices=("search", "fixed"),
    )
    max_queries = Int(20, "search: most model rows per sample (grid and bisection)", low=1, high=100_000)
    steps = Int(10, "search: grid strengths tried before the bisection", low=1, high=10_000)


class _Search:
    """The batched search of one batch: per sample, the bracket ``(lo, hi]`` on the scale
    from the weakest strength (0) to the strength option (1), and rows spent."""

    def __init__(self, attack, model, batch, base, draws, opts, limit, p):
        self.attack, self.model, self.batch = attack, model, batch
        self.base, self.draws, self.opts = base, draws, opts
        self.strength = attack.spec.strength
        self.limit = float(limit)
        self.budget = int(p["max_queries"])
        self.steps = int(p["steps"])
        self.pre = bool(p["pre"])
        n = len(base)
        self.spent = torch.zeros(n, dtype=torch.long)
        self.lo = torch.zeros(n, dtype=torch.float64)  # highest point seen not to turn
        self.hi = torch.full((n,), math.nan, dtype=torch.float64)  # lowest point seen to turn

    def value(self, u: torch.Tensor) -> torch.Tensor:
        """Strengths at points ``u`` of the scale."""
        w, top = float(self.strength.weakest), self.limit
        if self.strength.log and w > 0 and top > 0:
            v = torch.exp(math.log(w) + u * (math.log(top) - math.log(w)))
        else:
            v = w + u * (top - w)
        return v.round() if self.strength.integer else v

    def turned(self, rows: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """One model call: whether samples ``rows`` turn at points ``u``."""
        self.spent[rows] += 1
        x01 = self.attack.apply(self.base[rows], self.value(u).float(), self.draws.at(rows), self.opts)
        x = from_unit(x01, self.batch.x[rows], self.model.lower, self.model.upper)
        return self.batch.reached(self.model.labels(x, rows), rows)

    def run(self) -> tuple[torch.Tensor, torch.Tensor, list[str | None]]:
        n = len(self.base)
        if self.pre:  # the pre-transformation alone may turn a sample
            rows = torch.arange(n)
            hit = self.turned(rows, torch.zeros(n, dtype=torch.float64))
            self.hi[rows[hit]] = 0.0
        grid = min(self.steps, self.budget)
        for k in range(1, grid + 1):
            rows = torch.nonzero(self.hi.isnan() & (self.spent < self.budget)).flatten()
            if len(rows) == 0:
                break
            u = torch.full((len(rows),), k / grid, dtype=torch.float64)
            hit = self.turned(rows, u)
            self.hi[rows[hit]] = u[hit]
            self.lo[rows[~hit]] = u[~hit]
        while True:
            open_ = ~self.hi.isnan() & (self.spent < self.budget) & (self.hi - self.lo > TOLERANCE)
            if self.strength.integer:
                open_ &= (self.value(self.hi) - self.value(self.lo)).abs() > 1
            rows = torch.nonzero(open_).flatten()
            if len(rows) == 0:
                break
            mid = (self.lo[rows] + self.hi[rows]) / 2
            hit = self.turned(rows, mid)
            self.hi[rows[hit]] = mid[hit]
            self.lo[rows[~hit]] = mid[~hit]
        found = ~self.hi.isnan()
        u = torch.where(found, self.hi, self.lo)
        s = self.value(u)
        out = self.attack.apply(self.base, s.float(), self.draws, self.opts)
        unit = self.strength.unit
        notes: list[str | None] = []
        for i in range(n):
            if found[i] and self.hi[i] == 0 and self.pre:
                notes.append("turned by the pre-transformation alone")
            elif not found[i]:
                amount = f"{unit} {_show(float(s[i]))}" if unit == "quality" else f"{_show(float(s[i]))} {unit}"
                notes.append(f"survives {self.attack.spec.name} up to {amount}")
            else:
                notes.append(None)
        return s, out, notes


def _show(v: float) -> str:
    return f"{v:.4g}"


def define(spec: Spec) -> type[Transformation]:
    """The attack class of one transformation: ``transforms.<name>``."""
    base = SearchedTransformation if spec.strength is not None else Transformation
    namespace: dict[str, Any] = {
        "name": f"transforms.{spec.name}",
        "spec": spec,
        "__doc__": spec.summary + ".",
        "__module__": __name__,
    }
    options: dict[str, Param] = {}
    if spec.strength is not None:
        options[spec.strength.param] = spec.strength.option()
    options.update(spec.options)
    if spec.severities:
        source = "CIFAR-10-C's settings" if spec.imagenet_c else "not an ImageNet-C corruption: feint's settings"
        options["severity"] = Int(
            0,
            f"corruption severity 1 to 5 of {spec.corruption} ({source}), replacing the "
            "strength options; 0: the options as set",
            low=0,
            high=5,
        )
    namespace.update(options)
    cls = type(f"Transform_{spec.name}", (base,), namespace)
    return cls
