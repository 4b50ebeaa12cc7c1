"""Reports of a stored scan or run, in every format, and the file names that pick them.

Everything here reads the store: :func:`load` finds a scan or run by id, and
:func:`render` turns it into text, so any past scan can be reported again."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feint.errors import FeintError
from feint.records import RunResult, ScanResult
from feint.store.db import Store

__all__ = ["FORMATS", "EXTENSIONS", "Subject", "format_for", "load", "render", "write"]

FORMATS = ("html", "json", "jsonl", "junit", "markdown")
EXTENSIONS = {
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xml": "junit",
    ".md": "markdown",
    ".markdown": "markdown",
}


def format_for(path: str | Path) -> str:
    """The report format a file name asks for, by its extension."""
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        raise FeintError(
            f"cannot tell the report format of {str(path)!r} from its extension; "
            f"accepted: {', '.join(EXTENSIONS)} (or give --format)"
        )
    return EXTENSIONS[ext]


@dataclass
class Subject:
    """What a report is about: a stored scan, or one stored run seen as a scan of one run."""

    kind: str  # "scan" or "run"
    scan: ScanResult
    run: RunResult | None = None


def _static_target_info(store: Store, run: RunResult) -> dict[str, Any]:
    """What is known of a run's target: its scan's record, else the target class."""
    if run.scan_id:
        scan = store.get_scan(run.scan_id)
        if scan is not None:
            return scan.target_info
    try:
        from feint.targets import target_classes

        cls = target_classes().get(run.target)
    except Exception:  # a target module that cannot import: report without its facts
        cls = None
    if cls is None:
        return {"name": run.target}
    return {
        "name": run.target,
        "data_type": cls.data_type,
        "input_shape": list(cls.input_shape),
        "classes": list(cls.output_classes),
        "bounds": list(cls.bounds),
    }


def load(store: Store, ident: str) -> Subject:
    scan = store.get_scan(ident)
    if scan is not None:
        return Subject("scan", scan)
    run = store.get_run(ident)
    if run is None:
        recent = store.recent_ids()
        raise FeintError(f"no stored run or scan with id {ident!r}; recent: {', '.join(recent) or 'none'}")
    view = ScanResult(
        scan_id=run.run_id,
        target=run.target,
        started_at=run.started_at,
        runs=[run],
        settings={"attacks": [run.attack], "status": run.status},
        target_info=_static_target_info(store, run),
    )
    return Subject("run", view, run)


def gates_of(subject: Subject, fail_on: Sequence[str] | None = None) -> list[dict[str, Any]]:
    from feint.report.jsonout import gate_results

    return gate_results(subject.scan, fail_on)


def render(subject: Subject, fmt: str, fail_on: Sequence[str] | None = None, gallery: int | None = None) -> str:
    """The report text. ``fail_on``: gates to check (default: those the scan was started
    with); ``gallery``: samples shown per run in the HTML report."""
    from feint.report import jsonout

    if fmt not in FORMATS:
        raise FeintError(f"unknown report format {fmt!r}; accepted: {', '.join(FORMATS)}")
    if fmt == "json":
        doc = (
            jsonout.scan_document(subject.scan, fail_on=fail_on)
            if subject.kind == "scan"
            else jsonout.run_document(subject.run)
        )  # type: ignore[arg-type]
        return jsonout.dumps(doc) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(rec) + "\n" for rec in jsonout.jsonl_records(subject.scan.runs))
    gates = gates_of(subject, fail_on)
    if fmt == "junit":
        from feint.report.junit import render_junit

        return render_junit(subject.scan, gates, kind=subject.kind)
    if fmt == "markdown":
        from feint.report.markdown import render_markdown

        return render_markdown(subject.scan, gates, kind=subject.kind)
    from feint.report.html import GALLERY_SIZE, render_html

    return render_html(
        subject.scan, kind=subject.kind, gates=gates, gallery=GALLERY_SIZE if gallery is None else gallery
    )


def write(subject: Subject, path: str | Path, fmt: str | None = None, **options: Any) -> Path:
    """Render and write one report; the format comes from the extension unless given."""
    fmt = fmt or format_for(path)
    text = render(subject, fmt, **options)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise FeintError(f"cannot write the report {str(path)!r}: {exc.strerror or exc}") from None
    return path
