"""Closed-box runs' trajectories in the artifacts folder, and the query-distance curve.

A closed-box evasion run keeps, beside its ``adversarial.npz``, a ``trajectory.npz``
(``trajectory.unit<k>.npz`` per unit of a scan's run): for each sample the query count,
and each query at which the sample's closest adversarial input found so far came closer,
with that distance in the attack's norm. The arrays:

- ``indices`` (n): the samples' indices in the target;
- ``queries`` (n): the model rows each sample cost, the runner's first and last
  predictions included (what its result's forward queries say);
- ``event_sample`` (e): the position in ``indices`` of each new best; ``event_query``
  (e): its query number (the runner's first prediction is query 1); ``event_distance``
  (e): the new best distance;
- ``norm``: ``"2"`` or ``"inf"``.

A sample's distance at a budget of ``B`` queries is the last new best with a query
number of at most ``B`` (none: not adversarial within ``B`` queries);
:func:`query_curve` gives the median over the run's samples at each of :data:`BUDGETS`
and at the run's last query; ``None`` stands for a median that is not a distance (half
the samples or more not adversarial yet).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BUDGETS", "save", "load", "query_curve", "medians", "at_budget", "FILE"]

BUDGETS = (100, 250, 500, 1_000, 2_500, 5_000, 10_000)
FILE = "trajectory.npz"
_KEYS = ("indices", "queries", "event_sample", "event_query", "event_distance")


def _unit_file(folder: Path, unit: int) -> Path:
    return folder / f"trajectory.unit{unit}.npz"


def save(folder: Path, arrays: dict[str, Any], unit: int | None = None) -> Path:
    """Write one run's (or unit's) trajectory arrays, whole then moved into place."""
    path = folder / FILE if unit is None else _unit_file(folder, unit)
    tmp = path.with_name(path.stem + ".tmp.npz")
    data: dict[str, Any] = {k: np.asarray(arrays[k]) for k in (*_KEYS, "norm")}
    np.savez_compressed(tmp, **data)
    os.replace(tmp, path)
    return path


def load(folder: str | Path | None) -> dict[str, np.ndarray] | None:
    """A run's trajectory: its ``trajectory.npz``, or its units' files joined (sample
    positions renumbered); None where the run has none."""
    if not folder:
        return None
    folder = Path(folder)
    whole = folder / FILE
    parts = [whole] if whole.exists() else sorted(folder.glob("trajectory.unit*.npz"), key=_unit_number)
    if not parts:
        return None
    out: dict[str, list[np.ndarray]] = {k: [] for k in _KEYS}
    norm = "2"
    base = 0
    try:
        for part in parts:
            with np.load(part) as f:
                for k in _KEYS:
                    out[k].append(f[k] + base if k == "event_sample" else f[k])
                norm = str(f["norm"])
                base += len(f["indices"])
    except (OSError, KeyError, ValueError):
        return None
    arrays = {k: np.concatenate(v) for k, v in out.items()}
    arrays["norm"] = np.asarray(norm)
    return arrays


def _unit_number(path: Path) -> int:
    try:
        return int(path.name.split(".")[1].removeprefix("unit"))
    except (IndexError, ValueError):
        return 0


def at_budget(arrays: dict[str, np.ndarray], budget: int | None = None) -> np.ndarray:
    """Per sample, its closest adversarial distance within ``budget`` queries (None: all
    its queries); ``inf`` where none was adversarial by then."""
    n = len(arrays["indices"])
    out = np.full(n, np.inf)
    keep = np.ones(len(arrays["event_query"]), bool) if budget is None else arrays["event_query"] <= budget
    np.minimum.at(out, arrays["event_sample"][keep], arrays["event_distance"][keep])
    return out


def _median(values: np.ndarray) -> float | None:
    if len(values) == 0:
        return None
    m = float(np.median(values))
    return m if math.isfinite(m) else None


def medians(arrays: dict[str, np.ndarray], budgets: list[int]) -> list[dict[str, Any]]:
    """At each budget, the median over the samples of the distance within it (None where
    half the samples or more were not adversarial yet) and how many were adversarial."""
    out = []
    for budget in budgets:
        d = at_budget(arrays, budget)
        out.append({"queries": int(budget), "median": _median(d), "adversarial": int(np.isfinite(d).sum())})
    return out


def query_curve(arrays: dict[str, np.ndarray] | None) -> dict[str, Any] | None:
    """The run's median distance against queries: at each of :data:`BUDGETS` (a budget
    beyond the run's last query gives what the run ended with) and at its last query (the
    most rows any sample cost)."""
    if arrays is None or len(arrays["indices"]) == 0:
        return None
    last = int(arrays["queries"].max())
    return {
        "norm": "linf" if str(arrays["norm"]) == "inf" else "l2",
        "samples": len(arrays["indices"]),
        "budgets": medians(arrays, list(BUDGETS)),
        "last": medians(arrays, [last])[0],
    }
