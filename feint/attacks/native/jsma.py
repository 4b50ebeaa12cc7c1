"""The Jacobian saliency map attack (Papernot et al. 2016), with the paper's pairwise saliency.

Each step takes, for every sample still active, the gradient of the target class's
logit (alpha) and of the sum of the others (beta), and picks the pair of features
(p, q) maximising ``(alpha_p + alpha_q) * |beta_p + beta_q|`` among pairs whose
alpha-sum raises the target and whose beta-sum lowers the rest; both features move by
``theta``. The pair search runs for the whole batch at once. Inputs with more than
``MAX_CANDIDATES`` features search pairs among the ``MAX_CANDIDATES`` most salient
single features, so memory stays bounded (an exact search on MNIST's 784).
"""

from __future__ import annotations

from typing import Any

import torch

from feint.attacks.base import Attack, AttackOutput, Batch, random_other_classes
from feint.attacks.params import Bool, Float, Labels
from feint.engine.model import CountedModel
from feint.errors import BadValue

__all__ = ["JSMA", "MAX_CANDIDATES", "best_pairs"]

MAX_CANDIDATES = 1024
PAIR_ELEMENTS = 2**24  # at most this many pair scores in memory at once


def best_pairs(alpha: torch.Tensor, beta: torch.Tensor, allowed: torch.Tensor, increase: bool) -> torch.Tensor:
    """For each row, the feature pair ``(p, q)`` of highest pairwise saliency.

    ``alpha``, ``beta``: ``(N, n)`` gradients of the target logit and of the others' sum;
    ``allowed``: ``(N, n)`` features that may still move. Returns ``(N, 2)`` indices.
    Where no pair meets the saliency conditions, falls back to the two allowed
    features that move the target logit most.
    """
    n_rows, n = alpha.shape
    sgn = 1.0 if increase else -1.0
    a, b = alpha * sgn, beta * sgn  # decreasing features: the same search on negated gradients
    neg = torch.finfo(a.dtype).min
    if n > MAX_CANDIDATES:
        single = torch.where(allowed, a - b, torch.full_like(a, neg))
        cand = single.topk(MAX_CANDIDATES, dim=1).indices
    else:
        cand = torch.arange(n).expand(n_rows, n)
    k = cand.shape[1]
    ca, cb, cm = a.gather(1, cand), b.gather(1, cand), allowed.gather(1, cand)
    out = torch.empty((n_rows, 2), dtype=torch.long)
    eye = torch.eye(k, dtype=torch.bool)
    chunk = max(1, PAIR_ELEMENTS // (k * k))
    for s in range(0, n_rows, chunk):
        sa, sb, sm = ca[s : s + chunk], cb[s : s + chunk], cm[s : s + chunk]
        A = sa[:, :, None] + sa[:, None, :]
        B = sb[:, :, None] + sb[:, None, :]
        ok = (A > 0) & (B < 0) & sm[:, :, None] & sm[:, None, :] & ~eye
        score = torch.where(ok, -A * B, torch.full_like(A, neg)).flatten(1)
        best = score.argmax(dim=1)
        found = score.gather(1, best[:, None]).squeeze(1) > neg
        p, q = best // k, best % k
        if not found.all():  # fallback: the two allowed features that raise the target most
            top = torch.where(sm, sa, torch.full_like(sa, neg)).topk(min(2, k), dim=1).indices
            p = torch.where(found, p, top[:, 0])
            q = torch.where(found, q, top[:, -1])
        rows = torch.arange(s, s + len(sa))
        out[rows, 0] = cand[rows, p]
        out[rows, 1] = cand[rows, q]
    return out


class JSMA(Attack):
    """Jacobian saliency map attack: move the most salient pair of features by theta until the label turns."""

    name = "jsma"
    access = "open-box"
    data_types = ("image", "tabular")
    reference = "Papernot et al., The Limitations of Deep Learning in Adversarial Settings, 2016"

    theta = Float(0.1, "change of each chosen feature per step, in input units (negative: decrease "
                  "features)", low=-1.0, high=1.0)
    gamma = Float(1.0, "largest fraction of features that may be changed", low=0.0, high=1.0, low_open=True)
    targeted = Bool(False, "turn each sample into a target class; untargeted aims at a random other "
                    "class (as ART does) and stops as soon as the label changes")
    target_labels = Labels((), "classes to turn samples into when targeted: one for all or one per "
                           "sample; empty picks a random other class per sample (seeded)")

    def check_options(self, p: dict[str, Any]) -> None:
        if p["theta"] == 0:
            raise BadValue("theta", "a non-zero number in [-1, 1]", p["theta"])

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        theta, n_rows = p["theta"], len(batch.x)
        shape = batch.x.shape
        x = batch.x.reshape(n_rows, -1).clone()
        n = x.shape[1]
        direction = batch.targets if batch.targeted else random_other_classes(
            batch.labels, model.num_classes, batch.generator)
        increase = theta > 0
        allowed = x < model.upper if increase else x > model.lower
        changed = torch.zeros_like(allowed)
        limit = p["gamma"] * n
        onehot = torch.nn.functional.one_hot(direction, model.num_classes).to(x.dtype)
        active = torch.arange(n_rows)
        while len(active):
            logits, (alpha, beta) = model.vjps(
                x[active].reshape(-1, *shape[1:]), [onehot[active], 1.0 - onehot[active]], active)
            keep = ~batch.reached(logits.argmax(1), active)
            keep &= changed[active].sum(1) < limit
            keep &= allowed[active].sum(1) > 0
            active, alpha, beta = active[keep], alpha[keep].flatten(1), beta[keep].flatten(1)
            if len(active) == 0:
                break
            pq = best_pairs(alpha, beta, allowed[active], increase)
            rows = active[:, None].expand(-1, 2)
            x[rows, pq] = (x[rows, pq] + theta).clamp(model.lower, model.upper)
            changed[rows, pq] = True
            allowed[rows, pq] = x[rows, pq] < model.upper if increase else x[rows, pq] > model.lower
        return AttackOutput(x.reshape(shape))
