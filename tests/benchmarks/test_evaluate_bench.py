"""The evaluate benchmark keeps working (on a tiny budget; no timings asserted)."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("digits_keras")
def test_benchmark_prints_feint_beside_art_with_ratios(capsys, tmp_path):
    spec = importlib.util.spec_from_file_location("bench_evaluate", ROOT / "benchmarks" / "evaluate.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_evaluate"] = bench
    spec.loader.exec_module(bench)
    out_json = tmp_path / "figures.json"
    argv = ["--quick", "--targets", "digits_keras", "--samples", "3", "--reference", "art", "--json", str(out_json)]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    doc = json.loads(out_json.read_text())["targets"]["digits_keras"]
    tools = [row["tool"] for row in doc["evaluate"]]
    assert tools == ["feint evaluate (fast)", "ART AutoAttack"]
    for row in doc["evaluate"]:
        assert set(row["robust_accuracy"]) == {"0.3"} and 0 <= row["robust_accuracy"]["0.3"] <= row["clean_accuracy"]
    assert {(a["attack"], a["tool"]) for a in doc["per_attack"]} == {
        ("apgd", "feint"),
        ("apgd", "ART"),
        ("square", "feint"),
        ("square", "ART"),
    }
    assert "feint - ART AutoAttack" in out and "pp" in out and "load average" in out
    assert set(doc["seconds_ratio"]) == {"ART AutoAttack"}


def test_benchmark_judges_a_reference_inside_the_budget_in_float64():
    spec = importlib.util.spec_from_file_location("bench_evaluate", ROOT / "benchmarks" / "evaluate.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    x = np.array([[0.2, 0.5, 0.0]], np.float32)
    past = x + np.float32(0.1)  # float32 rounding puts some coordinates beyond 0.1
    inside, moved = bench.within(x, past, 0.1)
    assert np.abs(inside.astype(np.float64) - x.astype(np.float64)).max() <= 0.1
    assert (np.abs(past.astype(np.float64) - x.astype(np.float64)) > 0.1).any() and moved == 1
    same, none_moved = bench.within(x, x, 0.1)
    assert none_moved == 0 and np.array_equal(same, x)
