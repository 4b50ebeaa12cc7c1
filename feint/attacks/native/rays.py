"""RayS (Chen and Gu 2020): a decision-based Linf attack that searches ray directions, batched in torch.

It sees only predicted labels. A ray from the sample along a sign vector ``d`` (each
feature +1 or -1) meets the decision boundary at some radius ``r(d)``; the point
``clip(x + r d)`` is adversarial and its Linf distance is at most ``r``. RayS looks for
the sign vector with the smallest radius by flipping blocks of signs, coarse to fine:
at stage ``s`` the features are cut into ``2**s`` contiguous blocks and each block is
flipped in turn. A flip is tried with one query, at the best radius so far: only where
the flipped ray is adversarial there (its own radius is smaller) is the flip kept, and a
binary search finds its radius. When the blocks are single features the stages begin
again from one block.

Every sample of the batch walks the same schedule together, one model call for all
samples still at work per step. A step of a sample that is trying flips sends the next
``w`` flips of its schedule, each against its current sign vector, all at its best
radius: the first adversarial one is kept and its radius searched, and the schedule goes
on from the flip after it, so the signs and radii it finds are those of the one-flip-a-query
search; the flips sent after the kept one are counted and tried again against the new
sign. ``w`` doubles after a step that kept nothing (up to ``batch``) and halves after one
that kept a flip, so the flips wasted stay few while most flips fail, as they do once the
coarse blocks are settled. The binary searches (one row a step) run in the same calls. A sample whose ray at the largest radius (the whole value range) is
not adversarial keeps trying flips there until one is. The stopping rules of every
closed-box attack (``max_queries``, ``target_distance``) are asked before every call, so
no row is refused; every row is counted for its own sample.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from feint.attacks.base import CLOSED_BOX, Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Float, Int

__all__ = ["RayS"]


class RayS(Attack):
    """RayS: decision-based Linf attack, flips blocks of a sign vector to find the closest ray to the boundary."""

    name = "rays"
    access = CLOSED_BOX
    needs = "labels"
    data_types = ("image", "tabular")
    reference = "Chen and Gu, RayS: A Ray Searching Method for Hard-label Adversarial Attack, KDD 2020"

    max_iter = Int(
        10_000,
        "sign-block flips tried per sample (one query each, plus a binary search for each flip kept)",
        low=1,
        high=10_000_000,
    )
    batch = Int(
        16,
        "most flips one sample tries in one model call: the next flips of its schedule, each against its "
        "current ray; the first adversarial one is kept and the schedule goes on after it (the flips tried "
        "after it count and are tried again); 1: one flip per call, the paper's sequential search",
        low=1,
        high=4096,
    )
    precision = Float(
        1e-3,
        "the binary search stops when its bracket is this fraction of the radius found",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )

    def distance_norm(self, p: dict[str, Any]) -> str:
        return "inf"

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        return _RayS(model, batch, p).run()


class _RayS:
    def __init__(self, model: CountedModel, batch: Batch, p: dict[str, Any]):
        self.model, self.batch, self.p = model, batch, p
        self.x0 = batch.x.detach().float()
        self.n = len(self.x0)
        self.flat0 = self.x0.reshape(self.n, -1)
        self.dim = self.flat0.shape[1] if self.n else 1
        self.lo, self.hi = model.lower, model.upper
        self.span = self.hi - self.lo
        self.sign = torch.ones_like(self.flat0)
        self.radius = torch.full((self.n,), math.inf, dtype=torch.float64)

    def point(self, idx: torch.Tensor, sign: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
        return (self.flat0[idx] + radius.to(sign.dtype)[:, None] * sign).clamp(self.lo, self.hi)

    def adversarial(self, flat: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        pred = self.model.labels(flat.reshape(-1, *self.x0.shape[1:]), rows=idx)
        return self.batch.reached(pred, idx)

    def run(self) -> AttackOutput:
        if self.n == 0:
            return AttackOutput(self.x0.clone())
        n, dim = self.n, self.dim
        all_idx = torch.arange(n)
        # Targeted samples the model already gives the target class are done as they are.
        done = self.batch.reached(self.batch.labels) if self.batch.targeted else torch.zeros(n, dtype=torch.bool)
        # Each sample is a small state machine, all stepped together in one call: trying
        # flips (its own place in the block schedule, ``width`` of them at once), or
        # binary-searching the radius of a flip it kept (one row).
        trials = torch.zeros(n, dtype=torch.long)  # flips tried; trial 0 is the all-ones ray
        stage = torch.zeros(n, dtype=torch.long)
        block = torch.zeros(n, dtype=torch.long)
        width = torch.ones(n, dtype=torch.long)
        searching = torch.zeros(n, dtype=torch.bool)
        cand = self.sign.clone()  # the ray being searched
        low = torch.zeros(n, dtype=torch.float64)
        high = torch.zeros(n, dtype=torch.float64)
        positions = torch.arange(dim)
        most = self.p["max_iter"]
        while True:
            wanted = ~done & (searching | (trials <= most))
            idx = all_idx[wanted & (self.model.left(all_idx) > 0)]
            if len(idx) == 0:
                break
            seek = idx[searching[idx]]
            first = idx[~searching[idx] & (trials[idx] == 0)]
            flip = idx[~searching[idx] & (trials[idx] > 0)]
            best = self.radius[flip]
            at_flip = torch.where(torch.isfinite(best), best, torch.full_like(best, self.span))
            # The next ``w`` flips of each trying sample's schedule, each against its current
            # sign, all at its best radius: in the sequential search these are the flips it
            # would try next until one is kept.
            w = torch.minimum(torch.minimum(width[flip], self.model.left(flip)), most + 1 - trials[flip]).clamp_min(1)
            st, bl = stage[flip].clone(), block[flip].clone()
            parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
            for j in range(int(w.max()) if len(flip) else 0):
                m = torch.nonzero(w > j).flatten()
                s_, b_ = st[m], bl[m]
                size = torch.div(dim + 2**s_ - 1, 2**s_, rounding_mode="floor")
                lo = b_ * size
                inside = (positions[None, :] >= lo[:, None]) & (positions[None, :] < (lo + size)[:, None])
                signs = torch.where(inside, -self.sign[flip[m]], self.sign[flip[m]])
                b_ = b_ + 1
                wrap = b_ * size >= dim
                s_ = torch.where(wrap, s_ + 1, s_)
                b_ = torch.where(wrap, torch.zeros_like(b_), b_)
                s_ = torch.where(wrap & (2**s_ > dim), torch.zeros_like(s_), s_)
                st[m], bl[m] = s_, b_
                parts.append((m, signs, s_, b_))
            flip_pos = torch.cat([p[0] for p in parts]) if parts else torch.zeros(0, dtype=torch.long)
            flip_sign = torch.cat([p[1] for p in parts]) if parts else self.sign[:0]
            flip_stage = torch.cat([p[2] for p in parts]) if parts else flip_pos
            flip_block = torch.cat([p[3] for p in parts]) if parts else flip_pos
            flip_order = torch.cat([torch.full((len(p[0]),), j) for j, p in enumerate(parts)]) if parts else flip_pos
            mid = (low[seek] + high[seek]) / 2
            owners = torch.cat([seek, first, flip[flip_pos]])
            rays = torch.cat([cand[seek], self.sign[first], flip_sign])
            at = torch.cat([mid, torch.full((len(first),), self.span, dtype=torch.float64), at_flip[flip_pos]])
            ok = self.adversarial(self.point(owners, rays, at), owners)
            ok_seek, ok_first, ok_flip = (
                ok[: len(seek)],
                ok[len(seek) : len(seek) + len(first)],
                ok[len(seek) + len(first) :],
            )
            # A search step narrows its bracket.
            high[seek] = torch.where(ok_seek, mid, high[seek])
            low[seek] = torch.where(ok_seek, low[seek], mid)
            # The all-ones ray, adversarial at the largest radius, is searched.
            trials[first] += 1
            kept = first[ok_first]
            searching[kept], cand[kept], low[kept], high[kept] = True, self.sign[kept], 0.0, self.span
            if len(flip):
                # The first flip (in schedule order) adversarial at the best radius is kept and
                # its radius searched; the schedule goes on from the flip after it. Flips tried
                # after it were queried (and count) but are tried again against the new sign.
                trials[flip] += w
                big = torch.full((len(flip),), int(w.max()), dtype=torch.long)
                firstj = big.scatter_reduce(0, flip_pos[ok_flip], flip_order[ok_flip], reduce="amin")
                hit = firstj < big
                stage[flip], block[flip] = st, bl
                width[flip] = torch.where(
                    hit, (width[flip] // 2).clamp_min(1), (2 * width[flip]).clamp(max=self.p["batch"])
                )
                if bool(hit.any()):
                    row = torch.nonzero(ok_flip).flatten()
                    row = row[flip_order[row] == firstj[flip_pos[row]]]  # each hit sample's first hit
                    pos = flip_pos[row]
                    who = flip[pos]
                    stage[who], block[who] = flip_stage[row], flip_block[row]
                    searching[who], cand[who], low[who], high[who] = True, flip_sign[row], 0.0, at_flip[pos]
            # A search that is precise enough ends: the ray and its radius.
            ending = idx[searching[idx] & (high[idx] - low[idx] <= self.p["precision"] * high[idx])]
            if len(ending):
                self.radius[ending] = high[ending]
                self.sign[ending] = cand[ending]
                searching[ending] = False
        # A search cut short by the rows left still has an adversarial upper end.
        cut = all_idx[searching & (high < self.radius)]
        self.radius[cut] = high[cut]
        self.sign[cut] = cand[cut]
        found = torch.isfinite(self.radius)
        out = self.flat0.clone()
        if bool(found.any()):
            idx = all_idx[found]
            out[idx] = self.point(idx, self.sign[idx], self.radius[idx])
        notes: list[str | None] = [None] * self.n
        for i in torch.nonzero(~found & ~done).flatten().tolist():
            notes[i] = (
                "no ray it tried was adversarial, even across the whole value range; the sample is returned unchanged"
            )
        return AttackOutput(out.reshape(self.x0.shape).to(self.batch.x.dtype), notes=notes)
