"""Reports of a stored scan or run, in every format, and the file names that pick them.

Everything here reads the store: :func:`load` finds a scan or run by id, and
:func:`render` turns it into text, so any past scan can be reported again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feint.errors import FeintError
from feint.records import RunResult, ScanResult
from feint.registry import Registry
from feint.store.db import Store

__all__ = ["FORMATS", "ReportFormat", "extensions", "Subject", "format_for", "load", "render", "write"]


@dataclass(frozen=True)
class ReportFormat:
    """A report format: the file extensions that ask for it, what it is, and its renderer:
    ``"module:function"``, imported on first use, called as ``function(subject, fail_on,
    **options)`` and returning the report's text."""

    extensions: tuple[str, ...]
    doc: str
    renderer: str

    def render(self, subject: Subject, fail_on: Sequence[str] | None, **options: Any) -> str:
        import importlib

        module, _, function = self.renderer.partition(":")
        return getattr(importlib.import_module(module), function)(subject, fail_on, **options)


FORMATS: Registry[ReportFormat] = Registry("report format")
FORMATS.register(
    "html",
    ReportFormat(
        (".html", ".htm"), "a self-contained HTML page with images and plots", "feint.report.formats:render_html"
    ),
)
FORMATS.register("json", ReportFormat((".json",), "the feint/1 JSON document", "feint.report.formats:render_json"))
FORMATS.register(
    "jsonl",
    ReportFormat((".jsonl", ".ndjson"), "JSON Lines, one record per sample", "feint.report.formats:render_jsonl"),
)
FORMATS.register(
    "junit",
    ReportFormat(
        (".xml",), "JUnit XML for CI: one test case per gate and per attack", "feint.report.formats:render_junit"
    ),
)
FORMATS.register(
    "markdown", ReportFormat((".md", ".markdown"), "Markdown tables", "feint.report.formats:render_markdown")
)


def extensions() -> dict[str, str]:
    """File extension -> report format, from the registry."""
    return {ext: name for name, fmt in FORMATS.items() for ext in fmt.extensions}


def format_for(path: str | Path) -> str:
    """The report format a file name asks for, by its extension."""
    ext = Path(path).suffix.lower()
    known = extensions()
    if ext not in known:
        raise FeintError(
            f"cannot tell the report format of {str(path)!r} from its extension; "
            f"accepted: {', '.join(known)} (or give --format)"
        )
    return known[ext]


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
    return FORMATS.get(fmt).render(subject, fail_on, gallery=gallery)


# -- the built-in formats' renderers ---------------------------------------------------------
def render_json(subject: Subject, fail_on: Sequence[str] | None, **_: Any) -> str:
    from feint.report import jsonout

    if subject.kind == "scan":
        doc = jsonout.scan_document(subject.scan, fail_on=fail_on)
    else:
        assert subject.run is not None
        doc = jsonout.run_document(subject.run)
    return jsonout.dumps(doc) + "\n"


def render_jsonl(subject: Subject, fail_on: Sequence[str] | None, **_: Any) -> str:
    from feint.report import jsonout

    return "".join(jsonout.dumps(rec, indent=None) + "\n" for rec in jsonout.jsonl_records(subject.scan.runs))


def render_junit(subject: Subject, fail_on: Sequence[str] | None, **_: Any) -> str:
    from feint.report.junit import render_junit as junit

    return junit(subject.scan, gates_of(subject, fail_on), kind=subject.kind)


def render_markdown(subject: Subject, fail_on: Sequence[str] | None, **_: Any) -> str:
    from feint.report.markdown import render_markdown as markdown

    return markdown(subject.scan, gates_of(subject, fail_on), kind=subject.kind)


def render_html(subject: Subject, fail_on: Sequence[str] | None, gallery: int | None = None, **_: Any) -> str:
    from feint.errors import ParamError
    from feint.report.html import GALLERY_SIZE, MAX_GALLERY
    from feint.report.html import render_html as html

    if gallery is not None and not 0 <= gallery <= MAX_GALLERY:
        raise ParamError(
            "{gallery} expects a number of samples from 0 to {high}; got {got}", high=f"{MAX_GALLERY:,}", got=gallery
        )
    gates = gates_of(subject, fail_on)
    return html(subject.scan, kind=subject.kind, gates=gates, gallery=GALLERY_SIZE if gallery is None else gallery)


def write(subject: Subject, path: str | Path, fmt: str | None = None, **options: Any) -> Path:
    """Render and write one report; the format comes from the extension unless given. The
    report is written whole to a temporary file beside ``path``, then moved into place, so
    a failed write (a full disk) leaves the file that was there before as it was."""
    fmt = fmt or format_for(path)
    text = render(subject, fmt, **options)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_whole(path, text)
    except OSError as exc:
        kept = "; the file there before is as it was" if path.exists() else ""
        raise FeintError(f"cannot write the report {str(path)!r}: {exc.strerror or exc}{kept}") from None
    return path


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in its folder and a rename (the
    permissions of a file replaced kept); a link is followed, and a device or a pipe (not
    a file that can be lost) is written directly."""
    import os
    import stat
    import tempfile

    target = path.resolve() if path.is_symlink() else path
    if target.exists() and not target.is_file():
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
        return
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
