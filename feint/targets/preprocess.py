"""A declared target's preprocessing: ``(x * scale - mean) / std``, then the model's layout.

It is written once, in torch operations (:meth:`Preprocess.apply`): the open-box path runs
it inside the model's module (:meth:`Preprocess.module`), so gradients flow through it;
the closed-box path runs the same operations on NumPy batches through torch
(:meth:`Preprocess.numpy`), so both paths give the same float32 values bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Preprocess"]


@dataclass(frozen=True, eq=False)
class Preprocess:
    """``(x * scale - mean) / std`` in feint's channels-first layout, then channels last
    when the model takes them so. ``mean`` and ``std`` broadcast over a batch: one value,
    one per channel (shape ``(C, 1, 1)``) or one per feature."""

    scale: float = 1.0
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    channels_last: bool = False

    def model_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The per-sample shape the model sees for feint's ``input_shape``."""
        return (*input_shape[1:], input_shape[0]) if self.channels_last else tuple(input_shape)

    def apply(self, z: torch.Tensor, mean: torch.Tensor | None, std: torch.Tensor | None) -> torch.Tensor:
        """The preprocessing of a float32 batch, with ``mean`` and ``std`` as tensors."""
        if self.scale != 1.0:
            z = z * self.scale
        if mean is not None:
            z = z - mean
        if std is not None:
            z = z / std
        if self.channels_last:
            z = z.movedim(1, -1)
        return z

    def module(self) -> torch.nn.Module:
        """The preprocessing as a module (``mean`` and ``std`` its buffers)."""
        import torch

        pre = self

        class Preprocessing(torch.nn.Module):
            mean: torch.Tensor | None
            std: torch.Tensor | None

            def __init__(self) -> None:
                super().__init__()
                self.register_buffer("mean", None if pre.mean is None else torch.as_tensor(pre.mean))
                self.register_buffer("std", None if pre.std is None else torch.as_tensor(pre.std))

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return pre.apply(x, self.mean, self.std)

        return Preprocessing()

    def numpy(self, x: np.ndarray) -> np.ndarray:
        """The preprocessing of a NumPy batch, as a C-contiguous float32 array."""
        import torch

        z = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        mean = None if self.mean is None else torch.from_numpy(self.mean)
        std = None if self.std is None else torch.from_numpy(self.std)
        with torch.no_grad():
            out = self.apply(z, mean, std)
        return np.ascontiguousarray(out.numpy(), np.float32)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.scale != 1.0:
            out["scale"] = self.scale
        if self.mean is not None:
            out["mean"] = self.mean.ravel().tolist()
        if self.std is not None:
            out["std"] = self.std.ravel().tolist()
        return out
