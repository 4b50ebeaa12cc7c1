"""Counterfit's colour-image target: satellite images, airplane vs stadium, 3x256x256.

Counterfit attacked a ResNet-50 trained on a satellite image set; neither the weights
nor the images exist offline, so this target trains a small torch CNN (open-box; it
averages 4x4 pixel blocks first, then three convolution blocks) on the images the user
provides (see :mod:`feint.data.satellite`), and caches its weights per data set. With
no images it refuses, saying what to provide.

With 40 images or more, a fifth of each class is held out: those images are the
samples, and the network's accuracy on them is ``held_out_accuracy``. With fewer
(Counterfit's file holds 10), nothing can be spared: the network is trained on every
image, the samples are those same images, and the report says so (``train_accuracy``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

from feint.config import feint_home
from feint.data.satellite import SATELLITE_CLASSES, SIDE
from feint.targets.base import Target

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Satellite"]

MODEL_VERSION = 1
HOLD_OUT_FROM = 40  # images; below this every image trains
HELD_OUT_FRACTION = 0.2


def epochs_for(n: int) -> int:
    """About 3,000 image passes, between 10 and 60 epochs: seconds on a CPU for small sets."""
    return int(min(60, max(10, 3000 // max(n, 1))))


class Satellite(Target):
    """A small CNN on the user's satellite images (airplane vs stadium); open-box."""

    target_name = "satellite"
    data_type = "image"
    input_shape = (3, SIDE, SIDE)
    output_classes: tuple[str, ...] = SATELLITE_CLASSES
    bounds = (0.0, 1.0)
    description = (
        "torch CNN, satellite images airplane vs stadium (3x256x256), trained on the images "
        "FEINT_SATELLITE_DATA provides; none ship with feint; open-box"
    )

    def __init__(self) -> None:
        super().__init__()
        self._module: torch.nn.Module | None = None

    def load(self) -> None:
        from feint.data.satellite import load_satellite, satellite_source
        from feint.targets.builtin.smallcnn import SmallCNN, accuracy, load_cnn, save_cnn, train_cnn

        source = satellite_source()
        x, y, classes = load_satellite(source)
        self.output_classes = classes
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(x).tobytes())
        digest.update(y.tobytes())
        digest.update("\0".join(classes).encode())
        fingerprint = digest.hexdigest()[:16]

        rng = np.random.default_rng(0)
        held = np.zeros(len(y), bool)
        if len(y) >= HOLD_OUT_FROM:
            for c in range(len(classes)):
                idx = rng.permutation(np.flatnonzero(y == c))
                held[idx[: int(round(len(idx) * HELD_OUT_FRACTION))]] = True
        train = ~held if held.any() else np.ones(len(y), bool)
        self.X, self.y = (x[held], y[held]) if held.any() else (x, y)

        path = feint_home() / "models" / f"satellite-{fingerprint}-v{MODEL_VERSION}.pt"
        cached = load_cnn(path)
        if cached is not None:
            module, meta = cached
        else:
            epochs = epochs_for(int(train.sum()))
            module = train_cnn(SmallCNN(len(classes), width=16, shrink=4), x[train], y[train], epochs=epochs, batch=16)
            meta = {
                "trained_on": int(train.sum()),
                "epochs": epochs,
                "train_accuracy": accuracy(module, x[train], y[train], batch=32),
            }
            if held.any():
                meta["held_out_accuracy"] = accuracy(module, self.X, self.y, batch=32)
            save_cnn(module, path, meta)
        self._module = module
        self.info = {
            "model": str(path),
            "data": f"satellite images from {source} ({len(y)} images)",
            "samples_from": "held-out images"
            if held.any()
            else f"the training images themselves (fewer than {HOLD_OUT_FROM} images: none held out)",
            **meta,
        }

    def torch_module(self):
        return self.ensure_loaded()._module
