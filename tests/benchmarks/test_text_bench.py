"""The text benchmark keeps working (a tiny run; no timings asserted)."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HAS_TEXTATTACK = importlib.util.find_spec("textattack") is not None


def _bench():
    spec = importlib.util.spec_from_file_location("text_bench", ROOT / "benchmarks" / "text.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["text_bench"] = bench
    spec.loader.exec_module(bench)
    return bench


@pytest.mark.skipif(not HAS_TEXTATTACK, reason="TextAttack is not installed")
def test_benchmark_prints_feint_beside_textattack_with_figures_recomputed_from_the_texts(capsys, tmp_path):
    bench = _bench()
    out_json = tmp_path / "rows.json"
    argv = [
        "--samples",
        "2",
        "--targets",
        "movie_reviews_blackbox",
        "--attacks",
        "deepwordbug",
        "--json",
        str(out_json),
    ]
    assert bench.main(argv + ["--max-queries", "60"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("deepwordbug")]
    assert [r.split()[1] for r in rows] == ["feint", "TextAttack"]
    import json

    data = json.loads(out_json.read_text())["rows"]
    assert {r["tool"] for r in data} == {"feint", "TextAttack"}
    for r in data:
        assert r["samples"] == 2 and 0 <= r["turned"] <= 2
        assert r["max_queries_of_a_sample"] <= 62  # the budget, with the first and last prediction
    assert data[0]["speed_ratio"] is not None


def test_benchmark_without_textattack_is_a_one_line_error(capsys, monkeypatch):
    bench = _bench()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "textattack" else real(name, *a))
    assert bench.main(["--samples", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: this benchmark needs TextAttack") and "\n" not in err
