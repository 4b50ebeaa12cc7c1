"""Budgets across workers: an endpoint's max_queries and rate_limit hold over every process
worker (counted by a real server on 127.0.0.1), a scan cut by a budget is stored as
partial and resumes to what an uninterrupted scan gives, the stored endpoint counts are
what the server received, and workers die with the scan's process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer

import numpy as np
import pytest

from feint.engine.scan import execute_scan, plan_scan, unfinished_units
from feint.store.db import Store
from feint.targets import get_target
from tests.engine.test_resume import _env, one_torch_thread
from tests.targets.test_http import State, _handler, _target_file

ATTACK = {"max_iter": "1", "max_eval": "10", "init_eval": "5", "sample_index": "0:6"}
CLI_ATTACK = ["-a", "hop_skip_jump", "-i", "0:6", "--chunk-size", "1"]
CLI_ATTACK += [f"--set={k}={v}" for k, v in ATTACK.items() if k != "sample_index"]
SAMPLES = 20  # in the target's samples file: what its sample accuracy costs


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def served():
    """A logistic regression on breast-cancer data, served over HTTP on 127.0.0.1, and its data."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    state = State(LogisticRegression(max_iter=500).fit(x, data.target))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    httpd.block_on_close = False
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    state.data = (x[:SAMPLES], data.target[:SAMPLES])
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def server(served):
    with served.lock:
        served.rows = served.requests = 0
        served.arrivals.clear()
        served.headers.clear()
    return served


@pytest.fixture()
def folder(tmp_path, server):
    np.savez(tmp_path / "cancer.npz", X=server.data[0], y=server.data[1])
    return tmp_path


def samples_of(scan):
    return {s.index: {k: v for k, v in s.to_dict().items() if k != "images"} for r in scan.runs for s in r.samples}


@pytest.fixture()
def reference(folder, server):
    """The uninterrupted scan, on the local executor, with no budget; the server's counts reset after it."""
    target = get_target(_target_file(folder, "cancer_ref", server.url))
    with one_torch_thread():
        scan = execute_scan(
            target, plan_scan(target, ["hop_skip_jump"], None, ATTACK), Store(folder / "ref.db"), {}, chunk_size=1
        )
    assert scan.settings["status"] == "done"
    assert scan.target_info["endpoint"]["queries"] == server.rows  # accuracy and attack rows, all counted
    with server.lock:
        server.rows = server.requests = 0
    return samples_of(scan)


def _cut_rows(scan) -> int:
    return sum(int(r.metrics.get("cut_queries", 0)) for r in scan.runs)


def test_max_queries_holds_across_process_workers_and_the_cut_scan_resumes(folder, server, reference, capsys):
    from feint.cli.app import main

    needed = SAMPLES + sum(s["forward_queries"] for s in reference.values())
    budget = SAMPLES + needed // 2  # about half the attack's rows
    path = _target_file(folder, "cancer", server.url, max_queries=budget)
    args = ["scan", path, *CLI_ATTACK, "--executor", "process", "--workers", "2", "--json"]
    assert main(args) == 3  # stopped by the budget: a CI job sees it is not done
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert server.rows <= budget  # counted by the server: never past the budget
    assert doc["settings"]["status"] == "budget"
    assert "budget reached (endpoint " in err and f"query budget of {budget} rows (max_queries)" in err
    scan_id = doc["scan_id"]
    store = Store()
    scan = store.get_scan(scan_id)
    (run,) = scan.runs
    assert run.status == "partial" and 0 < run.n < 6 and doc["runs"][0]["status"] == "partial"
    # the samples it finished are those an uninterrupted scan gives
    assert {i: reference[i] for i in samples_of(scan)} == samples_of(scan)
    # the queries it spent: the finished samples' and those of the units the budget cut
    cut = _cut_rows(scan)
    assert cut > 0
    spent = SAMPLES + run.forward_queries + cut
    assert spent == server.rows == scan.target_info["endpoint"]["queries"]
    assert scan.target_info["endpoint"]["requests"] == server.requests
    left = unfinished_units(store, scan_id)
    assert sum(u["samples"] for u in left) == 6 - run.n

    # shown as partial by the reports
    report = folder / "report.md"
    assert main(["report", scan_id, "-o", str(report)]) == 0
    assert f"run {run.run_id} (hop_skip_jump) is partial: {run.n} of 6 samples" in report.read_text()
    assert main(["show", scan_id]) == 0
    assert "is partial" in capsys.readouterr().out

    # the user raises the budget; the resume runs only what is left and gives the uninterrupted results
    first = set(samples_of(scan))
    sent_before = server.rows
    _target_file(folder, "cancer", server.url, max_queries=10 * needed)
    assert main(["scan", "--resume", scan_id, "--executor", "local", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["settings"]["status"] == "done" and doc["runs"][0]["status"] == "done"
    scan = store.get_scan(scan_id)
    assert samples_of(scan) == reference
    assert scan.runs[0].metrics["cut_queries"] == cut  # the rows the cut units spent stay on record
    # the resume's rows: the samples left, run again, and no sample accuracy
    assert server.rows - sent_before == sum(s["forward_queries"] for i, s in reference.items() if i not in first)
    assert scan.target_info["endpoint"]["queries"] == server.rows
    assert scan.target_info["endpoint"]["requests"] == server.requests


def test_rate_limit_spaces_the_requests_of_every_process_worker(folder, server, capsys):
    from feint.cli.app import main

    rate = 50.0
    path = _target_file(folder, "cancer_rate", server.url, rate_limit=rate, max_queries=SAMPLES + 100)
    code = main(["scan", path, *CLI_ATTACK, "--executor", "process", "--workers", "2", "--json"])
    status = json.loads(capsys.readouterr().out)["settings"]["status"]
    assert (status, code) in (("budget", 3), ("done", 0))
    arrivals = sorted(server.arrivals)[1:]  # the first: the sample accuracy, before the workers start
    assert len(arrivals) > 60
    # request starts are booked 1/rate apart across the workers; what the server sees adds
    # each request's own delay (longer on a loaded machine), so single gaps may shrink while
    # the rate may not: over the whole scan, and in every one-second window, where a delay
    # of up to 0.3 s can bring in a few more, and a sender that ignored the limit would
    # bring hundreds
    assert (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) <= rate * 1.05
    times = np.asarray(arrivals)
    in_a_second = np.searchsorted(times, times + 1.0, side="right") - np.arange(len(times))
    assert in_a_second.max() <= rate * 1.3


def test_loading_a_target_asks_the_endpoint_nothing_and_its_accuracy_once(folder, server):
    target = get_target(_target_file(folder, "cancer_load", server.url))
    target.ensure_loaded()
    assert server.rows == 0  # what a worker does with a target: load it, run units
    info = target.describe()
    assert info["sample_accuracy"] > 0.8 and server.rows == SAMPLES
    assert target.describe()["endpoint"]["queries"] == SAMPLES == server.rows  # asked once, counted as sent


def test_ray_refuses_an_endpoint_with_a_budget_or_a_rate_in_one_line(folder, server, capsys):
    from feint.cli.app import main

    for option in ({"max_queries": 100}, {"rate_limit": 5}):
        path = _target_file(folder, "cancer_ray", server.url, **option)
        assert main(["scan", path, "-a", "hop_skip_jump", "--executor", "ray"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "the ray executor cannot share an endpoint's max_queries or rate_limit between its workers" in err
        assert "run target cancer_ray with --executor process or local" in err
    assert server.rows == 0


CLIENT = """
import os, sys
from feint.engine.meters import MeterClient
client = MeterClient((sys.argv[1], bytes.fromhex(sys.argv[2])), 10, None)
assert client.promise(8) is None
print("promised", flush=True)
os.kill(os.getpid(), 9)  # dies holding the rows it set aside
"""


def test_a_worker_that_dies_mid_call_leaves_the_shared_meter_whole():
    from feint.engine.meters import MeterClient, MeterServer
    from feint.targets.meter import Meter

    meter = Meter(max_queries=10)
    server = MeterServer(meter)
    try:
        address, key = server.address
        proc = subprocess.run([sys.executable, "-c", CLIENT, address, key.hex()], capture_output=True, text=True)
        assert proc.returncode == -9 and "promised" in proc.stdout
        deadline = time.monotonic() + 5
        while meter.promised and time.monotonic() < deadline:
            time.sleep(0.01)
        assert meter.promised == 0 and meter.counts() == (0, 0)  # given back, nothing counted as sent
        client = MeterClient(server.address, 10, None)  # the next worker has the whole budget
        assert client.promise(10) is None and client.charge(10, 10) is None
        assert client.promise(1) == 10 and meter.counts() == (10, 1) and client.sent() == (10, 1)
    finally:
        server.close()


def _children(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.add(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has stopped
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table in /proc")
def test_kill_9_of_a_process_scan_leaves_no_worker_running(fresh_home):
    import sqlite3

    env = {**os.environ, "FEINT_HOME": str(fresh_home), "OMP_NUM_THREADS": "1"}
    args = ["scan", "digits_keras", "-a", "pgd", "-i", "0:400", "--set", "max_iter=5", "--chunk-size", "10"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "feint", *args, "--executor", "process", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        done = 0
        while done < 1:  # the workers are up and running units
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
            try:
                db = sqlite3.connect(fresh_home / "feint.db", timeout=5)
                done = db.execute("SELECT COUNT(*) FROM units WHERE status = 'done'").fetchone()[0]
                db.close()
            except sqlite3.OperationalError:
                pass
        workers = _children(proc.pid)
        assert len(workers) >= 2
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in workers if _alive(p)]


RUN_ARGS = ["hop_skip_jump", "-i", "0:6", "--set", "batch_size=2"]
RUN_ARGS += [f"--set={k}={v}" for k, v in ATTACK.items() if k != "sample_index"]


def _arrays(run) -> dict[str, np.ndarray]:
    with np.load(os.path.join(run.artifacts, "adversarial.npz")) as f:
        return {k: f[k] for k in ("indices", "x", "x_adv")}


def _fresh_process() -> None:
    """Forget the targets this process built, as a new feint process starts with none."""
    from feint import targets

    targets._files.clear()


def _run_samples(run):
    return {s.index: {k: v for k, v in s.to_dict().items() if k != "images"} for s in run.samples}


def test_a_run_cut_by_the_endpoint_budget_is_stored_partial_and_resumes_within_the_budget(folder, server, capsys):
    from feint.cli.app import main

    # the uninterrupted run, with no budget
    assert main(["run", _target_file(folder, "cancer_whole", server.url), *RUN_ARGS, "--json"]) == 0
    whole = Store().get_run(json.loads(capsys.readouterr().out)["run_id"])
    assert whole.status == "done" and whole.n == 6 and server.rows == whole.forward_queries
    with server.lock:
        server.rows = server.requests = 0

    budget = whole.forward_queries // 2
    path = _target_file(folder, "cancer_whole", server.url, max_queries=budget)
    assert main(["run", path, *RUN_ARGS, "--json"]) == 3  # stored, but a CI job notices
    out, err = capsys.readouterr()
    run_id = json.loads(out)["run_id"]
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"feint: run {run_id} stopped, budget reached (endpoint " in err
    assert f"query budget of {budget} rows (max_queries)" in err
    assert err.strip().endswith(f"continue it with: feint run --resume {run_id}")
    run = Store().get_run(run_id)
    assert run.status == "partial" and run.n in (2, 4) and f"{run.n} of 6 samples stored" in err
    assert server.rows <= budget
    # the samples it finished are those of the uninterrupted run, their arrays too
    assert _run_samples(run) == {i: s for i, s in _run_samples(whole).items() if i in _run_samples(run)}
    kept, full = _arrays(run), _arrays(whole)
    assert np.array_equal(kept["indices"], full["indices"][: run.n])
    assert np.array_equal(kept["x_adv"], full["x_adv"][: run.n])
    # the queries it spent: those of its samples and those of the batch the budget cut short
    assert run.metrics["cut_queries"] > 0
    assert run.forward_queries + run.metrics["cut_queries"] == run.metrics["endpoint_queries"] == server.rows
    assert run.metrics["endpoint_requests"] == server.requests
    assert main(["show", run_id]) == 0
    assert f"partial: {run.n} of 6 samples" in capsys.readouterr().out
    assert main(["report", run_id, "-o", str(folder / "run.md")]) == 0
    assert f"run {run_id} (hop_skip_jump) is partial: {run.n} of 6 samples" in (folder / "run.md").read_text()

    # resumed by another process under the same budget: nothing is sent past it, over both invocations
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "feint", "run", "--resume", run_id], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 3 and "stopped, budget reached" in proc.stderr
    assert server.rows <= budget
    again = Store().get_run(run_id)
    assert again.status == "partial" and again.metrics["endpoint_queries"] == server.rows

    # the budget raised: the resume runs only the samples left and gives the uninterrupted run
    _target_file(folder, "cancer_whole", server.url, max_queries=10 * whole.forward_queries)
    before = server.rows
    assert main(["run", "--resume", run_id, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "done" and doc["n"] == 6
    done = Store().get_run(run_id)
    assert _run_samples(done) == _run_samples(whole)
    assert all(np.array_equal(v, full[k]) for k, v in _arrays(done).items())
    assert server.rows - before == sum(s.forward_queries for s in done.samples[again.n :])
    assert done.metrics["endpoint_queries"] == server.rows == done.forward_queries + done.metrics["cut_queries"]
    assert "stop_reason" not in done.metrics and "samples_planned" not in done.metrics
    assert main(["run", "--resume", run_id]) == 2
    assert "is complete (6 samples); nothing left to run" in capsys.readouterr().err


def test_the_endpoint_budget_holds_across_resumes_of_a_scan(folder, server, capsys):
    from feint.cli.app import main

    budget = SAMPLES + 150
    path = _target_file(folder, "cancer_twice", server.url, max_queries=budget)
    assert main(["scan", path, *CLI_ATTACK, "--executor", "local", "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["settings"]["status"] == "budget" and server.rows <= budget
    scan_id = doc["scan_id"]
    for executor in ("local", "process"):  # each resume: the rows sent before count as spent
        _fresh_process()
        args = ["scan", "--resume", scan_id, "--executor", executor, "--json"]
        assert main([*args, *(["--workers", "2"] if executor == "process" else [])]) == 3
        doc = json.loads(capsys.readouterr().out)
        assert doc["settings"]["status"] == "budget"
        assert server.rows <= budget  # counted by the server, over every invocation
        assert doc["target_info"]["endpoint"]["queries"] == server.rows


def test_two_scans_sharing_one_plan_store_every_row_they_sent(folder, server):
    """Both invocations add what they sent to the scan's stored counts; neither overwrites the other's."""
    server.delay = 0.03  # units long enough for the second scan to join the first
    path = _target_file(folder, "cancer_shared", server.url)
    home = folder / "home"
    argv = [sys.executable, "-m", "feint", "scan", path, *CLI_ATTACK, "-i", "0:16", "--json"]
    procs = [subprocess.Popen(argv, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    deadline = time.monotonic() + 120
    while server.rows <= SAMPLES:  # the first has made the scan and started its units
        assert procs[0].poll() is None and time.monotonic() < deadline, procs[0].communicate()
        time.sleep(0.02)
    procs.append(subprocess.Popen(argv, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    assert "continuing unfinished scan" in outs[1][1]
    store = Store(home / "feint.db")
    holders = {h for (h,) in store.db.execute("SELECT holder FROM units WHERE status = 'done'")}
    assert len(holders) == 2, "the units were not shared"
    (scan_id,) = store.db.execute("SELECT scan_id FROM scans").fetchone()
    assert store.scan_record(scan_id)["target_info"]["endpoint"]["queries"] == server.rows


def test_the_shell_says_a_run_was_cut_and_resumes_it(folder, server, capsys):
    from feint.cli.app import main

    path = _target_file(folder, "cancer_shell", server.url, max_queries=60)
    sets = "; ".join(f"set {k} {v}" for k, v in {**ATTACK, "batch_size": 2}.items())
    assert main(["shell", "-c", f"interact {path}; use hop_skip_jump; {sets}; run"]) == 3
    err = capsys.readouterr().err
    assert "stopped, budget reached" in err and "continue it with: run --resume " in err
    run_id = err.split("run --resume ")[1].split()[0]
    assert Store().get_run(run_id).status == "partial" and server.rows <= 60
    _target_file(folder, "cancer_shell", server.url, max_queries=100_000)
    assert main(["shell", "-c", f"interact {path}; run --resume {run_id}"]) == 0
    assert "Success" in capsys.readouterr().out
    done = Store().get_run(run_id)
    assert done.status == "done" and done.n == 6
    assert done.metrics["endpoint_queries"] == done.forward_queries + done.metrics["cut_queries"]
    assert server.rows == done.metrics["endpoint_queries"] + 2 * SAMPLES  # each interact: the sample accuracy


def test_a_budget_too_small_for_the_first_batch_keeps_the_run_with_no_samples(folder, server, capsys):
    from feint.cli.app import main

    path = _target_file(folder, "cancer_tiny", server.url, max_queries=1)
    assert main(["run", path, *RUN_ARGS]) == 3
    err = capsys.readouterr().err
    assert "would be exceeded: 0 used, this call needs 2; nothing more was sent); 0 of 6 samples stored" in err
    run_id = err.split("--resume ")[1].split()[0]
    run = Store().get_run(run_id)
    assert run.status == "partial" and run.n == 0 and run.artifacts is None and server.rows == 0
    _target_file(folder, "cancer_tiny", server.url, max_queries=100_000)
    assert main(["run", "--resume", run_id]) == 0
    done = Store().get_run(run_id)
    assert done.status == "done" and done.n == 6 and len(_arrays(done)["indices"]) == 6
    assert done.metrics["endpoint_queries"] == server.rows == done.forward_queries
