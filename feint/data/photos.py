"""Colour patches cut from real photographs that installed packages ship.

Six photographs, one class each: ``astronaut``, ``chelsea`` (a cat), ``coffee`` and
``rocket`` from scikit-image's ``skimage.data``, ``china`` (a temple) and ``flower`` from
scikit-learn's ``load_sample_images``. A patch is a square cut at a random position and
scale (a fifth to a half of the photo's shorter side), resized to ``size x size``;
training patches are also lightly augmented (mirrored half the time, brightness and
contrast jittered). The class of a patch is the photograph it was cut from.
"""

from __future__ import annotations

import numpy as np

from feint.errors import FeintError

__all__ = ["PHOTO_CLASSES", "load_photos", "photo_patches"]

PHOTO_CLASSES = ("astronaut", "chelsea", "coffee", "rocket", "china", "flower")


def load_photos() -> list[np.ndarray]:
    """The six photographs, in :data:`PHOTO_CLASSES` order, as ``(H, W, 3)`` uint8."""
    try:
        from skimage import data as skdata
    except ImportError:
        raise FeintError("the photos target needs scikit-image; accepted: pip install scikit-image") from None
    from sklearn.datasets import load_sample_images

    sk = load_sample_images()
    named = dict(zip(("china", "flower"), sk.images))
    images = []
    for name in PHOTO_CLASSES:
        img = named[name] if name in named else getattr(skdata, name)()
        images.append(np.ascontiguousarray(np.asarray(img)[..., :3], dtype=np.uint8))
    return images


def photo_patches(
    per_class: int, size: int, seed: int, augment: bool, photos: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: ``per_class`` patches of each photograph, ``(N, 3, size, size)`` float32
    in [0, 1], classes mixed in a seeded order; the same arguments give the same patches."""
    import torch
    import torch.nn.functional as F

    photos = load_photos() if photos is None else photos
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label, img in enumerate(photos):
        full = torch.from_numpy(np.array(img)).permute(2, 0, 1).float().div_(255.0)
        h, w = img.shape[:2]
        for _ in range(per_class):
            side = int(rng.uniform(0.2, 0.5) * min(h, w))
            top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            crop = full[None, :, top : top + side, left : left + side]
            patch = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
            if augment:
                if rng.random() < 0.5:
                    patch = patch.flip(-1)
                mean = patch.mean()
                patch = (patch - mean) * rng.uniform(0.85, 1.15) + mean * rng.uniform(0.85, 1.15)
            xs.append(patch.clamp(0.0, 1.0).numpy())
            ys.append(label)
    order = rng.permutation(len(ys))
    return np.stack(xs)[order].astype(np.float32), np.asarray(ys, np.int64)[order]
