"""Executors: a process pool and Ray give exactly what the local executor gives; the
choices a scan cannot run with are refused before anything is stored."""

import json

import numpy as np
import pytest

from feint.engine.executors import attack_from_params, check_executor
from feint.engine.scan import execute_scan, plan_key, plan_scan
from feint.errors import FeintError
from feint.store.db import Store
from tests.engine.test_resume import assert_same, one_torch_thread, stored

SAMPLES = "0:40"


def _scan(target, folder, **kw):
    store = Store(folder / "feint.db")
    plan = plan_scan(target, ["pgd"], None, {"sample_index": SAMPLES, "max_iter": "5", "targeted": "true"})
    scan = execute_scan(target, plan, store, {}, chunk_size=10, **kw)
    assert scan.settings["status"] == "done"
    return stored(store, scan.scan_id)


@pytest.fixture(scope="module")
def local(tmp_path_factory, digits_keras):
    """The local executor's scan, with one torch thread as every worker has."""
    with one_torch_thread():
        return _scan(digits_keras, tmp_path_factory.mktemp("local"))


def test_the_local_executor_cuts_runs_into_units_that_join_up(local):
    ((attack, params, samples, arrays, n, fwd, grad),) = local
    assert n == 40 and [s["index"] for s in samples] == list(range(40))
    assert arrays["indices"].tolist() == list(range(40)) and arrays["x_adv"].shape == (40, 1, 28, 28)
    # targeted: each sample's goal class is drawn for the whole run, whatever the chunk
    assert all(s["target_label"] != s["initial_label"] for s in samples)
    assert fwd == 40 * 7 and grad == 40 * 5


def test_a_process_pool_gives_what_the_local_executor_gives(tmp_path, digits_keras, local):
    assert_same(_scan(digits_keras, tmp_path, executor="process", workers=2), local)


def test_ray_gives_what_the_local_executor_gives(tmp_path, fresh_home, digits_keras, local):
    ray = pytest.importorskip("ray")
    try:
        ray.init(num_cpus=2, include_dashboard=False)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Ray cannot start here: {exc}")
    try:
        assert_same(_scan(digits_keras, tmp_path, executor="ray", workers=2), local)
    finally:
        ray.shutdown()


def test_the_plan_key_is_what_the_scan_computes(digits_keras):
    def key(common, chunk=None, attacks=("pgd",)):
        return plan_key(digits_keras, plan_scan(digits_keras, list(attacks), None, common), chunk)

    base = {"sample_index": "0:20", "max_iter": "5"}
    assert key(base) == key(dict(base))
    assert (
        len(
            {
                key(base),
                key({**base, "seed": 1}),
                key({**base, "sample_index": "0:21"}),
                key({**base, "max_iter": "6"}),
                key(base, chunk=10),
                key(base, attacks=("pgd", "jsma")),
            }
        )
        == 6
    )


def test_stored_option_text_rebuilds_the_attack(digits_keras):
    attack = plan_scan(digits_keras, ["pgd"], None, {"sample_index": "3,5:9", "eps": "0.2"})[0]
    again = attack_from_params("pgd", attack.options.shown())
    assert again.options.current == attack.options.current


class _Unnamed:
    target_name = "mine"
    spec = "mine"


@pytest.mark.parametrize(
    "kind, workers, target, message",
    [
        ("threads", None, None, "unknown executor 'threads'; accepted: auto, local, process, ray"),
        ("process", 0, None, "--workers expects a number of workers from 1 to 1,024; got 0"),
        ("process", 10**11, None, "--workers expects a number of workers from 1 to 1,024; got 100000000000"),
        ("local", 2, None, "the local executor runs one unit at a time"),
        ("process", 2, _Unnamed(), "target mine has no declaration a worker can load"),
        ("auto", 2, _Unnamed(), "target mine has no declaration a worker can load"),  # --workers 2: a pool
    ],
)
def test_executors_a_scan_cannot_use_are_refused(digits_keras, kind, workers, target, message):
    from feint.cli.commands import error_text

    with pytest.raises(FeintError) as exc:
        check_executor(kind, target or digits_keras, workers)
    assert message in error_text(exc.value)  # as the command line says it
    assert "--" not in str(exc.value)  # the library names its parameters, not the CLI's flags


@pytest.mark.parametrize(
    "cpus, workers, units, samples, named, chosen",
    [
        (4, None, 3, 300, True, ("process", 3)),  # one worker per unit, at most one per CPU
        (2, None, 3, 300, True, ("process", 2)),
        (1, None, 3, 300, True, ("local", None)),  # one CPU: nothing to gain
        (4, None, 1, 1000, True, ("local", None)),  # one unit: nothing to share out
        (4, None, 3, 30, True, ("local", None)),  # too little work to pay the workers' start-up
        (4, None, 3, 300, False, ("local", None)),  # a worker could not rebuild the target
        (1, 3, 3, 30, True, ("process", 3)),  # --workers decides
        (4, 1, 3, 300, True, ("local", None)),
    ],
)
def test_auto_uses_processes_only_where_they_pay(
    monkeypatch, digits_keras, cpus, workers, units, samples, named, chosen
):
    import os

    from feint.engine.executors import choose_executor

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    assert choose_executor(digits_keras if named else _Unnamed(), workers, units, samples) == chosen


def test_a_missing_ray_is_one_clear_line(monkeypatch, digits_keras, fresh_home):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    plan = plan_scan(digits_keras, ["pgd"], None, {"sample_index": "0:2"})
    store = Store()
    with pytest.raises(FeintError, match=r"needs Ray; install it with: pip install 'feint\[ray\]'"):
        execute_scan(digits_keras, plan, store, {}, executor="ray")
    assert store.db.execute("SELECT COUNT(*) FROM scans").fetchone()[0] == 0


def test_units_are_not_stored_twice(fresh_home, digits_keras):
    from feint.engine.executors import UnitTask, _execute

    store = Store()
    plan = plan_scan(digits_keras, ["pgd"], None, {"sample_index": "0:4", "max_iter": "2"})
    scan = execute_scan(digits_keras, plan, store, {}, chunk_size=2)
    run = store.plan_runs(scan.scan_id)[0]
    task = UnitTask(
        scan.scan_id, run["run_id"], 1, "digits_keras", "pgd", run["params"], (2, 3), 2, 4, str(store.artifacts_root)
    )
    outcome = _execute(digits_keras, task)
    with pytest.raises(FeintError, match="is already stored"):
        store.add_unit(run["run_id"], 1, outcome.result)
    assert store.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 4
    again = [s.final_conf for s in outcome.result.samples]
    np.testing.assert_array_equal(again, [s.final_conf for s in store.get_run(run["run_id"]).samples[2:]])


def test_a_targeted_runs_goals_do_not_depend_on_how_it_is_cut(tmp_path, digits_keras):
    def goals(chunk):
        store = Store(tmp_path / f"c{chunk}" / "feint.db")
        plan = plan_scan(digits_keras, ["pgd"], None, {"sample_index": "0:20", "max_iter": "1", "targeted": "true"})
        return [s.target_label for s in execute_scan(digits_keras, plan, store, {}, chunk_size=chunk).runs[0].samples]

    assert goals(3) == goals(20)


def test_workers_rebuild_attacks_from_stored_values_and_from_an_older_stores_text():
    """Runs store JSON values (lossless); a store written by an older feint holds display
    text (``%g`` numbers, ``-`` for no labels), which still rebuilds the same attack."""
    from feint.attacks.catalog import get_attack
    from feint.engine.executors import attack_from_params

    exact = get_attack("pgd")(eps=0.123456789, targeted=True, target_labels=(3, "7"), sample_index="0:4,9")
    assert json.loads(json.dumps(exact.options.values())) == exact.options.values()
    assert attack_from_params("pgd", exact.options.values()).options.current == exact.options.current
    default = get_attack("pgd")()
    assert default.options.shown()["target_labels"] == "-"
    assert attack_from_params("pgd", default.options.shown()).options.current == default.options.current


def test_a_worker_whose_disk_fills_up_says_the_scan_can_resume(tmp_path, digits_keras, monkeypatch):
    """What a process worker sends back of a full disk is the scan's own store failure."""
    from pathlib import Path

    from feint.engine import executors
    from feint.store.db import StoreError

    def full(target, task):
        raise StoreError(f"the disk holding {tmp_path} is full (No space left on device)", "full", tmp_path)

    monkeypatch.setattr(executors, "_execute", full)
    monkeypatch.setattr(executors, "_cached_target", lambda spec: digits_keras)
    task = executors.UnitTask(  # what a worker is handed
        **{f: None for f in executors.UnitTask.__dataclass_fields__}  # type: ignore[arg-type]
    )
    outcome = executors.run_unit(task)
    assert outcome.store_failure == ("full", str(tmp_path)) and "is full" in (outcome.error or "")

    class Pool(executors.LocalExecutor):  # a pool whose worker's disk is full
        def wait(self):
            self.in_flight -= 1
            return [executors.run_unit(self.queue.popleft())]

    monkeypatch.setattr(executors, "make_executor", lambda kind, target, workers, address: Pool(target))
    store = Store(tmp_path / "feint.db")
    plan = plan_scan(digits_keras, ["pgd"], None, {"sample_index": "0:4", "max_iter": "1"})
    with pytest.raises(StoreError, match="keeps every unit it stored, and a resume of it runs the rest") as err:
        execute_scan(digits_keras, plan, store, {}, chunk_size=2)
    assert err.value.kind == "full" and err.value.path == Path(tmp_path)
