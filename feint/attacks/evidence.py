"""PNG evidence for image targets: original, adversarial and amplified perturbation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["to_uint8", "save_triplet", "perturbation_image"]


def to_uint8(x: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """A channels-first image in ``bounds`` as an 8-bit ``H x W`` or ``H x W x C`` array."""
    lo, hi = bounds
    img = np.clip((np.asarray(x, np.float64) - lo) / (hi - lo), 0, 1)
    img = np.round(img * 255).astype(np.uint8)
    return img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)


def perturbation_image(x: np.ndarray, x_adv: np.ndarray, bounds: tuple[float, float]) -> tuple[np.ndarray, float]:
    """The perturbation amplified to fill the range, grey meaning no change; returns the
    image and the amplification factor."""
    lo, hi = bounds
    d = (np.asarray(x_adv, np.float64) - x) / (hi - lo)
    m = float(np.abs(d).max())
    scale = 0.5 / m if m > 0 else 1.0
    return to_uint8(0.5 + d * scale, (0.0, 1.0)), scale


def save_triplet(
    folder: Path, index: int, x: np.ndarray, x_adv: np.ndarray, bounds: tuple[float, float]
) -> dict[str, str]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    pert, _ = perturbation_image(x, x_adv, bounds)
    paths = {}
    for kind, img in (
        ("original", to_uint8(x, bounds)),
        ("adversarial", to_uint8(x_adv, bounds)),
        ("perturbation", pert),
    ):
        path = folder / f"{index}_{kind}.png"
        Image.fromarray(img).save(path)
        paths[kind] = str(path)
    return paths
