"""GeoDA (Rahmati, Moosavi-Dezfooli, Frossard and Dong 2020): a geometric decision-based L2 attack, batched in torch.

It sees only predicted labels. Near a point on the decision boundary the boundary is
nearly flat, and the closest point of a flat boundary to the sample lies along its
normal. Each iteration:

1. *Normal*: probes around the current boundary point ``x_b``, each ``x_b + sigma * eta``
   for a random direction ``eta``, are labelled adversarial or not; the sum of the
   directions, each signed by its answer, estimates the boundary's normal, and the sum
   of every iteration's estimates is the normal the step follows. For images
   the directions are drawn from the low frequencies of the image (the first
   ``subspace`` of each side's cosine basis), where a model's boundary is smoothest, so
   far fewer probes give a useful normal; every ``refine`` iterations the fraction
   doubles, until the probes span every feature, so the attack does not stop at the
   closest point the low frequencies can reach.
2. *Step*: along the estimated normal from the sample itself, from the best distance
   so far, the ray is walked out (doubling) until it is adversarial, then a binary
   search towards the sample finds where it meets the boundary: the next ``x_b``. Each
   sample keeps the closest adversarial point it has seen.

The probes per iteration grow as ``init_eval * sqrt(t + 1)`` (at most ``max_eval``). The
first boundary point comes from a uniform random input that is adversarial (at most
``init_size`` tries) or, with ``start=samples``, from the closest other sample of the
batch that the model gives another label (the target label, when targeted), and a binary
search towards the sample. All samples of a batch work together: each step is one model
call for every sample still at work. The stopping rules of every closed-box attack
(``max_queries``, ``target_distance``) are asked before every call, so no row is
refused; every row is counted for its own sample.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from feint.attacks.base import CLOSED_BOX, Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Choice, Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED
from feint.errors import BadValue

__all__ = [
    "INIT_SIZE",
    "START",
    "INIT_EVAL",
    "MAX_EVAL",
    "REFINE",
    "BoundaryWalk",
    "NormalWalk",
    "check_evals",
    "GeoDA",
    "dct_rows",
    "low_frequency_basis",
    "low_frequency_directions",
    "nearest_other",
]

PROBE_ELEMENTS = 2**22  # about this many probe values (rows x features) in memory at once
PRECISION = 1e-3  # binary searches stop at this fraction of the distance found
MAX_DOUBLINGS = 6  # the ray along the normal is walked out at most this many times

# The options of a BoundaryWalk's start, shared by the attacks built on it.
START = Choice(
    "noise",
    "the first adversarial point: noise (uniform random inputs) or samples (the closest other sample of the "
    "batch the model labels adversarially, else noise)",
    choices=("noise", "samples"),
)
INIT_SIZE = Int(100, "most random inputs tried per sample to find an adversarial start", low=1, high=100_000)
# The options of the attacks that estimate a boundary normal from low-frequency probes.
INIT_EVAL = Int(
    30,
    "probes per sample for the first normal estimate; iteration t uses init_eval * sqrt(t + 1), at most max_eval",
    low=1,
    high=1_000_000,
)
MAX_EVAL = Int(1_000, "most probes per sample for one normal estimate", low=1, high=1_000_000)
REFINE = Int(
    15,
    "images: iterations after which the subspace fraction doubles, until every feature (coarse to fine); 0: it stays",
    low=0,
    high=1_000_000,
)


def check_evals(p: dict[str, Any]) -> None:
    """``init_eval`` may not pass ``max_eval``."""
    if p["init_eval"] > p["max_eval"]:
        raise BadValue("init_eval", f"an integer no larger than max_eval ({p['max_eval']})", p["init_eval"])


def dct_rows(size: int, keep: int) -> torch.Tensor:
    """The first ``keep`` rows of the orthonormal DCT-II basis of length ``size``."""
    k = torch.arange(keep, dtype=torch.float64)[:, None]
    i = torch.arange(size, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * (i + 0.5) * k / size) * math.sqrt(2.0 / size)
    basis[0] /= math.sqrt(2.0)
    return basis.float()


def low_frequency_basis(shape: tuple[int, ...], fraction: float) -> tuple[torch.Tensor, torch.Tensor] | None:
    """For an image of ``shape`` (channels, height, width), the low-frequency cosine rows
    of its height and width, ``fraction`` of each side; None for any other shape or
    ``fraction`` 1 (the full space)."""
    if len(shape) != 3 or fraction >= 1.0:
        return None
    _, h, w = shape
    return dct_rows(h, max(1, round(h * fraction))), dct_rows(w, max(1, round(w * fraction)))


def low_frequency_directions(
    m: int, shape: tuple[int, ...], basis: tuple[torch.Tensor, torch.Tensor], gen: torch.Generator
) -> torch.Tensor:
    """``m`` random images of ``shape`` spanned by the low-frequency ``basis``, flattened."""
    bh, bw = basis
    coef = torch.randn((m, shape[0], bh.shape[0], bw.shape[0]), generator=gen)
    return (bh.T @ coef @ bw).reshape(m, -1)


def nearest_other(batch: Batch, flat: torch.Tensor, todo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample of ``todo``, the closest (L2) other sample of the batch that the model
    labels adversarially for it (another label, or the target label when targeted), known
    without a query: ``(which have one, that sample)``."""
    if len(flat) < 2:
        return torch.zeros(len(flat), dtype=torch.bool), flat.clone()
    labels = batch.labels
    other = labels[None, :] == batch.goal[:, None] if batch.targeted else labels[None, :] != labels[:, None]
    d = torch.cdist(flat.double(), flat.double())
    d = torch.where(other, d, torch.full_like(d, math.inf))
    dist, j = d.min(dim=1)
    ok = torch.isfinite(dist) & todo
    return ok, flat[j]


class BoundaryWalk:
    """What the decision-based L2 attacks of this package share: a batch's samples flattened,
    each one's current boundary point and closest adversarial so far, its adversarial start
    (a binary search towards the sample from noise or another sample) and the output."""

    def __init__(self, model: CountedModel, batch: Batch, p: dict[str, Any]):
        self.model, self.batch, self.p = model, batch, p
        self.gen = batch.generator
        self.x0 = batch.x.detach().float()
        self.n = len(self.x0)
        self.shape = tuple(self.x0.shape[1:])
        self.flat0 = self.x0.reshape(self.n, -1)
        self.dim = self.flat0.shape[1] if self.n else 1
        self.lo, self.hi = model.lower, model.upper
        self.cur = self.flat0.clone()  # the current boundary point
        self.best = self.flat0.clone()
        self.best_dist = torch.full((self.n,), math.inf, dtype=torch.float64)

    def left(self, idx: torch.Tensor) -> torch.Tensor:
        return self.model.left(idx)

    def adversarial(self, flat: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        pred = self.model.labels(flat.reshape(-1, *self.shape), rows=idx)
        return self.batch.reached(pred, idx)

    def keep_best(self, idx: torch.Tensor, flat: torch.Tensor) -> None:
        d = (flat - self.flat0[idx]).double().norm(dim=1)
        better = d < self.best_dist[idx]
        self.best[idx[better]] = flat[better]
        self.best_dist[idx[better]] = d[better]

    def segment(self, idx: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
        """Binary search, for all of ``idx`` at once, on the segment from each sample to its
        adversarial point ``far``; returns the adversarial end of each final bracket."""
        x = self.flat0[idx]
        low = torch.zeros(len(idx), dtype=torch.float64)
        high = torch.ones(len(idx), dtype=torch.float64)
        while True:
            live = torch.nonzero((high - low > PRECISION * high) & (self.left(idx) > 0)).flatten()
            if len(live) == 0:
                break
            mid = (low[live] + high[live]) / 2
            ok = self.adversarial(x[live] + mid.float()[:, None] * (far[live] - x[live]), idx[live])
            high[live] = torch.where(ok, mid, high[live])
            low[live] = torch.where(ok, low[live], mid)
        return x + high.float()[:, None] * (far - x)

    def on_circle(self, idx: torch.Tensor, v: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """The point ``x + d cos(theta) (cos(theta) u + sin(theta) v)`` of each sample of
        ``idx`` (``u`` the unit way from the sample ``x`` to its boundary point, ``d`` its
        length, ``v`` a unit direction orthogonal to ``u``): on the circle of diameter
        ``[x, x_b]`` in the plane of ``u`` and ``v``, ``d cos(theta)`` from ``x``, inside the bounds."""
        x = self.flat0[idx]
        rel = self.cur[idx] - x
        d = rel.norm(dim=1, keepdim=True)
        c = torch.cos(theta).float()[:, None]
        s = torch.sin(theta).float()[:, None]
        return (x + c * (c * rel + s * d * v)).clamp(self.lo, self.hi)

    def start(self, todo: torch.Tensor) -> torch.Tensor:
        """Each sample of ``todo``'s first boundary point; which samples have one."""
        found = torch.zeros(self.n, dtype=torch.bool)
        far = self.flat0.clone()
        if self.p["start"] == "samples":
            ok, other = nearest_other(self.batch, self.flat0, todo)
            far[ok] = other[ok]
            found |= ok
        for _ in range(self.p["init_size"]):
            idx = torch.nonzero(todo & ~found).flatten()
            idx = idx[self.left(idx) > 0]
            if len(idx) == 0:
                break
            noise = torch.rand((len(idx), self.dim), generator=self.gen) * (self.hi - self.lo) + self.lo
            ok = self.adversarial(noise, idx)
            far[idx[ok]] = noise[ok]
            found[idx[ok]] = True
        idx = torch.nonzero(found).flatten()
        if len(idx):
            self.cur[idx] = self.segment(idx, far[idx])
            self.keep_best(idx, self.cur[idx])
        return found

    def output(self, found: torch.Tensor, done: torch.Tensor) -> AttackOutput:
        """The closest adversarial of each sample that had a start; the others unchanged, with why."""
        out = torch.where(found[:, None], self.best, self.flat0)
        notes: list[str | None] = [None] * self.n
        for i in torch.nonzero(~found & ~done).flatten().tolist():
            notes[i] = (
                f"no adversarial starting point in {self.p['init_size']} random inputs; the sample is returned "
                "unchanged"
            )
        return AttackOutput(out.reshape(self.x0.shape).to(self.batch.x.dtype), notes=notes)


class NormalWalk(BoundaryWalk):
    """A boundary walk that, each iteration, estimates the boundary's normal at every
    sample's boundary point from ``init_eval * sqrt(t + 1)`` low-frequency probes (at most
    ``max_eval``; the subspace fraction doubles every ``refine`` iterations) and then moves
    along it (``move``), keeping ``reserve`` rows back for the move."""

    reserve = 12

    def __init__(self, model: CountedModel, batch: Batch, p: dict[str, Any]):
        super().__init__(model, batch, p)
        self.fraction = p["subspace"]
        self.basis = low_frequency_basis(self.shape, self.fraction)
        self.acc = torch.zeros_like(self.flat0)  # the sample's normal estimates so far

    def directions(self, m: int) -> torch.Tensor:
        """``m`` random directions (not normalised), low-frequency for an image."""
        if self.basis is None:
            return torch.randn((m, self.dim), generator=self.gen)
        return low_frequency_directions(m, self.shape, self.basis, self.gen)

    def normal(self, idx: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def move(self, idx: torch.Tensor, normal: torch.Tensor) -> None:
        raise NotImplementedError

    def run(self) -> AttackOutput:
        if self.n == 0:
            return AttackOutput(self.x0.clone())
        p = self.p
        done = self.batch.reached(self.batch.labels) if self.batch.targeted else torch.zeros(self.n, dtype=torch.bool)
        found = self.start(~done)
        for t in range(p["max_iter"]):
            if p["refine"] and t and t % p["refine"] == 0 and self.basis is not None:
                self.fraction = min(1.0, 2 * self.fraction)
                self.basis = low_frequency_basis(self.shape, self.fraction)
            idx = torch.nonzero(found).flatten()
            idx = idx[self.left(idx) > 0]
            if len(idx) == 0:
                break
            num = min(int(p["init_eval"] * math.sqrt(t + 1)), p["max_eval"])
            counts = torch.clamp(self.left(idx) - self.reserve, max=num)
            go = counts > 0
            idx, counts = idx[go], counts[go]
            if len(idx) == 0:
                break
            self.move(idx, self.normal(idx, counts))
        return self.output(found, done)


class GeoDA(Attack):
    """GeoDA: decision-based L2 attack, steps along boundary normals estimated from low-frequency probes."""

    name = "geoda"
    access = CLOSED_BOX
    needs = "labels"
    data_types = ("image", "tabular")
    reference = "Rahmati et al., GeoDA: a geometric framework for black-box adversarial attacks, CVPR 2020"

    max_iter = Int(100, "iterations (normal estimate, then a step along it) per sample", low=0, high=1_000_000)
    init_eval = INIT_EVAL
    max_eval = MAX_EVAL
    sigma = Float(
        0.02,
        "size of each probe, as a fraction of the boundary point's distance to the sample",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    subspace = Float(
        0.3,
        "images: the fraction of each side's lowest frequencies the probes are drawn from; 1: every feature "
        "(tabular data always uses every feature)",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    refine = REFINE
    start = START
    init_size = INIT_SIZE
    targeted = TARGETED
    target_labels = TARGET_LABELS

    def check_options(self, p: dict[str, Any]) -> None:
        check_evals(p)

    def distance_norm(self, p: dict[str, Any]) -> str:
        return "2"

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        return _GeoDA(model, batch, p).run()


class _GeoDA(NormalWalk):
    reserve = 12  # a walk out and a binary search

    # -- phases ------------------------------------------------------------------------
    def normal(self, idx: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """The boundary normal at ``cur[idx]`` (pointing to the adversarial side), from
        ``counts[i]`` probes each."""
        m, d = len(idx), self.dim
        owner = torch.repeat_interleave(torch.arange(m), counts)
        total = len(owner)
        grad = torch.zeros((m, d))
        size = self.p["sigma"] * self.best_dist[idx].float()
        chunk = max(1, self.model.max_rows)
        step = chunk * max(1, PROBE_ELEMENTS // (d * chunk))
        for s in range(0, total, step):
            o = owner[s : s + step]
            u = self.directions(len(o))
            u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
            probe = (self.cur[idx][o] + size[o, None] * u).clamp(self.lo, self.hi)
            f = self.adversarial(probe, idx[o]).float() * 2 - 1
            grad.index_add_(0, o, u * f[:, None])
        # GeoDA sums the estimates of every iteration: the boundary point moves little
        # from one iteration to the next, so the sum is a steadier normal than any one.
        self.acc[idx] += grad
        acc = self.acc[idx]
        return acc / acc.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def move(self, idx: torch.Tensor, normal: torch.Tensor) -> None:
        """From each sample along its normal: from the best distance so far, walk out
        (doubling) until the ray is adversarial, then a binary search back towards the
        sample finds where it meets the boundary, the next boundary point."""
        x = self.flat0[idx]
        radius = self.best_dist[idx].float().clone()
        far = torch.zeros_like(x)
        got = torch.zeros(len(idx), dtype=torch.bool)
        for _ in range(MAX_DOUBLINGS):
            live = torch.nonzero(~got & (self.left(idx) > 0)).flatten()
            if len(live) == 0:
                break
            cand = (x[live] + radius[live, None] * normal[live]).clamp(self.lo, self.hi)
            ok = self.adversarial(cand, idx[live])
            far[live[ok]] = cand[ok]
            got[live[ok]] = True
            radius[live[~ok]] *= 2
        sel = torch.nonzero(got).flatten()
        if len(sel) == 0:
            return
        point = self.segment(idx[sel], far[sel])
        self.keep_best(idx[sel], point)
        self.cur[idx[sel]] = point
