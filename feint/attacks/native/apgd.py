"""Auto-PGD (Croce and Hein 2020): PGD with momentum and a step size that halves itself
at checkpoints, with the cross-entropy or the DLR loss, Linf and L2, batched in torch.

The step starts at ``2 * eps``. Checkpoints fall at fractions ``p_0 = 0``, ``p_1 = 0.22``,
``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)`` of the iterations; at each one a
sample's step halves, and it restarts from the best point it has found, when its loss rose
in fewer than ``rho`` of the steps since the last checkpoint, or when its step was not
halved at the last checkpoint and its best loss has not risen since. A sample stops
being queried once it is adversarial and keeps the first adversarial point it reached
(``early_stop``; off, every sample takes every step and keeps its last adversarial point).
"""

from __future__ import annotations

from typing import Any

import torch

from feint.attacks.base import Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.native.lp import (
    TOP_K_TARGETS,
    ce_loss,
    dlr_loss,
    norm_choice,
    norm_of,
    per_row,
    project_ball,
    top_k_other,
    unit_step,
)
from feint.attacks.params import Bool, Choice, Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED

__all__ = ["APGD", "checkpoints", "random_in_ball"]

LOSSES = {"ce": ce_loss, "dlr": dlr_loss}


def checkpoints(n_iter: int) -> list[int]:
    """The iterations (1-based counts of steps taken) at which the step size is checked."""
    period = max(int(0.22 * n_iter), 1)
    shrink, least = max(int(0.03 * n_iter), 1), max(int(0.06 * n_iter), 1)
    out, at = [], period
    while at <= n_iter:
        out.append(at)
        period = max(period - shrink, least)
        at += period
    return out


def random_in_ball(x: torch.Tensor, eps: float, norm: str, gen: torch.Generator) -> torch.Tensor:
    """A random start: uniform in the Linf cube, or on the L2 sphere of radius ``eps``."""
    if norm == "inf":
        return x + (torch.rand(x.shape, generator=gen, dtype=x.dtype) * 2 - 1) * eps
    t = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    return x + eps * t / per_row(norm_of(t, "2").clamp_min(1e-12), t)


class APGD(Attack):
    """Auto-PGD: momentum steps with a self-halving step size and checkpoints, CE or DLR loss, Linf or L2."""

    name = "apgd"
    access = "open-box"
    data_types = ("image", "tabular")
    reference = "Croce and Hein, Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks, 2020"

    norm = norm_choice(("inf", "2"))
    eps = Float(0.3, "budget: largest allowed perturbation in that norm", low=0, low_open=True)
    max_iter = Int(100, "steps per restart (and per target class)", low=1, high=100_000)
    loss = Choice(
        "ce", "the loss it ascends: ce (cross-entropy) or dlr (difference of logits ratio)", choices=("ce", "dlr")
    )
    n_restarts = Int(1, "random starts; each later one runs only on samples not yet turned", low=1, high=1000)
    rho = Float(
        0.75,
        "the share of steps since the last checkpoint whose loss must have risen to keep the step size",
        low=0,
        high=1,
    )
    momentum = Float(0.75, "weight of the new step against the previous move", low=0, high=1)
    targeted = TARGETED
    target_labels = TARGET_LABELS
    top_k_targets = TOP_K_TARGETS
    early_stop = Bool(
        True,
        "stop stepping a sample once it is adversarial, keeping the first adversarial point (off: every "
        "sample takes every step and keeps its last adversarial point, deeper past the boundary, as AutoAttack does)",
    )

    def project(self, x, x_adv, p):
        return project_ball(x, x_adv, p["eps"], p["norm"])

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        x = batch.x
        n = len(x)
        best = x.clone()
        done = torch.zeros(n, dtype=torch.bool)
        everyone = torch.arange(n)
        if p["top_k_targets"] > 0 and not batch.targeted:
            z0 = model.logits(x, everyone)
            aims: list[torch.Tensor | None] = list(top_k_other(z0, batch.labels, p["top_k_targets"]).T)
        else:
            aims = [batch.targets]
        for aim in aims:
            for _ in range(p["n_restarts"]):
                rows = torch.nonzero(~done).flatten()
                if len(rows) == 0:
                    break
                goal = None if aim is None else aim[rows]
                x_adv, hit = self._run(model, batch, rows, goal, p)
                best[rows] = x_adv
                done[rows[hit]] = True
        return AttackOutput(best)

    def _run(
        self, model: CountedModel, batch: Batch, rows: torch.Tensor, goal: torch.Tensor | None, p: dict[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One restart on samples ``rows`` (aimed at ``goal`` when given): the point each
        ends at (its first adversarial point, else its best), and whether it turned."""
        norm, eps, n_iter = p["norm"], p["eps"], p["max_iter"]
        x0, labels = batch.x[rows], batch.labels[rows]
        lossf = LOSSES[p["loss"]]
        n = len(rows)
        lo, hi = model.lower, model.upper

        def step_in(x_from: torch.Tensor, x_to: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return project_ball(x0[a], x_to, eps, norm).clamp(lo, hi)

        def reached(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            pred = z.argmax(1)
            return pred == goal[a] if goal is not None else pred != labels[a]

        def evaluate(xa: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            def f(z: torch.Tensor) -> torch.Tensor:
                return lossf(z, labels[a], None if goal is None else goal[a])

            z, g = model.loss_grad(xa, f, rows[a])
            return z, g, f(z)

        everyone = torch.arange(n)
        x_adv = step_in(x0, random_in_ball(x0, eps, norm, batch.generator), everyone)
        z, grad, loss = evaluate(x_adv, everyone)
        hit = reached(z, everyone)
        out = torch.where(per_row(hit, x0), x_adv, x0)
        x_best, loss_best, grad_best = x_adv.clone(), loss.clone(), grad.clone()
        x_prev = x_adv.clone()
        loss_prev = loss.clone()
        step = torch.full((n,), 2.0 * eps, dtype=x0.dtype)
        rises = torch.zeros(n)
        halved_last = torch.zeros(n, dtype=torch.bool)
        loss_at_check = loss_best.clone()
        checks = set(checkpoints(n_iter))
        last_check = 0
        for it in range(1, n_iter + 1):
            act = torch.nonzero(~hit).flatten() if p["early_stop"] else torch.arange(n)
            if len(act) == 0:
                break
            xa, g = x_adv[act], grad[act]
            a = 1.0 if it == 1 else p["momentum"]
            z1 = step_in(xa, xa + per_row(step[act], xa) * unit_step(g, norm), act)
            moved = step_in(xa, xa + a * (z1 - xa) + (1 - a) * (xa - x_prev[act]), act)
            x_prev[act] = xa
            x_adv[act] = moved
            z, g_new, loss_new = evaluate(moved, act)
            grad[act] = g_new
            turned = reached(z, act)
            out[act[turned]] = moved[turned]
            hit[act[turned]] = True
            rises[act] += (loss_new > loss_prev[act]).float()
            loss_prev[act] = loss_new
            better = loss_new > loss_best[act]
            up = act[better]
            x_best[up], loss_best[up], grad_best[up] = moved[better], loss_new[better], g_new[better]
            if it in checks:
                height = it - last_check
                last_check = it
                halve = (rises < p["rho"] * height) | (~halved_last & (loss_at_check >= loss_best))
                halved_last = halve.clone()
                loss_at_check = loss_best.clone()
                step[halve] /= 2.0
                x_adv[halve] = x_best[halve]
                grad[halve] = grad_best[halve]
                rises.zero_()
        out = torch.where(per_row(hit, x0), out, x_best)
        return out, hit
