"""Projected gradient descent (Madry et al. 2018), Linf and L2, batched in torch."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from feint.attacks.base import Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Bool, Choice, Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED
from feint.attacks.transforms.chain import EOT
from feint.attacks.transforms.eot import Expectation

__all__ = ["PGD", "lp_project", "flat_norm"]


def flat_norm(d: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample norm of a batch, shaped ``(N,)``."""
    flat = d.reshape(len(d), -1)
    return flat.abs().amax(dim=1) if norm == "inf" else flat.norm(dim=1)


def lp_project(x: torch.Tensor, x_adv: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """The point of the Lp ball of radius ``eps`` around ``x`` nearest to ``x_adv``.

    The radius is shrunk by the rounding error of the tensor's dtype, so that the
    distance measured afterwards (in float64) never exceeds ``eps``."""
    d = x_adv - x
    ulp = torch.finfo(x.dtype).eps * max(1.0, float(x.abs().max()) if x.numel() else 1.0)
    if norm == "inf":
        return x + d.clamp(-(eps - ulp), eps - ulp)
    radius = eps * (1 - 4 * torch.finfo(x.dtype).eps) - ulp * x[0].numel() ** 0.5
    n = flat_norm(d, "2").clamp_min(1e-12)
    scale = torch.clamp(radius / n, max=1.0).view(-1, *([1] * (d.dim() - 1)))
    return x + d * scale


def _step(grad: torch.Tensor, norm: str) -> torch.Tensor:
    if norm == "inf":
        return grad.sign()
    n = flat_norm(grad, "2").clamp_min(1e-12).view(-1, *([1] * (grad.dim() - 1)))
    return grad / n


def _random_start(x: torch.Tensor, eps: float, norm: str, gen: torch.Generator) -> torch.Tensor:
    if norm == "inf":
        return x + (torch.rand(x.shape, generator=gen) * 2 - 1) * eps
    # Uniform in the L2 ball: a random direction, a radius with density ~ r^(d-1).
    d = torch.randn(x.shape, generator=gen)
    d = d / flat_norm(d, "2").clamp_min(1e-12).view(-1, *([1] * (x.dim() - 1)))
    dim = x[0].numel()
    r = torch.rand(len(x), generator=gen) ** (1.0 / dim) * eps
    return x + d * r.view(-1, *([1] * (x.dim() - 1)))


class PGD(Attack):
    """Projected gradient descent: signed (Linf) or normalised (L2) gradient steps, projected onto the eps-ball."""

    name = "pgd"
    access = "open-box"
    data_types = ("image", "tabular")
    reference = "Madry et al., Towards Deep Learning Models Resistant to Adversarial Attacks, 2018"

    norm = Choice(
        "inf",
        "the norm of the budget: inf or 2",
        choices=("inf", "2"),
        aliases={"linf": "inf", "l2": "2", "np.inf": "inf"},
    )
    eps = Float(0.3, "budget: largest allowed perturbation in that norm", low=0, low_open=True)
    eps_step = Float(0.1, "size of one step in that norm", low=0, low_open=True)
    max_iter = Int(100, "steps per random start", low=1, high=100_000)
    targeted = TARGETED
    target_labels = TARGET_LABELS
    num_random_init = Int(
        0,
        "random starts inside the ball (0: start at the sample); the first successful start is kept",
        low=0,
        high=1000,
    )
    early_stop = Bool(
        False,
        "stop stepping a sample once it is adversarial (off: every sample takes "
        "every step, pushing further past the boundary)",
    )
    eot = EOT(
        "",
        "expectation over transformation (images): each step follows the mean gradient over SAMPLES random "
        "draws of the transformations, each at a strength up to the one given (rotate and shear: between -v "
        "and v), so the adversarial survives them; e.g. rotate:10,samples=8 or jpeg:70+rotate:5. The run "
        "then measures eot_survival, the share of as many fresh draws under which the adversarial stays "
        "adversarial. Empty: plain gradients",
    )
    measures = ("eot_survival",)

    def project(self, x, x_adv, p):
        return lp_project(x, x_adv, p["eps"], p["norm"])

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        x, goal = batch.x, batch.goal
        norm, eps, step = p["norm"], p["eps"], p["eps_step"]
        sign = -1.0 if batch.targeted else 1.0  # targeted: descend the loss to the target
        best = x.clone()
        done = torch.zeros(len(x), dtype=torch.bool)

        def loss(logits, rows):
            return sign * F.cross_entropy(logits, goal[rows], reduction="none")

        expect = Expectation.of(p["eot"], model, batch) if p["eot"] else None
        starts = max(1, p["num_random_init"])
        for start in range(starts):
            rows = torch.nonzero(~done).flatten()
            if len(rows) == 0:
                break
            x0 = x[rows]
            xa = x0 if p["num_random_init"] == 0 else _random_start(x0, eps, norm, batch.generator)
            xa = xa.clamp(model.lower, model.upper)
            active = torch.arange(len(rows))
            for _ in range(p["max_iter"]):

                def step_loss(z: torch.Tensor, a: torch.Tensor = active, r: torch.Tensor = rows) -> torch.Tensor:
                    return loss(z, r[a])

                if expect is None:
                    logits, grad = model.loss_grad(xa[active], step_loss, rows[active])
                    reached = batch.reached(logits.argmax(1), rows[active])
                else:  # the mean gradient over draws of the transformations, and the draws' majority
                    reached, grad = expect.loss_grad(xa[active], loss, rows[active])
                if p["early_stop"]:
                    keep = ~reached
                    if not keep.all():
                        active, grad = active[keep], grad[keep]
                        if len(active) == 0:
                            break
                moved = xa[active] + step * _step(grad, norm)
                xa[active] = lp_project(x0[active], moved, eps, norm).clamp(model.lower, model.upper)
            if start == starts - 1:  # the last start keeps what it found, turned or not
                best[rows] = xa
                break
            hit = batch.reached(model.labels(xa, rows), rows)
            best[rows[hit]] = xa[hit]
            done[rows[hit]] = True
        if expect is None:
            return AttackOutput(best)
        final = lp_project(x, best, eps, norm).clamp(model.lower, model.upper)  # what the runner keeps
        return AttackOutput(best, extras={"eot_survival": expect.survival(final).numpy()})
