"""Resume: a scan killed at any moment, then resumed, stores exactly what an uninterrupted
scan stores; Ctrl-C stops cleanly; budgets stop a scan that a resume finishes; the store
answers readers while a scan writes; two invocations of one scan at once share its units,
and one takes over the units of the other when it dies."""

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from feint.engine.scan import execute_scan, plan_scan, resume_scan, unfinished_units
from feint.store.db import Store

SCAN = ["scan", "digits_keras", "-a", "pgd", "-i", "0:60", "--set", "max_iter=5", "--chunk-size", "10", "--json"]


@contextlib.contextmanager
def one_torch_thread():
    """Compute here as the subprocesses and workers do, with one torch thread: float sums
    (and so the last bits of gradients) depend on how many threads share them."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _env(home):
    return {**os.environ, "FEINT_HOME": str(home), "OMP_NUM_THREADS": "1"}


def _start(home, args):
    return subprocess.Popen(
        [sys.executable, "-m", "feint", *args],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _one(home, sql):
    """The first value of a query on the store of ``home`` (0 before there is one)."""
    path = home / "feint.db"
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(path, timeout=5)
        try:
            return db.execute(sql).fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:  # the tables are not there yet
        return 0


def stored(store, scan_id):
    """Per run (in plan order): the samples as stored (image paths aside) and the adversarial arrays."""
    scan = store.get_scan(scan_id)
    out = []
    for run in scan.runs:
        samples = [{k: v for k, v in s.to_dict().items() if k != "images"} for s in run.samples]
        with np.load(os.path.join(run.artifacts, "adversarial.npz")) as f:
            arrays = {k: f[k] for k in ("indices", "x", "x_adv")}
        out.append((run.attack, run.params, samples, arrays, run.n, run.forward_queries, run.gradient_queries))
    return out


def assert_same(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra[0:3] == rb[0:3] and ra[4:] == rb[4:]
        for key in ("indices", "x", "x_adv"):
            np.testing.assert_array_equal(ra[3][key], rb[3][key])


@pytest.fixture()
def reference(tmp_path_factory, digits_keras):
    """The uninterrupted scan of SCAN, in this process."""
    folder = tmp_path_factory.mktemp("reference")
    store = Store(folder / "feint.db")
    plan = plan_scan(digits_keras, ["pgd"], None, {"sample_index": "0:60", "max_iter": "5"})
    with one_torch_thread():
        scan = execute_scan(digits_keras, plan, store, {}, chunk_size=10)
    assert scan.settings["status"] == "done"
    return stored(store, scan.scan_id)


def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_results(fresh_home, reference):
    rng = random.Random()
    kills = []  # units stored at each kill
    deadline = time.monotonic() + 60
    for attempt in range(3):  # kill while starting, planning or between and inside units
        done_before = _one(fresh_home, "SELECT COUNT(*) FROM units WHERE status = 'done'")
        if done_before and _one(fresh_home, "SELECT COUNT(*) FROM units WHERE status != 'done'") == 0:
            break
        proc = _start(fresh_home, SCAN)
        wait_for = rng.randint(done_before, done_before + 2) if attempt else -1
        while proc.poll() is None and time.monotonic() < deadline:
            if _one(fresh_home, "SELECT COUNT(*) FROM units WHERE status = 'done'") > wait_for:
                time.sleep(rng.uniform(0, 0.15))
                break
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills.append(_one(fresh_home, "SELECT COUNT(*) FROM units WHERE status = 'done'"))
        proc.communicate()
    assert any(0 < units < 6 for units in kills), f"no kill in the middle of the scan: {kills}"
    # Resume until done: a re-run of the same scan continues the unfinished one, and says so.
    while _one(fresh_home, "SELECT COUNT(*) FROM scans WHERE status = 'done'") == 0:
        proc = _start(fresh_home, SCAN)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert _one(fresh_home, "SELECT COUNT(*) FROM scans") != 1 or "continuing unfinished scan" in err
    store = Store(fresh_home / "feint.db")
    scans = store.db.execute("SELECT scan_id FROM scans").fetchall()
    assert len(scans) == 1, "every restart continued the one unfinished scan"
    scan_id = scans[0][0]
    assert store.db.execute("SELECT COUNT(*), COUNT(DISTINCT idx) FROM samples").fetchone() == (60, 60)
    assert store.scan_record(scan_id)["status"] == "done"
    assert_same(stored(store, scan_id), reference)
    run_dir = store.get_scan(scan_id).runs[0].artifacts
    assert os.path.exists(os.path.join(run_dir, "adversarial.npz"))
    assert not [f for f in os.listdir(run_dir) if f.startswith("adversarial.unit")]


def test_ctrl_c_stops_after_the_running_unit_show_works_meanwhile_and_resume_finishes(fresh_home, capsys):
    from feint.cli.app import main

    # Units of about a second each, so that the scan is still running when it is read and interrupted.
    args = [
        "scan",
        "digits_keras",
        "-a",
        "pgd",
        "-i",
        "0:40",
        "--set",
        "max_iter=50",
        "--chunk-size",
        "20",
        "--sweep",
        "eps=0.1,0.2,0.3,0.4",
    ]
    proc = _start(fresh_home, args)
    deadline = time.monotonic() + 90
    while _one(fresh_home, "SELECT COUNT(*) FROM runs WHERE status = 'done'") < 1:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    # A reader while the scan writes: the runs finished so far and the scan's status.
    assert main(["show", _one(fresh_home, "SELECT scan_id FROM scans"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["settings"]["status"] == "running" and 1 <= len(shown["runs"]) < 4
    assert all(r["n"] == 40 for r in shown["runs"] if r["status"] == "done")
    assert all(r["status"] == "done" or r["n"] == 20 for r in shown["runs"])  # a run with one unit of two in
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    scan_id = shown["scan_id"]
    assert f"continue it with: feint scan --resume {scan_id}" in err
    store = Store(fresh_home / "feint.db")
    assert store.scan_record(scan_id)["status"] == "interrupted"
    left = unfinished_units(store, scan_id)
    assert left and sum(u["samples"] for u in left) == 40 * 4 - 20 * _one(
        fresh_home, "SELECT COUNT(*) FROM units WHERE status = 'done'"
    )
    assert main(["scan", "--resume", scan_id, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["settings"]["status"] == "done" and [r["params"]["eps"] for r in doc["runs"]] == [0.1, 0.2, 0.3, 0.4]
    assert store.db.execute("SELECT COUNT(*), COUNT(DISTINCT run_id || ':' || idx) FROM samples").fetchone() == (
        160,
        160,
    )


def test_a_second_ctrl_c_stops_at_once_names_the_scan_and_resume_finishes(fresh_home, capsys, monkeypatch):
    import feint.engine.run as run_module
    from feint.cli.app import main

    real = run_module.execute_run
    calls = []

    def second_unit_interrupted(*args, **kwargs):  # the second Ctrl-C lands while unit 2 runs
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "execute_run", second_unit_interrupted)
    code = main(["scan", "digits_keras", "-a", "pgd", "-i", "0:6", "--chunk-size", "2", "--set", "max_iter=2"])
    err = capsys.readouterr().err
    scan_id = _one(fresh_home, "SELECT scan_id FROM scans")
    assert code == 130 and "Traceback" not in err
    assert f"scan {scan_id} interrupted at once" in err and f"feint scan --resume {scan_id}" in err
    assert _one(fresh_home, "SELECT status FROM scans") == "interrupted"
    assert _one(fresh_home, "SELECT COUNT(*) FROM units WHERE status = 'done'") == 1
    monkeypatch.setattr(run_module, "execute_run", real)
    assert main(["scan", "--resume", scan_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["status"] == "done"


def test_budgets_stop_the_scan_and_resume_finishes_it(fresh_home, digits_keras, reference, capsys):
    from feint.cli.app import main

    with one_torch_thread():  # as the reference
        _budgets_stop_the_scan_and_resume_finishes_it(digits_keras, reference, capsys, main)


def _budgets_stop_the_scan_and_resume_finishes_it(digits_keras, reference, capsys, main):
    store = Store()
    plan = plan_scan(digits_keras, ["pgd"], None, {"sample_index": "0:60", "max_iter": "5"})
    scan = execute_scan(digits_keras, plan, store, {}, chunk_size=10, max_queries=250)
    # pgd with max_iter=5 costs a sample 12 queries, a unit of 10 samples 120: the third unit
    # would start with 240 spent, the fourth may not.
    assert scan.settings["status"] == "budget"
    # the run is kept as partial: the samples of its three finished units, as an
    # uninterrupted scan has them
    (run,) = scan.runs
    assert run.status == "partial" and run.n == 30 and run.forward_queries + run.gradient_queries == 360
    assert [{k: v for k, v in s.to_dict().items() if k != "images"} for s in run.samples] == reference[0][2][:30]
    left = unfinished_units(store, scan.scan_id)
    assert [u["units"] for u in left] == [[3, 4, 5]] and left[0]["samples"] == 30
    scan = resume_scan(store, scan.scan_id, max_time=1e-9)  # no time: not one unit starts
    assert scan.settings["status"] == "budget" and unfinished_units(store, scan.scan_id) == left
    assert main(["show", scan.scan_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(r["status"], r["n"]) for r in shown["runs"]] == [("partial", 30)]
    for name in ("partial.html", "partial.md"):  # the reports say so
        assert main(["report", scan.scan_id, "-o", str(store.path.parent / name)]) == 0
        assert "is partial: 30 of 60 samples" in (store.path.parent / name).read_text()
    assert main(["scan", "--resume", scan.scan_id, "--max-queries", "1000", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["settings"]["status"] == "done" and [(r["status"], r["n"]) for r in doc["runs"]] == [("done", 60)]
    assert_same(stored(store, scan.scan_id), reference)


def test_a_budget_stop_names_the_units_left_and_how_to_continue(fresh_home, capsys):
    from feint.cli.app import main

    assert main([*SCAN[:-1], "--max-queries", "100"]) == 3  # stopped before it finished
    err = capsys.readouterr().err
    assert "budget reached (120 queries spent of --max-queries 100)" in err
    assert "units 1-5 (50 samples)" in err and "feint scan --resume" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["scan", "--resume", "nope"], "no stored scan with id 'nope'"),
        (["scan", "--resume", "x", "digits_keras"], "--resume continues the stored plan of the scan; leave out TARGET"),
        (["scan"], "scan needs a TARGET"),
        (["scan", "digits_keras", "-a", "pgd", "--chunk-size", "0"], "--chunk-size expects a number of samples"),
        (["scan", "digits_keras", "-a", "pgd", "--max-queries", "0"], "--max-queries expects a number of queries"),
        (
            ["scan", "digits_keras", "-a", "pgd", "--max-time", "-1"],
            "--max-time expects a number of seconds more than 0 and at most 31,536,000",
        ),
        (
            ["scan", "digits_keras", "-a", "pgd", "--executor", "local", "--workers", "2"],
            "--workers expects 1 or more workers with --executor",
        ),
        (["scan", "digits_keras", "-a", "pgd", "--ray-address", "auto"], "--ray-address goes with --executor ray"),
    ],
)
def test_bad_scale_options_are_one_line_and_store_nothing(fresh_home, capsys, argv, message):
    from feint.cli.app import main

    try:
        code = main(argv)
    except SystemExit as exit:  # refused by the parser
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert _one(fresh_home, "SELECT COUNT(*) FROM scans") == 0


SLOW_TARGET = '''
import time

import torch

from feint.targets.builtin.digits import DigitsKeras


class _Slow(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        time.sleep(0.3)  # units of about two seconds: long enough for a second scan to join
        return self.inner(x)


class SlowDigits(DigitsKeras):
    """digits_keras, computing the same numbers slowly."""

    target_name = "slow_digits"

    def torch_module(self):
        return _Slow(super().torch_module())
'''


@pytest.fixture()
def slow_scan(tmp_path_factory, digits_keras):
    """A scan of 12 units on a slow copy of digits_keras, and what it stores uninterrupted
    (computed on digits_keras itself: the same numbers)."""
    folder = tmp_path_factory.mktemp("slow")
    (folder / "slow_digits.py").write_text(SLOW_TARGET)
    argv = ["scan", str(folder / "slow_digits.py"), "-a", "pgd", "-i", "0:60", "--set", "max_iter=5"]
    argv += ["--chunk-size", "5", "--json"]
    store = Store(folder / "feint.db")
    plan = plan_scan(digits_keras, ["pgd"], None, {"sample_index": "0:60", "max_iter": "5"})
    with one_torch_thread():
        scan = execute_scan(digits_keras, plan, store, {}, chunk_size=5)
    return argv, stored(store, scan.scan_id)


def _holders(home):
    db = sqlite3.connect(home / "feint.db", timeout=5)
    try:
        return db.execute("SELECT holder FROM units WHERE status = 'done'").fetchall()
    finally:
        db.close()


def _shared_result(home, reference, holders=2):
    store = Store(home / "feint.db")
    (scan_id,) = store.db.execute("SELECT scan_id FROM scans").fetchone()
    assert store.db.execute("SELECT COUNT(*) FROM scans").fetchone()[0] == 1, "both invocations ran one scan"
    assert store.scan_record(scan_id)["status"] == "done"
    assert store.db.execute("SELECT COUNT(*), COUNT(DISTINCT idx) FROM samples").fetchone() == (60, 60)
    units = store.db.execute("SELECT status, holder FROM units").fetchall()
    assert len(units) == 12 and {u[0] for u in units} == {"done"}
    assert len({u[1] for u in units}) == holders, f"the units were not shared: {units}"
    assert_same(stored(store, scan_id), reference)
    return scan_id


def test_two_identical_scans_at_once_share_the_units_and_store_each_once(fresh_home, slow_scan):
    argv, reference = slow_scan
    first, second = _start(fresh_home, argv), _start(fresh_home, argv)
    (out1, err1), (out2, err2) = first.communicate(timeout=300), second.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert "not a pending unit" not in err1 + err2 and "Traceback" not in err1 + err2
    assert "continuing unfinished scan" in err1 + err2  # one of them says it joined the other
    scan_id = _shared_result(fresh_home, reference)
    assert json.loads(out1)["scan_id"] == json.loads(out2)["scan_id"] == scan_id
    assert json.loads(out1)["runs"] == json.loads(out2)["runs"]  # both print the one scan, whole


def test_a_scan_takes_over_the_units_of_a_joined_scan_killed_meanwhile(fresh_home, slow_scan):
    argv, reference = slow_scan
    first = _start(fresh_home, argv)
    deadline = time.monotonic() + 120
    while not _one(fresh_home, "SELECT COUNT(*) FROM units WHERE status = 'done'"):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    second = _start(fresh_home, argv)
    while not any(f":{second.pid}:" in (h or "") for (h,) in _holders(fresh_home)):  # the second stored a unit
        assert second.poll() is None and first.poll() is None and time.monotonic() < deadline, "no unit shared"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()  # gone (not a zombie): its process is no more, so its leases are free at once
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert "continuing unfinished scan" in err
    scan_id = _shared_result(fresh_home, reference)
    assert json.loads(out)["scan_id"] == scan_id and json.loads(out)["settings"]["status"] == "done"
    run_dir = Store(fresh_home / "feint.db").get_scan(scan_id).runs[0].artifacts
    assert not [f for f in os.listdir(run_dir) if "adversarial.unit" in f]  # the killed one's half-written file too
