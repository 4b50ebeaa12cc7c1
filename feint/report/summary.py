"""The scan summary: by attack (the paper's table) and by label."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from feint.engine.results import RunResult, ScanResult

__all__ = ["by_attack", "by_label", "stats"]


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"min": 0.0, "avg": 0.0, "max": 0.0}
    return {"min": min(values), "avg": sum(values) / len(values), "max": max(values)}


def by_attack(runs: list[RunResult]) -> dict[str, dict[str, Any]]:
    """Per attack: runs, samples, successes, the best score (the highest confidence of a
    successful adversarial label) with its run and parameters, run time and per-sample
    queries (min/avg/max)."""
    grouped: dict[str, list[RunResult]] = defaultdict(list)
    for run in runs:
        grouped[run.attack].append(run)
    out = {}
    for attack, rs in grouped.items():
        samples = [s for r in rs for s in r.samples]
        best = None
        for r in rs:
            for s in r.samples:
                if s.success and (best is None or s.final_conf > best[0]):
                    best = (s.final_conf, r)
        n = len(samples)
        succ = sum(s.success for s in samples)
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
