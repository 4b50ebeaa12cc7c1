"""A colour-image demo target on real photographs: which photo is this patch from?

Six photographs shipped by scikit-image and scikit-learn (see :mod:`feint.data.photos`)
are the six classes; a sample is a 3x32x32 patch cut from one of them at a random
position and scale. A small torch CNN (open-box) was trained on 200 augmented patches of
each photograph; its ``state_dict`` ships with feint (made by
:mod:`feint.targets.builtin.train`, read with ``weights_only=True``), so it is the same
model on every machine. The 300 samples (50 per photograph) are fresh crops from other
random draws, and the network's accuracy on them is recorded as ``held_out_accuracy``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from feint.data.photos import PHOTO_CLASSES
from feint.targets.base import Target
from feint.targets.builtin import weights_path

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Photos"]

SIZE = 32
TRAIN_PER_CLASS = 200
SAMPLES_PER_CLASS = 50
EPOCHS = 10


class Photos(Target):
    """A small CNN telling apart patches of six real colour photographs; open-box."""

    target_name = "photos"
    data_type = "image"
    input_shape = (3, SIZE, SIZE)
    output_classes = PHOTO_CLASSES
    bounds = (0.0, 1.0)
    description = "torch CNN: which of six real photographs a 3x32x32 colour patch is from; open-box"

    def __init__(self) -> None:
        super().__init__()
        self._module: torch.nn.Module | None = None

    @staticmethod
    def model_path():
        """The shipped weights (see :mod:`feint.targets.builtin.train`)."""
        return weights_path("photos.pt")

    def load(self) -> None:
        from feint.data.photos import photo_patches
        from feint.errors import FeintError
        from feint.targets.builtin.smallcnn import load_cnn

        self.X, self.y = photo_patches(SAMPLES_PER_CLASS, SIZE, seed=1, augment=False)
        path = self.model_path()
        saved = load_cnn(path)
        if saved is None:
            raise FeintError(f"the photos model {path} is missing or unreadable; reinstall feint")
        module, meta = saved
        self._module = module
        self.info = {
            "model": str(path),
            "data": "patches of six real photographs: astronaut, chelsea, coffee, rocket (skimage.data), "
            "china, flower (sklearn load_sample_images)",
            **meta,
        }

    def torch_module(self):
        return self.ensure_loaded()._module
