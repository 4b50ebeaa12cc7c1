from feint.records import RunResult, SampleResult
from feint.store.db import Store


def _run(run_id="r1", scan_id=None):
    s = SampleResult(
        index=3,
        initial_label="4",
        initial_conf=0.9,
        final_label="9",
        final_conf=0.8,
        success=True,
        linf=0.3,
        l2=2.0,
        l0=100,
        forward_queries=12,
        gradient_queries=10,
        true_label="4",
        images={"original": "/x.png"},
    )
    return RunResult(
        run_id=run_id,
        attack="pgd",
        framework="native",
        target="digits_keras",
        params={"eps": "0.3"},
        seed=0,
        started_at="2026-01-01T00:00:00+00:00",
        elapsed_s=1.5,
        samples=[s],
        scan_id=scan_id,
    )


def test_run_round_trips(tmp_path):
    store = Store(tmp_path / "f.db")
    run = _run()
    store.add_run(run, [{"kind": "forward", "rows": 1, "samples": [3]}])
    back = Store(tmp_path / "f.db").get_run("r1")
    assert back.to_dict() == run.to_dict()
    assert store.query_log("r1") == [{"seq": 0, "kind": "forward", "rows": 1, "samples": [3]}]


def test_scan_keeps_its_runs_in_order(tmp_path):
    store = Store(tmp_path / "f.db")
    store.add_scan("s1", "digits_keras", "2026-01-01T00:00:00+00:00", {"attacks": ["pgd"]}, {"name": "digits_keras"})
    store.add_run(_run("b", "s1"))
    store.add_run(_run("a", "s1"))
    store.finish_scan("s1")
    scan = store.get_scan("s1")
    assert [r.run_id for r in scan.runs] == ["b", "a"] and scan.settings["status"] == "done"


def test_a_failed_write_leaves_nothing_half_stored(tmp_path):
    store = Store(tmp_path / "f.db")
    store.add_run(_run("r1"))
    try:
        store.add_run(_run("r1"))  # the same id again: refused as a whole
    except Exception:
        pass
    assert store.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 1
