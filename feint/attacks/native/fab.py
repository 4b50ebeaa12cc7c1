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

Each step costs one forward and one gradient query per sample: the pass that judges the
new point also linearises there for the next step (the last step's needs no gradient),
and a step that lands on the adversarial side, after which the walk goes on from the
point stepped back, costs one more of each. The result is the nearest adversarial point
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

        def gap(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            """``z_y - z_t`` per row of ``z`` (rows ``a`` of the walk); untargeted, ``t``
            is the other class scored highest at that very point."""
            la = labels[a]
            if aim is None:
                t = z.detach().scatter(1, la.unsqueeze(1), float("-inf")).argmax(1)
            else:
                t = aim[a]
            return z.gather(1, la.unsqueeze(1)).squeeze(1) - z.gather(1, t.unsqueeze(1)).squeeze(1)

        def linearise(xs: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            """At points ``xs`` of rows ``a``: the logits, ``g`` and its gradient ``w``."""
            z, w = model.loss_grad(xs, lambda z: gap(z, a), rows[a])
            return z, gap(z, a), w

        # Every sample takes every step (a nearer point may follow). A point is judged by a
        # forward pass; the next step needs the gradient where the walk goes on: at the new
        # point when it is not adversarial, else at the point stepped back. A sample whose
        # last step was not adversarial is judged by a pass that also linearises there
        # (one forward and one gradient query when it stays off the adversarial side, the
        # usual case); one whose last step was adversarial, and is likely to be again, is
        # judged by a forward pass alone and then linearised where it goes on.
        everyone = torch.arange(n)
        _, g, w = linearise(xk, everyone)
        was_adv = torch.zeros(n, dtype=torch.bool)
        for it in range(p["max_iter"]):
            d_k = to_hyperplane(g, _movable(w, xk, g, lo, hi), norm)
            g_orig = g + (w * (x0 - xk)).reshape(n, -1).sum(dim=1)
            d_0 = to_hyperplane(g_orig, _movable(w, x0, g_orig, lo, hi), norm)
            nk, n0 = norm_of(d_k, norm), norm_of(d_0, norm)
            mix = per_row((nk / (nk + n0).clamp_min(1e-12)).clamp(0, p["alpha_max"]), xk)
            x_new = ((1 - mix) * (xk + p["eta"] * d_k) + mix * (x0 + p["eta"] * d_0)).clamp(lo, hi)
            last = it == p["max_iter"] - 1  # nothing steps from the last point: no gradient
            fused = torch.zeros(n, dtype=torch.bool) if last else ~was_adv
            pred = torch.empty(n, dtype=torch.long)
            g_new, w_new = torch.empty_like(g), torch.empty_like(w)
            f_rows, s_rows = torch.nonzero(fused).flatten(), torch.nonzero(~fused).flatten()
            if len(f_rows):
                z_f, g_new[f_rows], w_new[f_rows] = linearise(x_new[f_rows], f_rows)
                pred[f_rows] = z_f.argmax(1)
            if len(s_rows):
                pred[s_rows] = model.logits(x_new[s_rows], rows[s_rows]).argmax(1)
            adv = pred != labels if aim is None else pred == aim
            dist = norm_of(x_new - x0, norm)
            closer = adv & (dist < best_norm[rows])
            hit_rows = rows[closer]
            best[hit_rows] = x_new[closer]
            best_norm[hit_rows] = dist[closer]
            if last:
                break
            back = (1 - p["beta"]) * x0 + p["beta"] * x_new
            xk = torch.where(per_row(adv, x_new), back, x_new)
            g, w = g_new, w_new
            again = torch.nonzero(adv | ~fused).flatten()  # where the walk has no gradient yet
            if len(again):
                _, g[again], w[again] = linearise(xk[again], again)
            was_adv = adv
