"""Keras 3 model files (``.keras``, and legacy ``.h5`` where Keras 3 reads it); open-box.

Loaded with ``safe_mode=True`` (no Python lambdas are deserialised) on the torch backend,
where a Keras model is a ``torch.nn.Module`` and input gradients flow through plain
autograd. A model whose last layer applies softmax has that activation replaced by the
identity, so attacks see logits (a softmax over log-probabilities would otherwise be
needed, and it saturates).

Where the model is a chain of standard layers it runs as plain torch
(:mod:`feint.targets.adapters.keras_lower`), once the two agree on random inputs; otherwise, or
where the input shape has free dimensions, through Keras. ``describe`` says which. A
checked lowering is saved under ``$FEINT_HOME/cache/keras``, named by the file's
content hash, so loading the same file again does not import Keras.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from feint.config import feint_home
from feint.targets.adapters import ModelAdapter

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["KerasModel"]


def _is_softmax(fn: Any) -> bool:
    return getattr(fn, "__name__", "") == "softmax"


class KerasModel(ModelAdapter):
    kind = "keras"
    open_box = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._module: torch.nn.Module | None = None
        self._input_shape: tuple | None = None
        self.outputs = "auto"  # "logits" once a final softmax has been removed
        self._runs_as = "Keras"

    def load(self) -> None:
        from feint.targets.adapters import keras_lower

        try:
            key = keras_lower.source_key(self.path)
        except OSError:  # Keras says what is wrong with the file
            key = None
        saved_path = feint_home() / "cache" / "keras" / f"{(key or '')[:32]}.lowered.npz"
        saved = keras_lower.load(saved_path, key) if key else None
        if saved is not None:  # lowered and checked before: no need for Keras
            self._module, extra = saved
            shape = extra.get("input_shape")
            self._input_shape = tuple(shape) if shape is not None else None
            self.outputs = extra.get("outputs", "auto")
            self._runs_as = keras_lower.LOWERED
            return
        self._load_keras()
        # lowered only when the input shape is known
        if key and isinstance(self._module, keras_lower.LoweredKeras) and self._input_shape is not None:
            keras_lower.save(
                self._module, saved_path, key, {"input_shape": list(self._input_shape), "outputs": self.outputs}
            )

    def _load_keras(self) -> None:
        from feint.targets.builtin.digits import import_keras

        keras = import_keras()
        import torch

        try:
            model = keras.saving.load_model(self.path, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many kinds; say which file and why in one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = (
                (
                    "; feint always loads Keras files in safe mode: save the model without Python "
                    "lambdas (a named layer or function instead)"
                )
                if "safe_mode" in first
                else ""
            )
            raise self.fail(f"Keras could not load {self.path.name} ({type(exc).__name__}: {first}){hint}") from None
        last = model.layers[-1] if getattr(model, "layers", None) else None
        if last is not None and _is_softmax(getattr(last, "activation", None)):
            last.activation = keras.activations.linear
            self.outputs = "logits"
        try:
            shape = tuple(model.inputs[0].shape)[1:]
            self._input_shape = tuple(None if d is None else int(d) for d in shape)
        except Exception:  # a subclassed model records no input
            self._input_shape = None

        class KerasNet(torch.nn.Module):
            def __init__(self, net: Any) -> None:
                super().__init__()
                self.net = net

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                out = self.net(x, training=False)
                return out[0] if isinstance(out, (list, tuple)) else out

        reference = KerasNet(model)
        self._module = reference
        self._runs_as = "Keras (the input shape has free dimensions)"
        if self._input_shape is not None and all(d is not None for d in self._input_shape):
            from feint.targets.adapters.keras_lower import lower_verified

            rng = np.random.default_rng(0)
            shape = (8, *self._input_shape)
            probes = np.concatenate([rng.random(shape), rng.standard_normal(shape)]).astype(np.float32)
            self._module, self._runs_as = lower_verified(model, reference, torch.as_tensor(probes))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "runs_as": self._runs_as}

    def module(self):
        return self._module

    def expected_input_shape(self):
        return self._input_shape
