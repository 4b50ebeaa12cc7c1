"""Sanity checks of an evaluation (Carlini et al. 2019, "On Evaluating Adversarial
Robustness"): signs that attacks failed for a reason other than the model's robustness,
each a line with ``pass``, ``warn`` or ``fail`` and why.

On a few samples the target labels right, with short attack schedules:

- ``output``: the open-box module gives logits, not probabilities (a softmax at the end
  flattens the loss the attacks climb);
- ``gradients``: the share of samples whose input gradient is zero, NaN or vanishing;
- ``loss rises``: the cross-entropy climbs over PGD steps;
- ``budget``: success does not fall as the budget grows, and an unbounded budget (the
  whole value range) turns every sample;
- ``iterative``: an iterative attack turns at least what a single step does;
- ``closed-box``: a closed-box attack does not beat the open-box one (masked gradients);
- ``restarts``: random restarts do not change the answer much.

A closed-box target has only the budget checks (with Square).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from feint.attacks.catalog import get_attack
from feint.attacks.model import CountedModel
from feint.attacks.shape import RunShape
from feint.engine.run import execute_run
from feint.targets import as_target
from feint.targets.base import Target

__all__ = ["Check", "run_checks", "CHECKS"]

CHECKS = ("output", "gradients", "loss rises", "budget", "unbounded", "iterative", "closed-box", "restarts")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass, warn, fail
    why: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _correct(target: Target, indices: np.ndarray) -> np.ndarray:
    pred = np.asarray(target.predict(target.get_samples(indices))).argmax(1)
    if target.y is None:
        return indices
    return indices[pred == np.asarray(target.y)[indices]]


def _success(target: Target, attack: str, samples: Sequence[int], seed: int = 0, **options: Any) -> float:
    run = execute_run(target, get_attack(attack)(**options), shape=RunShape(samples=tuple(samples), seed=seed))
    return run.successes / max(run.n, 1)


def run_checks(
    target: Target, samples: Sequence[int], norm: str = "inf", eps: float = 0.3, seed: int = 0, steps: int = 20
) -> list[Check]:
    """The checks on ``samples`` (the first 10 of them the target labels right), at budget ``eps``."""
    target = as_target(target)
    chosen = _correct(target, np.asarray(samples, dtype=np.int64))[:10]
    if len(chosen) == 0:
        return [Check("samples", "warn", "the target labels none of the samples right: nothing to check")]
    rows = [int(i) for i in chosen]
    out: list[Check] = []
    span = float(target.bounds[1] - target.bounds[0])
    unbounded = span if norm == "inf" else span * float(np.sqrt(np.prod(target.input_shape)))
    if target.open_box:
        out += _gradient_checks(target, chosen)
        it = _success(target, "apgd", rows, seed, norm=norm, eps=eps, max_iter=steps)
        small = _success(target, "apgd", rows, seed, norm=norm, eps=eps / 4, max_iter=steps)
        big = _success(target, "apgd", rows, seed, norm=norm, eps=unbounded, max_iter=steps)
        one = _success(target, "pgd", rows, seed, norm=norm, eps=eps, eps_step=eps, max_iter=1)
        closed = _success(target, "square", rows, seed, norm=norm, eps=eps, max_queries=10 * steps)
        restarted = _success(target, "apgd", rows, seed + 1, norm=norm, eps=eps, max_iter=steps, n_restarts=3)
        out.append(_budget(small, it, eps, "APGD"))
        out.append(_unbounded(big, "APGD"))
        out.append(
            Check("iterative", "pass", f"APGD turned {it:.0%}, one FGSM step {one:.0%}")
            if it >= one
            else Check(
                "iterative",
                "fail",
                f"one FGSM step turned {one:.0%}, more than APGD's {it:.0%}: the iterative attack is misled "
                "(masked or noisy gradients)",
            )
        )
        out.append(
            Check("closed-box", "pass", f"Square turned {closed:.0%}, APGD {it:.0%}")
            if closed <= it
            else Check(
                "closed-box",
                "fail",
                f"closed-box Square turned {closed:.0%}, more than open-box APGD's {it:.0%}: a sign of masked gradients",
            )
        )
        gap = abs(restarted - it)
        out.append(
            Check(
                "restarts",
                "pass" if gap <= 0.1 else "warn",
                f"APGD with 3 restarts and another seed turned {restarted:.0%}, with 1 {it:.0%}"
                + ("" if gap <= 0.1 else ": the answer depends on the random start; use more restarts"),
            )
        )
    else:
        q = 10 * steps
        it = _success(target, "square", rows, seed, norm=norm, eps=eps, max_queries=q)
        small = _success(target, "square", rows, seed, norm=norm, eps=eps / 4, max_queries=q)
        big = _success(target, "square", rows, seed, norm=norm, eps=unbounded, max_queries=q)
        out.append(_budget(small, it, eps, "Square"))
        out.append(_unbounded(big, "Square"))
    return out


def _budget(small: float, it: float, eps: float, who: str) -> Check:
    if small <= it:
        return Check("budget", "pass", f"{who} turned {small:.0%} at eps {eps / 4:g} and {it:.0%} at {eps:g}")
    return Check(
        "budget",
        "fail",
        f"{who} turned {small:.0%} at eps {eps / 4:g} but only {it:.0%} at {eps:g}: success must grow with the budget",
    )


def _unbounded(big: float, who: str) -> Check:
    if big >= 1.0:
        return Check("unbounded", "pass", f"{who} with the whole value range as budget turned every sample")
    return Check(
        "unbounded",
        "fail",
        f"{who} with the whole value range as budget turned only {big:.0%}: an unbounded attack must reach 100%",
    )


def _gradient_checks(target: Target, chosen: np.ndarray) -> list[Check]:
    x = torch.as_tensor(target.get_samples(chosen))
    n = len(x)
    model = CountedModel(target, np.zeros(n, np.int64), np.zeros(n, np.int64), chosen)
    labels = model.labels(x)
    out = []
    z = model.logits(x)
    probabilities = bool((z >= 0).all() and (z <= 1).all() and torch.allclose(z.sum(dim=1), torch.ones(n), atol=1e-3))
    if probabilities:
        out.append(
            Check(
                "output",
                "fail",
                "the module's outputs are probabilities (rows in [0, 1] summing to 1) where logits were expected: "
                "losses on them saturate; give the module without its final softmax",
            )
        )
    else:
        top = F.softmax(z, dim=1).amax(dim=1)
        saturated = float((top > 1 - 1e-7).float().mean())
        out.append(
            Check(
                "output",
                "warn" if saturated > 0.5 else "pass",
                f"logits; softmax saturated on {saturated:.0%} of samples",
            )
        )

    def ce(logits: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels, reduction="none")

    _, g = model.loss_grad(x, ce)
    flat = g.reshape(n, -1)
    bad = ~torch.isfinite(flat).all(dim=1)
    tiny = flat.abs().amax(dim=1) < 1e-12
    share = float((bad | tiny).float().mean())
    if bool(bad.any()):
        out.append(
            Check(
                "gradients",
                "fail",
                f"the input gradient is NaN or infinite on {float(bad.float().mean()):.0%} of samples",
            )
        )
    elif share > 0.1:
        out.append(
            Check(
                "gradients",
                "fail",
                f"the input gradient is zero or vanishing on {share:.0%} of samples: gradient attacks cannot work "
                "here (masked gradients, e.g. rounding or a saturated softmax); robustness would be over-stated",
            )
        )
    else:
        out.append(Check("gradients", "pass" if share == 0 else "warn", f"zero or vanishing on {share:.0%} of samples"))
    # The loss over a few PGD steps should rise.
    xa = x.clone()
    first = ce(model.logits(xa))
    for _ in range(5):
        _, g = model.loss_grad(xa, ce)
        xa = (xa + 0.01 * (target.bounds[1] - target.bounds[0]) * g.sign()).clamp(*target.bounds)
    last = ce(model.logits(xa))
    rose = float((last > first + 1e-6).float().mean())
    out.append(
        Check("loss rises", "pass", f"the cross-entropy rose over 5 steps on {rose:.0%} of samples")
        if rose >= 0.5
        else Check(
            "loss rises",
            "fail",
            f"the cross-entropy rose over 5 steps on only {rose:.0%} of samples: the attacks' loss does not climb",
        )
    )
    return out
