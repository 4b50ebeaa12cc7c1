"""The scan summary: by attack (the paper's table), by label, by swept value, and the
target's clean accuracy on the attacked samples. All of it is computed from stored
results, so a past scan summarises the same as a fresh one."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from feint.records import RUN_PARAMS, RunResult, ScanResult
from feint.store import trajectories

__all__ = ["by_attack", "by_label", "sweeps", "clean_accuracy", "stats", "RUN_PARAMS", "query_curve", "query_curves"]


def stats(values: list[float], empty: float | None = 0.0) -> dict[str, float | None]:
    if not values:
        return {"min": empty, "avg": empty, "max": empty}
    return {"min": min(values), "avg": sum(values) / len(values), "max": max(values)}


def by_attack(runs: list[RunResult]) -> dict[str, dict[str, Any]]:
    """Per attack: runs, samples, successes, the best score (the highest confidence of a
    successful adversarial label) with its run and parameters, run time and per-sample
    queries (min/avg/max), and the distances of the samples it turned (min/avg/max,
    ``None`` when it turned none)."""
    grouped: dict[str, list[RunResult]] = defaultdict(list)
    for run in runs:
        grouped[run.attack].append(run)
    out = {}
    for attack, rs in grouped.items():
        samples = [s for r in rs for s in r.samples]
        turned = [s for s in samples if s.success]
        best: tuple[float | None, RunResult] | None = None
        for r in rs:
            for s in r.samples:
                if not s.success:
                    continue
                if s.final_conf is None:  # a labels-only target: the first success, no score
                    best = best or (None, r)
                elif best is None or best[0] is None or s.final_conf > best[0]:
                    best = (s.final_conf, r)
        n = len(samples)
        succ = len(turned)
        out[attack] = {
            "framework": rs[0].framework,
            "total_runs": len(rs),
            "samples": n,
            "successes": succ,
            "success_rate": succ / n if n else 0.0,
            "best_score": best[0] if best else None,
            "best_attack_id": best[1].run_id if best else None,
            "best_params": best[1].params if best else None,
            "time_s": stats([r.elapsed_s for r in rs]),
            "queries": stats([float(s.queries) for s in samples]),
            "forward_queries": stats([float(s.forward_queries) for s in samples]),
            "gradient_queries": stats([float(s.gradient_queries) for s in samples]),
            "linf": stats([s.linf for s in turned], empty=None),
            "l2": stats([s.l2 for s in turned], empty=None),
            "l0": stats([float(s.l0) for s in turned], empty=None),
        }
    return out


def by_label(scan: ScanResult) -> dict[str, dict[str, dict[str, Any]]]:
    """Per initial label, per attack: samples and successes."""
    table: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for run in scan.runs:
        for s in run.samples:
            cell = table[s.initial_label].setdefault(run.attack, {"samples": 0, "successes": 0})
            cell["samples"] += 1
            cell["successes"] += int(s.success)
    for row in table.values():
        for cell in row.values():
            cell["success_rate"] = cell["successes"] / cell["samples"]
    return dict(sorted(table.items()))


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def sweeps(runs: list[RunResult]) -> dict[str, dict[str, Any]]:
    """Per attack that ran with several values of one numeric parameter (a sweep):
    ``param`` and ``points``, one per value in increasing order, each with ``value``,
    ``runs``, ``samples``, ``successes``, ``success_rate``, the mean ``linf`` and ``l2``
    of the turned samples (``None`` when none), the mean ``queries`` per sample, and
    ``run_ids``. Found from the stored runs' parameters, so any stored scan has it."""
    grouped: dict[str, list[RunResult]] = defaultdict(list)
    for run in runs:
        grouped[run.attack].append(run)
    out: dict[str, dict[str, Any]] = {}
    for attack, rs in grouped.items():
        if len(rs) < 2:
            continue
        keys = sorted({k for r in rs for k in r.params} - set(RUN_PARAMS))
        varied = [k for k in keys if len({str(r.params.get(k)) for r in rs}) > 1]
        if len(varied) != 1 or any(_number(r.params.get(varied[0])) is None for r in rs):
            continue
        param = varied[0]
        by_value: dict[float, list[RunResult]] = defaultdict(list)
        for r in rs:
            by_value[float(r.params[param])].append(r)
        points = []
        for value in sorted(by_value):
            group = by_value[value]
            samples = [s for r in group for s in r.samples]
            turned = [s for s in samples if s.success]
            points.append(
                {
                    "value": value,
                    "runs": len(group),
                    "samples": len(samples),
                    "successes": len(turned),
                    "success_rate": len(turned) / len(samples) if samples else 0.0,
                    "linf": sum(s.linf for s in turned) / len(turned) if turned else None,
                    "l2": sum(s.l2 for s in turned) / len(turned) if turned else None,
                    "queries": sum(s.queries for s in samples) / len(samples) if samples else 0.0,
                    "run_ids": [r.run_id for r in group],
                }
            )
        out[attack] = {"param": param, "points": points}
    return out


def partial_runs(runs: list[RunResult]) -> list[str]:
    """One line per run with only some of its samples stored (status ``partial``: a budget
    or a stop ended its scan first; a resume runs the rest)."""
    return [
        f"run {r.run_id} ({r.attack}) is partial: {r.n} of {r.metrics.get('samples_planned', '?')} samples"
        + (
            f", {r.metrics['cut_queries']} queries spent on samples a budget cut short"
            if r.metrics.get("cut_queries")
            else ""
        )
        for r in runs
        if r.status == "partial"
    ]


def clean_accuracy(runs: list[RunResult]) -> dict[str, Any] | None:
    """How many attacked samples the target labels right before any attack (each sample
    once); ``None`` when the samples' true labels are unknown."""
    seen: dict[int, bool] = {}
    for run in runs:
        for s in run.samples:
            if s.true_label is not None and s.index not in seen:
                seen[s.index] = s.initial_label == s.true_label
    if not seen:
        return None
    correct = sum(seen.values())
    return {"samples": len(seen), "correct": correct, "accuracy": correct / len(seen)}


def query_curve(run: RunResult) -> dict[str, Any] | None:
    """A closed-box run's median distance against queries (see
    :func:`feint.store.trajectories.query_curve`), read from its stored trajectory; None
    for a run without one (an open-box attack's, or a run kept without artifacts)."""
    return trajectories.query_curve(trajectories.load(run.artifacts))


def query_curves(runs: list[RunResult]) -> dict[str, dict[str, Any]]:
    """Per run id, the run's query curve with its attack, for the runs that have one."""
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        curve = query_curve(run)
        if curve is not None:
            out[run.run_id] = {"attack": run.attack, **curve}
    return out
