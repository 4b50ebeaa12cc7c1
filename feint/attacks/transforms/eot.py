"""Expectation over transformation (Athalye et al. 2018) for gradient attacks: the gradient
of the loss averaged over random draws of a chain of transformations, taken through them.

Each draw picks, per sample, a strength for every transformation of the chain uniformly
between its weakest and the strength given (rotation and shear: between ``-v`` and ``v``),
and fresh random choices of its own (noise, corner offsets). Gradients flow through the
transformations with autograd; through JPEG and shot noise, which have none, they pass
straight (the identity's gradient, as in BPDA). Every draw is a model query of its sample:
``samples`` draws are ``samples`` forward and gradient queries per sample and step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from feint.attacks.model import CountedModel
from feint.attacks.transforms.chain import Step, from_unit, images, parse_eot, to_unit
from feint.attacks.transforms.ops import Draws
from feint.errors import Incompatible

__all__ = ["Expectation"]


class Expectation:
    """The draws of one batch of a gradient attack."""

    def __init__(self, steps: list[Step], samples: int, model: CountedModel, batch: Any):
        self.steps, self.samples, self.model, self.batch = steps, samples, model, batch
        self.gen = torch.Generator().manual_seed(
            int(batch.seed) * 7_919 + int(batch.indices[0] if batch.indices is not None and len(batch.indices) else 0)
        )
        self.calls = 0

    @classmethod
    def of(cls, text: str, model: CountedModel, batch: Any) -> Expectation:
        target = model.target
        if target.data_type != "image" or not images(tuple(target.input_shape)):
            raise Incompatible(
                f"eot transforms images and target {target.target_name} has {target.data_type} samples shaped "
                f"{tuple(target.input_shape)}; leave eot empty"
            )
        steps, samples = parse_eot(text)
        return cls(steps, samples, model, batch)

    def _strengths(self, n: int) -> list[torch.Tensor]:
        out = []
        for step in self.steps:
            s = step.spec.strength
            if s is None or step.value is None:
                out.append(torch.zeros(n))
                continue
            u = torch.rand(n, generator=self.gen, dtype=torch.float64)
            if s.signed:
                v = (2 * u - 1) * abs(step.value)
            else:
                v = s.weakest + u * (step.value - s.weakest)
            out.append((v.round() if s.integer else v).float())
        return out

    def transformed(self, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``samples`` draws of the chain on ``x`` (rows of the batch ``rows``), copies one after
        another: ``(samples * len(x), ...)``, differentiable in ``x``."""
        lo, hi = self.model.lower, self.model.upper
        indices = self.batch.indices[rows.numpy()] if self.batch.indices is not None else rows.numpy()
        self.calls += 1
        copies = []
        for j in range(self.samples):
            z = to_unit(x, lo, hi)
            for k, (step, s) in enumerate(zip(self.steps, self._strengths(len(x)))):
                d = Draws(int(self.batch.seed), np.asarray(indices), f"eot{self.calls}:{j}:{k}:{step.spec.name}")
                opts = step.options()
                out = step.spec.op(z, s, d, opts)
                z = out if step.spec.op.differentiable else z + (out - z).detach()
            copies.append(from_unit(z, x, lo, hi))
        return torch.cat(copies)

    def loss_grad(
        self, x: torch.Tensor, loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per row, whether most draws are adversarial, and the mean gradient over the draws."""
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            z = self.transformed(x, rows)
        many = rows.repeat(self.samples)
        logits, gz = self.model.loss_grad(z.detach(), lambda out: loss(out, many), many)
        (grad,) = torch.autograd.grad(z, x, grad_outputs=gz)
        reached = self.batch.reached(logits.argmax(1), many).view(self.samples, -1).float().mean(0) >= 0.5
        return reached, grad / self.samples

    def survival(self, x_adv: torch.Tensor) -> torch.Tensor:
        """Per sample, the share of ``samples`` fresh draws under which ``x_adv`` is adversarial."""
        rows = torch.arange(len(x_adv))
        with torch.no_grad():
            z = self.transformed(x_adv.detach(), rows)
        many = rows.repeat(self.samples)
        hit = self.batch.reached(self.model.labels(z, many), many)
        return hit.view(self.samples, -1).double().mean(0)
