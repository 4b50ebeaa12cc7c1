"""Robust accuracy: the summary of a stored evaluation (per budget, clean accuracy and then
the accuracy left after each attack of the ensemble, and which attack turned each sample),
and the robustness curve of a minimal-norm run (robust accuracy against the budget, from
each sample's smallest adversarial distance). Both are computed from stored results only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from feint.records import RunResult, ScanResult

__all__ = [
    "is_evaluation",
    "evaluation_summary",
    "gate_summary",
    "check_evaluation_gates",
    "robustness_curve",
    "curve_runs",
    "GATE_METRICS",
    "DISTANCE_OF_NORM",
]

# Metrics an evaluation's gates read, checked at every budget.
GATE_METRICS = ("robust_accuracy", "clean_accuracy", "samples", "successes", "success_rate")
# Where a sample's distance in each norm is stored: a column, or a measure.
DISTANCE_OF_NORM = {"inf": "linf", "2": "l2", "1": "l1"}


def is_evaluation(scan: ScanResult) -> bool:
    return scan.settings.get("kind") == "evaluate"


def _stage_runs(scan: ScanResult) -> dict[tuple[str, float], RunResult]:
    return {(r.metrics["stage"], float(r.metrics["eps"])): r for r in scan.runs if "stage" in r.metrics}


def evaluation_summary(scan: ScanResult) -> dict[str, Any]:
    """An evaluation's figures: ``samples``, ``clean_accuracy``, ``complete`` (every stage
    stored), and per budget (``budgets``, smallest first) ``eps``, ``robust_accuracy``
    and ``ladder``: the accuracy after the clean pass, after the adversarials of the
    smaller budgets, and after each attack, with the samples it attacked and turned. And
    ``per_sample``: for each sample its true and clean label and, per budget, what broke it
    (``misclassified``, an attack's name, or None where it stood)."""
    settings = scan.settings
    clean = settings["clean"]
    n = int(clean["samples"])
    indices = [int(i) for i in clean["indices"]]
    correct = {int(i) for i in clean["correct"]}
    runs = _stage_runs(scan)
    broken: dict[int, dict[str, Any]] = {}
    budgets = []
    complete = True
    for eps in settings["eps"]:
        standing = [i for i in indices if i in correct and i not in broken]
        ladder: list[dict[str, Any]] = [{"stage": "clean", "attacked": None, "turned": None, "robust": len(correct)}]
        if len(standing) != len(correct):
            ladder.append({"stage": "smaller budgets", "attacked": None, "turned": None, "robust": len(standing)})
        for stage in settings["ensemble"]:
            run = runs.get((stage["name"], float(eps)))
            if run is None:
                if standing:
                    complete = False
                ladder.append({"stage": stage["name"], "attacked": 0, "turned": 0, "robust": len(standing)})
                continue
            turned = {s.index: s for s in run.samples if s.success}
            for idx, s in turned.items():
                broken[idx] = {
                    "stage": stage["name"],
                    "eps": float(eps),
                    "run_id": run.run_id,
                    "final_label": s.final_label,
                    "linf": s.linf,
                    "l2": s.l2,
                }
            standing = [i for i in standing if i not in turned]
            ladder.append({"stage": stage["name"], "attacked": run.n, "turned": len(turned), "robust": len(standing)})
        for row in ladder:
            row["robust_accuracy"] = row["robust"] / n if n else 0.0
        budgets.append(
            {
                "eps": float(eps),
                "robust": len(standing),
                "robust_accuracy": len(standing) / n if n else 0.0,
                "ladder": ladder,
            }
        )
    per_sample = []
    labels = clean.get("clean_labels") or []
    true_of: dict[int, str | None] = {}
    for run in scan.runs:
        for s in run.samples:
            true_of.setdefault(s.index, s.true_label)
    for pos, idx in enumerate(indices):
        by_budget: dict[str, Any] = {}
        for eps in settings["eps"]:
            if idx not in correct:
                by_budget[f"{eps:g}"] = "misclassified"
            elif idx in broken and broken[idx]["eps"] <= eps:
                by_budget[f"{eps:g}"] = broken[idx]["stage"]
            else:
                by_budget[f"{eps:g}"] = None
        per_sample.append(
            {
                "index": idx,
                "true_label": true_of.get(idx),
                "clean_label": labels[pos] if pos < len(labels) else None,
                "broken_by": by_budget,
                "worst_case": broken.get(idx),
            }
        )
    return {
        "norm": settings["norm"],
        "version": settings["version"],
        "samples": n,
        "clean_accuracy": len(correct) / n if n else 0.0,
        "reference": clean.get("reference"),
        "complete": complete,
        "ensemble": settings["ensemble"],
        "skipped": settings.get("skipped", []),
        "budgets": budgets,
        "per_sample": per_sample,
    }


def gate_summary(scan: ScanResult) -> dict[str, dict[str, Any]]:
    """What an evaluation's ``--fail-on`` gates read: per budget (``eps=0.3``) its
    robust and clean accuracy, the samples, and the samples turned (``successes``) over
    those the target labelled right (``success_rate``)."""
    summary = evaluation_summary(scan)
    out = {}
    correct = round(summary["clean_accuracy"] * summary["samples"])
    for b in summary["budgets"]:
        turned = correct - b["robust"]
        out[f"eps={b['eps']:g}"] = {
            "robust_accuracy": b["robust_accuracy"],
            "clean_accuracy": summary["clean_accuracy"],
            "samples": summary["samples"],
            "successes": turned,
            "success_rate": turned / correct if correct else 0.0,
        }
    return out


def check_evaluation_gates(fail_on: Sequence[str]) -> None:
    """Refuse a gate an evaluation cannot check: a bad expression, an attack's name, or a
    metric an evaluation does not have."""
    from feint.report.gate import GateError, _metrics_of, parse_gate

    for text in fail_on:
        gate = parse_gate(text)
        for m in _metrics_of(gate.tree):
            if m.attack is not None or m.name not in GATE_METRICS:
                raise GateError(
                    f"--fail-on {text!r}: an evaluation's gates read {', '.join(GATE_METRICS)} "
                    "(checked at every budget), without an attack's name"
                )


def curve_runs(runs: Sequence[RunResult]) -> list[RunResult]:
    """The runs a robustness curve can be drawn from: untargeted minimal-norm (fmn) runs."""
    return [r for r in runs if r.attack == "fmn" and not r.params.get("targeted")]


def robustness_curve(run: RunResult, points: int = 0) -> dict[str, Any]:
    """Robust accuracy against the budget from one minimal-norm run: at each budget, the
    share of the run's samples that the target labels right (by their true labels, where
    known) and that no adversarial within that distance of the run's norm was found for.
    ``curve``: ``(eps, robust_accuracy)`` at 0 and at each distance found, smallest first
    (``points`` > 0: at that many evenly spaced budgets up to the largest distance)."""
    norm = str(run.params.get("norm", "2"))
    column = DISTANCE_OF_NORM.get(norm, "l2")
    n = len(run.samples)
    wrong = sum(1 for s in run.samples if s.true_label is not None and s.initial_label != s.true_label)
    dist = []
    for s in run.samples:
        if s.true_label is not None and s.initial_label != s.true_label:
            continue
        if s.success:
            d = s.measures.get(column) if column == "l1" else getattr(s, column)
            if d is not None:
                dist.append(float(d))
    dist.sort()
    standing = n - wrong
    never = standing - len(dist)
    if points > 0 and dist:
        top = dist[-1]
        grid = [top * k / points for k in range(points + 1)]
        curve = [(e, (standing - sum(1 for d in dist if d <= e)) / n if n else 0.0) for e in grid]
    else:
        curve = [(0.0, (standing - sum(1 for d in dist if d <= 0)) / n if n else 0.0)]
        for k, d in enumerate(dist):
            curve.append((d, (standing - (k + 1)) / n if n else 0.0))
    return {
        "run_id": run.run_id,
        "norm": norm,
        "distance": column,
        "samples": n,
        "misclassified": wrong,
        "never_turned": never,
        "median_distance": dist[len(dist) // 2] if dist else None,
        "curve": curve,
    }


def accuracy_at(curve: Mapping[str, Any], eps: float) -> float:
    """The robust accuracy a curve gives at budget ``eps``."""
    value = curve["curve"][0][1]
    for e, acc in curve["curve"]:
        if e <= eps:
            value = acc
    return value
