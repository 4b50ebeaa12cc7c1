"""What a closed-box attack reached after each query, and the rules that stop it.

Every closed-box evasion attack has two options of its own (:data:`STOP_PARAMS`, added
by :class:`feint.attacks.base.Attack` to every such attack, native or not):

- ``max_queries``: the most model rows one sample may cost, the runner's first and last
  predictions included, so a sample's query count never exceeds it;
- ``target_distance``: a sample is done as soon as a queried input is adversarial within
  this distance of it, in the attack's norm; success then means "adversarial within the
  distance".

A :class:`Tracker` sees every row the attack sends for its batch (through
:class:`feint.attacks.model.CountedModel`, or ART's estimator over it): it judges each
answer (adversarial or not), measures the row's distance to its sample in the attack's
norm, and keeps, per sample, the closest adversarial input queried so far and each query
at which that distance fell (the sample's *trajectory*). It also admits rows: a row of
a sample whose budget is spent, or that is done, is not sent to the model.

Query numbers count every row the model saw for the sample: the runner's first
prediction is query 1, the attack's first row query 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from feint.attacks.params import Float, Int, Param

__all__ = ["STOP_PARAMS", "Tracker", "RUNNER_ROWS", "norm_of"]

# The runner's own rows per sample: its first prediction (query 1) and its final judgement.
RUNNER_ROWS = 2

STOP_PARAMS: dict[str, Param] = {
    "max_queries": Int(
        0,
        "the most model rows one sample may cost, the first and last predictions included "
        "(a hard cap: the attack stops the sample there); 0: no cap but the attack's own",
        name="max_queries",
        low=0,
        high=10**12,
    ),
    "target_distance": Float(
        0.0,
        "stop a sample once a queried input is adversarial within this distance in the attack's "
        "norm; success then means adversarial within the distance; 0: minimise as far as the attack goes",
        name="target_distance",
        low=0.0,
    ),
}


def norm_of(value: Any) -> str:
    """The distance a norm option names: ``inf`` (Linf) or ``2`` (L2, also for any other
    or no norm)."""
    text = str(value).strip().lower()
    return "inf" if text in {"inf", "np.inf", "linf", "infinity"} or value == math.inf else "2"


class Tracker:
    """The trajectory and the stopping rules of one batch (see the module doc).

    ``x0``: the batch's samples; ``reached(pred, rows)``: whether labels ``pred`` of
    samples ``rows`` are adversarial (:meth:`feint.attacks.base.Batch.reached`);
    ``scores0``: the scores the runner's first prediction gave each sample, the answer
    a refused row gets; ``max_rows``: the attack's rows per sample (None: no cap);
    ``bounds``: the target's value bounds (a row outside them is counted, never kept).
    """

    def __init__(
        self,
        x0: torch.Tensor,
        reached: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        norm: str = "2",
        max_rows: int | None = None,
        target_distance: float | None = None,
        scores0: torch.Tensor | None = None,
        first_query: int = 1,
        bounds: tuple[float, float] | None = None,
    ):
        self.n = len(x0)
        self.flat0 = x0.detach().reshape(self.n, -1).to(torch.float64)
        self.reached = reached
        self.linf = norm == "inf"
        self.norm = "inf" if self.linf else "2"
        self.max_rows = max_rows
        self.target_distance = target_distance if target_distance and target_distance > 0 else None
        self.scores0 = scores0
        self.first_query = first_query
        self.bounds = bounds
        self.spent = torch.zeros(self.n, dtype=torch.long)
        self.best = torch.full((self.n,), math.inf, dtype=torch.float64)
        self.best_x = x0.detach().reshape(self.n, -1).clone()
        self.done = torch.zeros(self.n, dtype=torch.bool)  # adversarial within target_distance
        self._events: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    # -- what may still be sent ---------------------------------------------------------
    def left(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Rows each sample (of ``idx``, default all) may still cost: 0 once it is done, a
        large number when there is no cap."""
        idx = torch.arange(self.n) if idx is None else idx
        if self.max_rows is None:
            out = torch.full((len(idx),), 2**62, dtype=torch.long)
        else:
            out = (self.max_rows - self.spent[idx]).clamp_min(0)
        return torch.where(self.done[idx], torch.zeros_like(out), out)

    @property
    def stopped(self) -> torch.Tensor:
        """Per sample, whether a rule stopped it: its budget spent or the target distance reached."""
        capped = self.spent >= self.max_rows if self.max_rows is not None else torch.zeros(self.n, dtype=torch.bool)
        return capped | self.done

    @property
    def found(self) -> torch.Tensor:
        return torch.isfinite(self.best)

    def admit(self, owners: torch.Tensor) -> torch.Tensor:
        """Which rows of a call (row ``i`` a point of sample ``owners[i]``) may be sent: in
        call order, no more of a sample's rows than it has left."""
        if self.max_rows is None and not bool(self.done.any()):
            return torch.ones(len(owners), dtype=torch.bool)
        return _rank(owners) < self.left(owners)

    # -- what came back -----------------------------------------------------------------
    def observe(self, flat: torch.Tensor, pred: torch.Tensor, owners: torch.Tensor) -> None:
        """Judge rows the model answered (``flat``, rows of samples ``owners``, predicted
        labels ``pred``), in call order, and count them."""
        m = len(owners)
        if m == 0:
            return
        query = self.spent[owners] + _rank(owners) + 1 + self.first_query
        self.spent += torch.bincount(owners, minlength=self.n)
        adv = self.reached(pred, owners)
        if self.bounds is not None:  # a row outside the bounds is no input a user could send
            adv &= ((flat >= self.bounds[0]) & (flat <= self.bounds[1])).all(dim=1)
        if not bool(adv.any()):
            return
        rows = torch.nonzero(adv).flatten()
        who = owners[rows]
        d = flat[rows].to(torch.float64) - self.flat0[who]
        dist = d.abs().amax(dim=1) if self.linf else d.norm(dim=1)
        # Per sample, in query order, the rows that bring the sample's best distance down.
        order = torch.argsort(who, stable=True)
        who, dist, rows = who[order], dist[order], rows[order]
        key = torch.argsort(torch.argsort(dist, stable=True), stable=True)  # dist's rank, exact ties broken
        k = len(who)
        low = torch.cummin(key + (self.n - who) * (k + 1), dim=0).values - (self.n - who) * (k + 1)
        running = torch.sort(dist, stable=True).values[low]  # the running minimum within each sample
        prev = torch.cat([torch.tensor([math.inf], dtype=torch.float64), running[:-1]])
        first = torch.ones(k, dtype=torch.bool)
        first[1:] = who[1:] != who[:-1]
        prev = torch.where(first, torch.full_like(prev, math.inf), prev)
        new = (dist < prev) & (dist == running) & (dist < self.best[who])
        if not bool(new.any()):
            return
        sel = torch.nonzero(new).flatten()
        self._events.append((who[sel], query[rows[sel]], dist[sel]))
        # The last new low of each sample is its best now.
        last = torch.full((self.n,), -1, dtype=torch.long)
        last.scatter_reduce_(0, who[sel], sel, reduce="amax")
        got = torch.nonzero(last >= 0).flatten()
        pick = last[got]
        self.best[got] = dist[pick]
        self.best_x[got] = flat[rows[pick]].to(self.best_x.dtype)
        if self.target_distance is not None:
            self.done |= self.best <= self.target_distance

    def refused_scores(self, owners: torch.Tensor, classes: int) -> torch.Tensor:
        """The answer a refused row gets: its sample's first scores (not adversarial)."""
        if self.scores0 is None:
            return torch.zeros((len(owners), classes))
        return self.scores0[owners].clone()

    def events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(sample position, query number, distance)`` of every new best, in the order found."""
        if not self._events:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
        who, query, dist = (torch.cat(parts).numpy() for parts in zip(*self._events))
        return who.astype(np.int64), query.astype(np.int64), dist.astype(np.float64)


def _rank(owners: torch.Tensor) -> torch.Tensor:
    """Each row's position among the rows of its own sample, in call order."""
    m = len(owners)
    if m < 2 or bool((owners[1:] > owners[:-1]).all()):  # one row per sample, in order: all first
        return torch.zeros_like(owners)
    order = torch.argsort(owners, stable=True)
    sorted_owners = owners[order]
    start = torch.ones(m, dtype=torch.bool)
    start[1:] = sorted_owners[1:] != sorted_owners[:-1]
    pos = torch.arange(m)
    group_start = torch.cummax(torch.where(start, pos, torch.zeros_like(pos)), dim=0).values
    rank = torch.empty(m, dtype=torch.long)
    rank[order] = pos - group_start
    return rank
