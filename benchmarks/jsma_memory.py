"""Peak memory of feint's JSMA on one large input (3x224x224, a small random torch CNN).

A full pairwise saliency matrix for 150,528 features would take 90 GB per sample; the
bounded candidate search keeps the attack's peak resident memory small. Prints the
process's peak resident set size before and after the attack, and the time, with the
allocator set as feint's command line sets it (``--default-allocator`` to compare).

    python benchmarks/jsma_memory.py [--steps 20]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

import feint
from feint.targets.base import Target


class RandomImageNetSized(Target):
    target_name = "random_cnn_224"
    data_type = "image"
    input_shape = (3, 224, 224)
    output_classes = tuple(str(i) for i in range(10))

    def load(self) -> None:
        torch.manual_seed(0)
        self.module = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 5, stride=4),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, stride=2),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(4),
            torch.nn.Flatten(),
            torch.nn.Linear(256, 10),
        ).eval()
        for param in self.module.parameters():
            param.requires_grad_(False)
        self.X = np.random.default_rng(0).uniform(0, 1, (2, *self.input_shape)).astype(np.float32)

    def torch_module(self) -> torch.nn.Module:
        return self.ensure_loaded().module


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="JSMA steps (pairs changed), via gamma")
    ap.add_argument(
        "--default-allocator",
        action="store_true",
        help="leave malloc's thresholds alone (feint's command line raises them, so freed memory is kept for reuse)",
    )
    args = ap.parse_args()
    if not args.default_allocator:
        from feint.engine.allocator import tune_allocator

        tune_allocator()  # as the command line runs
    target = RandomImageNetSized().ensure_loaded()
    attack = feint.get_attack("jsma")()
    features = int(np.prod(target.input_shape))
    attack.options.set("gamma", 2 * args.steps / features)
    attack.set("sample_index", "0")
    before = peak_mib()
    start = time.perf_counter()
    result = feint.execute_run(target, attack)
    elapsed = time.perf_counter() - start
    after = peak_mib()
    s = result.samples[0]
    print(f"jsma on one 3x224x224 input: {elapsed:.2f} s, {s.gradient_queries} gradient queries, L0 {s.l0}")
    print(
        f"peak resident memory: {before:.0f} MiB before the attack, {after:.0f} MiB after "
        f"(the attack added at most {after - before:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
