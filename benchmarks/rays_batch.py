"""RayS one flip a model call (``batch=1``) against several (the default), on the same samples in one process.

Prints, for each, the seconds per sample, the model calls, the median Linf and the most
rows one sample cost:

    python benchmarks/rays_batch.py --target digits_blackbox --samples 20 --max-queries 10000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from queries import target_of  # noqa: E402

from feint.attacks.catalog import get_attack  # noqa: E402
from feint.engine.run import execute_run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="digits_blackbox")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--max-queries", type=int, default=10_000)
    args = ap.parse_args(argv)
    target = target_of(args.target)
    default = get_attack("rays").params["batch"].default
    for batch in (1, default):
        log: list[dict] = []
        attack = get_attack("rays")(
            sample_index=f"0:{args.samples}", max_queries=args.max_queries, batch=batch, logger="calls"
        )
        t0 = time.perf_counter()
        run = execute_run(target, attack, query_log=log)
        seconds = (time.perf_counter() - t0) / max(run.n, 1)
        median = float(np.median([s.linf for s in run.samples]))
        most = max(s.forward_queries for s in run.samples)
        print(
            f"batch={batch}: {seconds:.2f} s/sample, {len(log):,} model calls, median Linf {median:.4f}, "
            f"most rows per sample {most:,}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
