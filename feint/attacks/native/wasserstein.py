"""The Wasserstein attack by projected Sinkhorn iterations (Wong, Schmidt, Kolter 2019).

Images are mass distributions (each normalised by the original's total mass); mass may
move only within a ``kernel_size`` window, a move by offset ``d`` costing ``|d|_2^p``.
Each step goes up the loss (a signed, L2 or Wasserstein-ball step of ``eps_step``),
then is projected back onto the Wasserstein ball of radius ``eps`` around the
original; every ``eps_iter`` steps the radius of samples not yet turned grows by
``eps_factor``. Both Sinkhorn solvers work in the log domain, so a regularization of
3000 gives no overflow or NaN, and stop at ``SINKHORN_TOL`` instead of always running
their full iteration budgets. The projection takes exact Lambert-W steps for its column
potential and over-relaxes both potentials (falling back to plain steps for an image
whose error grows); the step's conjugate problem reduces to a one-dimensional root
search per image, solved by safeguarded Newton steps.

Transport is local, so the plan is never a (pixels x pixels) matrix: every quantity is
a ``kernel_size**2`` neighbourhood sum, done with ``unfold``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from feint.attacks.base import Attack, AttackOutput, Batch
from feint.attacks.params import Bool, Choice, Float, Int, Labels
from feint.engine.model import CountedModel
from feint.errors import BadValue

__all__ = ["Wasserstein", "projected_sinkhorn", "conjugate_sinkhorn", "window_cost", "wright_omega"]

SINKHORN_TOL = 1e-4  # converged: marginal error and cost-constraint error below this (mass units)
OVER_RELAXATION = 1.6  # the projection's potentials move this far past each exact block update
DTYPE = torch.float64


def window_cost(kernel_size: int, p: float) -> torch.Tensor:
    """Cost of moving mass by each offset of a ``kernel_size`` window: ``(k*k,)``."""
    r = kernel_size // 2
    d = torch.arange(-r, r + 1, dtype=DTYPE)
    dist2 = d[:, None] ** 2 + d[None, :] ** 2
    return (dist2 ** (p / 2)).flatten()


def wright_omega(y: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """``u`` with ``u + log u = y`` (the Lambert W of ``exp(y)``), stable for any ``y``."""
    y = y.clamp_min(-600.0)
    big = y > 1
    u = torch.where(big, y - torch.log(y.clamp_min(1.0)), torch.exp(y.clamp_max(1.0)))
    for _ in range(steps):
        u = (u - (u + torch.log(u) - y) * u / (u + 1)).clamp_min(1e-300)
    return u


class _Window:
    """Neighbourhood sums over images laid out as planes ``(B, H, W)``."""

    def __init__(self, h: int, w: int, kernel_size: int, p: float):
        self.h, self.w, self.k = h, w, kernel_size
        self.cost = window_cost(kernel_size, p)[None, :, None]  # (1, K2, 1)
        self.powers = torch.stack([self.cost.flatten(), self.cost.flatten() ** 2])  # (2, K2)

    def neigh(self, v: torch.Tensor, fill: float) -> torch.Tensor:
        """``(B, H*W)`` -> ``(B, K2, H*W)``: each position's values at every window offset."""
        r = self.k // 2
        planes = F.pad(v.view(-1, 1, self.h, self.w), (r, r, r, r), value=fill)
        return F.unfold(planes, self.k)

    def gibbs(self, nv: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For neighbourhood values ``nv`` ``(B, K2, HW)``: ``log sum_o exp(nv[o] - t C_o)``
        and the first two moments of ``C`` under the normalised weights, per position."""
        r = nv - t[:, None, None] * self.cost
        top = r.amax(1, keepdim=True)  # finite: the window's centre never lies in the padding
        e = torch.exp(r - top)
        total = e.sum(1)
        moments = torch.einsum("ok,bkl->bol", self.powers, e) / total[:, None]
        return top.squeeze(1) + torch.log(total), moments[:, 0], moments[:, 1]

    def lse(self, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``log sum_o exp(v[i+o] - t C_o)`` for every position ``i``."""
        return torch.logsumexp(self.neigh(v, -math.inf) - t[:, None, None] * self.cost, dim=1)


def _sinkhorn(
    x: torch.Tensor, w: torch.Tensor, eps: torch.Tensor, lam: float, win: _Window,
    channels: int, max_iter: int, state: dict | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Block-coordinate ascent on the projection's entropic dual (variables a, b, t).

    ``x``: source mass ``(B, HW)``; ``w``: the point to project; ``eps``: the ball radius per image ``(N,)``. Returns the
    transported mass ``z``, the plan's transport cost per image, and the dual variables
    (``state``) from which a call on a nearby problem can start warm.
    """
    n_img = len(eps)
    log_x = torch.log(x)
    state = state or {}
    t = state.get("t", torch.ones(n_img, dtype=DTYPE))
    b = state.get("b", torch.zeros_like(w))
    a = None
    iters = 0
    z = x
    cost = torch.zeros(n_img, dtype=DTYPE)
    cost_ok = torch.zeros(n_img, dtype=torch.bool)
    omega = torch.full((n_img,), OVER_RELAXATION, dtype=DTYPE)
    last_err = torch.full((n_img,), math.inf, dtype=DTYPE)

    def per_image(v: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (N,)
        return v.reshape(n_img, -1).sum(1)

    for it in range(max_iter):
        iters = it
        tp = t.repeat_interleave(channels)
        # Row i of the plan sends x_i to its neighbours i+o with weights softmax(b[i+o] - t C_o):
        # the log normaliser, and the mean and second moment of the cost under them.
        lse_b, m1, m2 = win.gibbs(win.neigh(b, -math.inf), tp)
        balanced = log_x + 1 - lse_b  # the row potential with which rows sum to x
        if a is None:
            a = balanced
        else:
            # How far the last plan's rows are from sending out exactly x.
            row_err = per_image((torch.exp(a + lse_b - 1) - x).abs())
            if bool((cost_ok & (row_err <= SINKHORN_TOL)).all()):
                break
            omega = torch.where(row_err > last_err, 1.0, omega)  # safeguard: plain steps where it stalls
            last_err = row_err
            om = omega.repeat_interleave(channels)[:, None]
            a = torch.where(torch.isfinite(balanced), a + om * (balanced - a), balanced)
        # With rows balanced, the plan's row i is x_i * softmax(R[i]): its cost, and its
        # second moment as the curvature of a conservative Newton step on t (the exact
        # curvature, a variance, overshoots while a and b are still moving).
        cost = per_image(x * m1)
        curv = per_image(x * m2)
        log_s = win.lse(a, tp) - 1
        # columns solve b/lam + exp(b) S = w: a Lambert-W step, exact and stable
        u = wright_omega(math.log(lam) + log_s + lam * w)
        b = b + om * (lam * w - u - b) if it else lam * w - u
        z = u / lam
        gap = cost - eps
        t_new = torch.where(curv > 0, (t + gap / curv.clamp_min(1e-300)).clamp_min(0.0), t)
        cost_ok = (gap.abs() <= SINKHORN_TOL * eps.clamp_min(1e-12)) | ((t_new == 0) & (gap <= 0))
        t = t_new
    return z, cost, {"t": t, "b": b, "iters": iters}


def projected_sinkhorn(
    x: torch.Tensor, w: torch.Tensor, eps: torch.Tensor, lam: float, kernel_size: int, p: float,
    max_iter: int, state: dict | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Project ``w`` onto the Wasserstein ball of radius ``eps`` around ``x``.

    ``x``, ``w``: ``(N, C, H, W)`` non-negative, ``x`` of total mass 1 per sample.
    Returns the projection, its transport cost per sample and the solver's state."""
    n, c, h, wd = x.shape
    win = _Window(h, wd, kernel_size, p)
    z, cost, state = _sinkhorn(
        x.reshape(n * c, -1), w.reshape(n * c, -1), eps, lam, win, c, max_iter, state)
    return z.reshape(x.shape), cost, state


def conjugate_sinkhorn(
    x: torch.Tensor, grad: torch.Tensor, eps: torch.Tensor, lam: float, kernel_size: int, p: float,
    max_iter: int, state: dict | None = None,
) -> tuple[torch.Tensor, dict]:
    """The point of the Wasserstein ball of radius ``eps`` around ``x`` that goes
    furthest along ``grad`` (entropy-regularised); and the solver's state.

    With the column potential fixed at ``lam * grad``, the row potential has a closed
    form for every ``t``, and the plan's cost falls as ``t`` grows (its derivative is
    minus the cost's variance under the plan): the dual is a one-dimensional root
    search per image, done by Newton steps on the exact derivative, kept inside a
    bracket by bisection."""
    n, c, h, wd = x.shape
    win = _Window(h, wd, kernel_size, p)
    xs = x.reshape(n * c, -1)
    b = lam * grad.reshape(n * c, -1)
    nb = win.neigh(b, -math.inf)  # (B, K2, HW), fixed for the whole search
    t = (state or {}).get("t", torch.ones(n, dtype=DTYPE)).clone()
    lo, hi = torch.zeros_like(t), torch.full_like(t, math.inf)
    iters = 0

    def per_image(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(n, -1).sum(1)

    for iters in range(max_iter):
        _, m1, m2 = win.gibbs(nb, t.repeat_interleave(c))
        gap = per_image(xs * m1) - eps
        var = per_image(xs * (m2 - m1**2).clamp_min(0.0))
        done = (gap.abs() <= SINKHORN_TOL * eps) | ((t == 0) & (gap <= 0))
        if bool(done.all()):
            break
        lo = torch.where(gap > 0, t, lo)
        hi = torch.where(gap <= 0, t, hi)
        newton = t + gap / var.clamp_min(1e-300)
        inside = (var > 0) & (newton > lo) & (newton < hi)
        fallback = torch.where(torch.isinf(hi), 2 * t + 1, (lo + hi) / 2)
        t = torch.where(done, t, torch.where(inside, newton, fallback))
    r = nb - t.repeat_interleave(c)[:, None, None] * win.cost
    a = torch.log(xs) + 1 - torch.logsumexp(r, dim=1)
    z = torch.exp(b + win.lse(a, t.repeat_interleave(c)) - 1)
    return z.reshape(x.shape), {"t": t, "iters": iters}


class Wasserstein(Attack):
    """Wasserstein attack: gradient steps projected onto a growing Wasserstein ball by Sinkhorn iterations."""

    name = "wasserstein"
    access = "open-box"
    data_types = ("image",)
    reference = "Wong, Schmidt, Kolter, Wasserstein Adversarial Examples via Projected Sinkhorn Iterations, 2019"

    regularization = Float(3000.0, "entropy regularisation of the Sinkhorn solvers (larger: closer "
                           "to exact transport)", low=0, low_open=True)
    p = Float(2.0, "moving mass by offset d costs |d|_2^p", low=1.0, high=10.0)
    kernel_size = Int(5, "side of the window mass may move within (odd)", low=1, high=63)
    norm = Choice("wasserstein", "the step: wasserstein (conjugate Sinkhorn), inf (signed) or 2",
                  choices=("wasserstein", "inf", "2"), aliases={"linf": "inf", "l2": "2"})
    eps_step = Float(0.1, "size of one step in that norm", low=0, low_open=True)
    eps = Float(0.3, "initial radius of the Wasserstein ball (normalised mass units)", low=0, low_open=True)
    eps_iter = Int(10, "steps between two growths of the radius", low=1, high=100_000)
    eps_factor = Float(1.1, "growth factor of the radius for samples not yet turned", low=1.0)
    max_iter = Int(400, "largest number of steps", low=1, high=100_000)
    conjugate_sinkhorn_max_iter = Int(400, "iteration budget of the step's Sinkhorn solver", low=1,
                                      high=100_000)
    projected_sinkhorn_max_iter = Int(400, "iteration budget of the projection's Sinkhorn solver",
                                      low=1, high=100_000)
    targeted = Bool(False, "turn each sample into a target class instead of any other class")
    target_labels = Labels((), "classes to turn samples into when targeted: one for all or one per "
                           "sample; empty picks a random other class per sample (seeded)")
    early_stop = Bool(True, "stop moving a sample once it is adversarial (as the published attack "
                      "does; its radius stops growing too)")

    def check_options(self, p: dict[str, Any]) -> None:
        if p["kernel_size"] % 2 != 1:
            raise BadValue("kernel_size", "an odd integer in [1, 63]", p["kernel_size"])

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        lo = model.lower
        x0 = (batch.x - lo).to(DTYPE)  # mass must be non-negative: measure from the lower bound
        n = len(x0)
        mass = x0.reshape(n, -1).sum(1).clamp_min(1e-12).view(-1, 1, 1, 1)
        src = x0 / mass
        xa = x0.clone()
        eps = torch.full((n,), p["eps"], dtype=DTYPE)
        cost = torch.zeros(n, dtype=DTYPE)
        goal = batch.goal
        sign = -1.0 if batch.targeted else 1.0
        lam, k, pw = p["regularization"], p["kernel_size"], p["p"]
        active = torch.arange(n)
        planes = x0[0].numel()
        # Solver states per sample, so each Sinkhorn starts from the last step's solution.
        proj_t = torch.ones(n, dtype=DTYPE)
        proj_b = torch.zeros((n, planes), dtype=DTYPE)
        conj_t = torch.ones(n, dtype=DTYPE)
        for it in range(p["max_iter"]):
            xin = (xa[active] + lo).float()
            logits, grad = model.loss_grad(
                xin, lambda z, a=active: sign * F.cross_entropy(z, goal[a], reduction="none"), active)
            if p["early_stop"]:
                keep = ~batch.reached(logits.argmax(1), active)
                active, grad = active[keep], grad[keep]
                if len(active) == 0:
                    break
            grad = grad.to(DTYPE)
            cur = xa[active]
            if p["norm"] == "inf":
                stepped = cur + p["eps_step"] * grad.sign()
            elif p["norm"] == "2":
                gn = grad.reshape(len(grad), -1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
                stepped = cur + p["eps_step"] * grad / gn
            else:
                own = cur.reshape(len(cur), -1).sum(1).clamp_min(1e-12).view(-1, 1, 1, 1)
                z, st = conjugate_sinkhorn(
                    cur / own, grad, torch.full((len(cur),), p["eps_step"], dtype=DTYPE), lam, k, pw,
                    p["conjugate_sinkhorn_max_iter"], {"t": conj_t[active]})
                conj_t[active] = st["t"]
                stepped = own * z
            proj, c, st = projected_sinkhorn(
                src[active], stepped / mass[active], eps[active], lam, k, pw, p["projected_sinkhorn_max_iter"],
                {"t": proj_t[active], "b": proj_b[active].reshape(-1, planes // x0.shape[1])})
            proj_t[active] = st["t"]
            proj_b[active] = st["b"].reshape(len(active), planes)
            xa[active] = (proj * mass[active]).clamp(0.0, model.upper - lo)
            cost[active] = c
            if (it + 1) % p["eps_iter"] == 0:
                eps[active] *= p["eps_factor"]
        return AttackOutput((xa + lo).float(), extras={"wasserstein": cost.float().numpy()})
