"""Fast minimum-norm attack (Pintor et al. 2021): per sample, the smallest perturbation it
can find that turns the label, in Linf, L2 or L1, batched in torch.

Each step takes one gradient of the logit margin and adapts a per-sample radius ``eps_k``:
while no adversarial point has been found it is the linear estimate of the distance to the
boundary (``||delta|| + margin / ||grad||_dual``); once one has been, it shrinks by
``1 - gamma`` after an adversarial step (never above the smallest adversarial norm found)
and grows by ``1 + gamma`` after a step that is not. The step moves ``alpha * eps_k`` along
the margin's steepest descent in the norm and is projected onto the ``eps_k`` ball and the
target's bounds. ``alpha`` and ``gamma`` decay by cosine annealing. Every sample takes every
step (the search for a smaller norm goes on after the first success); a sample never turned
is returned unchanged. The run's stored distances are then each sample's minimal distance,
from which a report draws robust accuracy against the budget.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from feint.attacks.base import Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.native.lp import dual_norm_of, margin, norm_choice, norm_of, per_row, project_ball, unit_step
from feint.attacks.params import Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED

__all__ = ["FMN", "cosine"]


def cosine(start: float, end: float, k: int, steps: int) -> float:
    """Cosine annealing from ``start`` (step 0) to ``end`` (the last step)."""
    return end + (start - end) * (1 + math.cos(math.pi * k / max(steps, 1))) / 2


class FMN(Attack):
    """Fast minimum-norm: per sample the smallest Linf, L2 or L1 perturbation found that turns it."""

    name = "fmn"
    access = "open-box"
    data_types = ("image", "tabular")
    reference = "Pintor, Roli, Brendel and Biggio, Fast Minimum-norm Adversarial Attacks through Adaptive Norm Constraints, 2021"
    measures = ("l1",)

    norm = norm_choice(("inf", "2", "1"), default="2")
    steps = Int(100, "gradient steps", low=1, high=100_000)
    alpha_init = Float(1.0, "first step, as a share of the current radius eps_k", low=0, low_open=True, high=10)
    alpha_final = Float(0.01, "last step, as a share of the current radius", low=0, low_open=True, high=10)
    gamma_init = Float(
        0.05, "first change of the radius per step (share)", low=0, low_open=True, high=1, high_open=True
    )
    gamma_final = Float(
        0.001, "last change of the radius per step (share)", low=0, low_open=True, high=1, high_open=True
    )
    targeted = TARGETED
    target_labels = TARGET_LABELS

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        x, labels, goal = batch.x, batch.labels, batch.targets
        norm, steps = p["norm"], p["steps"]
        n = len(x)
        rows = torch.arange(n)
        lo, hi = model.lower, model.upper
        delta = torch.zeros_like(x)
        radius = torch.full((n,), float("inf"), dtype=x.dtype)
        best_norm = torch.full((n,), float("inf"), dtype=x.dtype)
        best = x.clone()
        found = torch.zeros(n, dtype=torch.bool)

        def loss(z: torch.Tensor) -> torch.Tensor:
            return margin(z, labels, goal)

        for k in range(steps):
            alpha = cosine(p["alpha_init"], p["alpha_final"], k, steps)
            gamma = cosine(p["gamma_init"], p["gamma_final"], k, steps)
            x_adv = (x + delta).clamp(lo, hi)
            delta = x_adv - x
            z, grad = model.loss_grad(x_adv, loss, rows)
            m = loss(z)
            # Only the directions the bounds let a feature move in: a pixel at 0 cannot darken.
            down = -grad
            grad = torch.where(((x_adv <= lo) & (down < 0)) | ((x_adv >= hi) & (down > 0)), 0.0, grad)
            pred = z.argmax(1)
            adv = pred == goal if goal is not None else pred != labels
            dn = norm_of(delta, norm)
            better = adv & (dn < best_norm)
            best_norm = torch.where(better, dn, best_norm)
            best[better] = x_adv[better]
            found |= adv
            estimate = dn + m.clamp_min(0) / dual_norm_of(grad, norm).clamp_min(1e-12)
            radius = torch.where(
                adv,
                torch.minimum(radius * (1 - gamma), best_norm),
                torch.where(found, radius * (1 + gamma), estimate),
            )
            radius = torch.minimum(radius, best_norm)
            step = per_row(alpha * radius, x) * unit_step(-grad, norm)
            delta = project_ball(x, x + delta + step, radius, norm).clamp(lo, hi) - x
        if steps:  # the last step's point is judged too
            x_adv = (x + delta).clamp(lo, hi)
            pred = model.labels(x_adv, rows)
            adv = pred == goal if goal is not None else pred != labels
            dn = norm_of(x_adv - x, norm)
            better = adv & (dn < best_norm)
            best[better] = x_adv[better]
        return AttackOutput(best)
