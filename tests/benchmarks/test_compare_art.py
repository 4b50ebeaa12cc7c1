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
    argv = ["--quick", "--samples", "2", "--art-wasserstein-samples", "2", "--scaling", "2", "--json", str(out_json)]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    doc = json.loads(out_json.read_text())
    rows = doc["rows"]
    tools = {(r["attack"], r["tool"]) for r in rows}
    for name in ("pgd", "jsma", "wasserstein", "hop_skip_jump"):
        assert {(name, "feint"), (name, "ART keras"), (name, "ART lowered")} <= tools
        # each ART row is paired with feint's on the samples both turned
        assert {p["art"] for p in doc["paired"] if p["attack"] == name} >= {"ART keras", "ART lowered"}
    assert all(r["forward_per_sample"] > 0 for r in rows)
    for r in rows:  # the means are those of the per-sample measures over the successful samples
        ok = r["per_sample"]["success"]
        l2 = [v for v, good in zip(r["per_sample"]["l2"], ok) if good]
        assert r["l2"] == (pytest.approx(sum(l2) / len(l2)) if l2 else None)
        assert ("wasserstein" in r["per_sample"]) == (r["attack"] == "wasserstein")
    for p in doc["paired"]:
        a = next(r for r in rows if (r["attack"], r["tool"]) == (p["attack"], p["feint"]))
        assert all(a["per_sample"]["success"][i] for i in p["common"])
    assert "ART/feint" in out and "floor" in out and "growth" in out and "paired" in out and "load average" in out
