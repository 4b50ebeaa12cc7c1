"""The memory layout an open-box image model's queries run in.

A torch image model takes channels-first batches, and most keep their activations
channels-first too; on the CPU, oneDNN's convolutions, and the pooling and flattening
after them, run faster on channels-last memory (the same numbers, stored pixel by
pixel). On the digits CNN a forward pass of 31 rows takes 7 ms channels-last against
11.5 ms, and a forward and backward pass 17 against 22 ms.

So the model an attack queries is, where it can be, a copy of the target's module with
its 4-D weights channels-last, fed channels-last batches: the target's own module is
left as it is. The copy is used only when it answers like the original on a few
seeded random inputs within the target's bounds (the same classes, logits within
float32 rounding), and it is made once per module. A module that fails in the new
layout (a ``view`` that needs channels-first memory, say), answers differently, or has
no 4-D weight, is queried as it is. ``FEINT_CHANNELS_LAST=0`` turns the copy off.
"""

from __future__ import annotations

import copy
import os
import weakref
from collections.abc import Sequence

import torch

from feint.attacks.params import FALSE_WORDS

__all__ = ["ChannelsLast", "query_module"]

MAX_COPY_BYTES = 1 << 30  # a module with more weights than this is queried as it is
PROBE_ROWS = 4
# module -> its checked copy, or None where the module itself is queried
_chosen: weakref.WeakKeyDictionary[torch.nn.Module, torch.nn.Module | None] = weakref.WeakKeyDictionary()


class ChannelsLast(torch.nn.Module):
    """``inner`` (channels-last weights) fed channels-last copies of its batches."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.inner(x)


def _enabled() -> bool:
    return os.environ.get("FEINT_CHANNELS_LAST", "1").strip().lower() not in FALSE_WORDS


def _channels_last_copy(
    module: torch.nn.Module, input_shape: Sequence[int], bounds: tuple[float, float]
) -> torch.nn.Module | None:
    if len(input_shape) != 3:
        return None
    tensors = [*module.parameters(), *module.buffers()]
    if not any(t.dim() == 4 for t in tensors):
        return None
    if sum(t.numel() * t.element_size() for t in tensors) > MAX_COPY_BYTES:
        return None
    try:
        gen = torch.Generator().manual_seed(0)
        dtype = next((t.dtype for t in tensors if t.is_floating_point()), torch.float32)
        lo, hi = bounds
        x = torch.rand((PROBE_ROWS, *input_shape), generator=gen, dtype=dtype) * (hi - lo) + lo
        fast = ChannelsLast(copy.deepcopy(module).to(memory_format=torch.channels_last))  # type: ignore[call-overload]
        with torch.no_grad():
            want, got = module(x), fast(x)
        probe = x[:1].clone().requires_grad_(True)  # the backward pass must run in the new layout too
        (grad,) = torch.autograd.grad(fast(probe).sum(), probe)
    except Exception:  # noqa: BLE001 - any failure means: query the module as it is
        return None
    if not isinstance(want, torch.Tensor) or not isinstance(got, torch.Tensor) or want.shape != got.shape:
        return None
    if grad.shape != probe.shape or not bool(torch.isfinite(got).all()):
        return None
    scale = float(want.abs().max().clamp_min(1.0))
    if not torch.allclose(got, want, rtol=1e-4, atol=1e-5 * scale) or not bool(
        (got.argmax(-1) == want.argmax(-1)).all()
    ):
        return None
    return fast


def query_module(module: torch.nn.Module, input_shape: Sequence[int], bounds: tuple[float, float]) -> torch.nn.Module:
    """The module to send an image target's queries to: a checked channels-last copy of
    ``module`` where one helps (see the module doc), else ``module`` itself."""
    if not _enabled():
        return module
    try:
        chosen = _chosen[module]
    except KeyError:
        chosen = _chosen[module] = _channels_last_copy(module, input_shape, bounds)
    return module if chosen is None else chosen
