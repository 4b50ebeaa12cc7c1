"""Satellite images for Counterfit's ``satellite`` target (airplane vs stadium, 3x256x256).

No satellite image set ships with any package, so the user provides one:
``FEINT_SATELLITE_DATA`` names it, else ``$FEINT_HOME/data/satellite/`` holds it. Either
may be

- Counterfit's ``satellite_images_airplane_stadium_196608.npz``: ``X`` ``N x 196608``
  uint8 (3x256x256, channels first, flattened) and ``y`` the class of each image
  (names, or indices into ``airplane, stadium``); or a folder holding one such file;
- a folder with one sub-folder of images per class (``airplane/``, ``stadium/``, ...;
  PNG, JPEG, BMP, TIFF, GIF or WebP), each image read as RGB and resized to 256x256.

Images become float32 in [0, 1] (uint8 / 255), channels first.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from feint.config import feint_home
from feint.errors import FeintError

__all__ = ["SATELLITE_CLASSES", "SATELLITE_ENV", "SIDE", "satellite_source", "load_satellite"]

SATELLITE_CLASSES = ("airplane", "stadium")
SATELLITE_ENV = "FEINT_SATELLITE_DATA"
SIDE = 256
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"}

ACCEPTED = (
    f"set {SATELLITE_ENV} to Counterfit's satellite_images_airplane_stadium_196608.npz or to a folder "
    "with one sub-folder of images per class (airplane/, stadium/), or put either in "
    "$FEINT_HOME/data/satellite/; no satellite image set ships with feint"
)


def satellite_source() -> Path:
    """Where the satellite images are; a :class:`FeintError` saying what to provide if nowhere."""
    value = os.environ.get(SATELLITE_ENV)
    if value:
        path = Path(value).expanduser()
        if not path.exists():
            raise FeintError(f"{SATELLITE_ENV} names {value!r}, which does not exist; accepted: {ACCEPTED}")
        return path
    path = feint_home() / "data" / "satellite"
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        raise FeintError(f"the satellite target needs images and has none; {ACCEPTED}")
    return path


def _classes_of(labels: np.ndarray, path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    if labels.dtype.kind in "iu":
        if labels.size and (labels.min() < 0 or labels.max() >= len(SATELLITE_CLASSES)):
            raise FeintError(
                f"{path}: y holds class numbers outside 0..{len(SATELLITE_CLASSES) - 1}; "
                f"accepted: names, or indices into {', '.join(SATELLITE_CLASSES)}"
            )
        return labels.astype(np.int64), SATELLITE_CLASSES
    names = [str(v).strip() for v in labels.tolist()]
    found = sorted(set(names))
    classes = SATELLITE_CLASSES if set(found) <= set(SATELLITE_CLASSES) else tuple(found)
    return np.asarray([classes.index(n) for n in names], np.int64), classes


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("X", "y") if k not in f.files]
            if missing:
                raise FeintError(f"{path} lacks {' and '.join(missing)}; accepted: X (N x 196608 uint8) and y")
            x, y = np.asarray(f["X"]), np.asarray(f["y"])
    except FeintError:
        raise
    except Exception as exc:
        raise FeintError(f"cannot read {path} as .npz: {exc}; {ACCEPTED}") from None
    n = len(x)
    if n == 0 or x.size != n * 3 * SIDE * SIDE or len(y) != n:
        raise FeintError(
            f"{path}: X has shape {x.shape} and y {y.shape}; accepted: X N x {3 * SIDE * SIDE} "
            f"(3x{SIDE}x{SIDE} channels first) and y of N labels"
        )
    x = x.reshape(n, 3, SIDE, SIDE)
    scale = 255.0 if x.dtype == np.uint8 or float(np.max(x)) > 1.0 else 1.0
    labels, classes = _classes_of(y, path)
    return (x.astype(np.float32) / scale), labels, classes


def _read_folders(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    from PIL import Image

    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = {d.name: sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) for d in folders}
    files = {k: v for k, v in files.items() if v}
    if len(files) < 2:
        raise FeintError(
            f"{path} holds images of {len(files)} class(es); accepted: at least two sub-folders "
            f"of images, one per class (e.g. airplane/, stadium/), or a Counterfit .npz"
        )
    classes = tuple(files)
    xs, ys = [], []
    for label, name in enumerate(classes):
        for f in files[name]:
            try:
                with Image.open(f) as img:
                    img = img.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR)
                    xs.append(np.asarray(img, np.float32).transpose(2, 0, 1) / 255.0)
            except OSError as exc:
                kinds = ", ".join(sorted(IMAGE_SUFFIXES))
                raise FeintError(f"cannot read the image {f}: {exc}; accepted: {kinds}") from None
            ys.append(label)
    return np.stack(xs), np.asarray(ys, np.int64), classes


def load_satellite(path: Path | None = None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``(x, y, classes)``: images ``(N, 3, 256, 256)`` float32 in [0, 1], labels, class names."""
    path = satellite_source() if path is None else Path(path)
    if path.is_file():
        return _read_npz(path)
    npz = sorted(path.glob("*.npz"))
    has_folders = any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())
    if npz and not has_folders:
        if len(npz) > 1:
            raise FeintError(f"{path} holds {len(npz)} .npz files; accepted: one, or name it in {SATELLITE_ENV}")
        return _read_npz(npz[0])
    return _read_folders(path)
