"""How the command line and the shell show work in progress: progress bars on stderr, the
console for stdout, and what a second Ctrl-C during a scan says."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

__all__ = ["Bar", "Progress", "ScanBar", "PIPED_WIDTH", "stdout_console", "ScanAborted", "aborted_scan"]


class Bar:
    """A rich progress display on stderr (``self.bar``, None when off), started and
    stopped as a context manager."""

    bar: Any = None

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()


class Progress(Bar):
    """A progress bar on stderr for long work, only on a terminal and not with --json."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.bar = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.task = self.bar.add_task(label, total=total)

    def advance(self, n: int) -> None:
        if self.bar:
            self.bar.advance(self.task, n)

    def describe(self, text: str) -> None:
        if self.bar:
            self.bar.update(self.task, description=text)


class ScanBar(Bar):
    """The scan's progress on stderr (units, samples, successes, rate, time left), only on
    a terminal and not with --json."""

    def __init__(self, enabled: bool):
        self.bar = None
        self.last = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(bar_width=20),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.task = self.bar.add_task("scan", total=None, stats="planning")

    def update(self, state) -> None:
        self.last = state
        if not self.bar:
            return
        rate = state.rate
        eta = state.eta_s
        left = "" if eta is None else f", {int(eta) // 60}:{int(eta) % 60:02d} left"
        share = f" ({state.successes / state.samples_done:.0%})" if state.samples_done else ""
        stats = (
            f"{state.units_done}/{state.units_total} units, {state.samples_done}/{state.samples_total} "
            f"samples, {state.successes} turned{share}, {rate:.1f}/s{left}"
        )
        where = f" ({state.executor} x{state.workers})" if state.executor != "local" and state.workers else ""
        label = f"scan {state.scan_id}{where}" + (" stopping after the running units" if state.stopping else "")
        if getattr(state, "waiting", 0):
            label += f", waiting for {state.waiting} unit{'s' if state.waiting > 1 else ''} another feint runs"
        self.bar.update(
            self.task, total=state.samples_total, completed=state.samples_done, stats=stats, description=label
        )


PIPED_WIDTH = 160  # columns for tables written to a pipe or file (a CI log), where rich would fold at 80


def stdout_console():
    """The console for stdout: the terminal's width, or, when stdout is not a terminal and
    ``COLUMNS`` is unset, ``PIPED_WIDTH`` columns, so that tables in logs stay readable."""
    from rich.console import Console

    if os.environ.get("COLUMNS") or sys.stdout.isatty():
        return Console()
    return Console(width=PIPED_WIDTH)


class ScanAborted(KeyboardInterrupt):
    """A second Ctrl-C stopped a scan at once, and stderr has said which and how to resume
    it; ``code`` is the exit code."""

    code = 130


@contextlib.contextmanager
def aborted_scan(bar: ScanBar):
    """A second Ctrl-C stops a scan at once (its running units are lost, the rest is
    stored): say which scan, and how to continue it. Enter it before the bar, so the bar
    is gone when this speaks."""
    try:
        yield
    except KeyboardInterrupt:
        state = bar.last
        if state is None:  # still planning: nothing stored
            raise
        sys.stderr.write(
            f"feint: scan {state.scan_id} interrupted at once; the units that finished are stored\n"
            f"feint: continue it with: feint scan --resume {state.scan_id}\n"
        )
        raise ScanAborted from None
