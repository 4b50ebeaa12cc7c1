"""HopSkipJump (Chen, Jordan and Wainwright 2020): a decision-based attack, batched in torch.

It sees only predicted labels. Every sample of the batch goes through the same phases
together: each step of a phase is one model call covering all samples still at work
(the probes of a direction estimate go in slices of whole model chunks, which bounds
memory without adding forward passes):

1. *Start*: one uniform random input per sample and round, until it is adversarial
   (at most ``init_size`` rounds); a sample that found none starts from the closest
   sample of the batch that the model labels otherwise (the target label, when
   targeted), which costs no query; then a binary search on the segment to the sample.
2. *Boundary*: a binary search between the sample and the current adversarial point
   (along the segment for L2, by shrinking the Linf box for inf) to reach the decision
   boundary.
3. *Direction*: ``init_eval * sqrt(t + 1)`` probes (at most ``max_eval``; a third of
   that with ``variant=efficient``, which also, in L2, searches the start's segment once
   at the iterations' precision rather than coarsely and then again) around the
   boundary point, each a random unit direction of size ``delta``; the mean of the
   directions weighted by (centred) adversarial-or-not estimates the boundary's normal.
   With ``subspace`` below 1 (L2, images), the probes are drawn from the low frequencies
   of the image (the first ``subspace`` of each side's cosine basis, as GeoDA's), where
   the boundary is smoothest, so fewer probes give a useful direction; every ``refine``
   iterations the fraction grows by half, until the probes span every feature.
4. *Step*: a geometric search along that direction, from ``dist / sqrt(t + 1)``,
   halving until the point is adversarial.

The schedule, ``delta`` and binary-search thresholds are those of the paper's code.
Each sample keeps the closest adversarial point it has seen (free: every candidate was
queried anyway); a sample with no adversarial start returns unchanged. The stopping
rules every closed-box attack has (``max_queries``, ``target_distance``; see
:mod:`feint.attacks.trajectory`) are asked before each phase: phases shrink a sample's
share to the rows it has left and a sample drops out when it has none or is close
enough, so no row is refused. Every row is counted for its own sample.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from feint.attacks.base import CLOSED_BOX, Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.native.geoda import low_frequency_basis, low_frequency_directions, nearest_other
from feint.attacks.params import Choice, Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED
from feint.errors import BadValue

__all__ = ["HopSkipJump"]

PROBE_ELEMENTS = 2**22  # about this many probe values (rows x features) in memory at once
STEP_RESERVE = 4  # rows kept back from the probes for the step search when the budget is tight
MAX_HALVINGS = 30  # the step search gives up (the sample stays put) after this many halvings
INIT_THRESHOLD = 1e-3  # binary-search precision after the random start (fraction of the segment)


class HopSkipJump(Attack):
    """HopSkipJump: decision-based, walks the boundary using labels only (gradient direction from random probes)."""

    name = "hop_skip_jump"
    access = CLOSED_BOX
    needs = "labels"  # decision-based: the label is all it asks of the model
    data_types = ("image", "tabular")
    reference = "Chen, Jordan, Wainwright, HopSkipJumpAttack: A Query-Efficient Decision-Based Attack, 2020"

    norm = Choice(
        "2",
        "the norm the distance is measured and minimised in: 2 or inf",
        choices=("2", "inf"),
        aliases={"l2": "2", "linf": "inf", "np.inf": "inf"},
    )
    max_iter = Int(
        50,
        "boundary iterations (binary search, direction estimate, step) per sample; 0: only "
        "the random start and its binary search",
        low=0,
        high=100_000,
    )
    max_eval = Int(10_000, "most probes per sample for one direction estimate", low=1, high=1_000_000)
    init_eval = Int(
        100,
        "probes per sample for the first direction estimate; iteration t uses "
        "init_eval * sqrt(t + 1), at most max_eval",
        low=1,
        high=1_000_000,
    )
    init_size = Int(100, "most random inputs tried per sample to find an adversarial start", low=1, high=100_000)
    variant = Choice(
        "paper",
        "paper: the paper's schedule; efficient: direction estimates of a third as many probes "
        "(init_eval / 3 * sqrt(t + 1)), so the first iterations come sooner, and (L2) one binary search "
        "after the random start instead of a coarse one and a fine one",
        choices=("paper", "efficient"),
    )
    subspace = Float(
        1.0,
        "L2 on images: the fraction of each side's lowest frequencies the probes are drawn from, growing by "
        "half every refine iterations until every feature; 1: every feature (the paper)",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    refine = Int(
        10,
        "L2 on images with subspace below 1: iterations after which the subspace fraction grows by half",
        low=1,
        high=1_000_000,
    )
    targeted = TARGETED
    target_labels = TARGET_LABELS

    def check_options(self, p: dict[str, Any]) -> None:
        if p["init_eval"] > p["max_eval"]:
            raise BadValue("init_eval", f"an integer no larger than max_eval ({p['max_eval']})", p["init_eval"])

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        return _HopSkipJump(model, batch, p).run()


class _HopSkipJump:
    """The state of one batch: current points, best points, rows spent, per sample."""

    def __init__(self, model: CountedModel, batch: Batch, p: dict[str, Any]):
        self.model, self.batch, self.p = model, batch, p
        self.gen = batch.generator
        self.x0 = batch.x.detach().float()
        self.n = len(self.x0)
        self.shape = tuple(self.x0.shape[1:])
        self.dim = int(self.x0[0].numel()) if self.n else 1
        self.flat0 = self.x0.reshape(self.n, -1)
        self.lo, self.hi = model.lower, model.upper
        self.linf = p["norm"] == "inf"
        # The paper's binary-search threshold, as a fraction of the segment (L2) or box size (inf).
        self.theta = 0.01 / self.dim if self.linf else 0.01 / math.sqrt(self.dim)
        self.cur = self.flat0.clone()  # current point per sample (adversarial once found)
        self.best = self.flat0.clone()
        self.best_dist = torch.full((self.n,), math.inf, dtype=torch.float64)
        self.efficient = p["variant"] == "efficient"
        self.fraction = p["subspace"]
        self.basis = None if self.linf else low_frequency_basis(self.shape, self.fraction)

    # -- helpers -----------------------------------------------------------------------
    def left(self, idx: torch.Tensor) -> torch.Tensor:
        """Rows sample ``idx`` may still spend (a large number when uncapped, 0 once stopped)."""
        return self.model.left(idx)

    def can(self, idx: torch.Tensor) -> torch.Tensor:
        return self.left(idx) > 0

    def adversarial(self, flat: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Whether each row (a point of sample ``idx[row]``) is adversarial; one counted query per row."""
        pred = self.model.labels(flat.reshape(-1, *self.shape), rows=idx)
        return self.batch.reached(pred, idx)

    def dist(self, flat: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        d = (flat - self.flat0[idx]).double()
        return d.abs().amax(dim=1) if self.linf else d.norm(dim=1)

    def keep_best(self, idx: torch.Tensor, flat: torch.Tensor) -> None:
        """Remember, per sample, the closest adversarial point (``flat`` rows are adversarial)."""
        d = self.dist(flat, idx)
        better = d < self.best_dist[idx]
        self.best[idx[better]] = flat[better]
        self.best_dist[idx[better]] = d[better]

    def interpolate(self, idx: torch.Tensor, flat: torch.Tensor, alpha: torch.Tensor, linf: bool) -> torch.Tensor:
        """The point ``alpha`` of the way from the sample to ``flat`` (L2), or ``flat`` clipped to
        the Linf box of radius ``alpha`` around the sample; always inside the bounds."""
        x = self.flat0[idx]
        a = alpha.to(flat.dtype)[:, None]
        out = torch.minimum(torch.maximum(flat, x - a), x + a) if linf else x + a * (flat - x)
        return out.clamp(self.lo, self.hi)

    # -- phases ------------------------------------------------------------------------
    def start(self, todo: torch.Tensor) -> torch.Tensor:
        """Random uniform inputs until each sample of ``todo`` (a mask) has an adversarial
        start, then, for a sample that has none, the closest sample of the batch the model
        labels otherwise (the efficient variant takes that first); returns which have one."""
        found = torch.zeros(self.n, dtype=torch.bool)
        near, other = nearest_other(self.batch, self.flat0, todo)
        for _ in range(self.p["init_size"]):
            idx = torch.nonzero(todo & ~found).flatten()
            idx = idx[self.can(idx)]
            if len(idx) == 0:
                break
            noise = torch.rand((len(idx), self.dim), generator=self.gen) * (self.hi - self.lo) + self.lo
            ok = self.adversarial(noise, idx)
            self.cur[idx[ok]] = noise[ok]
            found[idx[ok]] = True
        fallback = near & todo & ~found
        self.cur[fallback] = other[fallback]
        found |= fallback
        idx = torch.nonzero(found).flatten()
        if len(idx):
            # The efficient variant searches once, to the iterations' precision, where the
            # paper searches coarsely here and again at the first iteration (L2).
            once = self.efficient and not self.linf
            self.cur[idx] = self.boundary(idx, self.cur[idx], linf=False, threshold=None if once else INIT_THRESHOLD)
            self.keep_best(idx, self.cur[idx])
        return found

    def boundary(
        self, idx: torch.Tensor, flat: torch.Tensor, linf: bool, threshold: float | None = None
    ) -> torch.Tensor:
        """Binary search, for all samples at once, between each sample and its adversarial
        point ``flat``; returns the adversarial end of each final bracket."""
        m = len(idx)
        if linf:
            high = (flat - self.flat0[idx]).double().abs().amax(dim=1)
            thr = torch.clamp(high * self.theta, max=self.theta)
        else:
            high = torch.ones(m, dtype=torch.float64)
            thr = torch.full((m,), self.theta if threshold is None else threshold, dtype=torch.float64)
        low = torch.zeros(m, dtype=torch.float64)
        while True:
            live = torch.nonzero((high - low > thr) & self.can(idx)).flatten()
            if len(live) == 0:
                break
            mid = (high[live] + low[live]) / 2
            ok = self.adversarial(self.interpolate(idx[live], flat[live], mid, linf), idx[live])
            high[live] = torch.where(ok, mid, high[live])
            low[live] = torch.where(ok, low[live], mid)
        return self.interpolate(idx, flat, high, linf)

    def direction(self, idx: torch.Tensor, counts: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """Estimated boundary normal at ``cur[idx]`` from ``counts[i]`` random probes of size
        ``delta[i]`` each; L2: unit vector, inf: its sign."""
        m, d = len(idx), self.dim
        owner = torch.repeat_interleave(torch.arange(m), counts)
        total = len(owner)
        sum_u = torch.zeros((m, d))
        sum_fu = torch.zeros((m, d))
        sum_f = torch.zeros(m, dtype=torch.float64)
        base_all = self.cur[idx]
        # Probes go to the model in slices of whole model chunks, so memory stays bounded and
        # the model sees the same chunks as it would for one call.
        chunk = max(1, self.model.max_rows)
        step = chunk * max(1, PROBE_ELEMENTS // (d * chunk))
        for s in range(0, total, step):
            o = owner[s : s + step]
            if self.linf:
                u = torch.rand((len(o), d), generator=self.gen) * 2 - 1
            elif self.basis is not None:
                u = low_frequency_directions(len(o), self.shape, self.basis, self.gen)
            else:
                u = torch.randn((len(o), d), generator=self.gen)
            u /= u.norm(dim=1, keepdim=True).clamp_min(1e-12)
            base = base_all[o]
            dl = delta[o].to(u.dtype)[:, None]
            probe = torch.addcmul(base, dl, u).clamp_(self.lo, self.hi)
            u = (probe - base) / dl  # the directions as clipped
            f = self.adversarial(probe, idx[o]).to(u.dtype) * 2 - 1
            sum_u.index_add_(0, o, u)
            sum_fu.index_add_(0, o, u * f[:, None])
            sum_f.index_add_(0, o, f.double())
        mean_f = (sum_f / counts.clamp_min(1)).to(sum_u.dtype)
        grad = torch.where(
            (mean_f == 1)[:, None],
            sum_u,
            torch.where((mean_f == -1)[:, None], -sum_u, sum_fu - mean_f[:, None] * sum_u),
        )
        if self.linf:
            return grad.sign()
        return grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def step(self, idx: torch.Tensor, update: torch.Tensor, t: int) -> None:
        """Geometric step-size search along ``update``: halve from ``2 dist / sqrt(t + 1)``
        until the point is adversarial; a sample that never gets there stays put."""
        eps = 2 * self.dist(self.cur[idx], idx) / math.sqrt(t + 1)
        pending = torch.ones(len(idx), dtype=torch.bool)
        for _ in range(MAX_HALVINGS):
            live = torch.nonzero(pending & self.can(idx)).flatten()
            if len(live) == 0:
                break
            eps[live] /= 2
            sid = idx[live]
            cand = torch.addcmul(self.cur[sid], eps[live].to(update.dtype)[:, None], update[live])
            cand.clamp_(self.lo, self.hi)
            ok = self.adversarial(cand, sid)
            self.cur[sid[ok]] = cand[ok]
            self.keep_best(sid[ok], cand[ok])
            pending[live[ok]] = False

    # -- the attack --------------------------------------------------------------------
    def run(self) -> AttackOutput:
        if self.n == 0:
            return AttackOutput(self.x0.clone())
        p = self.p
        # Targeted samples the model already gives the target class are done as they are.
        done = self.batch.reached(self.batch.labels) if self.batch.targeted else torch.zeros(self.n, dtype=torch.bool)
        found = self.start(~done)
        active = found.clone()
        span = self.hi - self.lo
        for t in range(p["max_iter"]):
            if self.basis is not None and t and t % p["refine"] == 0:
                self.fraction = min(1.0, 1.5 * self.fraction)
                self.basis = low_frequency_basis(self.shape, self.fraction)
            idx = torch.nonzero(active).flatten()
            idx = idx[self.can(idx)]
            if len(idx) == 0:
                break
            if t == 0:
                delta = torch.full((len(idx),), 0.1 * span, dtype=torch.float64)
            else:  # the paper's code: delta = sqrt(d) * theta * dist (L2), d * theta * dist (inf)
                scale = self.dim * self.theta if self.linf else math.sqrt(self.dim) * self.theta
                delta = scale * self.dist(self.cur[idx], idx)
            if not (t == 0 and self.efficient and not self.linf):
                self.cur[idx] = self.boundary(idx, self.cur[idx], linf=self.linf)
            self.keep_best(idx, self.cur[idx])
            first = p["init_eval"] / 3 if self.efficient else p["init_eval"]
            num_eval = min(max(1, int(first * math.sqrt(t + 1))), p["max_eval"])
            counts = torch.clamp(self.left(idx) - STEP_RESERVE, max=num_eval)
            go = counts > 0
            active[idx[~go]] = False
            idx, counts, delta = idx[go], counts[go], delta[go]
            if len(idx) == 0:
                break
            update = self.direction(idx, counts, delta.clamp_min(1e-12))
            self.step(idx, update, t)
        out = torch.where(found[:, None], self.best, self.flat0)
        notes: list[str | None] = [None] * self.n
        for i in torch.nonzero(~found & ~done).flatten().tolist():
            notes[i] = (
                f"no adversarial starting point in {p['init_size']} random inputs; the sample is returned unchanged"
                if bool(self.can(torch.tensor([i]))[0])
                else "its query budget ran out before an adversarial starting point was found"
            )
        return AttackOutput(out.reshape(self.x0.shape).to(self.batch.x.dtype), notes=notes)
