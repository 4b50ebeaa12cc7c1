"""What the store's safety costs: the check before a run or scan writes, and a unit's lease.

Fills a store in a temporary folder with runs of 1,000 samples each, then times
``Store.prepare_write()`` (a write lock taken and let go, SQLite's ``quick_check`` over the
whole file, a 1 MiB probe file written, synced and removed), once per round, and
``Store.claim_unit()`` (one locked transaction) over the units of a planned scan. There is
no peer to compare with: the figures are what a run or scan pays once (the check) and
per unit (the lease) for refusing a store that could not take its results and for sharing
a scan between two invocations.

    python benchmarks/store_checks.py                     # 100,000 samples, 1,000 units, 3 rounds
    python benchmarks/store_checks.py --samples 1000000 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from feint.records import RunResult, SampleResult
    from feint.store.db import Store, new_holder

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=100_000, help="samples stored before timing (default 100,000)")
    p.add_argument("--units", type=int, default=1_000, help="units leased, one by one (default 1,000)")
    p.add_argument("--rounds", type=int, default=3, help="times the check is timed (default 3)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "feint.db")
        for r in range(max(1, args.samples // 1000)):
            samples = [
                SampleResult(
                    index=i,
                    initial_label="1",
                    initial_conf=0.9,
                    final_label="7",
                    final_conf=0.6,
                    success=True,
                    linf=0.1,
                    l2=0.5,
                    l0=3,
                    forward_queries=5,
                    gradient_queries=4,
                )
                for i in range(min(1000, args.samples))
            ]
            store.add_run(
                RunResult(
                    run_id=f"r{r}",
                    attack="pgd",
                    framework="native",
                    target="t",
                    params={},
                    seed=0,
                    started_at="2026-01-01T00:00:00+00:00",
                    elapsed_s=1.0,
                    samples=samples,
                )
            )
        size = store.path.stat().st_size
        checks = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            store.prepare_write()
            checks.append(time.perf_counter() - t0)
        run = {"run_id": "p", "target": "t", "attack": "pgd", "framework": "native", "family": "evasion"}
        run.update(params={}, seed=0, started_at="x", artifacts=None, n=args.units)
        scan = {"target": "t", "started_at": "x", "settings": {}, "target_info": {}, "plan_key": "k"}
        store.add_plan("s", [run], [("p", u, u, u + 1) for u in range(args.units)], scan=scan)
        me = new_holder()
        t0 = time.perf_counter()
        for u in range(args.units):
            store.claim_unit("p", u, me)
        claim = (time.perf_counter() - t0) / args.units
        store.close()
    print(f"store of {args.samples:,} samples ({size / 1e6:.1f} MB)")
    print(f"check before writing (prepare_write): median {statistics.median(checks) * 1000:.1f} ms of {args.rounds}")
    print(f"lease of a unit (claim_unit): {claim * 1000:.2f} ms per unit, over {args.units:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
