"""HopSkipJump on an ONNX target: onnxruntime's own thread settings against feint's.

Builds a small ONNX model (an MLP on scikit-learn's 8x8 digits, exported with
``torch.onnx.export``) and its YAML declaration in a temporary folder, then times
``feint run TARGET hop_skip_jump -i 0:N`` in a fresh process per configuration, the
configurations interleaved so that a shared machine's load falls on all of them alike:

- ``runtime``: onnxruntime's default session options (a thread per core, spinning);
- ``feint``: feint's (``feint.targets.adapters.onnx_model.session_options``: torch's thread
  count, one inter-op thread, no spinning);

each with torch's default number of threads, and with one (``:1``).

    python benchmarks/onnx_threads.py                      # 10 samples, 3 rounds
    python benchmarks/onnx_threads.py --samples 20 --rounds 5
    python benchmarks/onnx_threads.py --configs runtime,feint,runtime:1,feint:1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = "runtime,feint,runtime:1,feint:1"

# run in each child: optionally put back onnxruntime's defaults, set torch's threads, time the run
CHILD = """
import sys, time
import torch
settings, threads, target, samples, sets = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
if threads:
    torch.set_num_threads(threads)
if settings == "runtime":
    import onnxruntime as ort
    import feint.targets.adapters.onnx_model as onnx_model

    def defaults(ort=ort):
        options = ort.SessionOptions()
        options.log_severity_level = 3
        return options

    onnx_model.session_options = lambda _ort: defaults()
from feint.cli.app import main

start = time.perf_counter()
code = main(["run", target, "hop_skip_jump", "-i", "0:" + samples, "--json", *sets])
print("SECONDS", time.perf_counter() - start, file=sys.stderr)
sys.exit(code)
"""


def build(folder: Path) -> Path:
    """The ONNX model, its samples and the YAML declaring them; the YAML's path."""
    import numpy as np
    import torch
    import yaml
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    xt, yt = torch.as_tensor(x), torch.as_tensor(digits.target)
    for _ in range(80):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    torch.onnx.export(
        torch.nn.Sequential(net, torch.nn.Softmax(dim=1)).eval(),
        (xt[:2],),
        str(folder / "mlp.onnx"),
        dynamo=False,
        input_names=["x"],
        dynamic_axes={"x": {0: "n"}},
    )
    np.savez(folder / "digits.npz", X=x[-40:], y=digits.target[-40:])
    doc = {
        "name": "onnx_mlp",
        "model": "mlp.onnx",
        "data_type": "image",
        "input_shape": [1, 8, 8],
        "classes": [str(i) for i in range(10)],
        "samples": "digits.npz",
    }
    path = folder / "onnx_mlp.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def measure(config: str, target: Path, samples: int, home: Path, sets: list[str]) -> float:
    settings, _, threads = config.partition(":")
    env = {**os.environ, "FEINT_HOME": str(home)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, settings, threads or "0", str(target), str(samples), *sets],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{config}: feint run failed: {done.stderr.strip().splitlines()[-1:]}")
    line = [s for s in done.stderr.splitlines() if s.startswith("SECONDS ")]
    return float(line[-1].split()[1]) if line else wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10, help="samples attacked per run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each configuration (default 3)")
    parser.add_argument("--configs", default=CONFIGS, help=f"comma-separated (default {CONFIGS})")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a HopSkipJump option")
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in configs:
        if c.partition(":")[0] not in ("runtime", "feint") or not (c.partition(":")[2] or "0").isdigit():
            parser.error(f"unknown configuration {c!r}; accepted: runtime or feint, with :THREADS for torch's threads")
    times: dict[str, list[float]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory(prefix="feint-onnx-threads-") as folder:
        target = build(Path(folder))
        for _ in range(args.rounds):
            for c in configs:
                sets = [f for pair in args.set for f in ("--set", pair)]
                times[c].append(measure(c, target, args.samples, Path(folder) / "home", sets))
    print(f"hop_skip_jump on {args.samples} samples of an ONNX MLP; seconds per run over {args.rounds} rounds")
    print(f"{'config':<14}{'median':>8}{'min':>8}{'max':>8}")
    for c, values in times.items():
        print(f"{c:<14}{statistics.median(values):>8.1f}{min(values):>8.1f}{max(values):>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
