"""Rich tables for the terminal: runs as Counterfit showed them, scans as the paper did."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from feint import textdiff
from feint.measures import shown
from feint.records import RUN_PARAMS, RunResult, ScanResult, labelled, shown_params
from feint.report.summary import by_attack, by_label, clean_accuracy, corruptions, partial_runs, query_curves, sweeps

__all__ = [
    "print_run",
    "print_scan",
    "print_table",
    "print_sweeps",
    "print_gates",
    "print_query_curves",
    "print_evaluation",
    "print_curve",
    "print_checks",
    "text_markup",
    "print_text_changes",
]


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.1f}%)" if b else "0/0"


def print_table(console: Console, title: str, columns: list[str], rows: list[list[Any]], markup: bool = False) -> None:
    """A table of ``rows``. Its text is shown as it is (what a target or a model names may
    hold ``[/bold]``); with ``markup``, the cells' rich markup is read (the caller escapes
    what it did not write), the title's never."""
    table = Table(title=escape(title), title_justify="left")
    for c in columns:
        table.add_column(escape(c))
    for r in rows:
        table.add_row(*[str(v) if markup else escape(str(v)) for v in r])
    console.print(table)


def print_run(console: Console, run: RunResult) -> None:
    rate = run.queries / run.elapsed_s if run.elapsed_s > 0 else 0.0
    console.print(
        f"[bold]{escape(run.attack)}[/bold] on {escape(run.target)}  run [cyan]{escape(run.run_id)}[/cyan]"
        + (f"  scan {run.scan_id}" if run.scan_id else "")
        + (
            f"  partial: {run.n} of {run.metrics.get('samples_planned', '?')} samples"
            if run.status == "partial"
            else ""
        )
    )
    console.print(
        f"Success {run.successes}/{run.n}   elapsed {run.elapsed_s:.2f} s "
        f"({run.elapsed_s / max(run.n, 1):.3f} s/sample)   queries {run.queries} "
        f"({run.forward_queries} forward, {run.gradient_queries} gradient; {rate:,.0f}/s)"
    )
    measures = shown(run.samples)  # as stored: % Euclid. dist. for tabular targets, Wasserstein, ...
    leading = [m for m in measures if m.leads]
    trailing = [m for m in measures if not m.leads]
    cols = ["Sample", "Input Label (conf)", "Adversarial Label (conf)"]
    cols += [m.label for m in leading]
    text = any(s.text for s in run.samples)  # text: the measures hold the word-level distances
    cols += [] if text else ["Linf", "L2", "L0"]
    cols += [m.label for m in trailing]
    cols += ["Queries fwd/grad", "Success"]
    noted = any(s.note for s in run.samples)  # why an attack could not work on a sample
    if noted:
        cols.append("Note")
    table = Table(show_lines=False)
    for c in cols:
        table.add_column(c, overflow="fold")
    for s in run.samples:
        row = [
            str(s.index),
            escape(labelled(s.initial_label, s.initial_conf)),
            escape(labelled(s.final_label, s.final_conf)),
        ]
        row += [escape(m.show(s.measures.get(m.name))) for m in leading]
        row += [] if text else [f"{s.linf:.4f}", f"{s.l2:.4f}", str(s.l0)]
        row += [escape(m.show(s.measures.get(m.name))) for m in trailing]
        row += [f"{s.forward_queries}/{s.gradient_queries}", "[green]yes[/green]" if s.success else "[red]no[/red]"]
        if noted:
            row.append(escape(s.note or ""))
        table.add_row(*row)
    console.print(table)
    print_query_curves(console, [run])
    if text:
        print_text_changes(console, run)
    if any(s.images for s in run.samples):
        console.print(
            f"Images: {escape(str(run.artifacts))}/INDEX_{{original,adversarial,perturbation}}.png", soft_wrap=True
        )
    elif run.artifacts:
        console.print(f"Adversarial inputs: {escape(str(run.artifacts))}/adversarial.npz", soft_wrap=True)
    from feint.report.robustness import curve_runs

    if curve_runs([run]) and not run.scan_id:  # a scan prints its runs' curves after its summary
        print_curve(console, run)


def text_markup(original: str, adversarial: str, context: int = 6, plain: bool = False) -> str:
    """Rich markup of an adversarial text: changed words struck out in red, each followed by
    its replacement in green, invisible characters written out; long unchanged stretches cut.
    ``plain`` (no colours: a log, a pipe): ``[-old-]{+new+}``, as ``wdiff`` writes changes."""
    parts = []
    for kind, a, b in textdiff.excerpt(original, adversarial, context):
        if kind == "changed" and plain:
            old = escape(f"[-{a}-]") if a else ""
            new = escape(f"{{+{textdiff.visible(b)}+}}") if b else ""
            parts.append(old + new)
        elif kind == "changed":
            old = f"[red strike]{escape(a)}[/red strike]" if a else ""
            new = f"[bold green]{escape(textdiff.visible(b))}[/bold green]" if b else ""
            parts.append(" ".join(x for x in (old, new) if x))
        elif kind == "gap":
            parts.append("[dim]...[/dim]")
        else:
            parts.append(escape(textdiff.visible(b)))
    return " ".join(parts)


def print_text_changes(console: Console, run: RunResult) -> None:
    """Each changed text sample of ``run``: its labels, then the adversarial text as a diff."""
    for s in run.samples:
        if not s.text or s.text["original"] == s.text["adversarial"]:
            continue
        mark = "[green]turned[/green]" if s.success else "[red]not turned[/red]"
        console.print(f"[bold]Sample {s.index}[/bold] {escape(s.initial_label)} -> {escape(s.final_label)} ({mark}):")
        plain = console.color_system is None
        console.print("  " + text_markup(s.text["original"], s.text["adversarial"], plain=plain), soft_wrap=False)


def print_scan(console: Console, scan: ScanResult, labels: bool = False) -> None:
    info = scan.target_info
    acc = info.get("held_out_accuracy")
    clean = clean_accuracy(scan.runs)
    console.print(
        f"[bold]scan[/bold] [cyan]{escape(scan.scan_id)}[/cyan] of {escape(scan.target)}"
        + (f" (held-out accuracy {100 * acc:.1f}%)" if acc is not None else "")
        + (f", clean accuracy on the samples {clean['correct']}/{clean['samples']}" if clean else "")
        + f", {len(scan.runs)} run(s), status {scan.settings.get('status', 'done')}"
    )
    for line in partial_runs(scan.runs):
        console.print(escape(line))
    summary = by_attack(scan.runs)
    table = Table(title="Summary by attack", title_justify="left")
    for c in [
        "Attack",
        "Total Runs",
        "Successes (%)",
        "Best Score (attack_id)",
        "Best Parameters",
        "Time [s] (min/avg/max)",
        "Queries/sample (min/avg/max)",
    ]:
        table.add_column(c, overflow="fold")
    for name, a in summary.items():
        best = f"{a['best_score']:.4f} ({a['best_attack_id']})" if a["best_score"] is not None else "-"
        params = (
            ", ".join(
                f"{k}={v}"
                for k, v in shown_params(a["best_params"] or {}).items()
                if k not in RUN_PARAMS and v not in ("-", "")
            )
            or "-"
        )
        t, q = a["time_s"], a["queries"]
        table.add_row(
            escape(name),
            str(a["total_runs"]),
            _pct(a["successes"], a["samples"]),
            best,
            escape(params),
            f"{t['min']:.2f}/{t['avg']:.2f}/{t['max']:.2f}",
            f"{q['min']:.0f}/{q['avg']:.1f}/{q['max']:.0f}",
        )
    console.print(table)
    if labels:
        per = by_label(scan)
        names = list(summary)
        table = Table(title="Successes by input label", title_justify="left")
        table.add_column("Label")
        for n in names:
            table.add_column(n)
        for label, row in per.items():
            table.add_row(
                escape(str(label)), *[_pct(row[n]["successes"], row[n]["samples"]) if n in row else "-" for n in names]
            )
        console.print(table)
    if corruptions(scan) is None:  # a suite's severities read as accuracy, below, not as a sweep
        print_sweeps(console, scan)
    print_corruptions(console, scan)
    print_query_curves(console, scan.runs)
    from feint.report.robustness import curve_runs

    for run in curve_runs(scan.runs):
        print_curve(console, run)


def print_corruptions(console: Console, scan: ScanResult) -> None:
    """A corruption suite: accuracy per corruption and severity, the mean and the worst."""
    c = corruptions(scan)
    if c is None or not c["families"]:
        return
    levels = sorted({k for f in c["families"].values() for k in f["severities"]})
    table = Table(title=f"Accuracy under corruption (judged by {c['judged_by']})", title_justify="left")
    for col in ["Corruption", "Attack", *(f"severity {k}" for k in levels), "Mean"]:
        table.add_column(col)
    for family, f in c["families"].items():
        cells = [f["severities"].get(k) for k in levels]
        table.add_row(
            family,
            f["attack"],
            *(_pct(cell["correct"], cell["samples"]) if cell else "-" for cell in cells),
            _num(None if f["mean"] is None else 100 * f["mean"], ".1f") + ("%" if f["mean"] is not None else ""),
        )
    console.print(table)
    clean = "-" if c["clean"] is None else f"{100 * c['clean']:.1f}%"
    mean = "-" if c["mean"] is None else f"{100 * c['mean']:.1f}%"
    worst = "-" if c["worst"] is None else f"{c['worst']} ({100 * c['worst_accuracy']:.1f}%)"
    console.print(f"clean accuracy {clean}, mean corruption accuracy {mean}, worst corruption {worst}")


def _median_cell(point: dict[str, Any], samples: int) -> str:
    value = "-" if point["median"] is None else f"{point['median']:.4f}"
    return f"{value} ({point['adversarial']}/{samples})"


def print_query_curves(console: Console, runs: list[RunResult]) -> None:
    """The closed-box runs' median distance against queries: at each budget, the median
    over the samples of the closest adversarial found within it (``-`` while half of them
    or more had none), with how many were adversarial."""
    curves = query_curves(runs)
    if not curves:
        return
    first = next(iter(curves.values()))
    table = Table(
        title="Median distance against queries per sample (adversarial samples)",
        title_justify="left",
    )
    for column in ["Run", "Attack", "Norm", *(f"{p['queries']:,}" for p in first["budgets"]), "Last query"]:
        table.add_column(column, overflow="fold")
    for run_id, curve in curves.items():
        n = curve["samples"]
        last = curve["last"]
        table.add_row(
            run_id,
            curve["attack"],
            "Linf" if curve["norm"] == "linf" else "L2",
            *(_median_cell(p, n) for p in curve["budgets"]),
            f"{_median_cell(last, n)} at {last['queries']:,}",
        )
    console.print(table)


def _num(v: float | None, fmt: str = ".4f") -> str:
    return "-" if v is None else format(v, fmt)


def print_sweeps(console: Console, scan: ScanResult) -> None:
    """Success against the swept value, one table per swept attack."""
    for attack, sw in sweeps(scan.runs).items():
        table = Table(title=f"{attack}: success against {sw['param']}", title_justify="left")
        for c in [sw["param"], "Successes (%)", "Linf avg (turned)", "L2 avg (turned)", "Queries/sample avg", "Run"]:
            table.add_column(c)
        for pt in sw["points"]:
            table.add_row(
                f"{pt['value']:g}",
                _pct(pt["successes"], pt["samples"]),
                _num(pt["linf"]),
                _num(pt["l2"]),
                f"{pt['queries']:.1f}",
                ", ".join(pt["run_ids"]),
            )
        console.print(table)


def print_gates(console: Console, gates: list[dict[str, Any]]) -> None:
    """The --fail-on gates: which held, and for which attacks."""
    if not gates:
        return
    table = Table(title="Gates (--fail-on)", title_justify="left")
    for c in ["Condition", "Result", "Failing attacks"]:
        table.add_column(c, overflow="fold")
    for g in gates:
        table.add_row(
            escape(g["expr"]),
            "[red]FAIL[/red]" if g["failed"] else "[green]pass[/green]",
            ", ".join(g["attacks"]) or "-",
        )
    console.print(table)


def print_evaluation(console: Console, scan: ScanResult) -> None:
    """An evaluation: robust accuracy per budget after each attack of the ensemble."""
    from feint.report.robustness import evaluation_summary

    ev = evaluation_summary(scan)
    status = scan.settings.get("status", "done")
    console.print(
        f"[bold]evaluate[/bold] {scan.target}  scan [cyan]{scan.scan_id}[/cyan]  {ev['version']} ensemble, "
        f"L{ev['norm']}, {ev['samples']} samples, status {status}"
        + ("" if ev["complete"] else "  [yellow](incomplete: resume it)[/yellow]")
    )
    if isinstance(scan.settings.get("checks"), list):
        print_checks(console, scan.settings["checks"])
    if ev["skipped"]:
        console.print(f"not run on this target (it gives no gradients): {', '.join(ev['skipped'])}")
    table = Table(title="Robust accuracy", title_justify="left")
    table.add_column("After")
    for b in ev["budgets"]:
        table.add_column(f"eps {b['eps']:g}")
    stages = ["clean"]
    if any(r["stage"] == "smaller budgets" for b in ev["budgets"] for r in b["ladder"]):
        stages.append("smaller budgets")
    stages += [s["name"] for s in ev["ensemble"]]
    for stage in stages:
        cells = []
        for b in ev["budgets"]:
            row = next((r for r in b["ladder"] if r["stage"] == stage), None)
            if row is None:
                cells.append("-")
                continue
            turned = f" (-{row['turned']})" if row["turned"] else ""
            cells.append(f"{100 * row['robust_accuracy']:.1f}%{turned}")
        table.add_row(stage, *cells)
    table.add_row(
        "[bold]robust accuracy[/bold]", *[f"[bold]{100 * b['robust_accuracy']:.1f}%[/bold]" for b in ev["budgets"]]
    )
    console.print(table)
    console.print(f"correct by {ev['reference']}; a budget's turned samples count at every larger budget")


def print_curve(console: Console, run: RunResult, points: int = 10) -> None:
    """A minimal-norm run's robustness curve: robust accuracy at evenly spaced budgets."""
    from feint.report.robustness import robustness_curve

    curve = robustness_curve(run, points=points)
    table = Table(
        title=f"Robustness curve of run {run.run_id} (L{curve['norm']}, from each sample's smallest adversarial)",
        title_justify="left",
    )
    table.add_column("eps")
    table.add_column("Robust accuracy")
    for eps, acc in curve["curve"]:
        table.add_row(f"{eps:.4g}", f"{100 * acc:.1f}%")
    console.print(table)


def print_checks(console: Console, checks: list[dict[str, Any]]) -> None:
    """Sanity checks, one line each: pass, warn or fail, and why."""
    colour = {"pass": "green", "warn": "yellow", "fail": "red"}
    table = Table(title="Sanity checks", title_justify="left")
    for heading in ["Check", "Result", "Why"]:
        table.add_column(heading, overflow="fold")
    for c in checks:
        table.add_row(c["name"], f"[{colour.get(c['status'], 'white')}]{c['status']}[/]", escape(c["why"]))
    console.print(table)


def print_study(console: Console, summary: dict[str, Any]) -> None:
    """An optimisation study: per attack the defaults' value, the best and its options."""
    console.print(f"[bold]optimize[/bold] {summary.get('target', '')}  study [cyan]{summary['study_id']}[/cyan]")
    table = Table(title="Best options per attack", title_justify="left")
    for heading in ["Attack", "Objective", "Trials", "Defaults", "Best", "Best options"]:
        table.add_column(heading, overflow="fold")
    for attack, s in summary["attacks"].items():
        best = s["best_params"] or {}
        table.add_row(
            attack,
            f"{s['objective']} ({s['direction']})",
            f"{s['trials_done']}/{s['trials_planned']}",
            _num(s["defaults_value"], ".4g"),
            _num(s["best_value"], ".4g"),
            escape(", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.items()) or "-"),
        )
    console.print(table)
    console.print(
        f"use them: feint run TARGET ATTACK --from-study {summary['study_id']} (or feint scan ... --from-study)"
    )
