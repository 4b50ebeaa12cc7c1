"""Rich tables for the terminal: runs as Counterfit showed them, scans as the paper did."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from feint import textdiff
from feint.measures import shown
from feint.records import RUN_PARAMS, RunResult, ScanResult, labelled, shown_params
from feint.report.summary import by_attack, by_label, clean_accuracy, partial_runs, sweeps

__all__ = ["print_run", "print_scan", "print_table", "print_sweeps", "print_gates", "text_markup", "print_text_changes"]


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.1f}%)" if b else "0/0"


def print_table(console: Console, title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[str(v) for v in r])
    console.print(table)


def print_run(console: Console, run: RunResult) -> None:
    rate = run.queries / run.elapsed_s if run.elapsed_s > 0 else 0.0
    console.print(
        f"[bold]{run.attack}[/bold] on {run.target}  run [cyan]{run.run_id}[/cyan]"
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
        row = [str(s.index), labelled(s.initial_label, s.initial_conf), labelled(s.final_label, s.final_conf)]
        row += [m.show(s.measures.get(m.name)) for m in leading]
        row += [] if text else [f"{s.linf:.4f}", f"{s.l2:.4f}", str(s.l0)]
        row += [m.show(s.measures.get(m.name)) for m in trailing]
        row += [f"{s.forward_queries}/{s.gradient_queries}", "[green]yes[/green]" if s.success else "[red]no[/red]"]
        if noted:
            row.append(escape(s.note or ""))
        table.add_row(*row)
    console.print(table)
    if text:
        print_text_changes(console, run)
    if any(s.images for s in run.samples):
        console.print(f"Images: {run.artifacts}/INDEX_{{original,adversarial,perturbation}}.png", soft_wrap=True)
    elif run.artifacts:
        console.print(f"Adversarial inputs: {run.artifacts}/adversarial.npz", soft_wrap=True)


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
        f"[bold]scan[/bold] [cyan]{scan.scan_id}[/cyan] of {scan.target}"
        + (f" (held-out accuracy {100 * acc:.1f}%)" if acc is not None else "")
        + (f", clean accuracy on the samples {clean['correct']}/{clean['samples']}" if clean else "")
        + f", {len(scan.runs)} run(s), status {scan.settings.get('status', 'done')}"
    )
    for line in partial_runs(scan.runs):
        console.print(line)
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
                f"{k}={v}" for k, v in shown_params(a["best_params"] or {}).items() if k not in RUN_PARAMS and v != "-"
            )
            or "-"
        )
        t, q = a["time_s"], a["queries"]
        table.add_row(
            name,
            str(a["total_runs"]),
            _pct(a["successes"], a["samples"]),
            best,
            params,
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
            table.add_row(label, *[_pct(row[n]["successes"], row[n]["samples"]) if n in row else "-" for n in names])
        console.print(table)
    print_sweeps(console, scan)


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
            g["expr"], "[red]FAIL[/red]" if g["failed"] else "[green]pass[/green]", ", ".join(g["attacks"]) or "-"
        )
    console.print(table)
