"""The ONNX thread benchmark keeps working (one tiny run; no timings asserted)."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_times_a_configuration(capsys):
    spec = importlib.util.spec_from_file_location("onnx_threads", ROOT / "benchmarks" / "onnx_threads.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["onnx_threads"] = bench
    spec.loader.exec_module(bench)
    small = ["--set", "max_eval=50", "--set", "max_iter=2", "--set", "init_eval=10"]
    assert bench.main(["--samples", "1", "--rounds", "1", "--configs", "runtime:1", *small]) == 0
    out = capsys.readouterr().out
    assert "runtime:1" in out and "median" in out
