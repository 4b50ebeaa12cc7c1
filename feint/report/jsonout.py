"""The JSON documents that ``--json`` prints and ``show --json`` reprints (keys in the README)."""

from __future__ import annotations

from typing import Any

from feint.engine.results import RunResult, ScanResult
from feint.report.summary import by_attack, by_label

__all__ = ["run_document", "scan_document", "SCHEMA"]

SCHEMA = "feint/1"


def run_document(run: RunResult) -> dict[str, Any]:
    return {"schema": SCHEMA, "kind": "run", **run.to_dict()}


def scan_document(scan: ScanResult, with_labels: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": "scan",
        "scan_id": scan.scan_id,
        "target": scan.target,
        "target_info": scan.target_info,
        "started_at": scan.started_at,
        "settings": scan.settings,
        "attacks": by_attack(scan.runs),
        "runs": [r.to_dict() for r in scan.runs],
    }
    if with_labels:
        doc["by_label"] = by_label(scan)
    return doc
