"""Counterfit's target base class, so a Counterfit target runs in feint.

A Counterfit target file changes only its import line::

    from counterfit.core.targets import CFTarget      # before
    from feint.compat.counterfit import CFTarget      # in feint

and is then used like any target: ``feint scan my_target.py -a hop_skip_jump``. Both
generations of Counterfit's attribute names are read: ``target_name``,
``target_data_type``, ``target_input_shape``, ``target_output_classes``,
``target_endpoint`` (early releases) and ``target_name``, ``data_type``,
``input_shape``, ``output_classes``, ``endpoint`` (later ones), plus ``X`` (the
samples), ``load()`` and ``predict(x)`` (class probabilities, as arrays or lists of
lists). feint's own additions are optional: ``y`` (true labels), ``bounds`` (the value
range; otherwise inferred from the samples), ``channels`` (``"last"`` for images whose
``input_shape`` is height, width, channels) and ``torch_module()`` (a module mapping a
batch in the target's layout to logits, which makes the target open-box).

Loading a target file runs its code, as importing any Python module does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["CFTarget"]


class CFTarget:
    """Counterfit's ``CFTarget``: subclass it, set the attributes, write ``load`` and ``predict``."""

    target_name: str = ""
    data_type: str = ""
    task: str = "classification"
    endpoint: str = ""
    input_shape: Sequence[int] = ()
    output_classes: Sequence[Any] = ()
    classifier: str = "closed-box"
    X: Any = ()

    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, value)
        self.attack_samples: np.ndarray | None = None

    # -- what a target writes ----------------------------------------------------------
    def load(self) -> None:
        """Load the model and the samples into ``self.X``."""
        raise NotImplementedError

    def predict(self, x: Any) -> Any:
        """Class probabilities for a batch, one row per sample."""
        raise NotImplementedError

    # -- Counterfit's helpers -------------------------------------------------------------
    def _shape(self) -> tuple[int, ...]:
        shape = getattr(self, "target_input_shape", None) or self.input_shape
        return tuple(int(d) for d in shape)

    def _classes(self) -> list[Any]:
        return list(getattr(self, "target_output_classes", None) or self.output_classes)

    def get_data_type(self) -> str:
        return getattr(self, "target_data_type", None) or self.data_type

    def get_samples(self, sample_index: int | Sequence[int] = 0) -> np.ndarray:
        """The samples at ``sample_index`` (an int or a list of ints), shaped ``(n, *input_shape)``."""
        if isinstance(sample_index, (int, float, np.number)):
            idx = [int(sample_index)]
        else:
            idx = [int(i) for i in sample_index]
        batch = np.asarray([np.asarray(self.X[i]) for i in idx])
        shape = self._shape()
        return batch.reshape(len(idx), *shape) if shape else batch

    def set_attack_samples(self, sample_index: int | Sequence[int] = 0) -> np.ndarray:
        """Choose the samples an attack works on (kept in ``self.attack_samples``) and return them."""
        self.attack_samples = self.get_samples(sample_index)
        return self.attack_samples

    def outputs_to_labels(self, output: Any, threshold: float = 0.5) -> list[Any]:
        """Class names for a batch of probability rows (a single column is P(second class))."""
        out = np.asarray(output, dtype=np.float64)
        classes = self._classes()
        if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1 and len(classes) == 2):
            return [classes[int(p > threshold)] for p in out.ravel()]
        return [classes[int(i)] for i in np.argmax(out, axis=1)]

    def get_sample_labels(self, samples: Any) -> list[Any]:
        return self.outputs_to_labels(self.predict(samples))
