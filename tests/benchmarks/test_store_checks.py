"""The store-check benchmark keeps working (a tiny store; no timings asserted)."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_times_the_check_and_the_lease(capsys):
    spec = importlib.util.spec_from_file_location("store_checks", ROOT / "benchmarks" / "store_checks.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["store_checks"] = bench
    spec.loader.exec_module(bench)
    assert bench.main(["--samples", "1000", "--units", "5", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "store of 1,000 samples" in out and "prepare_write" in out and "claim_unit" in out
