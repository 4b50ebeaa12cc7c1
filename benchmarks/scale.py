"""How a scan scales over executors: the same PGD scan on the digits with the local
executor, a process pool of 1 and 2 workers and Ray with 1 and 2 workers.

For each it prints the wall time of the whole scan (worker start-up included), samples
per second over the whole scan and once the first unit is in (the steady rate), and the
speed-up of each over the local executor. The local executor uses torch's default number
of threads; every worker of the process pool and of Ray uses one.

    python benchmarks/scale.py                      # 1,000 samples, max_iter=20
    python benchmarks/scale.py --full               # max_iter=100, the paper's PGD
    python benchmarks/scale.py --samples 200 --configs local,process:2
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

CONFIGS = "local,process:1,process:2,ray:1,ray:2"


def measure(target, kind: str, workers: int | None, samples: int, max_iter: int, chunk: int) -> dict:
    from feint.engine.scan import execute_scan, plan_scan
    from feint.store.db import Store

    with tempfile.TemporaryDirectory(prefix="feint-scale-") as folder:
        store = Store(Path(folder) / "feint.db")
        plan = plan_scan(target, ["pgd"], None, {"sample_index": f"0:{samples}", "max_iter": str(max_iter)})
        marks: list[tuple[float, int]] = []
        t0 = time.perf_counter()
        scan = execute_scan(
            target,
            plan,
            store,
            {},
            executor=kind,
            workers=workers,
            chunk_size=chunk,
            on_progress=lambda s: marks.append((time.perf_counter(), s.samples_done)),
        )
        wall = time.perf_counter() - t0
        store.close()
    done = [(t, n) for t, n in marks if n > 0]
    steady = None
    if len(done) >= 2 and done[-1][0] > done[0][0]:
        steady = (done[-1][1] - done[0][1]) / (done[-1][0] - done[0][0])
    run = scan.runs[0]
    return {
        "wall": wall,
        "rate": samples / wall,
        "steady": steady,
        "success": run.success_rate,
        "queries": run.queries / run.n,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=1000, help="digits attacked (default 1000)")
    p.add_argument("--max-iter", type=int, default=20, help="PGD iterations (default 20)")
    p.add_argument("--full", action="store_true", help="the paper's PGD: max_iter=100")
    p.add_argument("--chunk-size", type=int, default=100, help="samples per unit (default 100)")
    p.add_argument("--configs", default=CONFIGS, help=f"executor:workers list (default {CONFIGS})")
    args = p.parse_args(argv)
    max_iter = 100 if args.full else args.max_iter

    import torch

    from feint.targets import get_target

    target = get_target("digits_keras")
    print(
        f"PGD (Linf, eps=0.3, max_iter={max_iter}) on {args.samples} digits_keras samples, "
        f"units of {args.chunk_size}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    omp = os.environ.get("OMP_NUM_THREADS")
    print(
        f"torch threads: local executor {torch.get_num_threads()} (torch's default"
        + (f", with OMP_NUM_THREADS={omp}" if omp else "")
        + "); process and Ray workers 1 each "
        "(torch.set_num_threads(1)); times include starting the workers"
    )
    rows = []
    base = None
    for item in args.configs.split(","):
        kind, _, n = item.partition(":")
        workers = int(n) if n else None
        label = f"{kind} x{workers or 1}"
        if kind == "ray" and importlib.util.find_spec("ray") is None:
            print(f"{label}: skipped, Ray is not installed (pip install 'feint[ray]')")
            continue
        r = measure(target, kind, workers, args.samples, max_iter, args.chunk_size)
        if base is None and kind == "local":
            base = r["rate"]
        rows.append((label, r))
        print(f"  {label:<12} done in {r['wall']:.1f} s", file=sys.stderr)
    print()
    print(
        f"{'executor':<12} {'wall s':>8} {'samples/s':>10} {'steady/s':>9} {'speed-up':>9} {'success':>8} "
        f"{'queries/sample':>15}"
    )
    for label, r in rows:
        speed = f"{r['rate'] / base:.2f}x" if base else "-"
        steady = f"{r['steady']:.1f}" if r["steady"] else "-"
        print(
            f"{label:<12} {r['wall']:>8.1f} {r['rate']:>10.1f} {steady:>9} {speed:>9} {r['success']:>8.1%} "
            f"{r['queries']:>15.0f}"
        )
    print(f"\nspeed-up: samples/s over the local executor's; load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
