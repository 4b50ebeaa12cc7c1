"""JUnit XML for CI systems: a scan is a test suite and each attack a test case that
fails when a ``--fail-on`` gate fails for it, so CI shows a failing attack natively."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from feint.records import ScanResult
from feint.report.summary import by_attack

__all__ = ["render_junit"]


def _attack_text(name: str, a: dict[str, Any]) -> str:
    best = f"{a['best_score']:.4f} (run {a['best_attack_id']})" if a["best_score"] is not None else "-"
    q = a["queries"]
    return (
        f"{name}: {a['successes']}/{a['samples']} samples turned ({100 * a['success_rate']:.1f}%) "
        f"in {a['total_runs']} run(s); best score {best}; "
        f"queries per sample min/avg/max {q['min']:.0f}/{q['avg']:.1f}/{q['max']:.0f}"
    )


def render_junit(scan: ScanResult, gates: list[dict[str, Any]], kind: str = "scan") -> str:
    """The XML text: one ``testsuite`` for the scan (or run), one ``testcase`` per attack,
    a ``failure`` per gate that fails for it, and ``skipped`` for a planned attack that
    did not run (an interrupted scan)."""
    summary = by_attack(scan.runs)
    planned = [a for a in scan.settings.get("attacks", []) if a not in summary]
    failures = {name: [g for g in gates if name in g["attacks"]] for name in summary}
    n_failed = sum(1 for v in failures.values() if v)
    total_time = sum(r.elapsed_s for r in scan.runs)
    root = ET.Element(
        "testsuites",
        name="feint",
        tests=str(len(summary) + len(planned)),
        failures=str(n_failed),
        errors="0",
        skipped=str(len(planned)),
        time=f"{total_time:.3f}",
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"feint {kind} {scan.scan_id} of {scan.target}",
        tests=str(len(summary) + len(planned)),
        failures=str(n_failed),
        errors="0",
        skipped=str(len(planned)),
        time=f"{total_time:.3f}",
        timestamp=scan.started_at,
    )
    props = ET.SubElement(suite, "properties")
    for key, value in [
        ("target", scan.target),
        (f"{kind}_id", scan.scan_id),
        ("status", scan.settings.get("status", "done")),
        ("seed", ",".join(str(s) for s in sorted({r.seed for r in scan.runs}))),
    ] + [("fail_on", g["expr"]) for g in gates]:
        ET.SubElement(props, "property", name=key, value=str(value))
    for name, a in summary.items():
        runs = [r for r in scan.runs if r.attack == name]
        case = ET.SubElement(
            suite, "testcase", classname=f"feint.{scan.target}", name=name, time=f"{sum(r.elapsed_s for r in runs):.3f}"
        )
        for g in failures[name]:
            read = g.get("values", {}).get(name, {})
            shown = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in read.items())
            fail = ET.SubElement(
                case, "failure", type="feint.gate", message=f"{g['expr']}" + (f" ({shown})" if shown else "")
            )
            fail.text = f"gate --fail-on {g['expr']!r} holds for {name}\n{_attack_text(name, a)}"
        out = ET.SubElement(case, "system-out")
        out.text = _attack_text(name, a) + "\nruns: " + ", ".join(f"{r.run_id} ({r.successes}/{r.n})" for r in runs)
    for name in planned:
        case = ET.SubElement(suite, "testcase", classname=f"feint.{scan.target}", name=name, time="0")
        ET.SubElement(case, "skipped", message=f"not run: the {kind} stopped before it")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
