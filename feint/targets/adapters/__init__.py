"""Model adapters: a model file (or an endpoint) made callable by feint.

One module per kind of model: Keras (:mod:`~feint.targets.adapters.keras_model`, run as
plain torch by :mod:`~feint.targets.adapters.keras_lower` where it can be), TorchScript
and ``torch.export`` (:mod:`~feint.targets.adapters.torch_model`), ONNX, scikit-learn, and
an HTTP endpoint (:mod:`~feint.targets.adapters.http`). An adapter loads its model on
:meth:`ModelAdapter.load` and then answers either :meth:`ModelAdapter.module` (open-box: a
``torch.nn.Module`` through which gradients flow) or :meth:`ModelAdapter.predict`
(closed-box: NumPy in, class scores out). Adapters work in the model's own input layout; the declared target
(:mod:`feint.targets.loaders.yaml`) converts feint's channels-first samples and applies the
declared preprocessing before it calls them.

Which adapter reads a file is decided by its extension; the adapter modules import
their frameworks only when a file is loaded, so a target's capabilities are known
before anything heavy loads.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from feint.errors import FeintError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["ModelAdapter", "ModelContext", "FORMATS", "adapter_class", "adapter_for", "accepted_extensions"]


@dataclass(frozen=True)
class ModelContext:
    """What a declaration says about its model besides the file, handed to the adapter
    before it loads: the class names in the order of the model's outputs, the feature
    columns of tabular samples (``None`` where the samples name none), what the model
    returns (``auto``, ``logits``, ``probabilities``), for adapters that read them
    (:attr:`ModelAdapter.reads`), the constant extra inputs and the output to read, the
    text columns held fixed beside the features (for an adapter with ``predict_fixed``),
    and whether the samples reach it as token ids (a text target with a ``tokenizer``)."""

    classes: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    outputs: str = "auto"
    inputs: Mapping[str, Any] = field(default_factory=dict)
    output: str | int | None = None
    fixed_columns: tuple[str, ...] = ()  # text columns beside the features (adapters with predict_fixed)
    # A text model fed token ids (a declaration's tokenizer): its input is an integer tensor.
    token_ids: bool = False


class ModelAdapter:
    """Base of the file adapters. ``where`` prefixes every error (e.g. ``my.yaml: model``)."""

    kind: str = ""  # shown in reports: keras, torchscript, torch.export, onnx, skops, pickle, http
    open_box: bool = False
    # what the module or predict returns: logits, probabilities, or auto (told apart on the samples)
    outputs: str = "auto"
    # the declaration keys beyond the model file that this adapter reads (``inputs``, ``output``)
    reads: frozenset[str] = frozenset()
    takes_fixed: bool = False  # whether the model takes text columns held fixed (predict_fixed)
    # set by the declaration before ``load``
    context: ModelContext = ModelContext()

    def __init__(self, path: Path, where: str, trust: bool = False) -> None:
        self.path = Path(path)
        self.where = where
        self.trust = trust

    def load(self) -> None:
        raise NotImplementedError

    def module(self) -> torch.nn.Module:
        """Open-box adapters: a module mapping a float32 batch in the model's layout to its outputs."""
        raise NotImplementedError(f"{self.kind} models are closed-box")

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Closed-box adapters: the model's class scores ``(N, classes)`` for a batch in its layout."""
        raise NotImplementedError

    def predict_fixed(self, x: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        """:meth:`predict` with the text columns held fixed (``context.fixed_columns``) beside
        the features: ``fixed`` has one row of their values per row of ``x``. Only adapters
        with :attr:`takes_fixed` have it."""
        raise NotImplementedError

    def expected_input_shape(self) -> tuple[int | None, ...] | None:
        """The per-sample input shape the model itself declares (``None`` for a free dimension),
        where the format records one; ``None`` when it does not."""
        return None

    def model_columns(self) -> tuple[str, ...] | None:
        """The feature names the model itself was fitted with, where it records them."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"model": str(self.path), "adapter": self.kind}

    def fail(self, message: str) -> FeintError:
        return FeintError(f"{self.where}: {message}")


# extension -> "module:Class"; the module is imported only when a file is loaded
FORMATS: dict[str, str] = {
    ".keras": "feint.targets.adapters.keras_model:KerasModel",
    ".h5": "feint.targets.adapters.keras_model:KerasModel",
    ".hdf5": "feint.targets.adapters.keras_model:KerasModel",
    ".pt": "feint.targets.adapters.torch_model:TorchScriptModel",
    ".pth": "feint.targets.adapters.torch_model:TorchScriptModel",
    ".ts": "feint.targets.adapters.torch_model:TorchScriptModel",
    ".pt2": "feint.targets.adapters.torch_model:ExportedModel",
    ".onnx": "feint.targets.adapters.onnx_model:OnnxModel",
    ".skops": "feint.targets.adapters.sklearn_model:SkopsModel",
    ".pkl": "feint.targets.adapters.sklearn_model:PickleModel",
    ".pickle": "feint.targets.adapters.sklearn_model:PickleModel",
    ".joblib": "feint.targets.adapters.sklearn_model:PickleModel",
}


def accepted_extensions() -> list[str]:
    return sorted(FORMATS)


def adapter_class(path: Path, where: str) -> type[ModelAdapter]:
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise FeintError(
            f"{where}: no adapter reads {Path(path).name!r}; accepted model files: "
            f"{', '.join(accepted_extensions())}, or an endpoint ({{endpoint: {{url: ...}}}})"
        )
    module, cls = FORMATS[ext].split(":")
    return getattr(importlib.import_module(module), cls)


def adapter_for(path: Path, where: str, trust: bool = False) -> ModelAdapter:
    return adapter_class(path, where)(Path(path), where, trust)
