"""A store written before runs had metrics opens, keeps its runs, and takes new ones."""

import json
import sqlite3

from feint.engine.results import RunResult, SampleResult
from feint.store.db import SCHEMA_VERSION, Store

V1_RUNS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, scan_id TEXT, target TEXT NOT NULL, attack TEXT NOT NULL, framework TEXT NOT NULL,
    params TEXT NOT NULL, seed INTEGER NOT NULL, started_at TEXT NOT NULL, elapsed_s REAL NOT NULL,
    status TEXT NOT NULL, artifacts TEXT, n INTEGER NOT NULL, successes INTEGER NOT NULL,
    forward_queries INTEGER NOT NULL, gradient_queries INTEGER NOT NULL
);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO runs VALUES ('old1', NULL, 'digits_keras', 'pgd', 'native', '{"eps": "0.3"}', 0,
                         '2026-01-01T00:00:00+00:00', 1.0, 'done', NULL, 0, 0, 0, 0);
"""


def test_a_version_1_store_is_migrated_in_place(tmp_path):
    path = tmp_path / "feint.db"
    db = sqlite3.connect(path)
    db.executescript(V1_RUNS)
    db.close()
    store = Store(path)
    old = store.get_run("old1")
    assert old is not None and old.family == "evasion" and old.metrics == {} and old.params == {"eps": "0.3"}
    version = store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert int(version) == SCHEMA_VERSION
    s = SampleResult(index=0, initial_label="1", initial_conf=0.9, final_label="1", final_conf=0.8, success=True,
                     linf=0.0, l2=0.0, l0=0, forward_queries=1, gradient_queries=0)
    new = RunResult(run_id="new1", attack="art.copycat_cnn", framework="art", target="digits_blackbox", params={},
                    seed=0, started_at="2026-01-02T00:00:00+00:00", elapsed_s=2.0, samples=[s], family="extraction",
                    metrics={"fidelity": 1.0, "unattributed_forward_queries": 50})
    store.add_run(new)
    back = Store(path).get_run("new1")
    assert back.to_dict() == new.to_dict() and back.forward_queries == 51
    row = store.db.execute("SELECT forward_queries, metrics FROM runs WHERE run_id = 'new1'").fetchone()
    assert row[0] == 51 and json.loads(row[1])["family"] == "extraction"
