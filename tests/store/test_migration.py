"""A store written by an older feint (before runs had metrics, units or measures) opens, keeps
its runs, and takes new ones."""

import json
import sqlite3

import pytest

from feint.records import RunResult, SampleResult
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
    s = SampleResult(
        index=0,
        initial_label="1",
        initial_conf=0.9,
        final_label="1",
        final_conf=0.8,
        success=True,
        linf=0.0,
        l2=0.0,
        l0=0,
        forward_queries=1,
        gradient_queries=0,
    )
    new = RunResult(
        run_id="new1",
        attack="art.copycat_cnn",
        framework="art",
        target="digits_blackbox",
        params={},
        seed=0,
        started_at="2026-01-02T00:00:00+00:00",
        elapsed_s=2.0,
        samples=[s],
        family="extraction",
        metrics={"fidelity": 1.0, "unattributed_forward_queries": 50},
    )
    store.add_run(new)
    back = Store(path).get_run("new1")
    assert back.to_dict() == new.to_dict() and back.forward_queries == 51
    row = store.db.execute("SELECT forward_queries, metrics FROM runs WHERE run_id = 'new1'").fetchone()
    assert row[0] == 51 and json.loads(row[1])["family"] == "extraction"


V2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE scans (scan_id TEXT PRIMARY KEY, target TEXT NOT NULL, started_at TEXT NOT NULL,
    settings TEXT NOT NULL, target_info TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, scan_id TEXT REFERENCES scans(scan_id), target TEXT NOT NULL, attack TEXT NOT NULL,
    framework TEXT NOT NULL, params TEXT NOT NULL, seed INTEGER NOT NULL, started_at TEXT NOT NULL,
    elapsed_s REAL NOT NULL, status TEXT NOT NULL, artifacts TEXT, n INTEGER NOT NULL, successes INTEGER NOT NULL,
    forward_queries INTEGER NOT NULL, gradient_queries INTEGER NOT NULL, metrics TEXT NOT NULL DEFAULT '{}');
CREATE TABLE samples (
    run_id TEXT NOT NULL REFERENCES runs(run_id), idx INTEGER NOT NULL, true_label TEXT, initial_label TEXT NOT NULL,
    initial_conf REAL NOT NULL, final_label TEXT NOT NULL, final_conf REAL NOT NULL, target_label TEXT,
    success INTEGER NOT NULL, linf REAL NOT NULL, l2 REAL NOT NULL, l0 INTEGER NOT NULL, wasserstein REAL,
    forward_queries INTEGER NOT NULL, gradient_queries INTEGER NOT NULL, images TEXT NOT NULL,
    PRIMARY KEY (run_id, idx));
CREATE TABLE query_log (run_id TEXT NOT NULL REFERENCES runs(run_id), seq INTEGER NOT NULL, kind TEXT NOT NULL,
    rows INTEGER NOT NULL, samples TEXT NOT NULL, PRIMARY KEY (run_id, seq));
INSERT INTO meta VALUES ('schema_version', '2');
INSERT INTO scans VALUES ('s2', 'digits_keras', '2026-01-01T00:00:00+00:00', '{"attacks": ["pgd"]}',
                          '{"name": "digits_keras"}', 'done');
INSERT INTO runs VALUES ('r2', 's2', 'digits_keras', 'pgd', 'native', '{"eps": "0.3"}', 0,
                         '2026-01-01T00:00:00+00:00', 1.0, 'done', NULL, 2, 1, 24, 20, '{"family": "evasion"}');
INSERT INTO samples VALUES ('r2', 7, '1', '1', 0.9, '7', 0.8, NULL, 1, 0.3, 2.0, 100, NULL, 12, 10, '{}');
INSERT INTO samples VALUES ('r2', 3, '4', '4', 0.9, '4', 0.7, NULL, 0, 0.3, 2.0, 100, NULL, 12, 10, '{}');
"""


def test_a_version_2_store_keeps_its_scans_and_takes_planned_scans(tmp_path):
    from feint.engine.scan import unfinished_units

    path = tmp_path / "feint.db"
    db = sqlite3.connect(path)
    db.executescript(V2)
    db.close()
    store = Store(path)
    old = store.get_scan("s2")
    assert [s.index for s in old.runs[0].samples] == [7, 3] and old.settings["status"] == "done"
    assert store.scan_record("s2")["plan_key"] is None and unfinished_units(store, "s2") == []
    assert int(store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]) == SCHEMA_VERSION
    # A planned scan: runs appear when their last unit is in, samples in run order.
    store.add_plan(
        "s3",
        [
            {
                "run_id": "r3",
                "target": "digits_keras",
                "attack": "pgd",
                "framework": "native",
                "family": "evasion",
                "params": {},
                "seed": 0,
                "started_at": "2026-01-02T00:00:00+00:00",
                "artifacts": None,
                "n": 2,
            }
        ],
        [("r3", 0, 0, 1), ("r3", 1, 1, 2)],
        scan={
            "target": "digits_keras",
            "started_at": "2026-01-02T00:00:00+00:00",
            "settings": {},
            "target_info": {},
            "plan_key": "k",
            "target_spec": "digits_keras",
        },
    )
    assert store.unfinished_scan("k") == "s3"

    def unit(index, unattributed):
        s = SampleResult(
            index=index,
            initial_label="1",
            initial_conf=0.9,
            final_label="2",
            final_conf=0.8,
            success=True,
            linf=0.1,
            l2=0.5,
            l0=3,
            forward_queries=5,
            gradient_queries=4,
        )
        return RunResult(
            run_id="r3",
            attack="pgd",
            framework="native",
            target="digits_keras",
            params={},
            seed=0,
            started_at=f"2026-01-02T00:00:0{index}+00:00",
            elapsed_s=1.5,
            samples=[s],
            metrics={"unattributed_forward_queries": unattributed},
        )

    assert store.add_unit("r3", 1, unit(9, 2)) is False
    (partial,) = Store(path).get_scan("s3").runs  # a reader sees the finished units of a run
    assert partial.status == "partial" and [s.index for s in partial.samples] == [9]
    assert partial.metrics["unattributed_forward_queries"] == 2 and partial.elapsed_s == 1.5
    assert store.add_unit("r3", 0, unit(8, 3)) is True
    run = Store(path).get_scan("s3").runs[0]
    assert [s.index for s in run.samples] == [8, 9] and run.elapsed_s == 3.0
    assert run.forward_queries == 15 and run.gradient_queries == 8 and run.metrics["unattributed_forward_queries"] == 5
    assert run.started_at == "2026-01-02T00:00:08+00:00" and run.status == "done"


V3 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE scans (scan_id TEXT PRIMARY KEY, target TEXT NOT NULL, started_at TEXT NOT NULL,
    settings TEXT NOT NULL, target_info TEXT NOT NULL, status TEXT NOT NULL, plan_key TEXT, target_spec TEXT);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, scan_id TEXT REFERENCES scans(scan_id), target TEXT NOT NULL, attack TEXT NOT NULL,
    framework TEXT NOT NULL, params TEXT NOT NULL, seed INTEGER NOT NULL, started_at TEXT NOT NULL,
    elapsed_s REAL NOT NULL, status TEXT NOT NULL, artifacts TEXT, n INTEGER NOT NULL, successes INTEGER NOT NULL,
    forward_queries INTEGER NOT NULL, gradient_queries INTEGER NOT NULL, metrics TEXT NOT NULL DEFAULT '{}');
CREATE TABLE samples (
    run_id TEXT NOT NULL REFERENCES runs(run_id), idx INTEGER NOT NULL, true_label TEXT, initial_label TEXT NOT NULL,
    initial_conf REAL NOT NULL, final_label TEXT NOT NULL, final_conf REAL NOT NULL, target_label TEXT,
    success INTEGER NOT NULL, linf REAL NOT NULL, l2 REAL NOT NULL, l0 INTEGER NOT NULL, wasserstein REAL,
    forward_queries INTEGER NOT NULL, gradient_queries INTEGER NOT NULL, images TEXT NOT NULL, pos INTEGER,
    PRIMARY KEY (run_id, idx));
CREATE TABLE units (run_id TEXT NOT NULL REFERENCES runs(run_id), unit INTEGER NOT NULL, scan_id TEXT NOT NULL,
    start INTEGER NOT NULL, stop INTEGER NOT NULL, status TEXT NOT NULL, started_at TEXT, elapsed_s REAL,
    forward_queries INTEGER, gradient_queries INTEGER, successes INTEGER, metrics TEXT, PRIMARY KEY (run_id, unit));
CREATE TABLE query_log (run_id TEXT NOT NULL REFERENCES runs(run_id), seq INTEGER NOT NULL, kind TEXT NOT NULL,
    rows INTEGER NOT NULL, samples TEXT NOT NULL, PRIMARY KEY (run_id, seq));
INSERT INTO meta VALUES ('schema_version', '3');
"""


def test_a_version_3_store_gets_its_measures(tmp_path):
    """The Wasserstein costs move to the measures; tabular runs get their % Euclidean distance
    from the arrays they kept (a scan's by its recorded data type, a run outside a scan when
    its samples have one axis); runs without arrays, or with damaged ones, get none."""
    import numpy as np

    from feint.report.jsonout import scan_document

    rng = np.random.default_rng(1)
    art = tmp_path / "artifacts"
    # A scan of a tabular target, cut into two units.
    (art / "tab").mkdir(parents=True)
    x = rng.normal(size=(3, 5)).astype(np.float32)
    x_adv = (x + rng.normal(scale=0.1, size=x.shape)).astype(np.float32)
    np.savez_compressed(art / "tab" / "adversarial.unit0.npz", indices=np.array([7, 9]), x=x[:2], x_adv=x_adv[:2])
    np.savez_compressed(art / "tab" / "adversarial.unit1.npz", indices=np.array([11]), x=x[2:], x_adv=x_adv[2:])
    # A Wasserstein scan of an image target: its arrays give no % Euclidean distance.
    (art / "img").mkdir()
    images = rng.uniform(size=(2, 1, 4, 4)).astype(np.float32)
    np.savez_compressed(art / "img" / "adversarial.npz", indices=np.array([0, 1]), x=images, x_adv=images * 0.5)
    # Runs outside a scan: rows of features, a damaged file, and a folder gone.
    (art / "rows").mkdir()
    np.savez_compressed(art / "rows" / "adversarial.npz", indices=np.array([4]), x=x[:1], x_adv=x_adv[:1])
    (art / "bad").mkdir()
    (art / "bad" / "adversarial.npz").write_bytes(b"PK\x03\x04 not a zip")

    path = tmp_path / "feint.db"
    db = sqlite3.connect(path)
    db.executescript(V3)
    tabular = {"name": "loans", "data_type": "tabular", "input_shape": [5]}
    image = {"name": "digits_keras", "data_type": "image", "input_shape": [1, 4, 4]}
    for scan_id, info in (("st", tabular), ("si", image)):
        db.execute(
            "INSERT INTO scans VALUES (?, ?, '2026-01-01T00:00:00+00:00', '{}', ?, 'done', NULL, NULL)",
            (scan_id, info["name"], json.dumps(info)),
        )
    runs = [
        ("rt", "st", "loans", "hop_skip_jump", art / "tab", [7, 9, 11], [None] * 3),
        ("rw", "si", "digits_keras", "wasserstein", art / "img", [0, 1], [0.25, 1.5]),
        ("ro", None, "loans_file", "hop_skip_jump", art / "rows", [4], [None]),
        ("rb", None, "loans_file", "hop_skip_jump", art / "bad", [4], [None]),
        ("rg", None, "loans_file", "hop_skip_jump", art / "gone", [4], [None]),
    ]
    for run_id, scan_id, target, attack, folder, indices, costs in runs:
        db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, 'native', '{}', 0, '2026-01-01T00:00:01+00:00', 1.0, 'done', ?, "
            '?, 0, 0, 0, \'{"family": "evasion"}\')',
            (run_id, scan_id, target, attack, str(folder), len(indices)),
        )
        db.executemany(
            "INSERT INTO samples VALUES (?, ?, NULL, 'a', 0.9, 'a', 0.9, NULL, 0, 0.1, 0.2, 3, ?, 2, 0, '{}', ?)",
            [(run_id, idx, cost, pos) for pos, (idx, cost) in enumerate(zip(indices, costs))],
        )
    db.commit()
    db.close()

    store = Store(path)
    assert int(store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]) == SCHEMA_VERSION
    assert "wasserstein" not in {r[1] for r in store.db.execute("PRAGMA table_info(samples)")}

    def by_hand(o, a):  # 100 * ||x_adv - x|| / (||x|| + float32 eps), as a reader computes it
        o, a = o.astype(np.float64), a.astype(np.float64)
        return 100 * np.sqrt(((a - o) ** 2).sum()) / (np.sqrt((o**2).sum()) + np.finfo(np.float32).eps)

    tab = store.get_run("rt")
    assert [s.index for s in tab.samples] == [7, 9, 11]
    for s, o, a in zip(tab.samples, x, x_adv):
        assert s.measures == {"euclid_pct": pytest.approx(by_hand(o, a), rel=1e-12)}
    assert [s.measures for s in store.get_run("rw").samples] == [{"wasserstein": 0.25}, {"wasserstein": 1.5}]
    assert store.get_run("ro").samples[0].euclid_pct == pytest.approx(by_hand(x[0], x_adv[0]), rel=1e-12)
    assert store.get_run("rb").samples[0].measures == {} and store.get_run("rg").samples[0].measures == {}
    # The JSON keys stay those of version 3: wasserstein and euclid_pct where a sample has them.
    doc = scan_document(store.get_scan("si"))
    assert [s["wasserstein"] for s in doc["runs"][0]["samples"]] == [0.25, 1.5]
    assert all("euclid_pct" not in s for s in doc["runs"][0]["samples"])
    assert "euclid_pct" in scan_document(store.get_scan("st"))["runs"][0]["samples"][0]
    # New runs store their measures; the store opens again without migrating.
    s = SampleResult(
        index=1,
        initial_label="a",
        initial_conf=0.9,
        final_label="b",
        final_conf=0.6,
        success=True,
        linf=0.1,
        l2=0.2,
        l0=3,
        forward_queries=4,
        gradient_queries=0,
        measures={"euclid_pct": 1.0 / 3.0},
    )
    store.add_run(
        RunResult(
            run_id="new",
            attack="hop_skip_jump",
            framework="native",
            target="loans",
            params={},
            seed=0,
            started_at="2026-01-03T00:00:00+00:00",
            elapsed_s=1.0,
            samples=[s],
        )
    )
    assert Store(path).get_run("new").samples[0].measures == {"euclid_pct": 1.0 / 3.0}


def _sample(index: int, conf: float | None) -> SampleResult:
    return SampleResult(
        index=index,
        initial_label="benign",
        initial_conf=conf,
        final_label="fraud",
        final_conf=conf,
        success=True,
        linf=0.5,
        l2=1.0,
        l0=3,
        forward_queries=7,
        gradient_queries=0,
        measures={"euclid_pct": 12.5},
    )


def _run(run_id: str, samples: list[SampleResult]) -> RunResult:
    return RunResult(
        run_id=run_id,
        attack="hop_skip_jump",
        framework="native",
        target="creditfraud",
        params={"sample_index": "0"},
        seed=0,
        started_at="2026-03-01T00:00:00+00:00",
        elapsed_s=1.0,
        samples=samples,
    )


def test_a_version_4_store_takes_runs_whose_confidences_are_absent(tmp_path):
    from feint.store.db import SCHEMA

    path = tmp_path / "feint.db"
    v4 = SCHEMA.replace("initial_conf REAL,", "initial_conf REAL NOT NULL,").replace(
        "final_conf REAL,", "final_conf REAL NOT NULL,"
    )
    db = sqlite3.connect(path)
    db.executescript(v4)
    db.execute("INSERT INTO meta VALUES ('schema_version', '4')")
    db.commit()
    db.close()
    # a run as version 4 stored it: its rows, written by this feint elsewhere, copied in
    writer = Store(tmp_path / "scratch.db")
    writer.add_run(_run("old4", [_sample(0, 0.75)]))
    writer.close()
    scratch = sqlite3.connect(tmp_path / "scratch.db")
    run_row = scratch.execute("SELECT * FROM runs").fetchone()
    sample_rows = scratch.execute("SELECT * FROM samples").fetchall()
    scratch.close()
    db = sqlite3.connect(path)
    with db:
        db.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(run_row))})", run_row)
        db.executemany(f"INSERT INTO samples VALUES ({', '.join('?' * len(sample_rows[0]))})", sample_rows)
    db.close()

    store = Store(path)
    kept = store.get_run("old4")
    assert (
        kept is not None and kept.samples[0].initial_conf == 0.75 and kept.samples[0].measures == {"euclid_pct": 12.5}
    )
    store.add_run(_run("labels1", [_sample(0, None), _sample(1, None)]))
    back = store.get_run("labels1")
    assert back is not None and [s.initial_conf for s in back.samples] == [None, None]
    assert [s.final_conf for s in back.samples] == [None, None] and back.samples[1].l0 == 3
    version = store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert int(version) == SCHEMA_VERSION == 6


def test_a_version_5_store_gets_unit_leases_and_keeps_its_plan(tmp_path):
    from feint.store import db as store_db

    path = tmp_path / "feint.db"
    v5 = store_db.SCHEMA.replace("    holder TEXT,\n    heartbeat REAL,\n", "")
    assert "holder" not in v5
    db = sqlite3.connect(path)
    db.executescript(v5)
    db.executescript(
        """
        INSERT INTO meta VALUES ('schema_version', '5');
        INSERT INTO scans VALUES ('s5', 'digits_keras', '2026-01-01T00:00:00+00:00', '{}', '{}', 'running', 'k5',
                                  'digits_keras');
        INSERT INTO runs VALUES ('r5', 's5', 'digits_keras', 'pgd', 'native', '{}', 0, '2026-01-01T00:00:00+00:00',
                                 0.0, 'pending', NULL, 2, 0, 0, 0, '{"family": "evasion"}');
        INSERT INTO units (run_id, unit, scan_id, start, stop, status) VALUES ('r5', 0, 's5', 0, 1, 'pending'),
                                                                             ('r5', 1, 's5', 1, 2, 'pending');
        """
    )
    db.commit()
    db.close()
    store = Store(path)
    assert int(store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]) == 6
    columns = {r[1] for r in store.db.execute("PRAGMA table_info(units)")}
    assert {"holder", "heartbeat"} <= columns
    assert store.unfinished_scan("k5") == "s5" and [u["unit"] for u in store.plan_units("s5")] == [0, 1]
    me, other = store_db.new_holder(), store_db.new_holder()
    assert store.claim_unit("r5", 0, me) and not store.claim_unit("r5", 0, other)
    assert store.unit_states("s5", other) == {("r5", 0): "held", ("r5", 1): "free"}
    store.release(me)
    assert store.claim_unit("r5", 0, other)


def test_a_version_5_store_that_cannot_be_written_is_read_as_it_is(tmp_path, monkeypatch):
    from feint.store import db as store_db

    path = tmp_path / "feint.db"
    db = sqlite3.connect(path)
    db.executescript(store_db.SCHEMA.replace("    holder TEXT,\n    heartbeat REAL,\n", ""))
    db.execute("INSERT INTO meta VALUES ('schema_version', '5')")
    db.execute(
        "INSERT INTO scans VALUES ('s5', 'digits_keras', '2026-01-01T00:00:00+00:00', '{}', '{}', 'done', NULL, NULL)"
    )
    db.commit()
    db.close()
    before = path.read_bytes()
    real_access = store_db.os.access
    monkeypatch.setattr(
        store_db.os, "access", lambda p, mode: False if mode == store_db.os.W_OK else real_access(p, mode)
    )
    store = Store(path)  # as a store on a read-only disk opens
    assert store.read_only and store.get_scan("s5").settings["status"] == "done"
    with pytest.raises(store_db.StoreError, match="is read-only"):
        store.prepare_write()
    store.close()
    assert path.read_bytes() == before


def test_a_lease_is_taken_over_once_its_holder_is_dead_or_silent(tmp_path, monkeypatch):
    import subprocess
    import sys
    import time

    from feint.store import db as store_db

    store = Store(tmp_path / "feint.db")
    store.add_plan(
        "s",
        [
            {
                "run_id": "r",
                "target": "digits_keras",
                "attack": "pgd",
                "framework": "native",
                "family": "evasion",
                "params": {},
                "seed": 0,
                "started_at": "2026-01-01T00:00:00+00:00",
                "artifacts": None,
                "n": 3,
            }
        ],
        [("r", 0, 0, 1), ("r", 1, 1, 2), ("r", 2, 2, 3)],
        scan={"target": "t", "started_at": "x", "settings": {}, "target_info": {}, "plan_key": "k"},
    )
    me = store_db.new_holder()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = f"{store_db.socket.gethostname()}:{int(gone.stdout)}:0000"  # a process of this host that ended
    elsewhere = "another-host:1:0000"  # another host's, whose process cannot be seen from here
    with store.db:
        store.db.execute("UPDATE units SET holder = ?, heartbeat = ? WHERE unit = 0", (dead, time.time()))
        store.db.execute("UPDATE units SET holder = ?, heartbeat = ? WHERE unit IN (1, 2)", (elsewhere, time.time()))
        store.db.execute("UPDATE units SET heartbeat = ? WHERE unit = 2", (time.time() - store_db.LEASE_S - 1,))
    assert store.unit_states("s", me) == {("r", 0): "free", ("r", 1): "held", ("r", 2): "free"}
    assert store.claim_unit("r", 0, me) and not store.claim_unit("r", 1, me) and store.claim_unit("r", 2, me)
    monkeypatch.setattr(store_db, "HEARTBEAT_S", 0.05)
    before = store.db.execute("SELECT heartbeat FROM units WHERE unit = 0").fetchone()[0]
    with store.leases(me):  # the heartbeat of its leases is refreshed while it holds them
        deadline = time.monotonic() + 30
        while store.db.execute("SELECT heartbeat FROM units WHERE unit = 0").fetchone()[0] == before:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    held = store.db.execute("SELECT unit, holder FROM units ORDER BY unit").fetchall()
    assert held == [(0, None), (1, elsewhere), (2, None)]  # given up when it is done
