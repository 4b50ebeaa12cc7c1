"""The Wasserstein attack by projected Sinkhorn iterations (Wong, Schmidt, Kolter 2019).

Images are mass distributions (each normalised by the original's total mass); mass may
move only within a ``kernel_size`` window, a move by offset ``d`` costing the p-norm of
``d`` (``cost=norm``, ART's cost: at ``p = 2`` the Euclidean distance) or ``|d|_2^p``
(``cost=power``).
Each step goes up the loss (a signed, L2 or Wasserstein-ball step of ``eps_step``),
then is projected back onto the Wasserstein ball of radius ``eps`` around the
original; every ``eps_iter`` steps the radius of samples not yet turned grows by
``eps_factor``. Both Sinkhorn solvers keep their potentials in the log domain, so a
regularization of 3000 gives no overflow or NaN, and stop at ``SINKHORN_TOL`` instead
of always running their full iteration budgets; each image stops at its own
convergence and leaves the batch. The projection takes exact Lambert-W steps for its
column potential and over-relaxes both potentials (plain steps for an image whose
error grows, over-relaxed again once it falls); the step's conjugate problem reduces
to a one-dimensional root search per image, solved by safeguarded Newton steps.

Transport is local, so the plan is never a (pixels x pixels) matrix: every quantity is
a ``kernel_size**2`` neighbourhood sum. The projection takes them on exponentiated
planes shifted by their maximum, as one grouped convolution (or, for ``p == 2``, one
pass per axis), and falls back to log-domain sums (``unfold``) in any iteration where
that could underflow; the conjugate step groups the window's offsets by their cost.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from feint.attacks.base import Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Bool, Choice, Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED
from feint.errors import BadValue

__all__ = ["Wasserstein", "projected_sinkhorn", "conjugate_sinkhorn", "window_cost", "wright_omega"]

SINKHORN_TOL = 1e-4  # converged: marginal error and cost-constraint error below this (mass units)
OVER_RELAXATION = 1.6  # the projection's potentials move this far past each exact block update
RESUMED_RELAXATION = 1.8  # ... and this far once over-relaxation resumes after plain steps
DTYPE = torch.float64


GROUND_COSTS = ("norm", "power")


def window_cost(kernel_size: int, p: float, ground: str = "norm") -> torch.Tensor:
    """Cost of moving mass by each offset ``d = (dy, dx)`` of a ``kernel_size`` window:
    ``(k*k,)``. ``norm``: the p-norm of the offset, ``(|dy|^p + |dx|^p)^(1/p)`` (ART's
    cost; at ``p = 2`` the Euclidean distance, so that the plan's cost is the
    1-Wasserstein distance); ``power``: the Euclidean distance to the power p, ``|d|_2^p``."""
    r = kernel_size // 2
    d = torch.arange(-r, r + 1, dtype=DTYPE).abs()
    if ground == "power":
        return ((d[:, None] ** 2 + d[None, :] ** 2) ** (p / 2)).flatten()
    return ((d[:, None] ** p + d[None, :] ** p) ** (1 / p)).flatten()


def _axis_cost(kernel_size: int, p: float, ground: str) -> torch.Tensor | None:
    """Where the window's cost is a sum of one cost per axis (``|dy|^2 + |dx|^2`` for the
    power 2, ``|dy| + |dx|`` for the 1-norm), that per-axis cost ``(k,)``; else None."""
    d = torch.arange(-(kernel_size // 2), kernel_size // 2 + 1, dtype=DTYPE).abs()
    if ground == "power" and p == 2.0:
        return d**2
    if ground == "norm" and p == 1.0:
        return d
    return None


def wright_omega(y: torch.Tensor, steps: int = 2) -> torch.Tensor:
    """``u`` with ``u + log u = y`` (the Lambert W of ``exp(y)``), stable for any ``y``.

    Starts from an asymptotic guess (within 30%) and takes fourth-order steps
    (Fritsch, Shafer and Crowley): two reach the float64 rounding level."""
    y = y.clamp_min(-600.0)
    yc = y.clamp_min(1.0)
    ly = yc.log()
    u = torch.where(y > 1, torch.addcdiv(y - ly, ly, yc), torch.sigmoid(y.clamp_max(1.0)))
    for _ in range(steps):
        z = (y - u).sub_(u.log())  # the residual
        p = u + 1
        q = torch.add(p, z, alpha=2 / 3).mul_(p).mul_(2)
        # u * (1 + z/p * (q - z)/(q - 2z)), written so that q overflowing to inf is harmless
        u = torch.addcmul(u, u, (z / q.sub_(z, alpha=2)).add_(1).mul_(z.div_(p)))
    return u


class _Window:
    """Neighbourhood sums over images laid out as planes ``(B, H, W)``.

    The log-domain forms (``gibbs``, ``lse``) take any values. The exponential-domain
    form (``sums``) takes planes already shifted by their maximum and exponentiated,
    and is one grouped convolution with a kernel per plane; where the cost is a sum of
    one cost per axis (``dx^2 + dy^2``, ``|dx| + |dy|``) and there are many planes, a
    plain neighbourhood sum is instead one pass per axis (the kernel ``exp(-t C)`` is
    then a product of one kernel per axis)."""

    SEPARABLE_FROM = 16  # planes from which the per-axis passes beat the convolution

    def __init__(self, h: int, w: int, kernel_size: int, p: float, ground: str = "norm"):
        self.h, self.w, self.k = h, w, kernel_size
        self.r = kernel_size // 2
        self.cost = window_cost(kernel_size, p, ground)[None, :, None]  # (1, K2, 1)
        self.axis = _axis_cost(kernel_size, p, ground)  # (k,): the cost along one axis, if separable
        self.separable = self.axis is not None

    def neigh(self, v: torch.Tensor, fill: float) -> torch.Tensor:
        """``(B, H*W)`` -> ``(B, K2, H*W)``: each position's values at every window offset."""
        r = self.r
        planes = F.pad(v.view(-1, 1, self.h, self.w), (r, r, r, r), value=fill)
        return F.unfold(planes, self.k)

    def gibbs(
        self,
        nv: torch.Tensor,
        t: torch.Tensor,
        cost: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For neighbourhood values ``nv`` ``(B, K2, HW)``: ``log sum_o exp(nv[o] - t C_o)``
        and the first two moments of ``C`` under the normalised weights, per position.
        ``nv`` may instead hold the log-sums of the offsets of each distinct cost
        (``by_cost``), with those costs as ``cost``."""
        cost = self.cost if cost is None else cost[None, :, None]
        r = nv - t[:, None, None] * cost
        top = r.amax(1, keepdim=True)  # finite: the window's centre never lies in the padding
        e = torch.exp(r - top)
        total = e.sum(1)
        powers = torch.stack([cost.flatten(), cost.flatten() ** 2])
        moments = torch.einsum("ok,bkl->bol", powers, e) / total[:, None]
        return top.squeeze(1) + torch.log(total), moments[:, 0], moments[:, 1]

    def by_cost(self, nv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Neighbourhood values ``(B, K2, HW)`` -> the log-sum of their exponentials over the
        offsets of each distinct cost ``(B, G, HW)``, and those costs ``(G,)``: every sum of
        ``exp(nv[o] - t C_o)`` over the window is then a sum over G terms."""
        flat = self.cost.flatten()
        costs = torch.unique(flat)
        return torch.stack([torch.logsumexp(nv[:, flat == c], dim=1) for c in costs], 1), costs

    def lse(self, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``log sum_o exp(v[i+o] - t C_o)`` for every position ``i``."""
        return torch.logsumexp(self.neigh(v, -math.inf) - t[:, None, None] * self.cost, dim=1)

    def sums(self, e: torch.Tensor, t: torch.Tensor, moments: bool) -> torch.Tensor:
        """``sum_o exp(-t C_o) e[i+o]`` for planes ``e`` ``(B, HW)`` (zero outside the image),
        and, with ``moments``, the same sums weighted by ``C_o`` and ``C_o^2``: ``(B, 1 or 3, HW)``."""
        h, w, k, r = self.h, self.w, self.k, self.r
        n = len(e)
        if moments or not self.separable or n < self.SEPARABLE_FROM:
            c = self.cost.view(1, -1)
            kern = torch.exp(-t[:, None] * c)  # (B, K2)
            if moments:
                kern = torch.stack([kern, kern * c, kern * (c * c)], 1)
            planes = F.pad(e.view(1, n, h, w), (r, r, r, r))
            return F.conv2d(planes, kern.view(-1, 1, k, k), groups=n).view(n, -1, h * w)
        assert self.axis is not None
        k1 = torch.exp(-t[:, None] * self.axis)[:, :, None, None]  # (B, k, 1, 1): the kernel along one axis
        planes = F.pad(e.view(n, h, w), (r, r, r, r))
        rows = torch.zeros((n, h + 2 * r, w), dtype=e.dtype)
        for j in range(k):
            rows.addcmul_(planes[:, :, j : j + w], k1[:, j])
        out = torch.zeros((n, h, w), dtype=e.dtype)
        for i in range(k):
            out.addcmul_(rows[:, i : i + h], k1[:, i])
        return out.view(n, 1, h * w)


# Exponential-domain sums are used where they are as exact as the log domain: every row
# sum the plan needs (where there is mass) at least ROW_FLOOR after the shift, so that
# terms lost to underflow are negligible; a column sum may underflow only where its
# Lambert-W argument then stays far below the clamp of ``wright_omega``.
ROW_FLOOR = 1e-250
COL_SAFE = 500.0


def _sinkhorn(
    x: torch.Tensor,
    w: torch.Tensor,
    eps: torch.Tensor,
    lam: float,
    win: _Window,
    channels: int,
    max_iter: int,
    state: dict | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Block-coordinate ascent on the projection's entropic dual (variables a, b, t).

    ``x``: source mass ``(B, HW)``; ``w``: the point to project; ``eps``: the ball radius per image ``(N,)``. Returns the
    transported mass ``z``, the plan's transport cost per image, and the dual variables
    (``state``) from which a call on a nearby problem can start warm.

    The potentials stay in the log domain; the neighbourhood sums are taken on planes
    shifted by their maximum and exponentiated (``_Window.sums``), falling back to
    log-domain sums in an iteration where that could lose precision. Images are
    independent problems: each stops at its own convergence and leaves the batch, so
    its result does not depend on the images solved with it."""
    n_img = len(eps)
    state = state or {}
    t = state.get("t", torch.ones(n_img, dtype=DTYPE)).clone()
    b = state.get("b", torch.zeros_like(w)).clone()
    # Results, filled in as images converge.
    z_out = torch.zeros_like(w)
    cost_out = torch.zeros(n_img, dtype=DTYPE)
    t_out, b_out = t.clone(), b.clone()
    live = torch.arange(n_img)  # images still iterating
    has_mass = x > 0
    log_x1 = torch.log(x) + 1
    row_floor = has_mass.to(DTYPE) * ROW_FLOOR
    lam_w = lam * w
    y_off = lam_w + (math.log(lam) - 1)  # the Lambert-W argument is log(col sum) + this
    # An underflowed column sum can matter only in a plane whose max row potential exceeds this.
    col_risk = COL_SAFE - y_off.amax(1, keepdim=True)
    tol_eps = SINKHORN_TOL * eps.clamp_min(1e-12)
    a = None
    iters = 0
    u = lam * x
    cost = torch.zeros(n_img, dtype=DTYPE)
    cost_ok = torch.zeros(n_img, dtype=torch.bool)
    omega = torch.full((n_img,), OVER_RELAXATION, dtype=DTYPE)
    om = omega[:, None]
    last_err = torch.full((n_img,), math.inf, dtype=DTYPE)
    last_ratio = torch.full((n_img,), 2.0, dtype=DTYPE)

    def planes_of(img: torch.Tensor) -> torch.Tensor:
        return img if channels == 1 else (img[:, None] * channels + torch.arange(channels)).flatten()

    def finish(img: torch.Tensor, sel: torch.Tensor) -> None:
        """Store the results of the live images ``img`` (rows ``sel`` of the live arrays)."""
        pl, sel_pl = planes_of(img), planes_of(sel)
        z_out[pl] = u[sel_pl] / lam
        b_out[pl] = b[sel_pl]
        cost_out[img] = cost[sel]
        t_out[img] = t[sel]

    for it in range(max_iter):
        iters = it
        tp = t.repeat_interleave(channels) if channels > 1 else t
        # Row i of the plan sends x_i to its neighbours i+o with weights softmax(b[i+o] - t C_o):
        # the log normaliser, and the mean and second moment of the cost under them.
        top_b = b.amax(1, keepdim=True)  # b is finite
        s = win.sums(torch.exp(b - top_b), tp, moments=True)
        if bool((s[:, 0] < row_floor).any()):
            lse_b, m1, m2 = win.gibbs(win.neigh(b, -math.inf), tp)
            moments = torch.stack([x * m1, x * m2], 1).sum(2, keepdim=True)
        else:
            s0 = s[:, 0].clamp_min(1e-300)  # rows without mass may underflow; they carry no plan
            lse_b = torch.log(s0) + top_b
            moments = torch.bmm(s[:, 1:], (x / s0)[:, :, None])  # (B, 2, 1): sum_i x_i m_i
        balanced = log_x1 - lse_b  # the row potential with which rows sum to x
        if a is None:
            a = balanced
        else:
            # How far the last plan's rows are from sending out exactly x.
            row_err = (torch.exp(a + lse_b - 1) - x).abs().reshape(len(t), -1).sum(1)
            done = cost_ok & (row_err <= SINKHORN_TOL)
            if bool(done.any()):
                finish(live[done], done.nonzero().flatten())
                if bool(done.all()):
                    break
                keep = (~done).nonzero().flatten()
                kp = planes_of(keep)
                live, t, cost_ok, omega, last_err, last_ratio, row_err, eps, tol_eps = (
                    v[keep] for v in (live, t, cost_ok, omega, last_err, last_ratio, row_err, eps, tol_eps)
                )
                (x, has_mass, log_x1, row_floor, lam_w, y_off, col_risk, b, a, u, lse_b, balanced, moments) = (
                    v[kp]
                    for v in (x, has_mass, log_x1, row_floor, lam_w, y_off, col_risk, b, a, u, lse_b, balanced, moments)
                )
            # Safeguard: plain steps where the error grew; back to over-relaxed steps (a
            # little further than at the start, now that t has settled) after two plain
            # steps that both reduced it.
            ratio = row_err / last_err
            plain = omega == 1.0
            omega = torch.where(
                ratio > 1, 1.0, torch.where(plain & (ratio < 1) & (last_ratio < 1), RESUMED_RELAXATION, omega)
            )
            last_ratio = torch.where(omega == 1.0, ratio, 2.0)
            last_err = row_err
            om = omega.repeat_interleave(channels)[:, None] if channels > 1 else omega[:, None]
            a = torch.where(has_mass, a.lerp(balanced, om), balanced)
        tp = t.repeat_interleave(channels) if channels > 1 else t
        # With rows balanced, the plan's row i is x_i * softmax(R[i]): its cost, and its
        # second moment as the curvature of a conservative Newton step on t (the exact
        # curvature, a variance, overshoots while a and b are still moving).
        moments = moments.view(len(t), -1, 2).sum(1) if channels > 1 else moments.view(len(t), 2)
        cost, curv = moments[:, 0], moments[:, 1]
        top_a = a.amax(1, keepdim=True).clamp_min(-1e300)  # a plane without mass is all -inf
        sa = win.sums(torch.exp(a - top_a), tp, moments=False).view(len(a), -1)
        risky = top_a > col_risk  # planes where an underflowed column sum could matter
        if bool(risky.any()) and bool((risky & (sa < ROW_FLOOR)).any()):
            y = win.lse(a, tp) + y_off
        else:
            y = torch.log(sa) + top_a + y_off
        # columns solve b/lam + exp(b) S = w: a Lambert-W step, exact and stable
        u = wright_omega(y)
        b = b.lerp(lam_w - u, om) if it else lam_w - u
        gap = cost - eps
        t_new = torch.where(curv > 0, (t + gap / curv.clamp_min(1e-300)).clamp_min(0.0), t)
        cost_ok = (gap.abs() <= tol_eps) | ((t_new == 0) & (gap <= 0))
        t = t_new
    else:
        finish(live, torch.arange(len(live)))
    return z_out, cost_out, {"t": t_out, "b": b_out, "iters": iters}


def projected_sinkhorn(
    x: torch.Tensor,
    w: torch.Tensor,
    eps: torch.Tensor,
    lam: float,
    kernel_size: int,
    p: float,
    max_iter: int,
    state: dict | None = None,
    ground: str = "norm",
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Project ``w`` onto the Wasserstein ball of radius ``eps`` around ``x``.

    ``x``, ``w``: ``(N, C, H, W)`` non-negative, ``x`` of total mass 1 per sample.
    Returns the projection, its transport cost per sample and the solver's state."""
    n, c, h, wd = x.shape
    win = _Window(h, wd, kernel_size, p, ground)
    with torch.inference_mode():  # many small tensor operations: skip autograd's bookkeeping
        z, cost, state = _sinkhorn(x.reshape(n * c, -1), w.reshape(n * c, -1), eps, lam, win, c, max_iter, state)
    return (
        z.reshape(x.shape).clone(),
        cost.clone(),
        {"t": state["t"].clone(), "b": state["b"].clone(), "iters": state["iters"]},
    )


def conjugate_sinkhorn(
    x: torch.Tensor,
    grad: torch.Tensor,
    eps: torch.Tensor,
    lam: float,
    kernel_size: int,
    p: float,
    max_iter: int,
    state: dict | None = None,
    ground: str = "norm",
) -> tuple[torch.Tensor, dict]:
    """The point of the Wasserstein ball of radius ``eps`` around ``x`` that goes
    furthest along ``grad`` (entropy-regularised); and the solver's state.

    With the column potential fixed at ``lam * grad``, the row potential has a closed
    form for every ``t``, and the plan's cost falls as ``t`` grows (its derivative is
    minus the cost's variance under the plan): the dual is a one-dimensional root
    search per image, done by Newton steps on the exact derivative, kept inside a
    bracket by bisection."""
    with torch.inference_mode():  # many small tensor operations: skip autograd's bookkeeping
        z, t, iters = _conjugate(x, grad, eps, lam, kernel_size, p, max_iter, state, ground)
    return z.clone(), {"t": t.clone(), "iters": iters}


def _conjugate(
    x: torch.Tensor,
    grad: torch.Tensor,
    eps: torch.Tensor,
    lam: float,
    kernel_size: int,
    p: float,
    max_iter: int,
    state: dict | None,
    ground: str = "norm",
) -> tuple[torch.Tensor, torch.Tensor, int]:
    n, c, h, wd = x.shape
    win = _Window(h, wd, kernel_size, p, ground)
    xs = x.reshape(n * c, -1)
    b = lam * grad.reshape(n * c, -1)
    # Fixed for the whole search: the window's values grouped by the cost of their offset.
    nb, costs = win.by_cost(win.neigh(b, -math.inf))
    t = (state or {}).get("t", torch.ones(n, dtype=DTYPE)).clone()
    lo, hi = torch.zeros_like(t), torch.full_like(t, math.inf)
    iters = 0

    def per_image(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(n, -1).sum(1)

    for iters in range(max_iter):  # noqa: B007 - the last index is returned
        _, m1, m2 = win.gibbs(nb, t.repeat_interleave(c), costs)
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
    r = nb - t.repeat_interleave(c)[:, None, None] * costs[None, :, None]
    a = torch.log(xs) + 1 - torch.logsumexp(r, dim=1)
    z = torch.exp(b + win.lse(a, t.repeat_interleave(c)) - 1)
    return z.reshape(x.shape), t, iters


class Wasserstein(Attack):
    """Wasserstein attack: gradient steps projected onto a growing Wasserstein ball by Sinkhorn iterations."""

    name = "wasserstein"
    access = "open-box"
    data_types = ("image",)
    measures = ("wasserstein",)  # the transport cost, reported per sample in AttackOutput.extras
    reference = "Wong, Schmidt, Kolter, Wasserstein Adversarial Examples via Projected Sinkhorn Iterations, 2019"

    regularization = Float(
        3000.0,
        "entropy regularisation of the Sinkhorn solvers (larger: closer to exact transport)",
        low=0,
        low_open=True,
    )
    p = Float(2.0, "the p of the ground cost (see cost)", low=1.0, high=10.0)
    cost = Choice(
        "norm",
        "what moving mass by offset d costs: norm, the p-norm of d (as ART; at p=2 the "
        "Euclidean distance), or power, the Euclidean distance to the power p",
        choices=GROUND_COSTS,
    )
    kernel_size = Int(5, "side of the window mass may move within (odd)", low=1, high=63)
    norm = Choice(
        "wasserstein",
        "the step: wasserstein (conjugate Sinkhorn), inf (signed) or 2",
        choices=("wasserstein", "inf", "2"),
        aliases={"linf": "inf", "l2": "2"},
    )
    eps_step = Float(0.1, "size of one step in that norm", low=0, low_open=True)
    eps = Float(0.3, "initial radius of the Wasserstein ball (normalised mass units)", low=0, low_open=True)
    eps_iter = Int(10, "steps between two growths of the radius", low=1, high=100_000)
    eps_factor = Float(1.1, "growth factor of the radius for samples not yet turned", low=1.0)
    max_iter = Int(400, "largest number of steps", low=1, high=100_000)
    conjugate_sinkhorn_max_iter = Int(400, "iteration budget of the step's Sinkhorn solver", low=1, high=100_000)
    projected_sinkhorn_max_iter = Int(400, "iteration budget of the projection's Sinkhorn solver", low=1, high=100_000)
    targeted = TARGETED
    target_labels = TARGET_LABELS
    early_stop = Bool(
        True, "stop moving a sample once it is adversarial (as the published attack does; its radius stops growing too)"
    )

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

            def goal_loss(z: torch.Tensor, a: torch.Tensor = active) -> torch.Tensor:
                return sign * F.cross_entropy(z, goal[a], reduction="none")

            logits, grad = model.loss_grad(xin, goal_loss, active)
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
                    cur / own,
                    grad,
                    torch.full((len(cur),), p["eps_step"], dtype=DTYPE),
                    lam,
                    k,
                    pw,
                    p["conjugate_sinkhorn_max_iter"],
                    {"t": conj_t[active]},
                    p["cost"],
                )
                conj_t[active] = st["t"]
                stepped = own * z
            proj, c, st = projected_sinkhorn(
                src[active],
                stepped / mass[active],
                eps[active],
                lam,
                k,
                pw,
                p["projected_sinkhorn_max_iter"],
                {"t": proj_t[active], "b": proj_b[active].reshape(-1, planes // x0.shape[1])},
                p["cost"],
            )
            proj_t[active] = st["t"]
            proj_b[active] = st["b"].reshape(len(active), planes)
            xa[active] = (proj * mass[active]).clamp(0.0, model.upper - lo)
            cost[active] = c
            if (it + 1) % p["eps_iter"] == 0:
                eps[active] *= p["eps_factor"]
        return AttackOutput((xa + lo).float(), extras={"wasserstein": cost.float().numpy()})
