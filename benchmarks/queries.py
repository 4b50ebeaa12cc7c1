"""Closed-box attacks against a query budget: feint's decision-based attacks beside ART's.

On the same model and samples, each attack runs through the same counted model (every
row the model sees is one query, the first and last predictions included) with the same
per-sample cap, ``max_queries``, and records, per sample, the closest adversarial input
its queries found after each query (feint's trajectory; for ART's attacks that is the
closest adversarial ART asked about, which is never farther than what ART returns). It
prints, per target:

- the median distance (L2, or Linf for Linf attacks) at 100, 250, 500, 1,000, 2,500,
  5,000 and 10,000 queries per sample and at the last query (``-`` while half the samples
  had no adversarial yet);
- success within ``target_distance`` (adversarial within the distance by the last query);
- seconds per sample;
- the queries each attack needs for its median to reach ART HopSkipJump's final median
  at its paper settings (about 24,500 rows per sample), and their ratio to ART's.

Targets: ``digits_blackbox`` (closed-box), ``digits_keras`` through its ``predict`` only,
and ``photos`` (colour) through its ``predict`` only.

    python benchmarks/queries.py                       # the full comparison (long)
    python benchmarks/queries.py --targets digits_blackbox --samples 20
    python benchmarks/queries.py --quick               # a smoke run in seconds
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

from feint.attacks.catalog import get_attack  # noqa: E402
from feint.engine.run import execute_run  # noqa: E402
from feint.store import trajectories  # noqa: E402
from feint.targets import get_target  # noqa: E402
from feint.targets.base import Target  # noqa: E402

# name, tool, attack, options: feint's decision-based attacks and ART's.
ATTACKS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("geoda", "feint", "geoda", {}),
    ("surfree", "feint", "surfree", {}),
    ("cgba", "feint", "cgba", {}),
    ("hop_skip_jump", "feint", "hop_skip_jump", {}),
    ("hop_skip_jump efficient", "feint", "hop_skip_jump", {"variant": "efficient"}),
    ("hop_skip_jump subspace=0.5", "feint", "hop_skip_jump", {"subspace": 0.5}),
    ("rays (Linf)", "feint", "rays", {}),
    ("hop_skip_jump", "ART", "art.hop_skip_jump", {}),
    ("boundary", "ART", "art.boundary", {}),
    ("sign_opt", "ART", "art.sign_opt", {}),
    ("hop_skip_jump Linf", "ART", "art.hop_skip_jump", {"norm": "inf"}),
]
REFERENCE = ("hop_skip_jump", "ART")  # its final median, at its paper settings, is the mark
TARGET_DISTANCE = {"l2": 1.5, "linf": 0.1}  # digits; photos: scaled by the sample's size
# ART's GeoDA does not run with NumPy 2 (it calls np.mat), so it is not in the catalog.


class PredictOnly(Target):
    """A target seen through its ``predict`` alone: closed-box, whatever it wraps."""

    def __init__(self, inner: Target):
        inner.ensure_loaded()
        self.inner = inner
        self.target_name = f"{inner.target_name}_predict"
        self.data_type = inner.data_type
        self.input_shape = tuple(inner.input_shape)
        self.output_classes = tuple(inner.output_classes)
        self.bounds = tuple(inner.bounds)
        super().__init__()

    def load(self) -> None:
        self.X = self.inner.X
        self.y = getattr(self.inner, "y", None)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.inner.predict(x)


def target_of(name: str) -> Target:
    target = get_target(name)
    return target if not target.open_box else PredictOnly(target).ensure_loaded()


def queries_to_reach(arrays: dict[str, np.ndarray], mark: float | None) -> int | None:
    """The fewest queries per sample at which the run's median is at most ``mark``."""
    if mark is None:
        return None
    grid = np.unique(np.concatenate([arrays["event_query"], arrays["queries"]]))
    ok = [int(q) for q in grid if (m := trajectories.medians(arrays, [int(q)])[0]["median"]) is not None and m <= mark]
    return ok[0] if ok else None


def run_one(target: Target, attack: str, options: dict[str, Any], samples: str, cap: int, folder: Path) -> dict:
    t0 = time.perf_counter()
    kw = {"sample_index": samples, **options}
    if cap:
        kw["max_queries"] = cap
    run = execute_run(target, get_attack(attack)(**kw), folder)
    elapsed = time.perf_counter() - t0
    arrays = trajectories.load(run.artifacts)
    curve = trajectories.query_curve(arrays)
    assert arrays is not None and curve is not None
    return {"run": run, "arrays": arrays, "curve": curve, "s_per_sample": elapsed / max(run.n, 1)}


def fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table(lines: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    for row in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


def bench_target(name: str, args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    target = target_of(name)
    samples = f"0:{args.samples}"
    scale = np.sqrt(np.prod(target.input_shape) / 784.0)  # distances grow with the sample's size
    rows = []
    for label, tool, attack, options in ATTACKS:
        if args.attacks and attack not in args.attacks:
            continue
        if not get_attack(attack).compatible(target):
            continue
        opts = dict(options)
        if args.quick:
            opts.update(QUICK.get(attack, {}))
        reference = (label, tool) == REFERENCE
        # ART's HopSkipJump runs at its paper settings, uncapped: its final median is the mark.
        cap = 0 if reference and not args.quick else args.max_queries
        result = run_one(target, attack, opts, samples, cap, folder)
        result.update(label=label, tool=tool, attack=attack, options=opts, reference=reference)
        rows.append(result)
        print(f"  {tool} {label}: {result['s_per_sample']:.2f} s/sample", file=sys.stderr, flush=True)
    mark_row = next((r for r in rows if r["reference"]), None)
    mark = mark_row["curve"]["last"]["median"] if mark_row else None
    ref_queries = mark_row["curve"]["last"]["queries"] if mark_row else None
    print(f"\n== {target.target_name}: {args.samples} samples, max_queries {args.max_queries} per sample ==")
    budgets = [p["queries"] for p in rows[0]["curve"]["budgets"]] if rows else []
    head = [
        "tool",
        "attack",
        "norm",
        *(f"{b:,}" for b in budgets),
        "last",
        "success@td",
        "s/sample",
        "q to mark",
        "ratio",
    ]
    lines = [head]
    out = []
    for r in rows:
        c = r["curve"]
        td = TARGET_DISTANCE[c["norm"]] * (scale if c["norm"] == "l2" else 1.0)
        final = trajectories.at_budget(r["arrays"])
        within = int((final <= td).sum())
        reach = queries_to_reach(r["arrays"], mark) if c["norm"] == "l2" else None
        ratio = reach / ref_queries if reach is not None and ref_queries else None
        lines.append(
            [
                r["tool"],
                r["label"],
                c["norm"],
                *(fmt(p["median"]) for p in c["budgets"]),
                f"{fmt(c['last']['median'])}@{c['last']['queries']}",
                f"{within}/{c['samples']} (<= {td:.3g})",
                f"{r['s_per_sample']:.2f}",
                "-" if reach is None else f"{reach:,}",
                "-" if ratio is None else f"{ratio:.3f}",
            ]
        )
        out.append(
            {
                "target": target.target_name,
                "tool": r["tool"],
                "attack": r["label"],
                "catalog_name": r["attack"],
                "options": r["options"],
                "curve": c,
                "target_distance": td,
                "within_target_distance": within,
                "s_per_sample": r["s_per_sample"],
                "queries_to_mark": reach,
                "ratio_to_mark": ratio,
                "max_forward_queries": max(s.forward_queries for s in r["run"].samples),
                "per_sample_final": [None if not np.isfinite(v) else float(v) for v in final],
            }
        )
    table(lines)
    if mark is not None:
        print(f"mark: ART hop_skip_jump's final median L2 {mark:.4f} at {ref_queries:,} queries per sample")
    for norm in ("l2", "linf"):
        at_1000 = {
            (o["tool"], o["attack"]): next(p["median"] for p in o["curve"]["budgets"] if p["queries"] == 1000)
            for o in out
            if o["curve"]["norm"] == norm
        }
        best = {
            tool: min((v for (t, _), v in at_1000.items() if t == tool and v is not None), default=None)
            for tool in ("feint", "ART")
        }
        if best["feint"] is not None and best["ART"] is not None:
            print(
                f"median {norm.upper()} at 1,000 queries: feint's best {best['feint']:.4f}, ART's best "
                f"{best['ART']:.4f}, feint/ART {best['feint'] / best['ART']:.3f}"
            )
    return out


QUICK: dict[str, dict[str, Any]] = {
    "art.hop_skip_jump": {"max_iter": 3, "max_eval": 100, "init_eval": 10},
    "art.boundary": {"max_iter": 20},
    "art.sign_opt": {"max_iter": 2, "num_trial": 10, "k": 20, "query_limit": 300},
    "hop_skip_jump": {"max_iter": 3},
    "geoda": {"max_iter": 5},
    "surfree": {"max_iter": 10},
    "cgba": {"max_iter": 5},
    "rays": {"max_iter": 100},
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--targets", default="digits_blackbox,digits_keras,photos", help="comma-separated targets")
    ap.add_argument("--attacks", default="", help="comma-separated catalog names to keep (default: all)")
    ap.add_argument("--samples", type=int, default=20, help="samples per attack (default 20)")
    ap.add_argument("--max-queries", type=int, default=10_000, help="per-sample cap of every attack but the mark")
    ap.add_argument("--quick", action="store_true", help="tiny budgets: checks that the benchmark works")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    args.attacks = [a for a in args.attacks.split(",") if a]
    if args.quick:
        args.samples = min(args.samples, 2)
        args.max_queries = min(args.max_queries, 300)
    load = os.getloadavg()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; {os.cpu_count()} cores, load average "
        f"{load[0]:.2f}; torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}"
    )
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in [t for t in args.targets.split(",") if t]:
            rows += bench_target(name, args, Path(tmp))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
