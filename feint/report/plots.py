"""Plots for the HTML report, drawn with matplotlib's Agg renderer and embedded as
base64 PNG data URIs. matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

import base64
import io
from typing import Any

from feint.records import RunResult

__all__ = ["robustness_curves", "corruption_curves", "distance_distributions", "query_distance_curves", "png_data_uri"]

_DPI = 110


def png_data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # the object API: no pyplot, no global backend state

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def _encode(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return png_data_uri(buf.getvalue())


def robustness_curves(sweeps: dict[str, dict[str, Any]]) -> str | None:
    """Success rate against the swept value, one line per attack, one panel per swept
    parameter; ``None`` when the scan swept nothing."""
    if not sweeps:
        return None
    by_param: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
    for attack, sw in sweeps.items():
        by_param.setdefault(sw["param"], []).append((attack, sw["points"]))
    fig = _figure(5.2 * len(by_param), 3.6)
    axes = fig.subplots(1, len(by_param), squeeze=False)[0]
    for ax, (param, lines) in zip(axes, by_param.items()):
        for attack, points in lines:
            xs = [p["value"] for p in points]
            ys = [100 * p["success_rate"] for p in points]
            ax.plot(xs, ys, marker="o", label=attack)
            for x, y, p in zip(xs, ys, points):
                ax.annotate(
                    f"{p['successes']}/{p['samples']}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=7,
                )
        ax.set_xlabel(param)
        ax.set_ylabel("success rate [%]")
        ax.set_ylim(-5, 110)
        ax.grid(True, alpha=0.3)
        ax.set_title(f"Robustness curve: success against {param}", fontsize=10)
        ax.legend(fontsize=8)
    return _encode(fig)


def corruption_curves(summary: dict[str, Any]) -> str | None:
    """Accuracy against severity, one line per corruption, the clean accuracy at severity
    0 (:func:`feint.report.summary.corruptions`); ``None`` when there is nothing to draw."""
    families = summary.get("families") or {}
    if not families:
        return None
    fig = _figure(7.5, 4.4)
    ax = fig.subplots()
    clean = summary.get("clean")
    markers = "os^vD<>pXh*"
    for k, (family, f) in enumerate(families.items()):
        levels = sorted(f["severities"])
        xs = ([0] if clean is not None else []) + levels
        ys = ([100 * clean] if clean is not None else []) + [
            100 * (f["severities"][v]["accuracy"] or 0) for v in levels
        ]
        ax.plot(xs, ys, marker=markers[k % len(markers)], linestyle="-" if k < 10 else "--", label=family)
    ax.set_xlabel("severity (0: clean)")
    ax.set_ylabel("accuracy [%]")
    ax.set_ylim(-5, 105)
    ax.set_xticks(range(0, 6))
    ax.grid(True, alpha=0.3)
    ax.set_title("Accuracy against corruption severity", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _encode(fig)


def distance_distributions(runs: list[RunResult]) -> str | None:
    """Per attack, the Linf, L2 and L0 distances of the samples it turned, and the
    queries per sample of every sample; ``None`` when there are no samples."""
    grouped: dict[str, list] = {}
    for run in runs:
        grouped.setdefault(run.attack, []).extend(run.samples)
    if not any(grouped.values()):
        return None
    names = list(grouped)
    panels = [
        ("Linf (turned samples)", lambda s: s.linf, True),
        ("L2 (turned samples)", lambda s: s.l2, True),
        ("L0: features changed (turned samples)", lambda s: float(s.l0), True),
        ("queries per sample (all samples)", lambda s: float(s.queries), False),
    ]
    fig = _figure(max(7.0, 1.3 * len(names) * 2 + 3), 5.6)
    axes = fig.subplots(2, 2).ravel()
    for ax, (title, get, turned_only) in zip(axes, panels):
        data = [[get(s) for s in grouped[n] if s.success or not turned_only] for n in names]
        positions = [i + 1 for i, d in enumerate(data) if d]
        if positions:
            ax.boxplot([d for d in data if d], positions=positions, widths=0.5, showfliers=False)
            for pos, d in zip(positions, [d for d in data if d]):
                jitter = [pos + 0.12 * ((k * 0.618) % 1 - 0.5) for k in range(len(d))]
                ax.scatter(jitter, d, s=10, alpha=0.6, zorder=3)
        for i, d in enumerate(data):
            if not d:
                ax.text(
                    i + 1,
                    0.5,
                    "none turned",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="grey",
                    transform=ax.get_xaxis_transform(),
                )
        ax.set_xticks(range(1, len(names) + 1), names, fontsize=8)
        ax.set_xlim(0.4, len(names) + 0.6)
        ax.set_title(title, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    return _encode(fig)


def query_distance_curves(runs: list[RunResult], labels: dict[str, str] | None = None) -> str | None:
    """Median distance against queries per sample, one line per closed-box run (named by
    its attack, or ``labels[run_id]``), one panel per norm, queries on a log scale; a line
    starts where half the samples were adversarial. ``None`` when no run has a trajectory."""
    import numpy as np

    from feint.store import trajectories

    lines: dict[str, list[tuple[str, list[int], list[float]]]] = {}
    for run in runs:
        arrays = trajectories.load(run.artifacts)
        if arrays is None or len(arrays["indices"]) == 0:
            continue
        last = int(arrays["queries"].max())
        grid = sorted({int(q) for q in np.unique(np.geomspace(1, max(last, 2), 80).round())} | {last})
        points = [(p["queries"], p["median"]) for p in trajectories.medians(arrays, grid) if p["median"]]
        if not points:  # half the samples or more never adversarial: no median to draw
            continue
        norm = "Linf" if str(arrays["norm"]) == "inf" else "L2"
        name = (labels or {}).get(run.run_id, run.attack)
        lines.setdefault(norm, []).append((name, [q for q, _ in points], [m for _, m in points]))
    if not lines:
        return None
    fig = _figure(5.6 * len(lines), 3.8)
    axes = fig.subplots(1, len(lines), squeeze=False)[0]
    for ax, (norm, curves) in zip(axes, lines.items()):
        for name, xs, ys in curves:
            ax.plot(xs, ys, label=name, drawstyle="steps-post")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("queries per sample")
        ax.set_ylabel(f"median {norm} of the closest adversarial")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title(f"Median {norm} distance against queries", fontsize=10)
        ax.legend(fontsize=8)
    return _encode(fig)


def accuracy_curves(curves: list[dict[str, Any]], evaluation: dict[str, Any] | None = None) -> str | None:
    """Robust accuracy against the budget: a step line per minimal-norm run (from each
    sample's smallest adversarial distance) and an evaluation's points per budget; ``None``
    when there is neither."""
    if not curves and not evaluation:
        return None
    fig = _figure(5.6, 3.6)
    ax = fig.subplots()
    for c in curves:
        xs = [e for e, _ in c["curve"]]
        ys = [100 * a for _, a in c["curve"]]
        ax.step(xs, ys, where="post", label=f"fmn L{c['norm']} (run {c['run_id']})")
    if evaluation:
        xs = [b["eps"] for b in evaluation["budgets"]]
        ys = [100 * b["robust_accuracy"] for b in evaluation["budgets"]]
        ax.plot(xs, ys, marker="o", label=f"evaluate, {evaluation['version']} (L{evaluation['norm']})")
    ax.set_xlabel("budget eps")
    ax.set_ylabel("robust accuracy [%]")
    ax.set_ylim(-5, 105)
    ax.grid(True, alpha=0.3)
    ax.set_title("Robust accuracy against the budget", fontsize=10)
    ax.legend(fontsize=8)
    return _encode(fig)
