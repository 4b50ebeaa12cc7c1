"""Counterfit's tabular target: credit-card fraud, a scikit-learn pipeline, closed-box.

A ``StandardScaler`` and a gradient-boosted tree ensemble (``HistGradientBoostingClassifier``)
over the 30 columns of the Kaggle credit-card schema (``Time``, ``V1`` .. ``V28``,
``Amount``), classes ``benign`` and ``fraud``. It is trained in memory on every load
(a few seconds; nothing is unpickled):

- on Kaggle's ``creditcard.csv`` when the user has it (``FEINT_CREDITFRAUD_CSV``, or
  ``$FEINT_HOME/data/creditcard.csv``);
- otherwise on a SYNTHETIC stand-in with the same columns (see
  :func:`feint.data.creditcard.synthetic`); every description and report says so.

Its samples are held-out transactions, half of them fraud (labelled), or, when
``FEINT_CREDITFRAUD_NPZ`` names Counterfit's ``creditcard.npz``, that file's rows
(unlabelled).

Bounds: feint's bounds are one range for every feature, and these features have very
different ranges (the ``V`` components a few units around 0, ``Amount`` up to 25,691,
``Time`` up to 172,800 s), so the range spans all of them: from -120 (below the lowest
component value in the Kaggle data, -113.7) to 172,800 (two days in seconds), widened
if the data at hand goes beyond. Attacks may move any feature anywhere in that range,
as Counterfit's did; the "% Euclidean distance" of each result says how far they went.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from feint.data.creditcard import (
    COLUMNS,
    CREDITFRAUD_CLASSES,
    CSV_ENV,
    csv_path,
    read_kaggle_csv,
    read_samples_npz,
    samples_path,
    synthetic,
)
from feint.targets.base import Target

__all__ = ["CreditFraud", "HELD_OUT_FRACTION"]

HELD_OUT_FRACTION = 0.25
MAX_ITER = 100


def _split(y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out indices, stratified by class."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * HELD_OUT_FRACTION))
        held.append(idx[:k])
        train.append(idx[k:])
    return np.concatenate(train), np.concatenate(held)


class CreditFraud(Target):
    """Credit-card fraud: StandardScaler + gradient boosting over the Kaggle schema; closed-box."""

    target_name = "creditfraud"
    data_type = "tabular"
    input_shape = (len(COLUMNS),)
    output_classes = CREDITFRAUD_CLASSES
    bounds = (-120.0, 172_800.0)
    feature_names = COLUMNS
    columns = COLUMNS
    description = (
        "StandardScaler + gradient boosting, credit-card fraud (Kaggle columns); SYNTHETIC data unless "
        f"{CSV_ENV} or $FEINT_HOME/data/creditcard.csv gives Kaggle's CSV; closed-box"
    )

    def __init__(self) -> None:
        super().__init__()
        self._model: Any = None

    def load(self) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        source = csv_path()
        npz = samples_path()
        given = read_samples_npz(npz) if npz is not None else None  # a bad file fails before training
        if source is not None:
            x, y = read_kaggle_csv(source)
            data = f"Kaggle credit-card transactions from {source}"
        else:
            x, y = synthetic()
            data = (
                f"SYNTHETIC stand-in in the Kaggle schema (seeded, {len(y):,} rows, "
                f"{int(y.sum())} fraud); set {CSV_ENV} to Kaggle's creditcard.csv for the real data"
            )
        if len(np.unique(y)) < 2:
            from feint.errors import FeintError

            raise FeintError(f"{source}: the data holds one class only; accepted: benign (0) and fraud (1) rows")
        train, held = _split(y)
        model = make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=MAX_ITER, random_state=0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x[train], y[train])
        self._model = model

        hx, hy = x[held], y[held]
        pred = model.predict(hx)
        info: dict[str, Any] = {
            "model": f"StandardScaler + HistGradientBoostingClassifier(max_iter={MAX_ITER})",
            "data": data,
            "synthetic": source is None,
            "trained_on": int(len(train)),
            "held_out_accuracy": float(np.mean(pred == hy)),
            "held_out_fraud_recall": float(np.mean(pred[hy == 1] == 1)),
            "features": list(COLUMNS),
        }
        if given is not None:
            self.X, self.y = given, None
            info["samples_from"] = f"{npz} (unlabelled)"
        else:
            # Every held-out fraud and as many held-out benign rows, mixed: attacks meet both.
            rng = np.random.default_rng(1)
            fraud = np.flatnonzero(hy == 1)
            benign = rng.choice(np.flatnonzero(hy == 0), len(fraud), replace=False)
            order = rng.permutation(np.concatenate([fraud, benign]))
            self.X, self.y = hx[order], hy[order]
            info["samples_from"] = f"held-out rows: {len(fraud)} fraud and {len(benign)} benign, mixed"
        lo, hi = type(self).bounds
        seen_lo, seen_hi = float(min(x.min(), self.X.min())), float(max(x.max(), self.X.max()))
        self.bounds = (float(min(lo, np.floor(seen_lo))), float(max(hi, np.ceil(seen_hi))))
        self.info = info

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.ensure_loaded()
        x = np.asarray(x, np.float32).reshape(len(x), -1)
        return self._model.predict_proba(x).astype(np.float32)
