"""The query-budget benchmark keeps working (on a tiny budget; no timings asserted)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("digits_blackbox")
def test_benchmark_prints_the_median_at_each_budget_beside_art(capsys, tmp_path):
    spec = importlib.util.spec_from_file_location("queries_bench", ROOT / "benchmarks" / "queries.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["queries_bench"] = bench
    spec.loader.exec_module(bench)
    out_json = tmp_path / "rows.json"
    argv = ["--quick", "--targets", "digits_blackbox", "--attacks", "geoda,rays,hop_skip_jump,art.hop_skip_jump"]
    assert bench.main([*argv, "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out_json.read_text())["rows"]
    got = {(r["tool"], r["attack"]) for r in rows}
    assert {("feint", "geoda"), ("feint", "rays (Linf)"), ("feint", "hop_skip_jump"), ("ART", "hop_skip_jump")} <= got
    for r in rows:
        assert r["max_forward_queries"] <= 300  # the cap, counted at the model
        assert [p["queries"] for p in r["curve"]["budgets"]] == [100, 250, 500, 1000, 2500, 5000, 10000]
        final = [v for v in r["per_sample_final"]]
        assert r["within_target_distance"] == sum(v is not None and v <= r["target_distance"] for v in final)
    assert "mark: ART hop_skip_jump's final median L2" in out and "feint/ART" in out and "q to mark" in out


@pytest.mark.usefixtures("digits_blackbox")
def test_rays_batch_benchmark_compares_one_flip_a_call_with_several(capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("rays_batch_bench", ROOT / "benchmarks" / "rays_batch.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--samples", "2", "--max-queries", "200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["batch=1", "batch=16"]
    calls = [int(line.split(", ")[1].split()[0].replace(",", "")) for line in lines]
    assert calls[1] < calls[0] and all("most rows per sample 200" in line for line in lines)
