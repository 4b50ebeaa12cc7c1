"""The evaluate benchmark keeps working (on a tiny budget; no timings asserted)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("digits_keras")
def test_benchmark_prints_feint_beside_art_with_ratios(capsys, tmp_path):
    spec = importlib.util.spec_from_file_location("bench_evaluate", ROOT / "benchmarks" / "evaluate.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_evaluate"] = bench
    spec.loader.exec_module(bench)
    out_json = tmp_path / "figures.json"
    assert bench.main(["--quick", "--targets", "digits_keras", "--samples", "3", "--json", str(out_json)]) == 0
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
    assert "ART/feint seconds" in out and "pp" in out and "load average" in out
