"""CGBA (Reza, Rahmati, Wu and Zhu 2023): a curvature-aware geometric decision-based L2 attack, batched in torch.

It sees only predicted labels. Let ``x`` be the sample and ``x_b`` the current adversarial
point on the decision boundary, at distance ``d``, in direction ``u``. Each iteration:

1. *Normal*: probes ``x_b + sigma d eta`` are labelled adversarial or not, each ``eta`` a
   random direction drawn from the low frequencies of an image (the first ``subspace`` of
   each side's cosine basis; every feature of other data) and made orthogonal to ``u``;
   the mean of the directions weighted by the centred answers estimates the part of the
   boundary's normal that is orthogonal to ``u``, which is the part a step needs. Near
   the closest point the normal lies almost along ``u``: a probe's own component along
   ``u`` would then decide its answer and say nothing of the rest, so it is left out.
   (The paper's probes span the whole subspace; leaving ``u`` out is this module's.) The
   estimate is added to ``momentum`` times the sample's earlier ones (the boundary point
   moves little from one iteration to the next).
2. *Semicircle*: with ``v`` that estimate, the points

       z(theta) = x + d cos(theta) (cos(theta) u + sin(theta) v),  0 <= theta <= pi / 2

   lie on the half circle of diameter ``[x, x_b]`` in the plane of ``u`` and ``v``, each
   ``d cos(theta)`` from ``x``. For a flat boundary through ``x_b`` they are adversarial
   from ``theta = 0`` up to the angle of the boundary's normal within the plane, whose
   point is the closest of the boundary in the plane; for a curved one the circle still
   meets the boundary. ``search_steps`` halvings of ``[0, pi / 2]`` find where the circle
   leaves the adversarial side: the next ``x_b``. A wrong ``v`` costs only a step that
   moves less, never a farther point.

The probes per iteration grow as ``init_eval * sqrt(t + 1)`` (at most ``max_eval``); every
``refine`` iterations the subspace fraction doubles, until the probes span every feature.
The first boundary point comes from a uniform random input that is adversarial (at most
``init_size`` tries) or, with ``start=samples``, from the closest other sample of the batch
that the model labels adversarially, and a binary search towards the sample. All samples of
a batch work together: each step is one model call for every sample still at work. The
stopping rules of every closed-box attack (``max_queries``, ``target_distance``) are asked
before every call, so no row is refused; every row is counted for its own sample, and each
sample keeps the closest adversarial point it saw.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from feint.attacks.base import CLOSED_BOX, Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.native.geoda import (
    INIT_EVAL,
    INIT_SIZE,
    MAX_EVAL,
    PROBE_ELEMENTS,
    REFINE,
    START,
    NormalWalk,
    check_evals,
)
from feint.attacks.params import Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED

__all__ = ["CGBA"]


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)


class CGBA(Attack):
    """CGBA: decision-based L2 attack, searches a half circle towards the sample along the estimated boundary normal."""

    name = "cgba"
    access = CLOSED_BOX
    needs = "labels"
    data_types = ("image", "tabular")
    reference = "Reza, Rahmati, Wu and Zhu, CGBA: Curvature-aware Geometric Black-box Attack, ICCV 2023"

    max_iter = Int(1_000, "iterations (normal estimate, then a half-circle search) per sample", low=0, high=1_000_000)
    init_eval = INIT_EVAL
    max_eval = MAX_EVAL
    sigma = Float(
        0.05,
        "size of each probe, as a fraction of the boundary point's distance to the sample",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    subspace = Float(
        0.5,
        "images: the fraction of each side's lowest frequencies the probes are drawn from; 1: every feature "
        "(tabular data always uses every feature)",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    refine = REFINE
    momentum = Float(
        0.5,
        "weight of a sample's earlier normal estimates in the one its step follows (0: each iteration's own)",
        low=0.0,
        high=1.0,
    )
    search_steps = Int(8, "halvings of the half circle's angle per iteration", low=1, high=60)
    start = START
    init_size = INIT_SIZE
    targeted = TARGETED
    target_labels = TARGET_LABELS

    def check_options(self, p: dict[str, Any]) -> None:
        check_evals(p)

    def distance_norm(self, p: dict[str, Any]) -> str:
        return "2"

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        return _CGBA(model, batch, p).run()


class _CGBA(NormalWalk):
    def __init__(self, model: CountedModel, batch: Batch, p: dict[str, Any]):
        super().__init__(model, batch, p)
        self.reserve = p["search_steps"]  # rows kept back for the half-circle search

    def way(self, idx: torch.Tensor) -> torch.Tensor:
        """Unit direction from each sample of ``idx`` to its boundary point (``u``)."""
        return _unit(self.cur[idx] - self.flat0[idx])

    # -- phases ------------------------------------------------------------------------
    def normal(self, idx: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """The boundary normal at ``cur[idx]`` orthogonal to ``u`` (towards the adversarial
        side), from ``counts[i]`` probes each, with the sample's earlier estimates."""
        m, d = len(idx), self.dim
        owner = torch.repeat_interleave(torch.arange(m), counts)
        sum_u = torch.zeros((m, d))
        sum_fu = torch.zeros((m, d))
        sum_f = torch.zeros(m, dtype=torch.float64)
        size = self.p["sigma"] * self.best_dist[idx].float()
        base_all, way = self.cur[idx], self.way(idx)
        chunk = max(1, self.model.max_rows)
        step = chunk * max(1, PROBE_ELEMENTS // (d * chunk))
        for s in range(0, len(owner), step):
            o = owner[s : s + step]
            eta = self.directions(len(o))
            eta = _unit(eta - (eta * way[o]).sum(dim=1, keepdim=True) * way[o])
            base = base_all[o]
            probe = torch.addcmul(base, size[o, None], eta).clamp_(self.lo, self.hi)
            eta = (probe - base) / size[o, None]  # the directions as clipped
            f = self.adversarial(probe, idx[o]).float() * 2 - 1
            sum_u.index_add_(0, o, eta)
            sum_fu.index_add_(0, o, eta * f[:, None])
            sum_f.index_add_(0, o, f.double())
        # Centred by the share of adversarial answers: a probe's base sits just inside the
        # adversarial side, and the centring takes out what that shift adds to every answer.
        mean_f = (sum_f / counts.clamp_min(1)).float()
        self.acc[idx] = self.p["momentum"] * self.acc[idx] + _unit(sum_fu - mean_f[:, None] * sum_u)
        acc = self.acc[idx]
        return _unit(acc - (acc * way).sum(dim=1, keepdim=True) * way)

    def move(self, idx: torch.Tensor, v: torch.Tensor) -> None:
        """Binary search of the angle on each sample's half circle; the adversarial end of
        the final bracket is the next boundary point (it stays put where none was found)."""
        low = torch.zeros(len(idx), dtype=torch.float64)  # adversarial: z(0) is x_b
        high = torch.full((len(idx),), math.pi / 2, dtype=torch.float64)  # z(pi / 2) is x itself
        for _ in range(self.p["search_steps"]):
            live = torch.nonzero(self.left(idx) > 0).flatten()
            if len(live) == 0:
                break
            mid = (low[live] + high[live]) / 2
            ok = self.adversarial(self.on_circle(idx[live], v[live], mid), idx[live])
            low[live] = torch.where(ok, mid, low[live])
            high[live] = torch.where(ok, high[live], mid)
        sel = torch.nonzero(low > 0).flatten()
        if len(sel) == 0:
            return
        point = self.on_circle(idx[sel], v[sel], low[sel])
        self.cur[idx[sel]] = point
        self.keep_best(idx[sel], point)
