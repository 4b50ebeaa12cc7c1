"""The store: a SQLite database of scans, runs, per-sample results and query logs.

A run outside a scan is written in one transaction, so it is either wholly stored or
not at all. A scan writes its plan first: one row per run (``pending``) and one per
unit, a chunk of a run's samples. Each finished unit is committed in one transaction
with its samples, and the transaction that commits a run's last unit also finishes the
run (``done``, with its totals over the units), so a scan killed at any moment keeps
every unit it finished and never holds a unit twice. A unit that a model's query budget
cut short is marked ``cut`` with the queries it spent (``cut_queries`` in its metrics) and
no samples; it runs again on a resume, and the run keeps the count. A run with some of its
units finished reads back as ``partial``, with those units' samples. Artifacts (adversarial arrays,
images) live in a folder beside the database. WAL mode and a busy timeout let readers
(``feint show``) work while a scan writes.

Several scans of one plan may run at once on one store: a unit is leased (``holder``, a
``heartbeat`` the holder refreshes) before it runs, so each unit runs in one of them; a
holder that died (its process gone, or its heartbeat older than :data:`LEASE_S`) loses
its units to whoever asks next.

A store that cannot be used ends in one line naming it and why (:class:`StoreError`): a
full disk, a read-only or locked store, or a damaged one. A damaged store (a file cut to
0 bytes beside stored results, a file that is not SQLite, a malformed page) is never
written to nor taken as empty: feint refuses it until the user moves it away. A store that cannot be written (its file
or folder read-only) is opened read-only, so ``feint show`` and ``feint report`` still read
it. A new store is built under a temporary name and linked into place whole, so a store
file feint made is never empty.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import socket
import sqlite3
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from feint.config import feint_home
from feint.errors import FeintError
from feint.measures import MEASURES
from feint.records import Measure, RunResult, SampleResult, ScanResult

__all__ = ["Store", "SCHEMA_VERSION", "StoreError", "UnitTaken", "check_store", "new_holder", "writing_artifacts"]

# 2: runs.metrics (family and run-level measures, JSON)
# 3: units (the chunks a scan runs), samples.pos (position in the run), scans.plan_key
#    and scans.target_spec (what a resume needs)
# 4: samples.measures (the declared per-sample measures by name, JSON) in place of
#    samples.wasserstein; % Euclidean distances computed from the stored arrays
# 5: samples.initial_conf and final_conf may be NULL (a labels-only target tells none);
#    samples.note (why an attack could not work on a sample)
# 6: units.holder and units.heartbeat (the lease of a unit a scan runs)
SCHEMA_VERSION = 6
READABLE_FROM = 5  # an older store that cannot be written (so not migrated) is read as it is from this schema
BUSY_TIMEOUT_S = 30  # how long a write waits for another process's write lock
HEARTBEAT_S = 5.0  # how often a scan refreshes the leases of the units it runs
LEASE_S = 60.0  # a lease whose heartbeat is older than this is taken over
PROBE_BYTES = 1 << 20  # a store whose disk cannot take this much more is full

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans (
    scan_id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    started_at TEXT NOT NULL,
    settings TEXT NOT NULL,
    target_info TEXT NOT NULL,
    status TEXT NOT NULL,
    plan_key TEXT,
    target_spec TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    scan_id TEXT REFERENCES scans(scan_id),
    target TEXT NOT NULL,
    attack TEXT NOT NULL,
    framework TEXT NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    elapsed_s REAL NOT NULL,
    status TEXT NOT NULL,
    artifacts TEXT,
    n INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    forward_queries INTEGER NOT NULL,
    gradient_queries INTEGER NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_scan ON runs(scan_id);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    idx INTEGER NOT NULL,
    true_label TEXT,
    initial_label TEXT NOT NULL,
    initial_conf REAL,
    final_label TEXT NOT NULL,
    final_conf REAL,
    target_label TEXT,
    success INTEGER NOT NULL,
    linf REAL NOT NULL,
    l2 REAL NOT NULL,
    l0 INTEGER NOT NULL,
    forward_queries INTEGER NOT NULL,
    gradient_queries INTEGER NOT NULL,
    images TEXT NOT NULL,
    pos INTEGER,
    measures TEXT NOT NULL DEFAULT '{}',
    note TEXT,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS units (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    unit INTEGER NOT NULL,
    scan_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    elapsed_s REAL,
    forward_queries INTEGER,
    gradient_queries INTEGER,
    successes INTEGER,
    metrics TEXT,
    holder TEXT,
    heartbeat REAL,
    PRIMARY KEY (run_id, unit)
);
CREATE INDEX IF NOT EXISTS units_by_scan ON units(scan_id, status);
CREATE TABLE IF NOT EXISTS query_log (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    rows INTEGER NOT NULL,
    samples TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
"""

_RUN_COLS = (
    "run_id",
    "scan_id",
    "target",
    "attack",
    "framework",
    "params",
    "seed",
    "started_at",
    "elapsed_s",
    "status",
    "artifacts",
    "n",
    "successes",
    "forward_queries",
    "gradient_queries",
    "metrics",
)

_SAMPLE_COLS = (
    "idx",
    "true_label",
    "initial_label",
    "initial_conf",
    "final_label",
    "final_conf",
    "target_label",
    "success",
    "linf",
    "l2",
    "l0",
    "forward_queries",
    "gradient_queries",
    "images",
    "measures",
    "note",
)


def _from_arrays(folder: Path, measure: Measure, one_axis_only: bool) -> dict[int, float]:
    """``measure`` of each sample whose input and adversarial input a run kept in
    ``folder`` (``adversarial*.npz``), by sample index; with ``one_axis_only``, only from
    files whose samples have one axis. A missing, damaged or foreign file gives nothing."""
    import zipfile

    import numpy as np

    assert measure.compute is not None
    out: dict[int, float] = {}
    for path in sorted(folder.glob("adversarial*.npz")):
        try:
            with np.load(path, allow_pickle=False) as f:
                x, x_adv, indices = f["x"], f["x_adv"], f["indices"]
                if x.shape != x_adv.shape or len(x) != len(indices) or (one_axis_only and x.ndim != 2):
                    continue
                values = np.asarray(measure.compute(x, x_adv), np.float64)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            continue
        out.update(zip((int(i) for i in indices), (float(v) for v in values)))
    return out


class StoreError(FeintError):
    """The store cannot be used as asked: ``kind`` is ``full`` (its disk), ``read-only``,
    ``locked`` (by another process, past the busy timeout), ``damaged``, ``newer`` (written
    by a newer feint) or ``failed`` (any other I/O failure)."""

    def __init__(self, message: str, kind: str, path: Path) -> None:
        super().__init__(message)
        self.kind, self.path = kind, path


class UnitTaken(FeintError):
    """A unit another scan already stored (the result computed here is not stored)."""


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _damaged(path: Path, why: str) -> StoreError:
    return StoreError(
        f"the store {path} is damaged ({why}); feint leaves it untouched: see `feint store check`, and move it "
        f"away (mv {path} {path}.damaged) to start a new store, or point FEINT_HOME elsewhere",
        "damaged",
        path,
    )


def _full(path: Path, why: str) -> StoreError:
    return StoreError(
        f"the disk holding the store {path} is full ({why}); what the store held is intact; free some space "
        "and run again",
        "full",
        path,
    )


def _read_only(path: Path, why: str) -> StoreError:
    return StoreError(
        f"the store {path} is read-only ({why}); feint show and feint report read it, but storing results needs "
        "its file and folder writable (or FEINT_HOME pointed elsewhere)",
        "read-only",
        path,
    )


def store_error(path: Path, exc: BaseException) -> StoreError:
    """The one-line :class:`StoreError` for a SQLite or OS error on the store at ``path``."""
    if isinstance(exc, StoreError):
        return exc
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc) if not isinstance(exc, OSError) else (exc.strerror or str(exc))
    if name.startswith("SQLITE_FULL") or getattr(exc, "errno", None) in _DISK_FULL:
        return _full(path, text)
    if name.startswith("SQLITE_READONLY") or getattr(exc, "errno", None) in (errno.EROFS, errno.EACCES, errno.EPERM):
        return _read_only(path, text)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(
            f"the store {path} is locked by another process, which held its write lock past {BUSY_TIMEOUT_S} s; "
            "try again when that process ends",
            "locked",
            path,
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return _damaged(path, text)
    if name.startswith("SQLITE_IOERR"):
        return StoreError(
            f"cannot write the store {path} ({text}: its disk may be full or failing); what the store held is intact",
            "failed",
            path,
        )
    return StoreError(f"cannot use the store {path}: {text}", "failed", path)


@contextlib.contextmanager
def writing_artifacts(folder: Path) -> Iterator[None]:
    """While inside, a failure to write into the artifacts ``folder`` (a full disk, a
    read-only folder) raises one line naming it (:class:`StoreError`)."""
    try:
        yield
    except OSError as exc:
        why = exc.strerror or str(exc)
        if exc.errno in _DISK_FULL:
            message = f"the disk holding {folder} is full ({why}); the results it was writing were not stored"
            kind = "full"
        elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            message, kind = f"cannot write the artifacts folder {folder} ({why}); make it writable", "read-only"
        else:
            message, kind = f"cannot write the artifacts folder {folder}: {why}", "failed"
        raise StoreError(message, kind, folder) from exc


P = ParamSpec("P")
R = TypeVar("R")


def _guarded(method: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
    """``method`` of the store, its SQLite errors said in one line (:func:`store_error`)."""

    @functools.wraps(method)
    def guarded(self: Store, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            raise store_error(self.path, exc) from exc

    return guarded


def new_holder() -> str:
    """A lease holder's id: this host, this process and a token of its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(holder: str | None, heartbeat: float | None, me: str, now: float) -> bool:
    """Whether the lease of ``holder`` (another than ``me``) still holds: its heartbeat is
    recent and, for a holder on this host, its process is still there."""
    if holder is None or holder == me:
        return False
    if heartbeat is None or now - heartbeat > LEASE_S:
        return False
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, OverflowError):
            pass
    return True


def _uri(path: Path, **query: str) -> str:
    return f"file:{urllib.parse.quote(str(path.resolve()))}" + ("?" + urllib.parse.urlencode(query) if query else "")


def _not_sqlite(path: Path) -> str | None:
    """Why the file at ``path`` cannot be a SQLite database (None when it may be one)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        return exc.strerror or str(exc)
    if size == 0:
        return "the file is empty: 0 bytes"
    if head != b"SQLite format 3\x00":
        return "the file is not a SQLite database"
    return None


def _has_history(path: Path) -> bool:
    """Whether anything says the store at ``path`` held results: a write-ahead log with
    content beside it, or artifacts of runs. An empty file with no such sign (another
    program opened the path before feint did) is no store yet, and becomes one."""
    wal = path.with_name(path.name + "-wal")
    artifacts = path.parent / "artifacts"
    try:
        return (wal.exists() and wal.stat().st_size > 0) or (artifacts.is_dir() and any(artifacts.iterdir()))
    except OSError:
        return True


def check_store(path: Path | str | None = None) -> dict[str, Any]:
    """Check the store at ``path`` (default ``$FEINT_HOME/feint.db``) without writing to it:
    SQLite's ``integrity_check`` and ``foreign_key_check``. Returns ``path``, ``ok`` and
    ``problems`` (one line each; none when ``ok``)."""
    path = Path(path) if path is not None else feint_home() / "feint.db"
    if not path.exists():
        raise StoreError(f"there is no store at {path}", "failed", path)
    problems: list[str] = []
    why = _not_sqlite(path)
    if why is not None:
        problems.append(why)
    else:
        try:
            db = _connect_read_only(path)
            try:
                problems += [r[0] for r in db.execute("PRAGMA integrity_check(100)") if r[0] != "ok"]
                for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check"):
                    problems.append(f"row {rowid} of {table} refers to a missing row of {parent}")
                if (
                    not problems
                    and db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0] == 0
                ):
                    problems.append("a SQLite database, but not a feint store (it has no meta table)")
            finally:
                db.close()
        except sqlite3.Error as exc:
            problems.append(str(exc))
    return {"path": str(path), "ok": not problems, "problems": problems}


def _connect_read_only(path: Path, timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A read-only connection to the database at ``path``: shared with writers where its
    folder lets SQLite keep its shared memory beside it, else (nothing can write there) as
    an immutable file."""
    try:
        db = sqlite3.connect(_uri(path, mode="ro"), uri=True, timeout=timeout)
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError as exc:
        if not (getattr(exc, "sqlite_errorname", "") or "").startswith("SQLITE_CANTOPEN"):
            raise
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise _read_only(
            path, "its write-ahead log holds changes that only a writable folder lets SQLite read; make it writable"
        )
    return sqlite3.connect(_uri(path, mode="ro", immutable="1"), uri=True, timeout=timeout)


class Store:
    """The SQLite store at ``path`` (default ``$FEINT_HOME/feint.db``)."""

    def __init__(self, path: Path | str | None = None):
        if path is None:
            try:
                path = feint_home() / "feint.db"
            except OSError as exc:
                raise StoreError(
                    f"cannot make the folder of the store, $FEINT_HOME: {exc.strerror or exc}", "failed", Path("")
                ) from exc
        self.path = Path(path)
        self.read_only = False  # its file or folder cannot be written: opened for reading only
        db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                if not os.access(self.path.parent, os.W_OK):
                    raise _read_only(self.path, "its folder cannot be written, so no store can be made there")
                self._create()
            why = _not_sqlite(self.path)
            if why is not None and (self.path.stat().st_size > 0 or _has_history(self.path)):
                raise _damaged(self.path, why if self.path.stat().st_size > 0 else f"{why}, beside stored results")
            if os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK):
                db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            else:
                self.read_only = True
                db = _connect_read_only(self.path)
            self.db = db
            self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self.db.execute("PRAGMA foreign_keys=ON")
            version = self._version()
            if version is not None and version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.path} was written by a newer feint (schema {version}; this feint reads "
                    f"schemas up to {SCHEMA_VERSION}); upgrade feint, or point FEINT_HOME elsewhere",
                    "newer",
                    self.path,
                )
            if not self.read_only:  # a feint store (an empty database becomes one): readers and a writer at once
                self.db.execute("PRAGMA journal_mode=WAL")
            if self.read_only and version is not None and READABLE_FROM <= version < SCHEMA_VERSION:
                pass  # read as it is: what it lacks (the units' leases) only writers use
            elif version != SCHEMA_VERSION:  # a reader of a current store writes nothing
                if self.read_only:
                    raise _read_only(
                        self.path, f"it is of schema {version}, which this feint brings to {SCHEMA_VERSION} first"
                    )
                with self.db:
                    self.db.executescript(SCHEMA)
                    self._migrate()
                    self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except (sqlite3.Error, OSError, StoreError) as exc:
            if db is not None:
                db.close()
            raise store_error(self.path, exc) from (None if isinstance(exc, StoreError) else exc)

    def _create(self) -> None:
        """Build a new store under a temporary name beside ``path`` and link it into place
        whole (a store another process linked there first is kept), so that no store feint
        made is ever an empty file."""
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.new")
        try:
            db = sqlite3.connect(tmp)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                with db:
                    db.executescript(SCHEMA)
                    db.execute("CREATE INDEX IF NOT EXISTS scans_by_plan ON scans(plan_key)")
                    db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            finally:
                db.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass  # another process made the store first: that one is used
            except OSError:  # a filesystem without hard links
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{tmp}{suffix}").unlink(missing_ok=True)

    def _version(self) -> int | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            tables = [r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            if tables:  # some other program's database
                raise StoreError(
                    f"the store {self.path} is a SQLite database of something else (tables: "
                    f"{', '.join(tables[:5])}), not a feint store; feint leaves it untouched: point FEINT_HOME "
                    "elsewhere",
                    "foreign",
                    self.path,
                ) from None
            return None  # an empty database: a new store
        return int(row[0]) if row else None

    def _migrate(self) -> None:
        """Bring a store written by an older feint up to this schema, keeping its data."""

        def columns(table: str) -> set[str]:
            return {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}

        if "metrics" not in columns("runs"):  # version 1
            self.db.execute("ALTER TABLE runs ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}'")
        if "pos" not in columns("samples"):  # version 2: samples in insertion order, whole runs only
            self.db.execute("ALTER TABLE samples ADD COLUMN pos INTEGER")
        scans = columns("scans")
        for name in ("plan_key", "target_spec"):
            if name not in scans:
                self.db.execute(f"ALTER TABLE scans ADD COLUMN {name} TEXT")
        self.db.execute("CREATE INDEX IF NOT EXISTS scans_by_plan ON scans(plan_key)")
        samples = columns("samples")
        if "measures" not in samples:  # version 3
            self.db.execute("ALTER TABLE samples ADD COLUMN measures TEXT NOT NULL DEFAULT '{}'")
            self._migrate_measures("wasserstein" in samples)
        required = {r[1]: bool(r[3]) for r in self.db.execute("PRAGMA table_info(samples)")}
        if required.get("initial_conf") or required.get("final_conf"):  # version 4
            self._allow_absent_confidences()
        units = columns("units")
        for name, kind in (("holder", "TEXT"), ("heartbeat", "REAL")):  # version 5
            if name not in units:
                self.db.execute(f"ALTER TABLE units ADD COLUMN {name} {kind}")
        self.db.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version' AND CAST(value AS INTEGER) < ?",
            (str(SCHEMA_VERSION), SCHEMA_VERSION),
        )

    def _migrate_measures(self, had_wasserstein: bool) -> None:
        """Fill ``samples.measures`` of a version 3 store: each Wasserstein run's stored
        transport cost, and for a tabular target's run (the data type its scan recorded;
        for a run outside a scan, samples of one axis, which only tabular targets have)
        the % Euclidean distance computed from the inputs and adversarial inputs in its
        artifacts folder, where they are still there. The old column goes where SQLite can
        drop one."""
        found: dict[tuple[str, int], dict[str, float]] = {}
        if had_wasserstein:
            for run_id, idx, value in self.db.execute(
                "SELECT run_id, idx, wasserstein FROM samples WHERE wasserstein IS NOT NULL"
            ):
                found.setdefault((run_id, idx), {})["wasserstein"] = value
        euclid = MEASURES.get("euclid_pct")
        for run_id, artifacts, info in self.db.execute(
            "SELECT r.run_id, r.artifacts, s.target_info FROM runs r LEFT JOIN scans s ON s.scan_id = r.scan_id "
            "WHERE r.artifacts IS NOT NULL"
        ).fetchall():
            try:
                data_type = json.loads(info).get("data_type") if info else None
            except (ValueError, AttributeError):
                data_type = None
            if info is not None and data_type not in euclid.data_types:
                continue
            for idx, value in _from_arrays(Path(artifacts), euclid, one_axis_only=info is None).items():
                found.setdefault((run_id, idx), {})[euclid.name] = value
        self.db.executemany(
            "UPDATE samples SET measures = ? WHERE run_id = ? AND idx = ?",
            [(json.dumps(m), run_id, idx) for (run_id, idx), m in found.items()],
        )
        if had_wasserstein and sqlite3.sqlite_version_info >= (3, 35, 0):
            self.db.execute("ALTER TABLE samples DROP COLUMN wasserstein")

    def _allow_absent_confidences(self) -> None:
        """Rebuild ``samples`` with the schema's columns, where a confidence may be NULL
        (SQLite changes a column's constraint only by copying its table), keeping every row."""
        start = SCHEMA.index("CREATE TABLE IF NOT EXISTS samples (")
        ddl = SCHEMA[start : SCHEMA.index(");", start) + 2]
        new = ddl.replace("CREATE TABLE IF NOT EXISTS samples (", "CREATE TABLE samples_v5 (")
        old = [r[1] for r in self.db.execute("PRAGMA table_info(samples)")]
        self.db.execute(new)
        keep = [c for c in (r[1] for r in self.db.execute("PRAGMA table_info(samples_v5)")) if c in old]
        cols = ", ".join(keep)
        self.db.execute(f"INSERT INTO samples_v5 ({cols}) SELECT {cols} FROM samples")
        self.db.execute("DROP TABLE samples")
        self.db.execute("ALTER TABLE samples_v5 RENAME TO samples")

    @property
    def artifacts_root(self) -> Path:
        return self.path.parent / "artifacts"

    def close(self) -> None:
        self.db.close()

    # -- writing -------------------------------------------------------------------
    @_guarded
    def add_scan(
        self,
        scan_id: str,
        target: str,
        started_at: str,
        settings: dict,
        target_info: dict,
        plan_key: str | None = None,
        target_spec: str | None = None,
    ) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO scans VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (scan_id, target, started_at, json.dumps(settings), json.dumps(target_info), plan_key, target_spec),
            )

    @_guarded
    def add_endpoint_counts(self, scan_id: str, queries: int, requests: int) -> None:
        """Add rows and requests sent to the endpoint counts of a scan's stored target
        description, in one transaction, so that invocations sharing the scan each add theirs."""
        with self._immediate():
            row = self.db.execute("SELECT target_info FROM scans WHERE scan_id = ?", (scan_id,)).fetchone()
            info = json.loads(row[0])
            endpoint = info["endpoint"]
            endpoint["queries"] = int(endpoint.get("queries") or 0) + queries
            endpoint["requests"] = int(endpoint.get("requests") or 0) + requests
            self.db.execute("UPDATE scans SET target_info = ? WHERE scan_id = ?", (json.dumps(info), scan_id))

    @_guarded
    def cut_unit(self, run_id: str, unit: int, queries: int) -> None:
        """Mark a pending unit ``cut`` by a query budget, adding the queries it spent to its
        ``cut_queries``; its samples are not stored and it stays to be run. A unit another
        invocation of the scan stored meanwhile stays as it is stored."""
        with self._immediate():
            row = self.db.execute(
                "SELECT metrics, status FROM units WHERE run_id = ? AND unit = ?", (run_id, unit)
            ).fetchone()
            if row is None:
                raise FeintError(f"unit {unit} of run {run_id} is not in the store")
            if row[1] == "done":
                return
            metrics = json.loads(row[0] or "{}")
            metrics["cut_queries"] = int(metrics.get("cut_queries", 0)) + int(queries)
            self.db.execute(
                "UPDATE units SET status = 'cut', metrics = ?, holder = NULL, heartbeat = NULL "
                "WHERE run_id = ? AND unit = ?",
                (json.dumps(metrics), run_id, unit),
            )

    @_guarded
    def finish_scan(self, scan_id: str, status: str = "done") -> None:
        with self.db:
            self.db.execute("UPDATE scans SET status = ? WHERE scan_id = ?", (status, scan_id))

    @_guarded
    def add_run(self, run: RunResult, query_log: list[dict] | None = None) -> None:
        """Commit a finished run with its samples (and query log) in one transaction."""
        with self.db:
            self.db.execute(
                f"INSERT INTO runs ({', '.join(_RUN_COLS)}) VALUES ({', '.join('?' * len(_RUN_COLS))})",
                (
                    run.run_id,
                    run.scan_id,
                    run.target,
                    run.attack,
                    run.framework,
                    json.dumps(run.params),
                    run.seed,
                    run.started_at,
                    run.elapsed_s,
                    run.status,
                    run.artifacts,
                    run.n,
                    run.successes,
                    run.forward_queries,
                    run.gradient_queries,
                    json.dumps({"family": run.family, **run.metrics}),
                ),
            )
            self._add_samples(run.run_id, run.samples, 0)
            self._add_log(run.run_id, query_log)

    def continue_run(self, run: RunResult, first: int, query_log: list[dict] | None = None) -> None:
        """Commit, in one transaction, the rest of a ``partial`` run outside a scan (one a
        query budget stopped) that has ``first`` samples stored: ``run`` whole, its samples
        from position ``first`` on added, its totals, status and metrics replaced, and the
        query log extended. A run not stored as such is refused (FeintError)."""
        with self.db:
            row = self.db.execute(
                "SELECT status, scan_id, (SELECT COUNT(*) FROM samples s WHERE s.run_id = runs.run_id) "
                "FROM runs WHERE run_id = ?",
                (run.run_id,),
            ).fetchone()
            if row is None or row[0] != "partial" or row[1] is not None or row[2] != first:
                raise FeintError(f"run {run.run_id} is not a partial run with {first} samples stored")
            self._add_samples(run.run_id, run.samples[first:], first)
            self._add_log(run.run_id, query_log)
            self.db.execute(
                "UPDATE runs SET status = ?, artifacts = ?, elapsed_s = ?, n = ?, successes = ?, "
                "forward_queries = ?, gradient_queries = ?, metrics = ? WHERE run_id = ?",
                (
                    run.status,
                    run.artifacts,
                    run.elapsed_s,
                    run.n,
                    run.successes,
                    run.forward_queries,
                    run.gradient_queries,
                    json.dumps({"family": run.family, **run.metrics}),
                    run.run_id,
                ),
            )

    def _add_samples(self, run_id: str, samples: list[SampleResult], first_pos: int) -> None:
        self.db.executemany(
            f"INSERT INTO samples ({', '.join(_SAMPLE_COLS)}, run_id, pos) "
            f"VALUES ({', '.join('?' * (len(_SAMPLE_COLS) + 2))})",
            [
                (
                    s.index,
                    s.true_label,
                    s.initial_label,
                    s.initial_conf,
                    s.final_label,
                    s.final_conf,
                    s.target_label,
                    int(s.success),
                    s.linf,
                    s.l2,
                    s.l0,
                    s.forward_queries,
                    s.gradient_queries,
                    json.dumps(s.images),
                    json.dumps(s.measures),
                    s.note,
                    run_id,
                    first_pos + i,
                )
                for i, s in enumerate(samples)
            ],
        )

    def _add_log(self, run_id: str, query_log: list[dict] | None) -> None:
        if not query_log:
            return
        first = self.db.execute(
            "SELECT COALESCE(MAX(seq) + 1, 0) FROM query_log WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
        self.db.executemany(
            "INSERT INTO query_log VALUES (?, ?, ?, ?, ?)",
            [(run_id, first + i, e["kind"], e["rows"], json.dumps(e["samples"])) for i, e in enumerate(query_log)],
        )

    @_guarded
    def add_plan(
        self,
        scan_id: str,
        runs: list[dict[str, Any]],
        units: list[tuple[str, int, int, int]],
        scan: dict[str, Any] | None = None,
        join: bool = False,
    ) -> str:
        """Store a scan's plan in one transaction: the scan itself when ``scan`` is given (the
        arguments of :meth:`add_scan`), its runs (``pending``, no samples yet; each a dict with
        run_id, target, attack, framework, family, params, seed, started_at, artifacts and n,
        the planned samples) and its units, ``(run_id, unit, start, stop)`` with start and
        stop positions in the run. Returns the scan's id: with ``join``, that of an
        unfinished scan of the same ``plan_key`` when there is one (another process may have
        stored it a moment ago), and nothing is stored."""
        with self._immediate():
            if join and scan is not None and scan.get("plan_key"):
                found = self.unfinished_scan(scan["plan_key"])
                if found is not None:
                    return found
            if scan is not None:
                self.db.execute(
                    "INSERT INTO scans VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                    (
                        scan_id,
                        scan["target"],
                        scan["started_at"],
                        json.dumps(scan["settings"]),
                        json.dumps(scan["target_info"]),
                        scan.get("plan_key"),
                        scan.get("target_spec"),
                    ),
                )
            self.db.executemany(
                f"INSERT INTO runs ({', '.join(_RUN_COLS)}) VALUES ({', '.join('?' * len(_RUN_COLS))})",
                [
                    (
                        r["run_id"],
                        scan_id,
                        r["target"],
                        r["attack"],
                        r["framework"],
                        json.dumps(r["params"]),
                        r["seed"],
                        r["started_at"],
                        0.0,
                        "pending",
                        r["artifacts"],
                        r["n"],
                        0,
                        0,
                        0,
                        json.dumps({"family": r["family"]}),
                    )
                    for r in runs
                ],
            )
            self.db.executemany(
                "INSERT INTO units (run_id, unit, scan_id, start, stop, status) VALUES (?, ?, ?, ?, ?, 'pending')",
                [(run_id, unit, scan_id, start, stop) for run_id, unit, start, stop in units],
            )
        return scan_id

    @_guarded
    def add_unit(self, run_id: str, unit: int, result: RunResult, query_log: list[dict] | None = None) -> bool:
        """Commit one finished unit (a chunk of a run) in one transaction: its samples, its
        query log and its totals; when it is the run's last unit, the run is finished in the
        same transaction, with its totals over all its units. Returns whether the run is done.
        A unit that is already stored (by another scan of the same plan, say) is refused as a
        whole (:class:`UnitTaken`)."""
        with self._immediate():
            row = self.db.execute(
                "SELECT start, stop, metrics, status FROM units WHERE run_id = ? AND unit = ?", (run_id, unit)
            ).fetchone()
            if row is not None and row[3] == "done":
                raise UnitTaken(f"unit {unit} of run {run_id} is already stored")
            if row is None or row[1] - row[0] != len(result.samples):
                raise FeintError(f"unit {unit} of run {run_id} is not a pending unit of that size in the store")
            metrics = dict(result.metrics)
            earlier = json.loads(row[2] or "{}").get("cut_queries")  # spent by the tries a budget cut short
            if earlier:
                metrics["cut_queries"] = earlier
            self._add_samples(run_id, result.samples, row[0])
            self._add_log(run_id, query_log)
            self.db.execute(
                "UPDATE units SET status = 'done', started_at = ?, elapsed_s = ?, forward_queries = ?, "
                "gradient_queries = ?, successes = ?, metrics = ? WHERE run_id = ? AND unit = ?",
                (
                    result.started_at,
                    result.elapsed_s,
                    result.forward_queries,
                    result.gradient_queries,
                    result.successes,
                    json.dumps(metrics),
                    run_id,
                    unit,
                ),
            )
            left = self.db.execute(
                "SELECT COUNT(*) FROM units WHERE run_id = ? AND status != 'done'", (run_id,)
            ).fetchone()[0]
            if left:
                return False
            self._finish_run(run_id, result.family)
            return True

    def _unit_totals(self, run_id: str, done_only: bool = False) -> tuple[list[tuple], dict[str, Any]]:
        """A run's finished units (started_at, elapsed_s) and its run-level metrics over
        its units: a one-unit run's own, else the unattributed queries summed, and the
        queries spent on units a budget cut short (``cut_queries``) in either case."""
        units = self.db.execute(
            "SELECT started_at, elapsed_s, metrics, status FROM units WHERE run_id = ? ORDER BY unit", (run_id,)
        ).fetchall()
        metrics: dict[str, Any] = {}
        if len(units) == 1 and units[0][3] == "done":
            metrics = json.loads(units[0][2] or "{}")
        else:  # only evasion runs are cut into units; their run-level measures are the unattributed queries
            for _, _, text, status in units:
                for key, value in json.loads(text or "{}").items():
                    if key == "cut_queries" or (status == "done" and key.startswith("unattributed_")):
                        metrics[key] = metrics.get(key, 0) + value
        return [u[:2] for u in units if u[3] == "done" or not done_only], metrics

    def _finish_run(self, run_id: str, family: str) -> None:
        units, metrics = self._unit_totals(run_id)
        n, successes, fwd, grad = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(success), 0), COALESCE(SUM(forward_queries), 0), "
            "COALESCE(SUM(gradient_queries), 0) FROM samples WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        fwd += int(metrics.get("unattributed_forward_queries", 0))
        grad += int(metrics.get("unattributed_gradient_queries", 0))
        self.db.execute(
            "UPDATE runs SET status = 'done', started_at = ?, elapsed_s = ?, n = ?, successes = ?, "
            "forward_queries = ?, gradient_queries = ?, metrics = ? WHERE run_id = ?",
            (
                min(u[0] for u in units),
                sum(u[1] for u in units),
                n,
                successes,
                fwd,
                grad,
                json.dumps({"family": family, **metrics}),
                run_id,
            ),
        )

    # -- leases: which scan runs which unit ------------------------------------------
    @contextlib.contextmanager
    def _immediate(self) -> Iterator[None]:
        """A transaction that takes the write lock at once (so what it reads stays true
        until it commits)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.rollback()
            raise
        self.db.commit()

    @_guarded
    def claim_unit(self, run_id: str, unit: int, holder: str) -> bool:
        """Lease a unit to ``holder`` (a :func:`new_holder` id): False when it is stored or
        another live holder has it."""
        with self._immediate():
            row = self.db.execute(
                "SELECT status, holder, heartbeat FROM units WHERE run_id = ? AND unit = ?", (run_id, unit)
            ).fetchone()
            now = time.time()
            if row is None or row[0] == "done" or _alive(row[1], row[2], holder, now):
                return False
            self.db.execute(
                "UPDATE units SET holder = ?, heartbeat = ? WHERE run_id = ? AND unit = ?", (holder, now, run_id, unit)
            )
            return True

    @_guarded
    def unit_states(self, scan_id: str, holder: str) -> dict[tuple[str, int], str]:
        """Each unit of a scan, by (run_id, unit): ``done``, ``held`` (by another live
        holder than ``holder``) or ``free``."""
        now = time.time()
        return {
            (r[0], r[1]): "done" if r[2] == "done" else "held" if _alive(r[3], r[4], holder, now) else "free"
            for r in self.db.execute(
                "SELECT run_id, unit, status, holder, heartbeat FROM units WHERE scan_id = ?", (scan_id,)
            )
        }

    @_guarded
    def units_left(self, run_id: str) -> int:
        """How many units of a run are not stored yet."""
        return int(
            self.db.execute("SELECT COUNT(*) FROM units WHERE run_id = ? AND status != 'done'", (run_id,)).fetchone()[0]
        )

    @_guarded
    def release(self, holder: str) -> None:
        """Give up the leases of ``holder`` on units it did not store."""
        with self.db:
            self.db.execute(
                "UPDATE units SET holder = NULL, heartbeat = NULL WHERE holder = ? AND status != 'done'", (holder,)
            )

    @contextlib.contextmanager
    def leases(self, holder: str) -> Iterator[None]:
        """While inside: the heartbeat of ``holder``'s leases is refreshed every
        :data:`HEARTBEAT_S` seconds (from a thread with its own connection); after: its
        leases on units it did not store are given up."""
        stop = threading.Event()

        def beat() -> None:
            db: sqlite3.Connection | None = None
            while not stop.wait(HEARTBEAT_S):
                try:
                    db = db or sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
                    with db:
                        db.execute(
                            "UPDATE units SET heartbeat = ? WHERE holder = ? AND status != 'done'",
                            (time.time(), holder),
                        )
                except sqlite3.Error:
                    pass  # a store busy or full for a moment: the next beat tries again
            if db is not None:
                db.close()

        thread = threading.Thread(target=beat, name="feint-leases", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            with contextlib.suppress(StoreError):
                self.release(holder)

    # -- fitness ---------------------------------------------------------------------
    @_guarded
    def prepare_write(self) -> None:
        """Refuse, before any work is spent, a store that could not take its results: one
        read-only, locked by another process, damaged (SQLite's ``quick_check``) or on a
        disk without :data:`PROBE_BYTES` to spare (a probe file is written and removed)."""
        if self.read_only:
            raise _read_only(self.path, "its file or its folder cannot be written")
        self.db.execute("BEGIN IMMEDIATE")
        self.db.rollback()
        row = self.db.execute("PRAGMA quick_check(1)").fetchone()
        if row is None or row[0] != "ok":
            raise _damaged(self.path, row[0] if row else "its check answered nothing")
        probe = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.probe")
        try:
            with open(probe, "wb") as f:
                f.write(bytes(PROBE_BYTES))
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise _full(self.path, f"less than {PROBE_BYTES >> 20} MiB free: {exc.strerror}") from None
            raise
        finally:
            probe.unlink(missing_ok=True)

    # -- reading -------------------------------------------------------------------
    @_guarded
    def get_run(self, run_id: str) -> RunResult | None:
        row = self.db.execute(
            "SELECT run_id, scan_id, target, attack, framework, params, seed, started_at, elapsed_s, "
            "status, artifacts, metrics, n FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            return None
        samples = [
            SampleResult(
                index=r[0],
                true_label=r[1],
                initial_label=r[2],
                initial_conf=r[3],
                final_label=r[4],
                final_conf=r[5],
                target_label=r[6],
                success=bool(r[7]),
                linf=r[8],
                l2=r[9],
                l0=r[10],
                forward_queries=r[11],
                gradient_queries=r[12],
                images=json.loads(r[13]),
                measures=json.loads(r[14] or "{}"),
                note=r[15],
            )
            for r in self.db.execute(
                f"SELECT {', '.join(_SAMPLE_COLS)} FROM samples WHERE run_id = ? ORDER BY pos, rowid", (run_id,)
            )
        ]
        texts = _stored_texts(row[10])
        for sample in samples:
            if sample.index in texts:
                sample.text = texts[sample.index]
        metrics = json.loads(row[11] or "{}")
        started_at, elapsed_s, status = row[7], row[8], row[9]
        if status == "pending" and samples:  # some of its units finished: what they hold
            done, totals = self._unit_totals(run_id, done_only=True)
            metrics = {"family": metrics.get("family", "evasion"), **totals, "samples_planned": row[12]}
            started_at, elapsed_s, status = min(u[0] for u in done), sum(u[1] for u in done), "partial"
        return RunResult(
            run_id=row[0],
            scan_id=row[1],
            target=row[2],
            attack=row[3],
            framework=row[4],
            params=json.loads(row[5]),
            seed=row[6],
            started_at=started_at,
            elapsed_s=elapsed_s,
            status=status,
            artifacts=row[10],
            samples=samples,
            family=metrics.pop("family", "evasion"),
            metrics=metrics,
        )

    @_guarded
    def get_scan(self, scan_id: str) -> ScanResult | None:
        row = self.db.execute(
            "SELECT scan_id, target, started_at, settings, target_info, status FROM scans WHERE scan_id = ?", (scan_id,)
        ).fetchone()
        if row is None:
            return None
        run_ids = [
            r[0]
            for r in self.db.execute(
                "SELECT run_id FROM runs WHERE scan_id = ? AND (status = 'done' OR EXISTS (SELECT 1 FROM units u "
                "WHERE u.run_id = runs.run_id AND u.status = 'done')) ORDER BY rowid",
                (scan_id,),
            )
        ]
        runs = [r for r in (self.get_run(i) for i in run_ids) if r is not None]
        settings = json.loads(row[3])
        settings["status"] = row[5]
        return ScanResult(
            scan_id=row[0],
            target=row[1],
            started_at=row[2],
            runs=runs,
            settings=settings,
            target_info=json.loads(row[4]),
        )

    @_guarded
    def scan_record(self, scan_id: str) -> dict[str, Any] | None:
        """What a resume needs of a scan: target, target_spec, plan_key, status, settings,
        target_info."""
        row = self.db.execute(
            "SELECT target, target_spec, plan_key, status, settings, started_at, target_info FROM scans "
            "WHERE scan_id = ?",
            (scan_id,),
        ).fetchone()
        if row is None:
            return None
        return {
            "scan_id": scan_id,
            "target": row[0],
            "target_spec": row[1],
            "plan_key": row[2],
            "status": row[3],
            "settings": json.loads(row[4]),
            "started_at": row[5],
            "target_info": json.loads(row[6]),
        }

    @_guarded
    def unfinished_scan(self, plan_key: str) -> str | None:
        """The latest scan with this plan that did not finish (it may have units left to run,
        or have been stopped after its last unit and before it was marked done), or None."""
        row = self.db.execute(
            "SELECT scan_id FROM scans WHERE plan_key = ? AND status != 'done' "
            "ORDER BY started_at DESC, rowid DESC LIMIT 1",
            (plan_key,),
        ).fetchone()
        return row[0] if row else None

    @_guarded
    def plan_runs(self, scan_id: str) -> list[dict[str, Any]]:
        """A scan's planned runs in plan order: run_id, attack, params, n, status, artifacts."""
        return [
            {
                "run_id": r[0],
                "attack": r[1],
                "params": json.loads(r[2]),
                "n": r[3],
                "status": r[4],
                "artifacts": r[5],
                "seed": r[6],
            }
            for r in self.db.execute(
                "SELECT run_id, attack, params, n, status, artifacts, seed FROM runs WHERE scan_id = ? ORDER BY rowid",
                (scan_id,),
            )
        ]

    @_guarded
    def plan_units(self, scan_id: str) -> list[dict[str, Any]]:
        """A scan's units in plan order: run_id, unit, start, stop, status, and for finished
        units their successes and queries."""
        return [
            {
                "run_id": r[0],
                "unit": r[1],
                "start": r[2],
                "stop": r[3],
                "status": r[4],
                "successes": r[5],
                "queries": (r[6] or 0) + (r[7] or 0),
            }
            for r in self.db.execute(
                "SELECT u.run_id, u.unit, u.start, u.stop, u.status, u.successes, u.forward_queries, "
                "u.gradient_queries FROM units u JOIN runs r ON r.run_id = u.run_id WHERE u.scan_id = ? "
                "ORDER BY r.rowid, u.unit",
                (scan_id,),
            )
        ]

    @_guarded
    def query_log(self, run_id: str) -> list[dict[str, Any]]:
        return [
            {"seq": r[0], "kind": r[1], "rows": r[2], "samples": json.loads(r[3])}
            for r in self.db.execute(
                "SELECT seq, kind, rows, samples FROM query_log WHERE run_id = ? ORDER BY seq", (run_id,)
            )
        ]

    @_guarded
    def recent_ids(self, limit: int = 5) -> list[str]:
        rows = self.db.execute(
            "SELECT id FROM (SELECT scan_id AS id, started_at FROM scans UNION ALL "
            "SELECT run_id, started_at FROM runs WHERE scan_id IS NULL) ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [r[0] for r in rows]


def _stored_texts(artifacts: str | None) -> dict[int, dict[str, str]]:
    """A text run's original and adversarial texts by sample index, from the arrays kept in
    its artifacts folder (one file, or one per unit of a scan's run); none for other runs."""
    if not artifacts:
        return {}
    folder = Path(artifacts)
    if not folder.is_dir():
        return {}
    import numpy as np

    out: dict[int, dict[str, str]] = {}
    for file in sorted(folder.glob("adversarial*.npz")):
        try:
            if not _holds_text(file):
                return {}
            with np.load(file) as data:  # no pickles: text is kept as arrays of str
                for i, x, a in zip(data["indices"], data["x"], data["x_adv"]):
                    out[int(i)] = {"original": str(x), "adversarial": str(a)}
        except Exception:  # a damaged or foreign file: the run's other results stand
            continue
    return out


def _holds_text(file: Path) -> bool:
    """Whether an adversarial-arrays file holds texts (arrays of str), read from the array
    header alone, so an image run's arrays are not read."""
    import zipfile

    import numpy as np

    with zipfile.ZipFile(file) as archive, archive.open("x.npy") as fh:
        version = np.lib.format.read_magic(fh)
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        _, _, dtype = header(fh)
    return dtype.kind == "U"
