"""Stored scans to report on: a small real sweep scan of digits_keras, and a synthetic
tabular scan with its stored arrays."""

from __future__ import annotations

import numpy as np
import pytest

from feint.measures import MEASURES
from feint.records import RunResult, SampleResult
from feint.store.db import Store

GATES = ["success_rate > 0.5", "pgd.queries.avg > 1000"]


@pytest.fixture(scope="session")
def report_store(tmp_path_factory, digits_keras):
    """A store holding one sweep scan: pgd (5 steps) at eps 0.05 and 0.3 on 3 digits,
    started with two gates. Returns (store, scan_id)."""
    from feint.engine.scan import execute_scan, plan_scan

    store = Store(tmp_path_factory.mktemp("report") / "feint.db")
    plan = plan_scan(
        digits_keras, ["pgd"], {"pgd": {"max_iter": 5}}, {"sample_index": "0:3"}, sweep={"eps": ["0.05", "0.3"]}
    )
    settings = {
        "attacks": ["pgd"],
        "params": {"pgd": plan[0].options.shown()},
        "seed": 0,
        "sweep": {"eps": ["0.05", "0.3"]},
        "fail_on": GATES,
    }
    scan = execute_scan(digits_keras, plan, store, settings)
    return store, scan.scan_id


@pytest.fixture()
def tabular_store(tmp_path):
    """A stored scan of a tabular target, written by hand: two samples, one turned."""
    store = Store(tmp_path / "feint.db")
    folder = tmp_path / "artifacts" / "t1"
    folder.mkdir(parents=True)
    x = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]], np.float32)
    x_adv = x.copy()
    x_adv[0, 2] += 0.75
    x_adv[0, 0] -= 0.25
    np.savez_compressed(folder / "adversarial.npz", indices=np.array([7, 9]), x=x, x_adv=x_adv)
    pct = MEASURES.get("euclid_pct").compute(x, x_adv)  # as a run of a tabular target stores it
    info = {
        "name": "loans",
        "data_type": "tabular",
        "input_shape": [4],
        "classes": ["deny", "grant"],
        "bounds": [0.0, 10.0],
        "access": "closed-box",
        "samples": 20,
        "feature_names": ["income", "age", "debt", "tenure"],
    }
    store.add_scan("tab1", "loans", "2026-01-01T00:00:00+00:00", {"attacks": ["boundary", "other"]}, info)
    samples = [
        SampleResult(
            index=7,
            initial_label="deny",
            initial_conf=0.8,
            final_label="grant",
            final_conf=0.6,
            success=True,
            linf=0.75,
            l2=0.79,
            l0=2,
            forward_queries=500,
            gradient_queries=0,
            true_label="deny",
            measures={"euclid_pct": float(pct[0])},
        ),
        SampleResult(
            index=9,
            initial_label="grant",
            initial_conf=0.7,
            final_label="grant",
            final_conf=0.7,
            success=False,
            linf=0.0,
            l2=0.0,
            l0=0,
            forward_queries=500,
            gradient_queries=0,
            true_label="deny",
            measures={"euclid_pct": float(pct[1])},
        ),
    ]
    store.add_run(
        RunResult(
            run_id="t1",
            attack="boundary",
            framework="native",
            target="loans",
            params={"eps": "0.5", "sample_index": "7,9", "seed": "0"},
            seed=0,
            started_at="2026-01-01T00:00:01+00:00",
            elapsed_s=2.0,
            samples=samples,
            scan_id="tab1",
            artifacts=str(folder),
        )
    )
    store.finish_scan("tab1", "interrupted")
    return store
