"""Keras models run as plain torch: the same function, without Keras's per-call costs.

On the torch backend a Keras model is already a ``torch.nn.Module``, but each call goes
through Keras's layer machinery, and each channels-last convolution transposes its
input, kernel and output around a channels-first torch convolution. For the chains of
standard layers that image classifiers are built from, :func:`lower` builds a torch
module computing the same function directly: activations stay channels-first from the
first convolution on, kernels are laid out once, and a bias is added inside its
convolution. On the paper's digits CNN a 128-row forward pass costs 1.15 to 1.4 times
less per row (it varies from hour to hour on a shared machine), and one row about 6
times less.

A model is lowered only when every layer is one of those below and the layers form a
single chain; :func:`lower_verified` then checks the two modules agree on inputs the
caller supplies before the lowered one is used. Anything else (a branching graph, a
custom layer, an unusual option) keeps the Keras module, with the reason recorded.

Supported: ``InputLayer``, ``Conv2D``, ``Dense``, ``MaxPooling2D`` and
``AveragePooling2D`` (valid padding), ``GlobalAveragePooling2D``,
``GlobalMaxPooling2D``, ``Flatten``, ``Dropout`` and other layers that are the identity
at inference, ``Activation``, ``ReLU`` (plain), ``Softmax`` (last axis),
``BatchNormalization`` (inference statistics), ``Rescaling``, and nested
``Sequential`` models made of these.

:func:`save` and :func:`load` keep a checked lowering as plain arrays and a JSON list of
steps, tied to its source file's content hash, so that later loads need no Keras.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["NotLowerable", "LoweredKeras", "LOWERED", "lower", "lower_verified", "save", "load", "source_key"]

LOWERED = "torch, lowered from Keras"  # how a lowered model runs, as targets describe it

# Layers that compute the identity when called with training=False.
IDENTITY_AT_INFERENCE = {
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
}

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "silu": F.silu,
    "swish": F.silu,
    "exponential": torch.exp,
}


def _pooling(fn: Callable) -> Callable:
    return lambda x, size, stride: fn(x, tuple(size), tuple(stride))


# Weightless steps by name: fn(x, *args). Saved lowered models name their steps with these.
OPS: dict[str, Callable[..., torch.Tensor]] = {
    **{name: f for name, f in ACTIVATIONS.items() if name != "linear"},
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "to_channels_first": lambda x: x.permute(0, x.dim() - 1, *range(1, x.dim() - 1)),
    "to_channels_last": lambda x: x.permute(0, *range(2, x.dim()), 1),
    "flatten": lambda x: x.flatten(1),
    "max_pool2d": _pooling(F.max_pool2d),
    "avg_pool2d": _pooling(F.avg_pool2d),
    "global_mean": lambda x: x.mean(dim=(2, 3)),
    "global_max": lambda x: x.amax(dim=(2, 3)),
    "rescaling": lambda x, a, b: x * a + b,
}


class NotLowerable(Exception):
    """The model uses something :func:`lower` does not translate; the message says what."""


def _np(value: Any) -> torch.Tensor:
    """A copy of a Keras variable's value as a float32 tensor (on the torch backend the
    variable holds a torch tensor already)."""
    value = getattr(value, "value", value)
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float32).clone()
    return torch.as_tensor(np.array(value, dtype=np.float32))


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """Keras's (TensorFlow's) "same" padding: the extra row goes after, not before."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class _Step(torch.nn.Module):
    """A step of a lowered model; :meth:`spec` says how to rebuild it from saved buffers."""

    def spec(self) -> dict[str, Any]:
        raise NotImplementedError


class _Op(_Step):
    """A weightless step: ``OPS[op](x, *args)``."""

    def __init__(self, op: str, *args: Any):
        super().__init__()
        self.op, self.args, self.fn = op, args, OPS[op]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, *self.args)

    def extra_repr(self) -> str:
        return ", ".join([self.op, *map(repr, self.args)])

    def spec(self) -> dict[str, Any]:
        return {"op": self.op, "args": list(self.args)}


class _Conv2d(_Step):
    weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, stride, dilation, groups: int, same: bool):
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)
        self.stride, self.dilation, self.groups, self.same = stride, dilation, groups, same

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (0, 0)
        if self.same:
            kh, kw = self.weight.shape[2:]
            ph = _same_padding(x.shape[2], kh, self.stride[0], self.dilation[0])
            pw = _same_padding(x.shape[3], kw, self.stride[1], self.dilation[1])
            if ph[0] == ph[1] and pw[0] == pw[1]:
                pad = (ph[0], pw[0])
            else:
                x = F.pad(x, (pw[0], pw[1], ph[0], ph[1]))
        return F.conv2d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, stride={self.stride}, same={self.same}"

    def spec(self) -> dict[str, Any]:
        return {
            "op": "conv2d",
            "stride": list(self.stride),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "same": self.same,
        }


class _Linear(_Step):
    weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}"

    def spec(self) -> dict[str, Any]:
        return {"op": "linear"}


class _Affine(_Step):
    """Per-channel ``x * scale + shift`` (batch normalisation at inference)."""

    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor, channels_first: bool):
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)
        self.channels_first = channels_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1, -1] + [1] * (x.dim() - 2) if self.channels_first else [1] * (x.dim() - 1) + [-1]
        return x * self.scale.reshape(shape) + self.shift.reshape(shape)

    def spec(self) -> dict[str, Any]:
        return {"op": "affine", "channels_first": self.channels_first}


class LoweredKeras(torch.nn.Sequential):
    """What :func:`lower` returns: plain torch layers; weights are buffers (no parameter gradients)."""


class _Lowering:
    """Walks a chain of Keras layers. ``moved`` says whether the running tensor is the
    Keras tensor with its channels moved from last to second place (so convolutions and
    pooling run channels-first); elementwise layers do not care, others restore it."""

    def __init__(self, channels_first_input: bool):
        self.steps: list[torch.nn.Module] = []
        # channels_first_input: the caller hands over channels-first images for a
        # channels-last model, i.e. the tensor starts "moved".
        self.moved = channels_first_input

    def add(self, op: str, *args: Any) -> None:
        self.steps.append(_Op(op, *args))

    def move(self) -> None:
        """Channels-last tensor -> channels-first (for a spatial layer)."""
        if not self.moved:
            self.add("to_channels_first")
            self.moved = True

    def restore(self) -> None:
        """Back to the layout Keras has at this point."""
        if self.moved:
            self.add("to_channels_last")
            self.moved = False

    # -- layers ------------------------------------------------------------------------
    def layer(self, layer: Any) -> None:
        kind = type(layer).__name__
        if kind == "InputLayer" or kind in IDENTITY_AT_INFERENCE:
            return
        if kind == "Sequential":
            for inner in layer.layers:
                self.layer(inner)
            return
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            raise NotLowerable(f"layer {layer.name!r} is a {kind}")
        handler(layer)

    def activation(self, layer: Any, fn: Any) -> None:
        name = getattr(fn, "__name__", repr(fn))
        if name == "softmax":
            self.softmax()
            return
        if name not in ACTIVATIONS:
            raise NotLowerable(f"layer {layer.name!r} uses the activation {name!r}")
        if name != "linear":
            self.add(name)

    def softmax(self) -> None:
        """Over Keras's last axis."""
        self.restore()
        self.add("softmax")

    def spatial(self, layer: Any) -> None:
        """Bring the tensor to channels-first for a 2D layer in either data format."""
        if getattr(layer, "data_format", "channels_last") == "channels_last":
            self.move()
        elif self.moved:
            raise NotLowerable(f"layer {layer.name!r} mixes data formats")

    def _Conv2D(self, layer: Any) -> None:
        padding = layer.padding.lower()
        if padding not in ("valid", "same"):
            raise NotLowerable(f"layer {layer.name!r} has padding {layer.padding!r}")
        self.spatial(layer)
        kernel = _np(layer.kernel).permute(3, 2, 0, 1).contiguous()  # (kh, kw, in, out) -> (out, in, kh, kw)
        bias = _np(layer.bias) if layer.use_bias else None
        self.steps.append(
            _Conv2d(
                kernel,
                bias,
                _pair(layer.strides),
                _pair(layer.dilation_rate),
                int(getattr(layer, "groups", 1)),
                padding == "same",
            )
        )
        self.activation(layer, layer.activation)

    def _Dense(self, layer: Any) -> None:
        self.restore()  # Dense acts on Keras's last axis
        self.steps.append(_Linear(_np(layer.kernel).t().contiguous(), _np(layer.bias) if layer.use_bias else None))
        self.activation(layer, layer.activation)

    def _pool(self, layer: Any, op: str) -> None:
        if layer.padding.lower() != "valid":
            raise NotLowerable(f"layer {layer.name!r} pools with padding {layer.padding!r}")
        self.spatial(layer)
        self.add(op, _pair(layer.pool_size), _pair(layer.strides))

    def _MaxPooling2D(self, layer: Any) -> None:
        self._pool(layer, "max_pool2d")

    def _AveragePooling2D(self, layer: Any) -> None:
        self._pool(layer, "avg_pool2d")

    def _global(self, layer: Any, op: str) -> None:
        if getattr(layer, "keepdims", False):
            raise NotLowerable(f"layer {layer.name!r} keeps its pooled dimensions")
        self.spatial(layer)
        self.add(op)
        self.moved = False  # (N, C): the same in either layout

    def _GlobalAveragePooling2D(self, layer: Any) -> None:
        self._global(layer, "global_mean")

    def _GlobalMaxPooling2D(self, layer: Any) -> None:
        self._global(layer, "global_max")

    def _Flatten(self, layer: Any) -> None:
        self.restore()
        if getattr(layer, "data_format", "channels_last") == "channels_first":
            self.add("to_channels_last")  # Keras flattens a channels-first tensor in channels-last order
        self.add("flatten")

    def _Activation(self, layer: Any) -> None:
        self.activation(layer, layer.activation)

    def _ReLU(self, layer: Any) -> None:
        if layer.max_value is not None or float(layer.negative_slope) != 0 or float(layer.threshold) != 0:
            raise NotLowerable(f"layer {layer.name!r} is a ReLU with a cap, slope or threshold")
        self.add("relu")

    def _Softmax(self, layer: Any) -> None:
        if layer.axis != -1:
            raise NotLowerable(f"layer {layer.name!r} takes the softmax over axis {layer.axis}")
        self.softmax()

    def _Rescaling(self, layer: Any) -> None:
        scale, offset = np.asarray(layer.scale, dtype=np.float64), np.asarray(layer.offset, dtype=np.float64)
        if scale.size != 1 or offset.size != 1:
            raise NotLowerable(f"layer {layer.name!r} rescales per channel")
        self.add("rescaling", float(scale), float(offset))

    def _BatchNormalization(self, layer: Any) -> None:
        if layer.axis != -1:
            raise NotLowerable(f"layer {layer.name!r} normalises over axis {layer.axis}, not the last")
        inv = torch.rsqrt(_np(layer.moving_variance) + float(layer.epsilon))
        scale = inv * _np(layer.gamma) if layer.scale else inv
        shift = (_np(layer.beta) if layer.center else torch.zeros_like(inv)) - _np(layer.moving_mean) * scale
        self.steps.append(_Affine(scale, shift, channels_first=self.moved))


def _chain(model: Any) -> list[Any]:
    """The model's layers in order; raises unless they form one chain from one input."""
    if type(model).__name__ == "Sequential":
        return list(model.layers)
    inputs = getattr(model, "inputs", None)
    outputs = getattr(model, "outputs", None)
    if not inputs or not outputs:
        raise NotLowerable("the model records no input graph (a subclassed model)")
    if len(inputs) != 1 or len(outputs) != 1:
        raise NotLowerable(f"the model has {len(inputs)} inputs and {len(outputs)} outputs")
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    # Walk back from the output: each layer must have been called once, on the previous one's output.
    tensor, chain = outputs[0], []
    while True:
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            raise NotLowerable("the model's graph could not be read")
        op = history[0]
        if type(op).__name__ == "InputLayer":
            break
        node = op._inbound_nodes[history[1]]
        args = node.input_tensors
        if len(args) != 1:
            raise NotLowerable(f"layer {op.name!r} takes {len(args)} inputs")
        chain.append(op)
        tensor = args[0]
    chain.reverse()
    if tensor is not inputs[0] or {id(x) for x in chain} != {id(x) for x in layers}:
        raise NotLowerable("the layers do not form a single chain")
    return chain


def lower(model: Any, channels_first_input: bool = False) -> LoweredKeras:
    """A torch module computing ``model(x, training=False)``. ``channels_first_input``: the
    caller passes channels-first images to a channels-last model (the permutation Keras
    would need is skipped). Raises :class:`NotLowerable` with the reason."""
    lowering = _Lowering(channels_first_input)
    for layer in _chain(model):
        lowering.layer(layer)
    lowering.restore()
    return LoweredKeras(*lowering.steps).eval()


def lower_verified(
    model: Any, reference: torch.nn.Module, probes: torch.Tensor, channels_first_input: bool = False
) -> tuple[torch.nn.Module, str]:
    """``(module, how)``: the lowered module when it agrees with ``reference`` (the Keras
    module, called the same way) on ``probes``, else ``reference``; ``how`` says which
    and, for the Keras module, why."""
    try:
        lowered = lower(model, channels_first_input)
    except NotLowerable as exc:
        return reference, f"Keras ({exc})"
    except Exception as exc:  # noqa: BLE001 - a layer variant lower() did not foresee
        return reference, f"Keras (lowering failed: {type(exc).__name__}: {exc})"
    with torch.no_grad():
        want = reference(probes)
        try:
            got = lowered(probes)
        except Exception as exc:  # noqa: BLE001 - the lowered model cannot run these inputs
            return reference, f"Keras (the lowered model failed: {type(exc).__name__}: {exc})"
    if got.shape != want.shape:
        return reference, f"Keras (the lowered model's output shape {tuple(got.shape)} differs)"
    err = float((got - want).abs().max()) if want.numel() else 0.0
    scale = float(want.abs().max()) if want.numel() else 0.0
    if not math.isfinite(err) or err > 1e-4 * (1.0 + scale):
        return reference, f"Keras (the lowered model differs by {err:.2g})"
    return lowered, LOWERED


# -- saved lowerings ---------------------------------------------------------------------
# A verified lowering is saved beside its source, so later loads need neither Keras nor
# the check: the file names its source by content hash, and a lowering whose source
# changed (or that an older feint wrote) is ignored and made again.
FORMAT = 1


def source_key(path: Path) -> str:
    """What a saved lowering is tied to: the source file's content and this format."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"{digest.hexdigest()}:{FORMAT}"


def save(module: LoweredKeras, path: Path, key: str, extra: dict[str, Any] | None = None) -> bool:
    """Write ``module`` (and ``extra``, JSON-able facts about it) to ``path`` as a NumPy
    archive of plain arrays; ``False`` if it could not be written (nothing is left behind)."""
    arrays: dict[str, Any] = {}
    steps = []
    for i, step in enumerate(module):
        if not isinstance(step, _Step):
            return False  # not a lowering: nothing to save
        steps.append(step.spec())
        for name, value in step.named_buffers(recurse=False):
            if value is not None:
                arrays[f"s{i}.{name}"] = value.detach().cpu().numpy()
    doc = {"key": key, "steps": steps, "extra": extra or {}}
    path = Path(path)
    tmp = path.with_name(f"tmp-{os.getpid()}-{path.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(fh, __doc__=np.array(json.dumps(doc)), **arrays)
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True


def load(path: Path, key: str) -> tuple[LoweredKeras, dict[str, Any]] | None:
    """The lowering saved at ``path`` and its ``extra``, if it was made from the source
    ``key`` names; ``None`` otherwise (missing, stale or unreadable)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            doc = json.loads(str(data["__doc__"]))
            if doc.get("key") != key:
                return None
            tensors = {name: torch.from_numpy(data[name].copy()) for name in data.files if name != "__doc__"}
        steps: list[torch.nn.Module] = []
        for i, spec in enumerate(doc["steps"]):
            get = lambda name, i=i: tensors.get(f"s{i}.{name}")  # noqa: E731
            need = lambda name, i=i: tensors[f"s{i}.{name}"]  # noqa: E731
            op = spec["op"]
            if op == "conv2d":
                steps.append(
                    _Conv2d(
                        need("weight"),
                        get("bias"),
                        tuple(spec["stride"]),
                        tuple(spec["dilation"]),
                        int(spec["groups"]),
                        bool(spec["same"]),
                    )
                )
            elif op == "linear":
                steps.append(_Linear(need("weight"), get("bias")))
            elif op == "affine":
                steps.append(_Affine(need("scale"), need("shift"), bool(spec["channels_first"])))
            else:
                steps.append(_Op(op, *spec["args"]))
    except Exception:  # noqa: BLE001 - missing, truncated, foreign or older: lower again
        return None
    return LoweredKeras(*steps).eval(), doc.get("extra", {})
