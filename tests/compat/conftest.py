"""Counterfit-shaped target folders, both layouts, built from real data and real models.

Counterfit 1.0 kept each target's files beside its module (``targets/creditfraud/``:
``creditfraud.py``, ``creditcard.npz``, ``creditfraud_sklearn_pipeline.pkl``); Counterfit
1.1 keeps the modules in one folder and each target's files in a folder named after it
(``targets/creditfraud.py``, ``targets/creditfraud/creditcard.npz``). The target modules
are this folder's ``counterfit_targets/v1_0`` and ``v1_1`` files; the data are Counterfit's
``creditcard.npz`` (from the shared data folder) and the digits feint ships, the models
feint's own credit-card pipeline and digits network, pickled as Counterfit's targets
expect."""

from __future__ import annotations

import importlib.util
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
MODULES = HERE / "counterfit_targets"
CREDITCARD = Path(__file__).resolve().parents[3] / "shared" / "data" / "counterfit" / "creditcard.npz"
needs_creditcard = pytest.mark.skipif(
    not CREDITCARD.is_file(), reason=f"Counterfit's creditcard.npz is not at {CREDITCARD}"
)


def _digits_files(folder: Path, digits_blackbox) -> None:
    """A pipeline taking 0..255 pixels (a fixed scaling, then feint's network) and 40 held-out digits."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from feint.data.mnist import digits_split

    scale = MinMaxScaler().fit(np.array([[0.0] * 784, [255.0] * 784]))
    model = make_pipeline(scale, digits_blackbox._model)
    _, (x, y) = digits_split()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mnist_sklearn_pipeline.pkl").write_bytes(pickle.dumps(model))
    np.savez(folder / "mnist_784.npz", X=(x[:40].reshape(40, 784) * 255).round().astype(np.float32), y=y[:40])


def _creditfraud_files(folder: Path) -> None:
    from feint.targets import get_target

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "creditfraud_sklearn_pipeline.pkl").write_bytes(pickle.dumps(get_target("creditfraud")._model))
    shutil.copy(CREDITCARD, folder / "creditcard.npz")


@pytest.fixture(scope="session")
def counterfit_folders(tmp_path_factory, digits_blackbox) -> dict[str, Path]:
    """``{"1.0": folder, "1.1": folder}``, each holding that layout's target modules and files."""
    root = tmp_path_factory.mktemp("counterfit")
    v10, v11 = root / "v1_0", root / "v1_1"
    for release, folder in (("v1_0", v10), ("v1_1", v11)):
        folder.mkdir()
        for module in (MODULES / release).glob("*.py"):
            shutil.copy(module, folder / module.name)
    _digits_files(v10, digits_blackbox)
    _digits_files(v11 / "digits_mlp", digits_blackbox)
    if CREDITCARD.is_file():
        _creditfraud_files(v10)
        _creditfraud_files(v11 / "creditfraud")
    return {"1.0": v10, "1.1": v11}


def import_target(path: Path, cls: str):
    """The class ``cls`` of the target module at ``path``, imported as a user's script imports it."""
    name = f"cf_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, cls)
