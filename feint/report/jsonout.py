"""The JSON documents that ``--json`` prints, ``show --json`` reprints and ``report
--format json`` writes, and the JSON Lines export (keys in the README).

Every document is built from a stored (or storable) result only, so a past scan gives
the same document as the scan printed when it finished."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from typing import Any

from feint.records import RunResult, ScanResult
from feint.report.summary import by_attack, by_label, clean_accuracy, corruptions, query_curve, sweeps

__all__ = ["run_document", "scan_document", "gate_results", "jsonl_records", "dumps", "finite", "SCHEMA"]

SCHEMA = "feint/1"


def dumps(doc: Any, indent: int | None = 2) -> str:
    """The text of a document, as ``--json`` prints it: strict JSON, a number that is not
    finite (a store written before scores were checked may hold one) written as ``null``,
    never as ``NaN`` or ``Infinity``, which JSON does not have."""
    return json.dumps(finite(doc), indent=indent, allow_nan=False)


def finite(value: Any) -> Any:
    """``value`` with every float that is NaN or infinite replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _run(run: RunResult) -> dict[str, Any]:
    """A run's JSON: its record, and for a closed-box run its median distance against
    queries (``query_curve``, None for any other run)."""
    return {**run.to_dict(), "query_curve": query_curve(run)}


def run_document(run: RunResult) -> dict[str, Any]:
    return {"schema": SCHEMA, "kind": "run", **_run(run)}


def gate_results(scan: ScanResult, fail_on: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The ``--fail-on`` gates (by default those the scan was started with) checked
    against the scan's summary by attack."""
    from feint.report.gate import evaluate_gates
    from feint.report.robustness import gate_summary, is_evaluation

    exprs = scan.settings.get("fail_on", []) if fail_on is None else fail_on
    summary = gate_summary(scan) if is_evaluation(scan) else by_attack(scan.runs)
    return [g.to_dict() for g in evaluate_gates(exprs, summary)]


def scan_document(scan: ScanResult, with_labels: bool = True, fail_on: Sequence[str] | None = None) -> dict[str, Any]:
    """The scan document. ``with_labels`` is kept for callers of the first version;
    ``by_label`` is always there now, so the document has one shape."""
    from feint.report.robustness import curve_runs, evaluation_summary, is_evaluation, robustness_curve

    extra: dict[str, Any] = {}
    if is_evaluation(scan):
        extra["evaluation"] = evaluation_summary(scan)
    curves = [robustness_curve(r) for r in curve_runs(scan.runs)]
    if curves:
        extra["robustness_curves"] = curves
    return {
        "schema": SCHEMA,
        "kind": "scan",
        "scan_id": scan.scan_id,
        "target": scan.target,
        "target_info": scan.target_info,
        "started_at": scan.started_at,
        "settings": scan.settings,
        "clean_accuracy": clean_accuracy(scan.runs),
        "attacks": by_attack(scan.runs),
        "by_label": by_label(scan),
        "sweeps": sweeps(scan.runs),
        "corruptions": corruptions(scan),
        "gates": gate_results(scan, fail_on),
        **extra,
        "runs": [_run(r) for r in scan.runs],
    }


def jsonl_records(runs: Sequence[RunResult]) -> Iterator[dict[str, Any]]:
    """One record per sample result, with its run's context."""
    for run in runs:
        context = {
            "schema": SCHEMA,
            "kind": "sample",
            "scan_id": run.scan_id,
            "run_id": run.run_id,
            "target": run.target,
            "attack": run.attack,
            "framework": run.framework,
            "family": getattr(run, "family", "evasion"),
            "params": run.params,
            "seed": run.seed,
        }
        for s in run.samples:
            yield {**context, **s.to_dict(), "queries": s.queries}
