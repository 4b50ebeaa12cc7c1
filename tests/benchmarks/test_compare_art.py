"""The side-by-side benchmark keeps working (on a tiny budget; no timings asserted)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("digits_keras")
def test_benchmark_prints_every_attack_beside_art_with_ratios(capsys, tmp_path):
    spec = importlib.util.spec_from_file_location("compare_art", ROOT / "benchmarks" / "compare_art.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["compare_art"] = bench  # dataclasses look their module up while the class is made
    spec.loader.exec_module(bench)
    out_json = tmp_path / "rows.json"
    assert bench.main(["--quick", "--samples", "2", "--scaling", "2", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out_json.read_text())
    tools = {(r["attack"], r["tool"]) for r in rows}
    for name in ("pgd", "jsma", "wasserstein", "hop_skip_jump"):
        assert (name, "feint") in tools and (name, "ART") in tools
    assert all(r["forward_per_sample"] > 0 for r in rows)
    assert "ART/feint" in out and "floor" in out and "growth" in out
