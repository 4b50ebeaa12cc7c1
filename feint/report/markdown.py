"""A Markdown report: the summary tables, sweeps, gates and per-run sample tables, for
a pull request, a ticket or a wiki page."""

from __future__ import annotations

import html
import re
from typing import Any

from feint import textdiff
from feint.measures import shown as shown_measures
from feint.records import ScanResult, labelled, shown_params
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

__all__ = ["render_markdown"]


# what makes Markdown of plain text: code, emphasis, links and images, strikethrough, and an
# underscore that opens or closes emphasis (one inside a word, as in digits_keras, does not)
_PUNCTUATION = re.compile(r"([\\`*\[\]~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def _md(v: Any) -> str:
    """Text a target, a model or a user supplied (a class name, a target name, a note), as
    Markdown that shows it as it is: HTML is escaped (``<img onerror=...>`` stays text) and
    Markdown's punctuation backslashed (``**`` stays two stars, ``[x](y)`` is no link)."""
    text = str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _PUNCTUATION.sub(r"\\\1", text)


def _code(v: Any) -> str:
    """Text as a code span (shown literally, HTML too), whatever backticks it holds."""
    text = " ".join(str(v).split())
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _md_escape(text: str) -> str:
    return html.escape(textdiff.visible(text), quote=False).replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def text_diff(original: str, adversarial: str) -> str:
    """An adversarial text in Markdown: each changed word struck out and followed by its
    replacement in bold; long unchanged stretches cut; HTML and Markdown escaped."""
    parts = []
    for kind, a, b in textdiff.excerpt(original, adversarial):
        if kind == "changed":
            parts.append(
                " ".join(x for x in (f"~~{_md_escape(a)}~~" if a else "", f"**{_md_escape(b)}**" if b else "") if x)
            )
        elif kind == "gap":
            parts.append("...")
        else:
            parts.append(_md_escape(b))
    return " ".join(parts)


def _table(columns: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in rows]
    return out + [""]


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, fmt: str = ".4f") -> str:
    return "-" if v is None else format(v, fmt)


def render_markdown(scan: ScanResult, gates: list[dict[str, Any]], kind: str = "scan", samples: int = 20) -> str:
    info = scan.target_info
    summary = by_attack(scan.runs)
    clean = clean_accuracy(scan.runs)
    lines = [
        f"# feint {kind} report: {_md(scan.target)}",
        "",
        f"{kind} {_code(scan.scan_id)}, started {scan.started_at}, status {scan.settings.get('status', 'done')}",
        "",
        *[f"- {_md(line)}" for line in partial_runs(scan.runs)],
        *([""] if partial_runs(scan.runs) else []),
    ]
    lines += _evaluation_lines(scan)
    lines += [
        "## Target",
        "",
    ]
    facts = [("model", f"{_md(info.get('name', scan.target))} ({_md(info.get('access', '?'))})")]
    if info.get("data_type"):
        facts.append(("data", f"{info['data_type']}, input shape {' x '.join(map(str, info.get('input_shape', [])))}"))
    if info.get("held_out_accuracy") is not None:
        facts.append(("held-out accuracy", _pct(info["held_out_accuracy"])))
    facts.append(
        (
            "clean accuracy on the attacked samples",
            f"{clean['correct']}/{clean['samples']} ({_pct(clean['accuracy'])})" if clean else "unknown",
        )
    )
    facts.append(("seed", ", ".join(str(s) for s in sorted({r.seed for r in scan.runs}))))
    if scan.settings.get("sweep"):
        facts.append(
            ("sweep", _md("; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in scan.settings["sweep"].items())))
        )
    lines += [f"- **{k}**: {v}" for k, v in facts] + [""]
    if gates:
        lines += ["## Gates", ""]
        lines += _table(
            ["condition", "result", "failing attacks"],
            [
                [_code(g["expr"]), "**FAIL**" if g["failed"] else "pass", _md(", ".join(g["attacks"]) or "-")]
                for g in gates
            ],
        )
    lines += ["## Summary by attack", ""]
    lines += _table(
        [
            "attack",
            "runs",
            "successes",
            "success rate",
            "best score (run)",
            "Linf avg (turned)",
            "time per run [s] min/avg/max",
            "queries per sample min/avg/max",
        ],
        [
            [
                _md(n),
                a["total_runs"],
                f"{a['successes']}/{a['samples']}",
                _pct(a["success_rate"]),
                f"{a['best_score']:.4f} ({a['best_attack_id']})" if a["best_score"] is not None else "-",
                _num(a["linf"]["avg"]),
                f"{a['time_s']['min']:.2f}/{a['time_s']['avg']:.2f}/{a['time_s']['max']:.2f}",
                f"{a['queries']['min']:.0f}/{a['queries']['avg']:.1f}/{a['queries']['max']:.0f}",
            ]
            for n, a in summary.items()
        ],
    )
    labels = by_label(scan)
    lines += ["## Successes by input label", ""]
    lines += _table(
        ["label", *(_md(n) for n in summary)],
        [
            [_md(label), *(f"{row[n]['successes']}/{row[n]['samples']}" if n in row else "-" for n in summary)]
            for label, row in labels.items()
        ],
    )
    for attack, sw in (sweeps(scan.runs) if corruptions(scan) is None else {}).items():
        lines += [f"## {_md(attack)}: success against {_md(sw['param'])}", ""]
        lines += _table(
            [sw["param"], "successes", "success rate", "Linf avg (turned)", "queries per sample avg"],
            [
                [
                    f"{p['value']:g}",
                    f"{p['successes']}/{p['samples']}",
                    _pct(p["success_rate"]),
                    _num(p["linf"]),
                    f"{p['queries']:.1f}",
                ]
                for p in sw["points"]
            ],
        )
    c = corruptions(scan)
    if c is not None and c["families"]:
        levels = sorted({k for f in c["families"].values() for k in f["severities"]})
        lines += [f"## Accuracy under corruption (judged by {c['judged_by']})", ""]
        lines += _table(
            ["corruption", "attack", *(f"severity {k}" for k in levels), "mean"],
            [
                [
                    family,
                    f["attack"],
                    *(
                        f"{cell['correct']}/{cell['samples']} ({_pct(cell['accuracy'])})" if cell else "-"
                        for cell in (f["severities"].get(k) for k in levels)
                    ),
                    _pct(f["mean"]) if f["mean"] is not None else "-",
                ]
                for family, f in c["families"].items()
            ],
        )
        lines += [
            f"Clean accuracy {_pct(c['clean']) if c['clean'] is not None else '-'}, mean corruption accuracy "
            f"{_pct(c['mean']) if c['mean'] is not None else '-'}, worst corruption "
            + (f"{c['worst']} ({_pct(c['worst_accuracy'])})" if c["worst"] else "-")
            + ".",
            "",
        ]
    curves = query_curves(scan.runs)
    if curves:
        first = next(iter(curves.values()))
        lines += ["## Median distance against queries per sample", ""]
        lines += _table(
            ["run", "attack", "norm", *(f"{p['queries']:,}" for p in first["budgets"]), "last query"],
            [
                [
                    f"`{run_id}`",
                    c["attack"],
                    "Linf" if c["norm"] == "linf" else "L2",
                    *(f"{_num(p['median'])} ({p['adversarial']}/{c['samples']})" for p in c["budgets"]),
                    f"{_num(c['last']['median'])} ({c['last']['adversarial']}/{c['samples']}) at {c['last']['queries']:,}",
                ]
                for run_id, c in curves.items()
            ],
        )
    lines += ["## Runs", ""]
    for run in scan.runs:
        params = ", ".join(
            f"{k}={v}" for k, v in shown_params(run.params).items() if k not in RUN_PARAMS and v not in ("-", "")
        )
        lines += [
            f"### {_md(run.attack)} {_code(run.run_id)}",
            "",
            f"{_md(params)}; successes {run.successes}/{run.n}, {run.elapsed_s:.2f} s, {run.queries} queries "
            f"({run.forward_queries} forward, {run.gradient_queries} gradient)"
            + (f"; artifacts {_code(run.artifacts)}" if run.artifacts else ""),
            "",
        ]
        shown = run.samples[:samples]
        measures = shown_measures(shown)  # as stored: % Euclid. dist. for tabular targets, Wasserstein, ...
        noted = any(s.note for s in shown)  # why an attack could not work on a sample
        text = any(s.text for s in shown)  # text: the measures hold the word-level distances
        lines += _table(
            [
                "sample",
                "input label (conf)",
                "adversarial label (conf)",
                *([] if text else ["Linf", "L2", "L0"]),
                *(m.label for m in measures),
                "queries fwd/grad",
                "success",
                *(["note"] if noted else []),
            ],
            [
                [
                    s.index,
                    _md(labelled(s.initial_label, s.initial_conf)),
                    _md(labelled(s.final_label, s.final_conf)),
                    *([] if text else [f"{s.linf:.4f}", f"{s.l2:.4f}", s.l0]),
                    *(_md(m.show(s.measures.get(m.name))) for m in measures),
                    f"{s.forward_queries}/{s.gradient_queries}",
                    "yes" if s.success else "no",
                    *([_md(s.note or "")] if noted else []),
                ]
                for s in shown
            ],
        )
        for s in shown:
            if s.text and s.text["original"] != s.text["adversarial"]:
                lines += [f"- sample {s.index}: {text_diff(s.text['original'], s.text['adversarial'])}"]
        if text:
            lines += [""]
        if len(run.samples) > len(shown):
            lines += [f"({len(run.samples) - len(shown)} more samples in the JSON report)", ""]
    return "\n".join(lines).rstrip() + "\n"


def _evaluation_lines(scan: ScanResult) -> list[str]:
    """An evaluation's sanity checks and robust accuracy, first in its report."""
    from feint.report.robustness import evaluation_summary, is_evaluation

    out: list[str] = []
    checks = scan.settings.get("checks")
    if isinstance(checks, list) and checks:
        out += ["## Sanity checks", ""]
        out += _table(["check", "result", "why"], [[c["name"], c["status"], c["why"]] for c in checks])
    if not is_evaluation(scan):
        return out
    ev = evaluation_summary(scan)
    out += ["## Robust accuracy", "", f"{ev['version']} ensemble, L{ev['norm']}, {ev['samples']} samples", ""]
    stages = ["clean", "smaller budgets", *[s["name"] for s in ev["ensemble"]]]
    rows = []
    for stage in stages:
        cells = []
        for b in ev["budgets"]:
            found = [r for r in b["ladder"] if r["stage"] == stage]
            cells.append(_pct(found[0]["robust_accuracy"]) if found else "-")
        if any(c != "-" for c in cells):
            rows.append([stage, *cells])
    rows.append(["**robust accuracy**", *[f"**{_pct(b['robust_accuracy'])}**" for b in ev["budgets"]]])
    out += _table(["after", *[f"eps {b['eps']:g}" for b in ev["budgets"]]], rows)
    return out
