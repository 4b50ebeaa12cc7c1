"""The scan summary: by attack (the paper's table), by label, by swept value, and the
target's clean accuracy on the attacked samples. All of it is computed from stored
results, so a past scan summarises the same as a fresh one."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from feint.records import RUN_PARAMS, RunResult, ScanResult
from feint.store import trajectories

__all__ = [
    "by_attack",
    "by_label",
    "sweeps",
    "clean_accuracy",
    "corruptions",
    "stats",
    "RUN_PARAMS",
    "query_curve",
    "query_curves",
]


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
        labelled = [s for s in samples if s.true_label is not None]
        out[attack] = {
            "framework": rs[0].framework,
            "total_runs": len(rs),
            "samples": n,
            "successes": succ,
            "success_rate": succ / n if n else 0.0,
            # the share of its outputs the target labels right (None: no true labels)
            "accuracy": sum(s.final_label == s.true_label for s in labelled) / len(labelled) if labelled else None,
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
    or a stop ended its scan first, or its endpoint's query budget stopped the run; a
    resume runs the rest)."""
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


def corruptions(scan: ScanResult) -> dict[str, Any] | None:
    """A corruption suite's summary (``feint scan --suite corruptions``), from the stored
    runs and the suite the scan's settings name: per corruption (``families``, each with its
    ``attack``, ``mean`` and per severity ``samples``, ``correct`` and ``accuracy``), the
    ``mean`` over every corruption and severity, the ``worst`` corruption (lowest mean) and
    ``clean`` accuracy. A sample is right when its corrupted label is its true label, or,
    for samples without true labels, its clean label (``judged_by``: ``true labels`` or
    ``clean labels``). ``None`` for a scan that is no suite."""
    suite = scan.settings.get("suite")
    if not isinstance(suite, dict):
        return None
    families: dict[str, str] = suite.get("families", {})
    samples = [smp for r in scan.runs for smp in r.samples]
    truth = bool(samples) and all(smp.true_label is not None for smp in samples)
    table: dict[str, dict[str, Any]] = {}
    for attack, family in families.items():
        cells: dict[int, dict[str, Any]] = {}
        for run in scan.runs:
            if run.attack != attack:
                continue
            level = int(run.params.get("severity", 0) or 0)
            cell = cells.setdefault(level, {"samples": 0, "correct": 0})
            for smp in run.samples:
                cell["samples"] += 1
                cell["correct"] += int(smp.final_label == (smp.true_label if truth else smp.initial_label))
        for cell in cells.values():
            cell["accuracy"] = cell["correct"] / cell["samples"] if cell["samples"] else None
        accs = [c["accuracy"] for c in cells.values() if c["accuracy"] is not None]
        table[family] = {
            "attack": attack,
            "severities": {k: cells[k] for k in sorted(cells)},
            "mean": sum(accs) / len(accs) if accs else None,
        }
    means = {f: t["mean"] for f, t in table.items() if t["mean"] is not None}
    worst = min(means, key=lambda f: means[f]) if means else None
    clean = clean_accuracy(scan.runs) if truth else None
    return {
        "suite": suite.get("name"),
        "judged_by": "true labels" if truth else "clean labels",
        "clean": clean["accuracy"] if clean else (1.0 if samples else None),
        "families": table,
        "mean": sum(means.values()) / len(means) if means else None,
        "worst": worst,
        "worst_accuracy": means.get(worst) if worst else None,
    }


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
