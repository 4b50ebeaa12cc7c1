"""Credit-card transactions in the Kaggle schema: the real data when the user has it, a
synthetic stand-in when not.

The Kaggle "Credit Card Fraud Detection" set (``creditcard.csv``: columns ``Time``,
``V1`` .. ``V28``, ``Amount``, ``Class``) cannot be downloaded here and ships with no
package. feint reads it from the path in ``FEINT_CREDITFRAUD_CSV``, else from
``$FEINT_HOME/data/creditcard.csv``. Without it, :func:`synthetic` generates a stand-in
with the same 30 columns, deterministically (seeded).

Samples to attack may also come from Counterfit's ``creditcard.npz`` (key ``X``,
``N x 30`` float32, the same columns, no labels), named by ``FEINT_CREDITFRAUD_NPZ``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from feint.config import feint_home
from feint.errors import FeintError

__all__ = [
    "COLUMNS",
    "CREDITFRAUD_CLASSES",
    "TWO_DAYS_S",
    "CSV_ENV",
    "NPZ_ENV",
    "csv_path",
    "samples_path",
    "read_kaggle_csv",
    "read_samples_npz",
    "synthetic",
]

COLUMNS = ("Time", *(f"V{i}" for i in range(1, 29)), "Amount")
CREDITFRAUD_CLASSES = ("benign", "fraud")
TWO_DAYS_S = 172_800.0  # the Kaggle set spans two days, Time in seconds from the first
CSV_ENV = "FEINT_CREDITFRAUD_CSV"
NPZ_ENV = "FEINT_CREDITFRAUD_NPZ"
KAGGLE_MAX_AMOUNT = 25_691.16


def _named_file(env: str, what: str) -> Path | None:
    value = os.environ.get(env)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise FeintError(f"{env} names {value!r}, which is not a file; accepted: the path of {what}")
    return path


def csv_path() -> Path | None:
    """The Kaggle CSV to train on: ``$FEINT_CREDITFRAUD_CSV``, else
    ``$FEINT_HOME/data/creditcard.csv`` if it exists, else ``None`` (synthetic data)."""
    named = _named_file(CSV_ENV, "Kaggle's creditcard.csv")
    if named is not None:
        return named
    default = feint_home() / "data" / "creditcard.csv"
    return default if default.is_file() else None


def samples_path() -> Path | None:
    """Counterfit's ``creditcard.npz`` named by ``$FEINT_CREDITFRAUD_NPZ``, or ``None``."""
    return _named_file(NPZ_ENV, "a creditcard.npz (key X, N x 30)")


def read_kaggle_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` from a Kaggle-schema CSV: X ``(N, 30)`` float32 in :data:`COLUMNS` order,
    y int64 (0 benign, 1 fraud)."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except Exception as exc:  # unreadable, not CSV
        raise FeintError(f"cannot read {path} as CSV: {exc}; accepted: Kaggle's creditcard.csv") from None
    missing = [c for c in (*COLUMNS, "Class") if c not in frame.columns]
    if missing:
        raise FeintError(
            f"{path} lacks the column(s) {', '.join(missing)}; accepted: a CSV with columns "
            "Time, V1..V28, Amount, Class (Kaggle's creditcard.csv)"
        )
    try:
        x = frame[list(COLUMNS)].to_numpy(np.float32)
        y = frame["Class"].astype(str).str.strip().str.strip('"').astype(int).to_numpy(np.int64)
    except (ValueError, TypeError) as exc:
        raise FeintError(f"{path} has a non-numeric value ({exc}); accepted: numbers, Class 0 or 1") from None
    if not np.isin(y, (0, 1)).all():
        raise FeintError(f"{path}: Class must be 0 (benign) or 1 (fraud); found {sorted(set(y.tolist()))[:5]}")
    if not np.isfinite(x).all():
        raise FeintError(f"{path} holds empty or infinite values; accepted: a complete numeric table")
    return x, y


def read_samples_npz(path: Path) -> np.ndarray:
    """The samples of a Counterfit ``creditcard.npz``: key ``X``, ``(N, 30)``, as float32."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if "X" not in f:
                raise FeintError(
                    f"{path} has no array 'X' (it has {', '.join(f.files) or 'none'}); "
                    "accepted: Counterfit's creditcard.npz, key X, N x 30"
                )
            x = np.asarray(f["X"])
    except FeintError:
        raise
    except Exception as exc:
        raise FeintError(f"cannot read {path} as .npz: {exc}; accepted: Counterfit's creditcard.npz") from None
    if x.ndim != 2 or x.shape[1] != len(COLUMNS) or len(x) == 0:
        raise FeintError(f"{path}: X has shape {x.shape}; accepted: N x {len(COLUMNS)} (Time, V1..V28, Amount)")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise FeintError(f"{path}: X holds NaN or infinite values; accepted: finite numbers")
    return x


def synthetic(n: int = 20_000, fraud_rate: float = 0.03, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic stand-in for the Kaggle data: ``(X, y)`` in the same 30 columns.

    - ``V1`` .. ``V28`` are independent, zero-mean normal components whose spread falls
      from about 1.9 to 0.3, as the variances of principal components do. Fraud rows
      are drawn around a shifted mean along seven components (``V3``, ``V4``, ``V10``,
      ``V11``, ``V12``, ``V14``, ``V17``, the ones that separate fraud in the Kaggle
      data), by a per-row severity, with wider spread: most are separable, the mild
      ones overlap the benign cloud.
    - ``Amount`` is log-normal (cents), fraud a mix of small test charges and large ones.
    - ``Time`` is in seconds over two days, with the day's rhythm (quiet nights);
      fraud is spread more evenly over the hours.
    - ``fraud_rate`` of the rows are fraud (3 percent by default: 600 of 20,000).
    """
    rng = np.random.default_rng(seed)
    n_fraud = int(round(n * fraud_rate))
    y = np.zeros(n, np.int64)
    y[rng.choice(n, n_fraud, replace=False)] = 1
    fraud = y == 1

    spread = np.linspace(1.9, 0.3, 28)
    v = rng.standard_normal((n, 28)) * spread
    shift = np.zeros(28)
    for col, mean in {3: -2.4, 4: 2.0, 10: -2.2, 11: 1.8, 12: -2.4, 14: -2.8, 17: -2.2}.items():
        shift[col - 1] = mean
    severity = rng.uniform(0.3, 1.4, n_fraud)[:, None]
    v[fraud] = v[fraud] * 1.4 + severity * shift * spread

    amount: np.ndarray = rng.lognormal(3.0, 1.4, n)
    small = rng.random(n_fraud) < 0.5
    amount[fraud] = np.where(small, rng.lognormal(0.3, 0.8, n_fraud), rng.lognormal(4.8, 1.1, n_fraud))
    amount = np.round(np.clip(amount, 0.0, KAGGLE_MAX_AMOUNT), 2)

    day_rhythm = np.array([3, 2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 8, 7, 6, 4], float)
    hours = np.where(
        fraud,
        rng.choice(24, n, p=np.sqrt(day_rhythm) / np.sqrt(day_rhythm).sum()),
        rng.choice(24, n, p=day_rhythm / day_rhythm.sum()),
    )
    time_s = rng.integers(0, 2, n) * 86_400 + hours * 3_600 + rng.integers(0, 3_600, n)

    x = np.column_stack([time_s, v, amount]).astype(np.float32)
    return x, y
