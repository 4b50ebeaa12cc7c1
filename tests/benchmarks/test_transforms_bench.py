"""The transformations benchmark keeps working (a tiny run; no timings asserted)."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_prints_feint_beside_augly_with_ratios_and_output_differences(capsys):
    pytest.importorskip("augly")
    spec = importlib.util.spec_from_file_location("transforms_bench", ROOT / "benchmarks" / "transforms.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["transforms_bench"] = bench
    spec.loader.exec_module(bench)
    assert (
        bench.main(["--digits", "6", "--photos", "3", "--rounds", "1", "--only", "brightness,jpeg,rotate,saturation"])
        == 0
    )
    out = capsys.readouterr().out
    for name in ("brightness", "jpeg", "rotate"):
        assert sum(line.startswith(name) for line in out.splitlines()) == 2  # digits and photos
    jpeg = next(line for line in out.splitlines() if line.startswith("jpeg"))
    assert "same: max |diff| 0.0000" in jpeg  # feint's codec gives libjpeg's image to the bit
    assert "ratio feint / AugLy: geometric mean" in out
    assert "without the 1 row of a colour transformation of grey images" in out  # saturation of the digits
