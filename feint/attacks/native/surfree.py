"""SurFree (Maho, Furon and Le Merrer 2021): a decision-based L2 attack that needs no gradient estimate, batched in torch.

It sees only predicted labels. Let ``x`` be the sample and ``x_b`` the current adversarial
point on the decision boundary, at distance ``d``, in direction ``u``. For a new unit
direction ``v`` orthogonal to ``u``, the points

    z(theta) = x + d cos(theta) (cos(theta) u + sin(theta) v)

lie on the circle of diameter ``[x, x_b]`` in the plane of ``u`` and ``v``, each at
distance ``d cos(theta)``. If the boundary were a hyperplane through ``x_b``, ``z(theta)``
would be adversarial exactly for the angles between 0 and the angle of the boundary's
normal within the plane, and the far end of that range would be the closest point of the
boundary in the plane. Each iteration, per sample:

1. *Direction*: a random direction, drawn from the low frequencies of an image (the
   sample's lowest ``k`` of each side's cosine basis, where a model's boundary is
   smoothest) or from every feature of other data, made orthogonal to ``u`` and to the
   ``memory`` directions tried last, so that no direction is tried twice.
2. *Sign*: ``z(+a)`` and ``z(-a)`` are queried (two rows, one call), ``a`` the sample's
   current angle; if neither is adversarial the direction is dropped and ``a`` shrinks.
3. *Angle*: on the adversarial side the angle doubles until ``z`` is no longer
   adversarial, then ``search_steps`` halvings of the bracket find where the circle
   leaves the adversarial side: that ``z`` is the next ``x_b``, ``d cos(theta)`` from ``x``.
   The next angle starts from half the angle found.

The first ``x_b`` comes from uniform random inputs (the first adversarial one, at most
``init_size`` tries) or, with ``start=samples``, from the closest other sample of the batch
that the model labels adversarially, and a binary search towards the sample. For images
``k`` starts at ``frequencies`` and grows by half (coarse to fine) each time ``patience``
directions in a row helped neither way, until it spans every frequency; the memory holds
at most half the directions the sample's subspace spans, so new ones stay mostly inside it. Every
sample of the batch walks the same steps together: each step is one model call for all
samples still at work. The stopping rules of every closed-box attack (``max_queries``,
``target_distance``) are asked before every call, so no row is refused; every row is
counted for its own sample, and each sample keeps the closest adversarial point it saw.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from feint.attacks.base import CLOSED_BOX, Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.native.geoda import INIT_SIZE, START, BoundaryWalk, dct_rows
from feint.attacks.params import Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED

__all__ = ["SurFree"]

MAX_DOUBLINGS = 8  # the angle doubles at most this many times in one iteration
LARGEST_ANGLE = 0.49 * math.pi  # z(theta) nears the sample itself at a right angle
SMALLEST_ANGLE = 1e-6  # radians; a sample's angle never shrinks below this
MEMORY_VALUES = 2**26  # the memory of a batch holds at most this many values (256 MiB)
SHRINK = 0.7  # a direction that helps neither way shrinks the sample's angle by this


class SurFree(Attack):
    """SurFree: decision-based L2 attack, searches the angle of new directions on a circle through the boundary point."""

    name = "surfree"
    access = CLOSED_BOX
    needs = "labels"
    data_types = ("image", "tabular")
    reference = "Maho, Furon and Le Merrer, SurFree: a fast surrogate-free black-box attack, CVPR 2021"

    max_iter = Int(
        10_000,
        "directions tried per sample (each two rows, plus an angle search when it helps)",
        low=0,
        high=10_000_000,
    )
    angle = Float(
        10.0,
        "the first angle (degrees) tried along each new direction; it then follows what the directions find",
        low=0.0,
        high=80.0,
        low_open=True,
    )
    search_steps = Int(2, "halvings of the angle's bracket along a direction that helped", low=0, high=60)
    frequencies = Int(
        4,
        "images: the lowest frequencies of each side new directions are first drawn from (coarse to fine: see "
        "patience)",
        low=1,
        high=100_000,
    )
    patience = Int(
        3,
        "images: directions in a row that help neither way after which a sample draws from half as many "
        "frequencies more (until every frequency)",
        low=1,
        high=100_000,
    )
    memory = Int(
        300,
        "the directions tried last that each new direction is made orthogonal to (fewer where a batch's would "
        "pass 2**26 values)",
        low=0,
        high=10_000,
    )
    start = START
    init_size = INIT_SIZE
    targeted = TARGETED
    target_labels = TARGET_LABELS

    def distance_norm(self, p: dict[str, Any]) -> str:
        return "2"

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        return _SurFree(model, batch, p).run()


class _SurFree(BoundaryWalk):
    def __init__(self, model: CountedModel, batch: Batch, p: dict[str, Any]):
        super().__init__(model, batch, p)
        self.image = len(self.shape) == 3
        self.side = max(self.shape[1:]) if self.image else 0
        if self.image:
            self.dct_h, self.dct_w = (dct_rows(size, size) for size in self.shape[1:])
        self.cut = torch.full((self.n,), min(p["frequencies"], self.side) if self.image else 0, dtype=torch.long)
        self.misses = torch.zeros(self.n, dtype=torch.long)
        self.angle = torch.full((self.n,), math.radians(p["angle"]), dtype=torch.float64)
        # The latest directions tried, per sample (a ring): new ones are made orthogonal to them.
        rows = min(p["memory"], max(0, self.dim - 2), MEMORY_VALUES // max(1, self.n * self.dim))
        self.mem = torch.zeros((self.n, rows, self.dim))
        self.tried = torch.zeros(self.n, dtype=torch.long)

    def keep(self, idx: torch.Tensor) -> torch.Tensor:
        """The memory each sample of ``idx`` uses: at most half the directions its subspace spans."""
        if not self.image:
            return torch.full((len(idx),), self.mem.shape[1], dtype=torch.long)
        _, h, w = self.shape
        span = self.shape[0] * self.cut[idx].clamp(max=h) * self.cut[idx].clamp(max=w)
        return torch.minimum(span // 2, torch.tensor(self.mem.shape[1]))

    # -- helpers -----------------------------------------------------------------------
    def direction(self, idx: torch.Tensor) -> torch.Tensor:
        """A new unit direction per sample of ``idx``, orthogonal to the sample's ``u`` and,
        nearly, to the directions it tried last."""
        m = len(idx)
        if self.image:
            c, h, w = self.shape
            coef = torch.randn((m, c, h, w), generator=self.gen)
            k = self.cut[idx][:, None, None, None]
            rows = torch.arange(h)[None, None, :, None]
            cols = torch.arange(w)[None, None, None, :]
            coef = coef * ((rows < k) & (cols < k))
            v = (self.dct_h.T @ coef @ self.dct_w).reshape(m, -1)
        else:
            v = torch.randn((m, self.dim), generator=self.gen)
        u = self.cur[idx] - self.flat0[idx]
        u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
        keep = self.keep(idx)
        # A sample's rows past its own ``keep`` were never written (``keep`` only grows): zeros.
        mem = self.mem[idx, : int(keep.max()) if len(idx) else 0]
        for _ in range(2):  # twice: the memory is orthonormal only nearly
            if mem.shape[1]:
                v = v - torch.bmm(torch.bmm(mem, v[:, :, None]).transpose(1, 2), mem)[:, 0]
            v = v - (v * u).sum(dim=1, keepdim=True) * u
            v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
        has = keep > 0
        if bool(has.any()):
            self.mem[idx[has], self.tried[idx[has]] % keep[has]] = v[has]
        self.tried[idx] += 1
        return v

    # -- phases ------------------------------------------------------------------------
    def iterate(self, idx: torch.Tensor) -> None:
        """One direction for every sample of ``idx``: its sign, then its angle."""
        v = self.direction(idx)
        a = self.angle[idx]
        # Sign: both ends in one call; a sample with one row left tries the + end only.
        both = self.left(idx) >= 2
        rows = torch.cat([idx, idx[both]])
        side = torch.cat([torch.arange(len(idx)), torch.nonzero(both).flatten()])
        sign = torch.cat([torch.ones(len(idx)), -torch.ones(int(both.sum()))]).double()
        ok = self.adversarial(self.on_circle(rows, v[side], sign * a[side]), rows)
        plus = torch.zeros(len(idx), dtype=torch.bool)
        minus = torch.zeros(len(idx), dtype=torch.bool)
        plus[side[: len(idx)][ok[: len(idx)]]] = True
        minus[side[len(idx) :][ok[len(idx) :]]] = True
        helped = plus | minus
        self.angle[idx[~helped]] = (a[~helped] * SHRINK).clamp_min(SMALLEST_ANGLE)
        self.misses[idx] = torch.where(helped, 0, self.misses[idx] + 1)
        if self.image:
            # A sample whose directions keep missing draws from more frequencies.
            grow = idx[self.misses[idx] >= self.p["patience"]]
            wider = torch.maximum(self.cut[grow] + 1, (self.cut[grow] * 3 + 1) // 2)
            self.cut[grow] = wider.clamp(max=self.side)
            self.misses[grow] = 0
        sel = torch.nonzero(helped).flatten()
        if len(sel) == 0:
            return
        sid, v = idx[sel], v[sel] * torch.where(plus[sel], 1.0, -1.0)[:, None]
        low = a[sel].clone()  # adversarial
        high = torch.full_like(low, math.inf)  # not adversarial (inf: none found yet)
        for _ in range(MAX_DOUBLINGS):
            live = torch.nonzero(~torch.isfinite(high) & (low < LARGEST_ANGLE) & (self.left(sid) > 0)).flatten()
            if len(live) == 0:
                break
            theta = (2 * low[live]).clamp(max=LARGEST_ANGLE)
            ok = self.adversarial(self.on_circle(sid[live], v[live], theta), sid[live])
            low[live] = torch.where(ok, theta, low[live])
            high[live] = torch.where(ok, high[live], theta)
        for _ in range(self.p["search_steps"]):
            live = torch.nonzero(torch.isfinite(high) & (self.left(sid) > 0)).flatten()
            if len(live) == 0:
                break
            theta = (low[live] + high[live]) / 2
            ok = self.adversarial(self.on_circle(sid[live], v[live], theta), sid[live])
            low[live] = torch.where(ok, theta, low[live])
            high[live] = torch.where(ok, high[live], theta)
        point = self.on_circle(sid, v, low)
        self.cur[sid] = point
        self.keep_best(sid, point)
        self.angle[sid] = (low / 2).clamp_min(SMALLEST_ANGLE)

    def run(self) -> AttackOutput:
        if self.n == 0:
            return AttackOutput(self.x0.clone())
        p = self.p
        done = self.batch.reached(self.batch.labels) if self.batch.targeted else torch.zeros(self.n, dtype=torch.bool)
        found = self.start(~done)
        for _ in range(p["max_iter"]):
            idx = torch.nonzero(found).flatten()
            idx = idx[self.left(idx) > 0]
            if len(idx) == 0:
                break
            self.iterate(idx)
        return self.output(found, done)
