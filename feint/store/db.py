"""The store: a SQLite database of scans, runs, per-sample results and query logs.

Each finished run is written in one transaction, so a run is either wholly stored or
not at all; artifacts (adversarial arrays, images) live in a folder beside the
database. WAL mode lets readers (``feint show``) work while a scan writes.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from feint.config import feint_home
from feint.engine.results import RunResult, SampleResult, ScanResult
from feint.errors import FeintError

__all__ = ["Store", "SCHEMA_VERSION"]

SCHEMA_VERSION = 2  # 2: runs.metrics (family and run-level measures, JSON)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans (
    scan_id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    started_at TEXT NOT NULL,
    settings TEXT NOT NULL,
    target_info TEXT NOT NULL,
    status TEXT NOT NULL
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
    initial_conf REAL NOT NULL,
    final_label TEXT NOT NULL,
    final_conf REAL NOT NULL,
    target_label TEXT,
    success INTEGER NOT NULL,
    linf REAL NOT NULL,
    l2 REAL NOT NULL,
    l0 INTEGER NOT NULL,
    wasserstein REAL,
    forward_queries INTEGER NOT NULL,
    gradient_queries INTEGER NOT NULL,
    images TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
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
    "run_id", "scan_id", "target", "attack", "framework", "params", "seed", "started_at", "elapsed_s", "status",
    "artifacts", "n", "successes", "forward_queries", "gradient_queries", "metrics",
)

_SAMPLE_COLS = (
    "idx", "true_label", "initial_label", "initial_conf", "final_label", "final_conf", "target_label",
    "success", "linf", "l2", "l0", "wasserstein", "forward_queries", "gradient_queries", "images",
)


class Store:
    """The SQLite store at ``path`` (default ``$FEINT_HOME/feint.db``)."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else feint_home() / "feint.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            with self.db:
                self.db.executescript(SCHEMA)
                self._migrate()
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise FeintError(f"cannot open the store {self.path}: {exc}") from None

    def _migrate(self) -> None:
        """Bring a store written by an older feint up to this schema, keeping its data."""
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(runs)")}
        if "metrics" not in columns:  # version 1
            self.db.execute("ALTER TABLE runs ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}'")
        self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version' AND CAST(value AS INTEGER) < ?",
                        (str(SCHEMA_VERSION), SCHEMA_VERSION))

    @property
    def artifacts_root(self) -> Path:
        return self.path.parent / "artifacts"

    def close(self) -> None:
        self.db.close()

    # -- writing -------------------------------------------------------------------
    def add_scan(self, scan_id: str, target: str, started_at: str, settings: dict, target_info: dict) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO scans VALUES (?, ?, ?, ?, ?, 'running')",
                (scan_id, target, started_at, json.dumps(settings), json.dumps(target_info)),
            )

    def finish_scan(self, scan_id: str, status: str = "done") -> None:
        with self.db:
            self.db.execute("UPDATE scans SET status = ? WHERE scan_id = ?", (status, scan_id))

    def add_run(self, run: RunResult, query_log: list[dict] | None = None) -> None:
        """Commit a finished run with its samples (and query log) in one transaction."""
        with self.db:
            self.db.execute(
                f"INSERT INTO runs ({', '.join(_RUN_COLS)}) VALUES ({', '.join('?' * len(_RUN_COLS))})",
                (run.run_id, run.scan_id, run.target, run.attack, run.framework, json.dumps(run.params),
                 run.seed, run.started_at, run.elapsed_s, run.status, run.artifacts, run.n,
                 run.successes, run.forward_queries, run.gradient_queries,
                 json.dumps({"family": run.family, **run.metrics})),
            )
            self.db.executemany(
                f"INSERT INTO samples ({', '.join(_SAMPLE_COLS)}, run_id) VALUES ({', '.join('?' * (len(_SAMPLE_COLS) + 1))})",
                [(s.index, s.true_label, s.initial_label, s.initial_conf, s.final_label, s.final_conf,
                  s.target_label, int(s.success), s.linf, s.l2, s.l0, s.wasserstein, s.forward_queries,
                  s.gradient_queries, json.dumps(s.images), run.run_id) for s in run.samples],
            )
            if query_log:
                self.db.executemany(
                    "INSERT INTO query_log VALUES (?, ?, ?, ?, ?)",
                    [(run.run_id, i, e["kind"], e["rows"], json.dumps(e["samples"])) for i, e in enumerate(query_log)],
                )

    # -- reading -------------------------------------------------------------------
    def get_run(self, run_id: str) -> RunResult | None:
        row = self.db.execute(
            "SELECT run_id, scan_id, target, attack, framework, params, seed, started_at, elapsed_s, "
            "status, artifacts, metrics FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        samples = [
            SampleResult(
                index=r[0], true_label=r[1], initial_label=r[2], initial_conf=r[3], final_label=r[4],
                final_conf=r[5], target_label=r[6], success=bool(r[7]), linf=r[8], l2=r[9], l0=r[10],
                wasserstein=r[11], forward_queries=r[12], gradient_queries=r[13], images=json.loads(r[14]),
            )
            for r in self.db.execute(
                f"SELECT {', '.join(_SAMPLE_COLS)} FROM samples WHERE run_id = ? ORDER BY rowid", (run_id,))
        ]
        metrics = json.loads(row[11] or "{}")
        return RunResult(
            run_id=row[0], scan_id=row[1], target=row[2], attack=row[3], framework=row[4],
            params=json.loads(row[5]), seed=row[6], started_at=row[7], elapsed_s=row[8], status=row[9],
            artifacts=row[10], samples=samples, family=metrics.pop("family", "evasion"), metrics=metrics,
        )

    def get_scan(self, scan_id: str) -> ScanResult | None:
        row = self.db.execute(
            "SELECT scan_id, target, started_at, settings, target_info, status FROM scans WHERE scan_id = ?",
            (scan_id,)).fetchone()
        if row is None:
            return None
        run_ids = [r[0] for r in self.db.execute(
            "SELECT run_id FROM runs WHERE scan_id = ? ORDER BY rowid", (scan_id,))]
        runs = [r for r in (self.get_run(i) for i in run_ids) if r is not None]
        settings = json.loads(row[3])
        settings["status"] = row[5]
        return ScanResult(scan_id=row[0], target=row[1], started_at=row[2], runs=runs,
                          settings=settings, target_info=json.loads(row[4]))

    def query_log(self, run_id: str) -> list[dict[str, Any]]:
        return [
            {"seq": r[0], "kind": r[1], "rows": r[2], "samples": json.loads(r[3])}
            for r in self.db.execute(
                "SELECT seq, kind, rows, samples FROM query_log WHERE run_id = ? ORDER BY seq", (run_id,))
        ]

    def recent_ids(self, limit: int = 5) -> list[str]:
        rows = self.db.execute(
            "SELECT id FROM (SELECT scan_id AS id, started_at FROM scans UNION ALL "
            "SELECT run_id, started_at FROM runs WHERE scan_id IS NULL) ORDER BY started_at DESC LIMIT ?",
            (limit,)).fetchall()
        return [r[0] for r in rows]
