"""The Square attack (Andriushchenko et al. 2020): a score-based random search that changes
one square window of the perturbation at a time and keeps the change when the margin
loss falls. Closed-box (it needs the model's scores, not its gradients), Linf and L2.

Linf: the start is vertical stripes of ``+-eps``; a step sets a window to ``+-eps`` per
channel. L2: the start is pseudo-Gaussian bumps of random sign tiling the image, scaled
to the norm ``eps``; a step moves the mass of a second random window into the first, which
takes its old pattern plus a new bump of random sign per channel, and rescales the whole
to the norm ``eps``. A Linf proposal that would leave the point as it is (the window
already holds the drawn signs) draws its signs again, so every query tries a new point.
The window's share of the image follows AutoAttack's schedule (halving
at fixed fractions of the query budget, from ``p_init``). Each step costs one forward
query per sample still being attacked; a sample stops once it is adversarial.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from feint.attacks.base import CLOSED_BOX, Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.native.lp import TOP_K_TARGETS, margin, norm_choice, norm_of, per_row, project_ball, top_k_other
from feint.attacks.params import Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED

__all__ = ["Square", "window_share"]

# (fraction of the budget passed, divisor of p_init), on AutoAttack's 10,000-query scale.
_SCHEDULE = ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128), (8000, 256))


def window_share(p_init: float, it: int, n_iter: int) -> float:
    """The share of the image a window covers at step ``it`` of ``n_iter``."""
    at = int(it / max(n_iter, 1) * 10000)
    for upto, div in _SCHEDULE:
        if at <= upto:
            return p_init / div
    return p_init / 512


def _image_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(C, H, W)`` of a sample: an image as it is, anything else as one row of pixels."""
    if len(shape) == 3:
        return shape[0], shape[1], shape[2]
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    return 1, 1, int(math.prod(shape))


def _bump(h: int, w: int) -> torch.Tensor:
    """A pseudo-Gaussian bump of unit L2 norm on an ``h`` by ``w`` window, its two halves of
    opposite sign (as the L2 Square attack's meta-patterns)."""
    ys = torch.arange(h, dtype=torch.float32) - (h - 1) / 2
    xs = torch.arange(w, dtype=torch.float32) - (w - 1) / 2
    r = torch.maximum(ys.abs().view(-1, 1), xs.abs().view(1, -1))
    m = 1.0 / (r + 1) ** 2
    if w > 1:
        m[:, w // 2 :] *= -1
    return m / m.norm().clamp_min(1e-12)


class Square(Attack):
    """Square attack: score-based random search over square windows, Linf or L2 (closed-box)."""

    name = "square"
    access = CLOSED_BOX
    data_types = ("image", "tabular")
    reference = "Andriushchenko, Croce, Flammarion and Hein, Square Attack: a query-efficient black-box adversarial attack via random search, 2020"

    norm = norm_choice(("inf", "2"))
    eps = Float(0.3, "budget: largest allowed perturbation in that norm", low=0, low_open=True)
    max_queries = Int(5000, "queries per sample (one per step, after the start's)", low=1, high=10_000_000)
    p_init = Float(0.8, "share of the image the first windows cover", low=0, high=1, low_open=True)
    n_restarts = Int(1, "restarts from a new random start, on samples not yet turned", low=1, high=1000)
    targeted = TARGETED
    target_labels = TARGET_LABELS
    top_k_targets = TOP_K_TARGETS

    def project(self, x, x_adv, p):
        return project_ball(x, x_adv, p["eps"], p["norm"])

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        x = batch.x
        n = len(x)
        best = x.clone()
        done = torch.zeros(n, dtype=torch.bool)
        if p["top_k_targets"] > 0 and not batch.targeted:
            z0 = model.logits(x, torch.arange(n))
            aims: list[torch.Tensor | None] = list(top_k_other(z0, batch.labels, p["top_k_targets"]).T)
        else:
            aims = [batch.targets]
        for aim in aims:
            for _ in range(p["n_restarts"]):
                rows = torch.nonzero(~done).flatten()
                if len(rows) == 0:
                    break
                out, hit = self._search(model, batch, rows, None if aim is None else aim[rows], p)
                best[rows] = out
                done[rows[hit]] = True
        return AttackOutput(best)

    def _search(
        self, model: CountedModel, batch: Batch, rows: torch.Tensor, goal: torch.Tensor | None, p: dict[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        gen = batch.generator
        eps, norm, n_iter = p["eps"], p["norm"], p["max_queries"]
        x0 = batch.x[rows]
        labels = batch.labels[rows]
        n = len(rows)
        c, h, w = _image_shape(tuple(x0.shape[1:]))
        img = x0.reshape(n, c, h, w)
        lo, hi = model.lower, model.upper

        def loss_of(xa: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            z = model.logits(xa.reshape(len(a), *x0.shape[1:]), rows[a])
            return margin(z, labels[a], None if goal is None else goal[a])

        if norm == "inf":
            stripes = (torch.randint(0, 2, (n, c, 1, w), generator=gen) * 2 - 1).to(img.dtype) * eps
            delta = stripes.expand(n, c, h, w).clone()
        else:
            delta = torch.zeros_like(img)
            side = max(1, min(h, w) // 5)
            for r0 in range(0, h, side):
                for c0 in range(0, w, side):
                    hh, ww = min(side, h - r0), min(side, w - c0)
                    sign = (torch.randint(0, 2, (n, c, 1, 1), generator=gen) * 2 - 1).to(img.dtype)
                    delta[:, :, r0 : r0 + hh, c0 : c0 + ww] += sign * _bump(hh, ww)
            delta = delta * per_row(eps / norm_of(delta, "2").clamp_min(1e-12), delta)
        x_adv = project_ball(img, img + delta, eps, norm).clamp(lo, hi)
        if norm == "inf":  # each pixel's two values on the ball's faces, inside the bounds
            up = project_ball(img, img + eps, eps, "inf").clamp(lo, hi)
            down = project_ball(img, img - eps, eps, "inf").clamp(lo, hi)
        everyone = torch.arange(n)
        loss = loss_of(x_adv, everyone)
        hit = loss < 0
        for it in range(1, n_iter):
            act = torch.nonzero(~hit).flatten()
            if len(act) == 0:
                break
            share = window_share(p["p_init"], it, n_iter)
            s = int(round(math.sqrt(share * h * w)))
            s = min(max(s, 1), h, w) if h > 1 else min(max(int(round(share * w)), 1), w)
            top = (
                torch.randint(0, h - s + 1, (len(act),), generator=gen)
                if h > 1
                else torch.zeros(len(act), dtype=torch.long)
            )
            left = torch.randint(0, w - s + 1, (len(act),), generator=gen)
            sh = s if h > 1 else 1
            window = torch.zeros((len(act), 1, h, w), dtype=torch.bool)
            rr = torch.arange(h).view(1, h, 1)
            cc = torch.arange(w).view(1, 1, w)
            window[:, 0] = (rr >= top.view(-1, 1, 1)) & (rr < (top + sh).view(-1, 1, 1))
            window[:, 0] &= (cc >= left.view(-1, 1, 1)) & (cc < (left + s).view(-1, 1, 1))
            sign = (torch.randint(0, 2, (len(act), c, 1, 1), generator=gen) * 2 - 1).to(img.dtype)
            if norm == "inf":
                cand = self._linf_step(up[act], down[act], x_adv[act], window, sign, gen)
            else:
                new = self._l2_step(x_adv[act] - img[act], window, top, left, sh, s, sign, eps, gen)
                cand = project_ball(img[act], (img[act] + new).clamp(lo, hi), eps, "2").clamp(lo, hi)
            cand_loss = loss_of(cand, act)
            better = cand_loss < loss[act]
            keep = act[better]
            x_adv[keep] = cand[better]
            loss[keep] = cand_loss[better]
            hit[keep] = cand_loss[better] < 0
        return x_adv.reshape(x0.shape), hit

    @staticmethod
    def _linf_step(
        up: torch.Tensor,
        down: torch.Tensor,
        current: torch.Tensor,
        window: torch.Tensor,
        sign: torch.Tensor,
        gen: torch.Generator,
    ) -> torch.Tensor:
        """One Linf proposal: the window set to ``+-eps`` per channel (``up`` or ``down``: the
        sample's values on the ball's faces, inside the bounds). A sign that leaves the
        window as it is (the window already holds it, or the bounds clip it away) is drawn
        again, a few times, then flipped, so that no query is spent on the current point."""
        m, c = len(current), current.shape[1]

        def propose(sg: torch.Tensor) -> torch.Tensor:
            return torch.where(window, torch.where(sg > 0, up, down), current)

        cand = propose(sign)
        for attempt in range(4):
            same = (cand == current).flatten(1).all(dim=1)
            if not bool(same.any()):
                break
            fresh = (torch.randint(0, 2, (m, c, 1, 1), generator=gen) * 2 - 1).to(current.dtype)
            sign = torch.where(per_row(same, sign), -sign if attempt == 3 else fresh, sign)
            cand = torch.where(per_row(same, cand), propose(sign), cand)
        return cand

    @staticmethod
    def _l2_step(
        d: torch.Tensor,
        window: torch.Tensor,
        top: torch.Tensor,
        left: torch.Tensor,
        sh: int,
        s: int,
        sign: torch.Tensor,
        eps: float,
        gen: torch.Generator,
    ) -> torch.Tensor:
        """One L2 proposal: the mass of a second random window moves into the first, which
        takes its old pattern (normalised) plus a new bump of random sign per channel, sized
        to hold both windows' energy and the budget left; the whole is rescaled to ``eps``."""
        m, c, h, w = d.shape
        top2 = torch.randint(0, h - sh + 1, (m,), generator=gen)
        left2 = torch.randint(0, w - s + 1, (m,), generator=gen)
        rr = torch.arange(h).view(1, h, 1)
        cc = torch.arange(w).view(1, 1, w)
        second = torch.zeros_like(window)
        second[:, 0] = (rr >= top2.view(-1, 1, 1)) & (rr < (top2 + sh).view(-1, 1, 1))
        second[:, 0] &= (cc >= left2.view(-1, 1, 1)) & (cc < (left2 + s).view(-1, 1, 1))
        both = window | second

        def energy(t: torch.Tensor) -> torch.Tensor:  # per sample and channel
            return (t**2).sum(dim=(2, 3), keepdim=True)

        in_first = torch.where(window, d, torch.zeros_like(d))
        old = in_first / energy(in_first).sqrt().clamp_min(1e-12)
        plane = torch.zeros((m, h, w), dtype=d.dtype)
        ri = (top.view(-1, 1) + torch.arange(sh)).view(-1, sh, 1)
        ci = (left.view(-1, 1) + torch.arange(s)).view(-1, 1, s)
        plane[torch.arange(m).view(-1, 1, 1), ri, ci] = _bump(sh, s).to(d.dtype)
        pattern = sign * plane.unsqueeze(1) + old
        spare = (eps**2 - norm_of(d, "2") ** 2).clamp_min(0) / c
        held = energy(torch.where(both, d, torch.zeros_like(d))) + per_row(spare, d)
        pattern = pattern / energy(pattern).sqrt().clamp_min(1e-12) * held.sqrt()
        out = torch.where(second, torch.zeros_like(d), d)
        out = torch.where(window, pattern, out)
        return out * per_row(eps / norm_of(out, "2").clamp_min(1e-12), out)
