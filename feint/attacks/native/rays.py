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

Every sample of the batch walks the same schedule together: each trial is one model call
for all samples still at work, and the binary searches of the samples a trial improved
run together too. A sample whose ray at the largest radius (the whole value range) is
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
        # Each sample is a small state machine, all stepped together, one row each per call:
        # trying a flip (its own place in the block schedule), or binary-searching the
        # radius of a flip it kept.
        trials = torch.zeros(n, dtype=torch.long)  # flips tried; trial 0 is the all-ones ray
        stage = torch.zeros(n, dtype=torch.long)
        block = torch.zeros(n, dtype=torch.long)
        searching = torch.zeros(n, dtype=torch.bool)
        cand = self.sign.clone()  # the ray being tried or searched
        low = torch.zeros(n, dtype=torch.float64)
        high = torch.zeros(n, dtype=torch.float64)
        positions = torch.arange(dim)
        while True:
            wanted = ~done & (searching | (trials <= self.p["max_iter"]))
            idx = all_idx[wanted & (self.model.left(all_idx) > 0)]
            if len(idx) == 0:
                break
            trying = idx[~searching[idx]]
            if len(trying):
                flip = trying[trials[trying] > 0]
                size = torch.div(dim + 2 ** stage[flip] - 1, 2 ** stage[flip], rounding_mode="floor")
                first = block[flip] * size
                inside = (positions[None, :] >= first[:, None]) & (positions[None, :] < (first + size)[:, None])
                cand[trying] = self.sign[trying]
                cand[flip] = torch.where(inside, -self.sign[flip], self.sign[flip])
                block[flip] += 1
                wrap = block[flip] * size >= dim
                stage[flip[wrap]] += 1
                block[flip[wrap]] = 0
                stage[flip[wrap & (2 ** stage[flip] > dim)]] = 0
                trials[trying] += 1
                best = self.radius[trying]
                high[trying] = torch.where(torch.isfinite(best), best, torch.full_like(best, self.span))
            at = torch.where(searching[idx], (low[idx] + high[idx]) / 2, high[idx])
            ok = self.adversarial(self.point(idx, cand[idx], at), idx)
            # A trial that is adversarial at the best radius is kept: its radius is searched.
            tried, searched = ~searching[idx], searching[idx]
            kept = idx[tried & ok]
            searching[kept] = True
            low[kept] = 0.0
            # A search step narrows its bracket.
            s_idx = idx[searched]
            high[s_idx] = torch.where(ok[searched], at[searched], high[s_idx])
            low[s_idx] = torch.where(ok[searched], low[s_idx], at[searched])
            # A search that is precise enough, or out of rows, ends: the ray and its radius.
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
