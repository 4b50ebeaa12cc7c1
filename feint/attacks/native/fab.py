"""The fast adaptive boundary attack (Croce and Hein 2020): a minimal-norm attack that
steps to the linearised decision boundary, pulled back towards the original sample,
Linf and L2, batched in torch.

Each step linearises ``g = z_y - z_t`` (the sample's label ``y`` against the aim ``t``) at
the current point ``x_k`` and projects onto the hyperplane ``g = 0`` twice: from ``x_k``
(``delta_k``) and from the original ``x`` (``delta_0``), each along the steepest direction
of the norm among the features the bounds let move. The next point is the convex mix
``(1 - a) (x_k + eta delta_k) + a (x + eta delta_0)`` with ``a = |delta_k| / (|delta_k| +
|delta_0|)`` capped at ``alpha_max``. When it is adversarial it is kept if it is the nearest
found, and the walk steps back to ``(1 - beta) x + beta x_k``. Restarts begin from a
random point at half the best distance (or half ``eps``). Targeted: the aim is the run's
target class, or each of the ``top_k_targets`` classes in turn (AutoAttack's FAB-T);
untargeted: at each step the other class scored highest.

Each step costs one forward and one gradient query, and one forward query to judge the
new point, per sample still being attacked. The result is the nearest adversarial point
found when it lies within ``eps``; otherwise the sample is returned unchanged.
"""

from __future__ import annotations

from typing import Any

import torch

from feint.attacks.base import Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.native.apgd import random_in_ball
from feint.attacks.native.lp import TOP_K_TARGETS, norm_choice, norm_of, per_row, top_k_other
from feint.attacks.params import Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED

__all__ = ["FAB", "to_hyperplane"]


def to_hyperplane(g: torch.Tensor, w: torch.Tensor, norm: str) -> torch.Tensor:
    """The shortest ``delta`` in ``norm`` with ``g + w . delta = 0`` (per row; ``w`` may
    have zeros where a feature cannot move)."""
    flat = w.reshape(len(w), -1)
    if norm == "inf":
        scale = flat.abs().sum(dim=1).clamp_min(1e-12)
        return -per_row(g / scale, w) * w.sign()
    scale = (flat**2).sum(dim=1).clamp_min(1e-12)
    return -per_row(g / scale, w) * w


def _movable(w: torch.Tensor, at: torch.Tensor, g: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """``w`` with zeros where a step towards the hyperplane (against ``sign(g) w``) would
    leave the bounds from ``at``."""
    direction = -per_row(g.sign(), w) * w
    stuck = ((at <= lo) & (direction < 0)) | ((at >= hi) & (direction > 0))
    return torch.where(stuck, torch.zeros_like(w), w)


class FAB(Attack):
    """Fast adaptive boundary: minimal-norm steps to the linearised boundary, targeted or not, Linf or L2."""

    name = "fab"
    access = "open-box"
    data_types = ("image", "tabular")
    reference = "Croce and Hein, Minimally distorted adversarial examples with a fast adaptive boundary attack, 2020"

    norm = norm_choice(("inf", "2"))
    eps = Float(0.3, "budget: a nearest adversarial point farther than this does not count", low=0, low_open=True)
    max_iter = Int(100, "steps per restart (and per target class)", low=1, high=100_000)
    n_restarts = Int(
        1, "starts (the first at the sample, later ones random); each on samples not yet turned", low=1, high=1000
    )
    alpha_max = Float(0.1, "the largest pull towards the original sample per step", low=0, high=1)
    eta = Float(1.05, "overshoot of each projection", low=1, high=2)
    beta = Float(
        0.9, "after an adversarial step, how far back towards the sample to restart (1: not at all)", low=0, high=1
    )
    targeted = TARGETED
    target_labels = TARGET_LABELS
    top_k_targets = TOP_K_TARGETS

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        x = batch.x
        n = len(x)
        best = x.clone()
        best_norm = torch.full((n,), float("inf"), dtype=x.dtype)
        if p["top_k_targets"] > 0 and not batch.targeted:
            z0 = model.logits(x, torch.arange(n))
            aims: list[torch.Tensor | None] = list(top_k_other(z0, batch.labels, p["top_k_targets"]).T)
        else:
            aims = [batch.targets]
        for aim in aims:
            for restart in range(p["n_restarts"]):
                rows = torch.nonzero(best_norm > p["eps"]).flatten()
                if len(rows) == 0:
                    break
                self._walk(model, batch, rows, None if aim is None else aim[rows], p, restart, best, best_norm)
        far = best_norm > p["eps"]
        best[far] = x[far]
        return AttackOutput(best)

    def _walk(
        self,
        model: CountedModel,
        batch: Batch,
        rows: torch.Tensor,
        aim: torch.Tensor | None,
        p: dict[str, Any],
        restart: int,
        best: torch.Tensor,
        best_norm: torch.Tensor,
    ) -> None:
        norm, eps = p["norm"], p["eps"]
        lo, hi = model.lower, model.upper
        x0, labels = batch.x[rows], batch.labels[rows]
        n = len(rows)
        if restart == 0:
            xk = x0.clone()
        else:
            radius = torch.minimum(best_norm[rows], torch.tensor(eps, dtype=x0.dtype)) / 2
            start = random_in_ball(x0, 1.0, norm, batch.generator) - x0
            xk = (x0 + start * per_row(radius, x0)).clamp(lo, hi)
        act = torch.arange(n)  # every sample takes every step: a nearer point may follow
        for _ in range(p["max_iter"]):
            xa = xk[act]
            la = labels[act]
            if aim is None:
                z_now = model.logits(xa, rows[act])
                t = z_now.scatter(1, la.unsqueeze(1), float("-inf")).argmax(1)
            else:
                t = aim[act]

            def gap(z: torch.Tensor, la: torch.Tensor = la, t: torch.Tensor = t) -> torch.Tensor:
                return z.gather(1, la.unsqueeze(1)).squeeze(1) - z.gather(1, t.unsqueeze(1)).squeeze(1)

            z, w = model.loss_grad(xa, gap, rows[act])
            g = gap(z)
            xo = x0[act]
            d_k = to_hyperplane(g, _movable(w, xa, g, lo, hi), norm)
            g_orig = g + (w * (xo - xa)).reshape(len(act), -1).sum(dim=1)
            d_0 = to_hyperplane(g_orig, _movable(w, xo, g_orig, lo, hi), norm)
            nk, n0 = norm_of(d_k, norm), norm_of(d_0, norm)
            a = (nk / (nk + n0).clamp_min(1e-12)).clamp(0, p["alpha_max"])
            a = per_row(a, xa)
            x_new = ((1 - a) * (xa + p["eta"] * d_k) + a * (xo + p["eta"] * d_0)).clamp(lo, hi)
            pred = model.labels(x_new, rows[act])
            adv = pred != la if aim is None else pred == t
            dist = norm_of(x_new - xo, norm)
            closer = adv & (dist < best_norm[rows[act]])
            hit_rows = rows[act[closer]]
            best[hit_rows] = x_new[closer]
            best_norm[hit_rows] = dist[closer]
            back = (1 - p["beta"]) * xo + p["beta"] * x_new
            xk[act] = torch.where(per_row(adv, xa), back, x_new)
