"""A colour-image demo target on real photographs: which photo is this patch from?

Six photographs shipped by scikit-image and scikit-learn (see :mod:`feint.data.photos`)
are the six classes; a sample is a 3x32x32 patch cut from one of them at a random
position and scale. A small torch CNN (open-box) is trained on first use, on 200
augmented patches of each photograph (a few seconds), and cached as a ``state_dict``;
the 300 samples (50 per photograph) are fresh crops from other random draws, and the
network's accuracy on them is recorded as ``held_out_accuracy``.
"""

from __future__ import annotations

from feint.config import feint_home
from feint.data.photos import PHOTO_CLASSES
from feint.targets.base import Target

__all__ = ["Photos"]

MODEL_VERSION = 1
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
        self._module = None

    @staticmethod
    def model_path():
        return feint_home() / "models" / f"photos-v{MODEL_VERSION}.pt"

    def load(self) -> None:
        from feint.data.photos import load_photos, photo_patches
        from feint.targets.builtin.smallcnn import SmallCNN, accuracy, load_cnn, save_cnn, train_cnn

        photos = load_photos()
        self.X, self.y = photo_patches(SAMPLES_PER_CLASS, SIZE, seed=1, augment=False, photos=photos)
        path = self.model_path()
        cached = load_cnn(path)
        if cached is not None:
            module, meta = cached
        else:
            tx, ty = photo_patches(TRAIN_PER_CLASS, SIZE, seed=0, augment=True, photos=photos)
            module = train_cnn(SmallCNN(len(PHOTO_CLASSES), width=16), tx, ty, epochs=EPOCHS)
            meta = {"trained_on": int(len(ty)), "epochs": EPOCHS,
                    "held_out_accuracy": accuracy(module, self.X, self.y)}
            save_cnn(module, path, meta)
        self._module = module
        self.info = {
            "model": str(path),
            "data": "patches of six real photographs: astronaut, chelsea, coffee, rocket (skimage.data), "
                    "china, flower (sklearn load_sample_images)",
            **meta,
        }

    def torch_module(self):
        return self.ensure_loaded()._module
