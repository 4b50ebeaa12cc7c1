"""The HTML report: one self-contained file (styles inline, every image a data URI, no
script, nothing fetched), rendered with Jinja2 from a stored scan or run.

Sections: the target (model, data, clean accuracy on the samples), the scan's
parameters and seeds, the gates, the summary by attack and by label, the robustness
curve (when a parameter was swept), the distribution of distances, the median distance
against queries of the closed-box runs (one line per run on one plot), and per attack a
gallery of samples: original, adversarial and the amplified perturbation for images,
the most changed features for tabular data, with labels, confidences, distances and
query counts."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from feint import __version__, textdiff
from feint.measures import lookup
from feint.records import RunResult, SampleResult, ScanResult, show_value, shown_params
from feint.report.summary import (
    RUN_PARAMS,
    by_attack,
    by_label,
    clean_accuracy,
    corruptions,
    partial_runs,
    query_curves,
    sweeps,
)

__all__ = ["render_html", "gallery_cards", "GALLERY_SIZE", "MAX_GALLERY"]

GALLERY_SIZE = 8  # samples shown per run
MAX_GALLERY = 1000  # the most samples a gallery may be asked to show per run
TOP_FEATURES = 8  # changed features shown per tabular sample
_IMAGE_ORDER = ("original", "adversarial", "perturbation")  # then any other kind a run stored


def _inline(path: str | None) -> str | None:
    """A stored PNG as a data URI, or ``None`` when it is not there any more."""
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _arrays(run: RunResult) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Original and adversarial inputs by sample index, from the run's stored arrays."""
    if not run.artifacts:
        return {}
    try:
        with np.load(Path(run.artifacts) / "adversarial.npz") as f:
            return {int(i): (x, a) for i, x, a in zip(f["indices"], f["x"], f["x_adv"])}
    except (OSError, KeyError, ValueError):
        return {}


def _changed_features(x: np.ndarray, x_adv: np.ndarray, names: Sequence[str] | None) -> list[dict[str, Any]]:
    x, x_adv = np.asarray(x, np.float64).ravel(), np.asarray(x_adv, np.float64).ravel()
    delta = x_adv - x
    order = [int(i) for i in np.argsort(-np.abs(delta), kind="stable") if abs(delta[i]) > 1e-6][:TOP_FEATURES]
    return [
        {
            "name": names[i] if names and i < len(names) else f"feature {i}",
            "original": float(x[i]),
            "adversarial": float(x_adv[i]),
            "delta": float(delta[i]),
        }
        for i in order
    ]


def _amplification(s: SampleResult, bounds: Sequence[float]) -> float | None:
    """The factor the stored perturbation image is amplified by (see feint.attacks.evidence):
    half the value range over the largest change."""
    span = float(bounds[1]) - float(bounds[0]) if len(bounds) == 2 else 1.0
    return 0.5 * span / s.linf if s.linf > 0 else None


def gallery_cards(run: RunResult, target_info: dict[str, Any], limit: int = GALLERY_SIZE) -> list[dict[str, Any]]:
    """The samples a gallery shows for one run: turned samples first, then by index."""
    data_type = target_info.get("data_type")
    chosen = sorted(run.samples, key=lambda s: (not s.success, s.index))[: max(limit, 0)]
    arrays = _arrays(run) if data_type == "tabular" and chosen else {}
    cards = []
    for s in chosen:
        card: dict[str, Any] = {"s": s, "images": None, "features": None, "scale": None}
        card["measures"] = [(m.short, m.show(v)) for m, v in ((lookup(n), v) for n, v in s.measures.items())]
        if s.images:
            kinds = [k for k in _IMAGE_ORDER if k in s.images] + [k for k in s.images if k not in _IMAGE_ORDER]
            card["images"] = [(k, _inline(s.images[k])) for k in kinds]
            if "perturbation" in s.images:
                card["scale"] = _amplification(s, target_info.get("bounds", (0.0, 1.0)))
        if s.index in arrays:
            card["features"] = _changed_features(*arrays[s.index], target_info.get("feature_names"))
        if s.text is not None:
            card["text"] = text_segments(s.text["original"], s.text["adversarial"])
        cards.append(card)
    return cards


def text_segments(original: str, adversarial: str) -> list[tuple[str, str, str]]:
    """A text sample's diff for the report: ``(kind, was, is)`` segments, invisible characters
    written out (the template escapes every segment)."""
    return [(k, textdiff.visible(a), textdiff.visible(b)) for k, a, b in textdiff.excerpt(original, adversarial, 12)]


def _param_rows(runs: list[RunResult]) -> dict[str, list[tuple[str, str]]]:
    """Per attack, each parameter with its value, or its values when runs differed."""
    out: dict[str, list[tuple[str, str]]] = {}
    for run in runs:
        out.setdefault(run.attack, [])
    for attack in out:
        rs = [r for r in runs if r.attack == attack]
        keys = list(dict.fromkeys(k for r in rs for k in r.params))
        out[attack] = [(k, ", ".join(dict.fromkeys(show_value(r.params.get(k, "-")) for r in rs))) for k in keys]
    return out


def _run_label(run: RunResult, sweep: dict[str, Any] | None) -> str:
    if sweep:
        return f"{sweep['param']}={show_value(run.params.get(sweep['param']))}"
    return ", ".join(
        f"{k}={v}" for k, v in shown_params(run.params).items() if k not in RUN_PARAMS and v not in ("-", "")
    )


def render_html(
    scan: ScanResult, kind: str = "scan", gates: list[dict[str, Any]] | None = None, gallery: int = GALLERY_SIZE
) -> str:
    """The report of a stored scan (or of one run, wrapped as a scan with ``kind="run"``)."""
    import jinja2

    from feint.report import plots

    summary = by_attack(scan.runs)
    sw = sweeps(scan.runs)
    corruption = corruptions(scan)
    if corruption is not None and not corruption["families"]:
        corruption = None
    info = dict(scan.target_info)
    shown_info = {
        k: v
        for k, v in info.items()
        if k
        not in {
            "name",
            "data_type",
            "input_shape",
            "classes",
            "bounds",
            "access",
            "samples",
            "held_out_accuracy",
            "feature_names",
        }
    }
    attacks = []
    for name, a in summary.items():
        runs = [r for r in scan.runs if r.attack == name]
        attacks.append(
            {
                "name": name,
                "summary": a,
                "sweep": sw.get(name),
                "closed_box": all(s.gradient_queries == 0 for r in runs for s in r.samples),
                "family": getattr(runs[0], "family", "evasion"),
                "runs": [
                    {
                        "run": r,
                        "label": _run_label(r, sw.get(name)),
                        "cards": gallery_cards(r, info, gallery),
                        "metrics": dict(getattr(r, "metrics", None) or {}),
                    }
                    for r in runs
                ],
            }
        )
    from feint.report.robustness import curve_runs, evaluation_summary, is_evaluation, robustness_curve

    evaluation = evaluation_summary(scan) if is_evaluation(scan) else None
    minimal = [robustness_curve(r) for r in curve_runs(scan.runs)]
    checks = scan.settings.get("checks") if isinstance(scan.settings.get("checks"), list) else []
    planned = scan.settings.get("attacks", [])
    curves = query_curves(scan.runs)
    several = {a for a in summary if sum(r.attack == a for r in scan.runs if r.run_id in curves) > 1}
    curve_labels = {
        r.run_id: f"{r.attack} ({_run_label(r, sw.get(r.attack)) or r.run_id})" if r.attack in several else r.attack
        for r in scan.runs
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("feint.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "-" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = lambda v, fmt=".4f": "-" if v is None else format(v, fmt)
    template = env.get_template("report.html.j2")
    return template.render(
        kind=kind,
        ident=scan.scan_id,
        scan=scan,
        version=__version__,
        rendered_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        info=info,
        shown_info=shown_info,
        clean=clean_accuracy(scan.runs),
        partial=partial_runs(scan.runs),
        seeds=sorted({r.seed for r in scan.runs}),
        sample_index=list(dict.fromkeys(str(r.params.get("sample_index", "-")) for r in scan.runs)),
        params=_param_rows(scan.runs),
        not_run=[a for a in planned if a not in summary],
        summary=summary,
        labels=by_label(scan),
        sweeps=sw,
        gates=gates or [],
        curve=None if corruption else plots.robustness_curves(sw),
        corruption=corruption,
        corruption_levels=sorted({k for f in corruption["families"].values() for k in f["severities"]})
        if corruption
        else [],
        corruption_plot=plots.corruption_curves(corruption) if corruption else None,
        evaluation=evaluation,
        checks=checks,
        minimal=minimal,
        accuracy_plot=plots.accuracy_curves(minimal, evaluation),
        distances=plots.distance_distributions(scan.runs),
        query_curves=curves,
        curve_labels=curve_labels,
        queries_plot=plots.query_distance_curves(scan.runs, curve_labels) if curves else None,
        attacks=attacks,
        gallery=gallery,
    )
