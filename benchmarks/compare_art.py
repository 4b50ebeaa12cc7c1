"""feint's native attacks beside IBM ART's, on the same model, samples and parameters.

Runs, in one process, each of feint's ``pgd``, ``jsma``, ``wasserstein`` and
``hop_skip_jump`` and ART's same attack on ``digits_keras``, with the paper's
parameters. ART runs the Keras model the way it can with Keras 3: its PyTorch
estimator on the Keras model as a torch module (Keras-on-torch). feint runs the same
model lowered to plain torch layers (``feint.targets.adapters.keras_lower``); the header prints
what one forward pass costs each way, and ``--art-module feint`` hands ART feint's
lowered module instead, which separates the two tools' own costs from the model's. It prints
for each: seconds per sample, success rate, mean distances over the successful
samples, forward and gradient queries per sample, and the ratio ART / feint of
seconds per sample. Success is judged the same way for both: the target's own
``predict`` (8-bit quantised input) gives another label than it gave the original.

It also prints the floors (PGD: ``max_iter`` forward+backward passes of the batch;
HopSkipJump: the model rows it asked for, at the measured per-row forward time) and
how feint's PGD and JSMA times grow with the number of samples.

    python benchmarks/compare_art.py                      # the full comparison
    python benchmarks/compare_art.py --samples 20 --scaling 10,100
    python benchmarks/compare_art.py --quick              # a smoke run in seconds
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402

import feint  # noqa: E402

PAPER = {
    "pgd": {"norm": "inf", "eps": 0.3, "eps_step": 0.1, "max_iter": 100, "num_random_init": 0},
    "jsma": {"theta": 0.1, "gamma": 1.0},
    "wasserstein": {
        "regularization": 3000.0,
        "p": 2,
        "kernel_size": 5,
        "eps_step": 0.1,
        "eps": 0.3,
        "eps_iter": 10,
        "eps_factor": 1.1,
        "max_iter": 400,
        "conjugate_sinkhorn_max_iter": 400,
        "projected_sinkhorn_max_iter": 400,
    },
    "hop_skip_jump": {"norm": 2, "max_iter": 50, "max_eval": 10000, "init_eval": 100, "init_size": 100},
}
QUICK = {
    "pgd": {"max_iter": 5},
    "jsma": {"gamma": 0.05},
    "wasserstein": {"max_iter": 3, "conjugate_sinkhorn_max_iter": 20, "projected_sinkhorn_max_iter": 20},
    "hop_skip_jump": {"max_iter": 2, "max_eval": 100, "init_eval": 10},
}


@dataclass
class Row:
    attack: str
    tool: str
    samples: int
    seconds_per_sample: float
    success_rate: float
    linf: float | None
    l2: float | None
    l2_median: float | None
    l0: float | None
    wasserstein: float | None
    forward_per_sample: float
    gradient_per_sample: float
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def judge(target, x: np.ndarray, x_adv: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Success and distances, measured alike for both tools."""
    adv_labels = target.predict(x_adv.astype(np.float32)).argmax(1)
    ok = adv_labels != labels
    d = (x_adv - x).reshape(len(x), -1)
    linf, l2, l0 = np.abs(d).max(1), np.linalg.norm(d, axis=1), (np.abs(d) > 1e-6).sum(1)
    return {
        "success": ok,
        "linf": _mean(list(linf[ok])),
        "l2": _mean(list(l2[ok])),
        "l2_median": _median(list(l2[ok])),
        "l0": _mean(list(l0[ok].astype(float))),
    }


# -- feint ---------------------------------------------------------------------------
def run_feint(target, name: str, indices: list[int], params: dict[str, Any]) -> tuple[Row, Any]:
    attack = feint.get_attack(name)()
    for key, value in params.items():
        attack.options.set(key, str(value))
    attack.set("sample_index", ",".join(map(str, indices)))
    start = time.perf_counter()
    result = feint.execute_run(target, attack)
    elapsed = time.perf_counter() - start
    n = len(indices)
    ok = [s for s in result.samples if s.success]
    row = Row(
        attack=name,
        tool="feint",
        samples=n,
        seconds_per_sample=elapsed / n,
        success_rate=len(ok) / n,
        linf=_mean([s.linf for s in ok]),
        l2=_mean([s.l2 for s in ok]),
        l2_median=_median([s.l2 for s in ok]),
        l0=_mean([float(s.l0) for s in ok]),
        wasserstein=_mean([s.wasserstein for s in ok if s.wasserstein is not None]) if name == "wasserstein" else None,
        forward_per_sample=result.forward_queries / n,
        gradient_per_sample=result.gradient_queries / n,
    )
    return row, result


# -- ART -------------------------------------------------------------------------------
def _f32(x):
    """ART sometimes hands over float64 arrays (HopSkipJump's random starts); the model is float32."""
    return x.astype(np.float32, copy=False) if isinstance(x, np.ndarray) else x


def art_estimator(target, module):
    """ART's PyTorch estimator on ``module``, counting every row it is asked for."""
    from art.estimators.classification import PyTorchClassifier

    class Counted(PyTorchClassifier):
        forward_rows = 0
        gradient_rows = 0

        def predict(self, x, batch_size=128, training_mode=False, **kwargs):
            Counted.forward_rows += len(x)
            return super().predict(_f32(x), batch_size=batch_size, **kwargs)

        def loss_gradient(self, x, y, training_mode=False, **kwargs):
            Counted.forward_rows += len(x)
            Counted.gradient_rows += len(x)
            return super().loss_gradient(_f32(x), y, **kwargs)

        def class_gradient(self, x, label=None, training_mode=False, **kwargs):
            Counted.forward_rows += len(x)
            per_row = self.nb_classes if label is None else 1
            Counted.gradient_rows += len(x) * per_row
            return super().class_gradient(_f32(x), label=label, **kwargs)

    est = Counted(
        model=module,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=tuple(target.input_shape),
        nb_classes=len(target.output_classes),
        clip_values=tuple(float(b) for b in target.bounds),
    )
    return est, Counted


def art_attack(name: str, est, params: dict[str, Any], batch: int):
    from art.attacks import evasion

    p = dict(params)
    if name == "pgd":
        p["norm"] = np.inf if p["norm"] == "inf" else int(p["norm"])
        return evasion.ProjectedGradientDescent(est, batch_size=batch, verbose=False, **p)
    if name == "jsma":
        return evasion.SaliencyMapMethod(est, batch_size=1, verbose=False, **p)
    if name == "wasserstein":
        return evasion.Wasserstein(est, batch_size=1, verbose=False, **p)
    if name == "hop_skip_jump":
        return evasion.HopSkipJump(est, verbose=False, **p)
    raise ValueError(name)


def run_art(target, module, name: str, x: np.ndarray, labels: np.ndarray, params: dict[str, Any], batch: int) -> Row:
    est, counter = art_estimator(target, module)
    attack = art_attack(name, est, params, batch)
    counter.forward_rows = counter.gradient_rows = 0
    torch.manual_seed(0)
    np.random.seed(0)
    start = time.perf_counter()
    n = len(x)
    try:
        x_adv = attack.generate(x=x.astype(np.float32))
    except (ValueError, FloatingPointError, RuntimeError) as exc:  # ART's own numerical failures
        elapsed = time.perf_counter() - start
        return Row(
            attack=name,
            tool="ART",
            samples=n,
            seconds_per_sample=elapsed / n,
            success_rate=0.0,
            linf=None,
            l2=None,
            l2_median=None,
            l0=None,
            wasserstein=None,
            forward_per_sample=counter.forward_rows / n,
            gradient_per_sample=counter.gradient_rows / n,
            note=f"ART raised {type(exc).__name__} after {elapsed:.1f} s: {exc} (nothing turned; its time is a "
            "lower bound)",
        )
    elapsed = time.perf_counter() - start
    # Judging the original and the result costs two forward rows per sample, as in feint.
    m = judge(target, x, x_adv, labels)
    return Row(
        attack=name,
        tool="ART",
        samples=n,
        seconds_per_sample=elapsed / n,
        success_rate=float(m["success"].mean()),
        linf=m["linf"],
        l2=m["l2"],
        l2_median=m["l2_median"],
        l0=m["l0"],
        wasserstein=None,
        forward_per_sample=counter.forward_rows / n + 2,
        gradient_per_sample=counter.gradient_rows / n,
    )


# -- floors ------------------------------------------------------------------------------
def time_it(fn: Callable[[], Any], repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_backward_seconds(module, x: torch.Tensor) -> float:
    def step():
        xi = x.detach().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(module(xi), torch.zeros(len(x), dtype=torch.long))
        torch.autograd.grad(loss, xi)

    return time_it(step)


def forward_seconds(module, x: torch.Tensor) -> float:
    def step():
        with torch.no_grad():
            module(x)

    return time_it(step, repeat=15)


# -- printing ----------------------------------------------------------------------------
def fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def print_rows(rows: list[Row]) -> None:
    head = (
        "attack",
        "tool",
        "n",
        "s/sample",
        "success",
        "Linf",
        "L2",
        "L2 med",
        "L0",
        "W",
        "fwd/sample",
        "grad/sample",
        "ART/feint",
    )
    lines = [head]
    by = {(r.attack, r.tool): r for r in rows}
    for r in rows:
        ratio = ""
        if r.tool.startswith("feint") and (r.attack, "ART") in by:
            ratio = f"{by[(r.attack, 'ART')].seconds_per_sample / r.seconds_per_sample:.1f}x"
        lines.append(
            (
                r.attack,
                r.tool,
                str(r.samples),
                fmt(r.seconds_per_sample, 4),
                f"{100 * r.success_rate:.0f}%",
                fmt(r.linf),
                fmt(r.l2),
                fmt(r.l2_median),
                fmt(r.l0, 1),
                fmt(r.wasserstein),
                f"{r.forward_per_sample:.0f}",
                f"{r.gradient_per_sample:.0f}",
                ratio,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for i, line in enumerate(lines):
        print("  ".join(c.rjust(w) if j > 1 else c.ljust(w) for j, (c, w) in enumerate(zip(line, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:
        if r.note:
            print(f"note: {r.attack} ({r.tool}): {r.note}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--attacks", default="pgd,jsma,wasserstein,hop_skip_jump", help="comma-separated native attacks")
    ap.add_argument("--samples", type=int, default=100, help="samples per attack (default 100)")
    ap.add_argument(
        "--art-wasserstein-samples",
        type=int,
        default=1,
        help="samples for ART's Wasserstein, minutes each (default 1; 0 skips it)",
    )
    ap.add_argument(
        "--art-hop-skip-jump-samples", type=int, default=100, help="samples for ART's HopSkipJump (default 100)"
    )
    ap.add_argument(
        "--art-module",
        choices=("keras", "feint"),
        default="keras",
        help="the module ART's estimator runs: keras, the Keras model as a torch module (what ART "
        "users get); feint, feint's lowered torch module (default keras)",
    )
    ap.add_argument("--scaling", default="10,100,1000", help="sample counts for the growth table ('' skips it)")
    ap.add_argument("--quick", action="store_true", help="tiny budgets: checks that the benchmark works")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args(argv)

    # feint's command line keeps freed memory for reuse (feint.engine.allocator); the
    # setting is process-wide, so ART runs under it too.
    from feint.engine.allocator import tune_allocator

    tuned = tune_allocator()
    torch.manual_seed(0)
    target = feint.get_target("digits_keras")
    names = [a for a in args.attacks.split(",") if a]
    unknown = [a for a in names if a not in PAPER]
    if unknown:
        ap.error(f"unknown attack {unknown[0]}; accepted: {', '.join(PAPER)}")
    n = args.samples
    indices = list(range(n))
    x = target.get_samples(indices).astype(np.float32)
    labels = target.predict(x).argmax(1)
    params = {k: {**v, **(QUICK[k] if args.quick else {})} for k, v in PAPER.items()}
    print(
        f"feint {feint.__version__} beside ART on digits_keras; {n} samples; torch threads {torch.get_num_threads()}; "
        f"allocator thresholds raised for both: {'yes' if tuned else 'no'}"
    )

    rows: list[Row] = []
    module = target.torch_module()
    keras_module = getattr(target, "keras_module", None) or module
    art_module = keras_module if args.art_module == "keras" else module
    xt = torch.from_numpy(x)
    from feint.attacks.model import FORWARD_CHUNK  # the rows per pass of feint's forward-only queries

    probe = xt[torch.arange(FORWARD_CHUNK) % len(xt)].contiguous()
    per_row = forward_seconds(module, probe) / FORWARD_CHUNK
    print(
        f"digits_keras runs in feint as: {target.describe().get('runs_as', 'torch')}; ART gets the "
        f"{'Keras model as a torch module' if art_module is keras_module else 'same lowered module'}"
    )
    if keras_module is not module:
        keras_row = forward_seconds(keras_module, probe) / FORWARD_CHUNK
        print(
            f"one forward pass of {FORWARD_CHUNK} rows: lowered {1e6 * per_row:.0f} us/row, through Keras "
            f"{1e6 * keras_row:.0f} us/row ({keras_row / per_row:.2f}x)"
        )
    for name in names:
        p = params[name]
        row, result = run_feint(target, name, indices, p)
        rows.append(row)
        if name == "pgd":
            floor = p["max_iter"] * forward_backward_seconds(module, xt[: min(n, 100)]) / min(n, 100)
            row.extra["floor_s_per_sample"] = floor
            row.note = f"floor {floor:.4f} s/sample ({p['max_iter']} forward+backward passes); feint/floor {row.seconds_per_sample / floor:.2f}"
            early, _ = run_feint(target, name, indices, {**p, "early_stop": True})
            early.tool = "feint early_stop"
            rows.append(early)
        if name == "hop_skip_jump":
            floor = row.forward_per_sample * per_row
            row.extra["floor_s_per_sample"] = floor
            row.note = f"floor {floor:.4f} s/sample ({row.forward_per_sample:.0f} rows at {1e6 * per_row:.1f} us); feint/floor {row.seconds_per_sample / floor:.2f}"
        art_n = {"wasserstein": args.art_wasserstein_samples, "hop_skip_jump": args.art_hop_skip_jump_samples}.get(
            name, n
        )
        art_n = min(art_n, n)
        if art_n > 0:
            art_p = {k: v for k, v in p.items() if k != "early_stop"}
            art_row = run_art(target, art_module, name, x[:art_n], labels[:art_n], art_p, batch=min(n, 100))
            if art_n < n:
                art_row.note = "; ".join(
                    filter(None, [f"ART ran on the first {art_n} of the {n} samples (too slow for all)", art_row.note])
                )
            rows.append(art_row)
        print_rows([r for r in rows if r.attack == name])
        print(flush=True)

    print("== all ==")
    print_rows(rows)
    sizes = [int(s) for s in args.scaling.split(",") if s]
    if sizes:
        # Samples differ in how many steps they need (a JSMA sample takes from a few to
        # thousands), so the work is shown beside the time: ms per 1,000 gradient rows
        # stays flat when cost is linear in the work.
        print("\n== growth: feint seconds for N samples ==")
        print(
            "attack  " + "  ".join(f"N={s:>5}" for s in sizes) + "  s/sample at each N  |  gradients/sample"
            "  |  ms per 1,000 gradient rows"
        )
        for name in ("pgd", "jsma"):
            if name not in names:
                continue
            secs, grads = [], []
            for size in sizes:
                size = min(size, 1000)
                start = time.perf_counter()
                grow, _ = run_feint(target, name, list(range(size)), params[name])
                secs.append(time.perf_counter() - start)
                grads.append(grow.gradient_per_sample * size)
            print(
                f"{name:7} "
                + "  ".join(f"{s:7.2f}" for s in secs)
                + "  "
                + " ".join(f"{s / size:.4f}" for s, size in zip(secs, sizes))
                + "  |  "
                + " ".join(f"{g / size:.0f}" for g, size in zip(grads, sizes))
                + "  |  "
                + " ".join(f"{1e6 * s / g:.0f}" for s, g in zip(secs, grads))
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(r) for r in rows], fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
