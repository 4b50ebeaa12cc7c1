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
import hashlib
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
    forward_per_sample: float
    gradient_per_sample: float
    # means over the successful samples (see fill)
    success_rate: float = 0.0
    linf: float | None = None
    l2: float | None = None
    l2_median: float | None = None
    l0: float | None = None
    wasserstein: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # per sample, in the order of ``indices``: success, linf, l2, l0 and (Wasserstein
    # attack) the exact transport cost; errors: sample -> the message ART raised on it
    indices: list[int] = field(default_factory=list)
    per_sample: dict[str, list] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def transport_cost(x: np.ndarray, y: np.ndarray, p: float = 2.0) -> float:
    """The exact 1-Wasserstein distance between images ``x`` and ``y`` (``(C, H, W)``, each
    normalised to unit mass, negative values clipped), the ground distance between pixels
    being the p-norm of their offset (ART's cost; Euclidean at ``p = 2``), with mass free
    to move across the whole image: a linear program (scipy's HiGHS). Pixels below 1e-7
    of the mass are left out (they hold less than that in total per pixel; the solver's
    tolerance). Computed alike for both tools' adversarials; ``nan`` where it fails."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    total = 0.0
    for xc, yc in zip(np.asarray(x, np.float64), np.clip(np.asarray(y, np.float64), 0.0, None)):
        w = xc.shape[1]
        a, b = xc.ravel() / xc.sum(), yc.ravel() / yc.sum()
        src, dst = np.flatnonzero(a > 1e-7), np.flatnonzero(b > 1e-7)
        a, b = a[src] / a[src].sum(), b[dst] / b[dst].sum()
        (sy, sx), (dy, dx) = np.divmod(src, w), np.divmod(dst, w)
        cost = (np.abs(sy[:, None] - dy) ** p + np.abs(sx[:, None] - dx) ** p) ** (1 / p)
        ns, nd = len(src), len(dst)
        var = np.arange(ns * nd)
        rows = np.concatenate([var // nd, ns + var % nd])
        eq = coo_matrix((np.ones(2 * ns * nd), (rows, np.concatenate([var, var]))), shape=(ns + nd, ns * nd))
        res = linprog(cost.ravel(), A_eq=eq.tocsr(), b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")
        if res.status != 0:
            return float("nan")
        total += float(res.fun)
    return total


def judge(target, x: np.ndarray, x_adv: np.ndarray, labels: np.ndarray, p_w: float | None = None) -> dict[str, Any]:
    """Success and distances per sample, measured alike for both tools from the arrays;
    with ``p_w``, also the exact Wasserstein distance of each successful adversarial."""
    adv_labels = target.predict(x_adv.astype(np.float32)).argmax(1)
    ok = adv_labels != labels
    d = (x_adv - x).reshape(len(x), -1)
    per = {
        "success": ok.tolist(),
        "linf": np.abs(d).max(1).tolist(),
        "l2": np.linalg.norm(d, axis=1).tolist(),
        "l0": (np.abs(d) > 1e-6).sum(1).astype(float).tolist(),
    }
    if p_w is not None:
        per["wasserstein"] = [transport_cost(x[i], x_adv[i], p_w) if ok[i] else None for i in range(len(x))]
    return per


def fill(row: Row, per: dict[str, list]) -> Row:
    """The row's means over its successful samples, from its per-sample measures."""
    ok = per["success"]
    row.per_sample = per
    row.success_rate = float(np.mean(ok)) if ok else 0.0
    pick = {k: [v for v, good in zip(vals, ok) if good and v is not None] for k, vals in per.items() if k != "success"}
    row.linf, row.l2, row.l0 = _mean(pick["linf"]), _mean(pick["l2"]), _mean(pick["l0"])
    row.l2_median = _median(pick["l2"])
    row.wasserstein = _mean(pick["wasserstein"]) if "wasserstein" in pick else None
    return row


def _w_p(name: str, params: dict[str, Any]) -> float | None:
    return float(params.get("p", 2)) if name == "wasserstein" else None


# -- feint ---------------------------------------------------------------------------
def run_feint(
    target, name: str, indices: list[int], params: dict[str, Any], x: np.ndarray, labels: np.ndarray
) -> tuple[Row, Any]:
    """feint's ``name`` on ``indices`` through :func:`feint.execute_run`; its adversarials
    are taken as the attack hands them over, and measured as ART's are."""
    attack = feint.get_attack(name)()
    for key, value in params.items():
        attack.options.set(key, str(value))
    attack.set("sample_index", ",".join(map(str, indices)))
    outputs: list[np.ndarray] = []
    generate = attack.generate

    def keep(model, batch, p):
        out = generate(model, batch, p)
        outputs.append(out.x_adv.detach().cpu().numpy())
        return out

    attack.generate = keep  # type: ignore[method-assign]
    start = time.perf_counter()
    result = feint.execute_run(target, attack)
    elapsed = time.perf_counter() - start
    n = len(indices)
    row = Row(
        attack=name,
        tool="feint",
        samples=n,
        seconds_per_sample=elapsed / n,
        forward_per_sample=result.forward_queries / n,
        gradient_per_sample=result.gradient_queries / n,
        indices=list(indices),
    )
    x_adv = np.concatenate(outputs)
    fill(row, judge(target, x, x_adv, labels, _w_p(name, params)))
    # the run's own judgement agrees with the benchmark's (both ask the target's predict)
    assert [s.success for s in result.samples] == row.per_sample["success"]
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

    p = {k: v for k, v in params.items() if k not in FEINT_ONLY}
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


# feint's options that ART's attacks do not take (ART's behaviour is their default)
FEINT_ONLY = ("early_stop", "saliency_on", "targeted", "target_labels", "cost")
# ART's errors that end its attack on a sample: its own numerical failures
ART_FAILURES = (ValueError, FloatingPointError, RuntimeError)


def art_targets(labels: np.ndarray, classes: int) -> np.ndarray:
    """The random other classes ART's JSMA aims at when given no targets, as it draws them
    (``art.utils.random_targets`` under ``np.random.seed(0)``)."""
    from art.utils import random_targets

    np.random.seed(0)
    return np.argmax(random_targets(labels, classes), axis=1)


def run_art(
    target,
    module,
    tool: str,
    name: str,
    x: np.ndarray,
    labels: np.ndarray,
    params: dict[str, Any],
    batch: int,
    y: np.ndarray | None = None,
    per_sample: bool = False,
    cache: str | None = None,
) -> Row:
    """ART's ``name`` on ``x`` through ``module``; ``y``: the classes it aims at (JSMA).

    With ``per_sample``, one ``generate`` call per sample (what ART's ``batch_size=1``
    does anyway), so that an error ART raises on one sample ends only that sample: it is
    recorded (the sample counts as not turned, its adversarial is the original) and ART's
    time per sample is taken over the samples it did not raise on. With ``cache``, ART's
    adversarials, times and query counts (per sample with ``per_sample``) are kept in that
    folder and read back on a later run with the same attack, parameters, module and
    samples."""
    n = len(x)
    est, counter = art_estimator(target, module)
    attack = art_attack(name, est, params, batch)
    yy = None if y is None else np.eye(len(target.output_classes), dtype=np.float32)[y]
    x_adv = x.copy()
    seconds = np.zeros(n)
    forward = gradient = 0.0
    errors: dict[int, str] = {}
    cached = 0
    for rows in [slice(i, i + 1) for i in range(n)] if per_sample else [slice(0, n)]:
        key = hashlib.sha256(
            json.dumps([name, tool, params, None if y is None else y[rows].tolist()]).encode() + x[rows].tobytes()
        ).hexdigest()[:20]
        path = os.path.join(cache, f"{name}-{tool.replace(' ', '_')}-{key}.npz") if cache else None
        if path and os.path.exists(path):
            saved = np.load(path, allow_pickle=False)
            cached += rows.stop - rows.start
        else:
            counter.forward_rows = counter.gradient_rows = 0
            torch.manual_seed(0)
            np.random.seed(0)
            out, message = x[rows].copy(), ""
            start = time.perf_counter()
            try:
                out = attack.generate(x=x[rows], y=None if yy is None else yy[rows])
            except ART_FAILURES as exc:
                message = f"{type(exc).__name__} after {time.perf_counter() - start:.1f} s: {exc}"
            saved = {
                "x_adv": out,
                "seconds": (time.perf_counter() - start) / (rows.stop - rows.start),
                "forward": counter.forward_rows,
                "gradient": counter.gradient_rows,
                "error": message,
            }
            if path:
                os.makedirs(cache, exist_ok=True)
                np.savez(path, **saved)
        x_adv[rows], seconds[rows] = saved["x_adv"], float(saved["seconds"])
        forward, gradient = forward + float(saved["forward"]), gradient + float(saved["gradient"])
        if str(saved["error"]):
            errors.update({i: str(saved["error"]) for i in range(rows.start, rows.stop)})
    # Judging the original and the result costs two forward rows per sample, as in feint.
    forward, gradient = forward / n + 2, gradient / n
    note = f"ART's results on {cached} of the {n} samples read back from the cache" if cached else ""
    timed = [seconds[i] for i in range(n) if i not in errors]
    row = Row(
        attack=name,
        tool=tool,
        samples=n,
        seconds_per_sample=float(np.mean(timed)) if timed else float(np.mean(seconds)),
        forward_per_sample=forward,
        gradient_per_sample=gradient,
        note=note,
        errors=errors,
    )
    per = judge(target, x, x_adv, labels, _w_p(name, params))
    for i in errors:
        per["success"][i] = False
    fill(row, per)
    if errors:
        which = ", ".join(str(i) for i in sorted(errors))
        messages = sorted({m.split(": ", 1)[1] for m in errors.values()})
        row.note = "; ".join(
            filter(
                None,
                [
                    row.note,
                    f"ART raised on sample(s) {which} ({'; '.join(messages)}); its s/sample is over the "
                    f"{len(timed)} other(s)"
                    if timed
                    else f"ART raised on every sample ({'; '.join(messages)})",
                ],
            )
        )
    return row


def paired(a: Row, b: Row) -> dict[str, Any]:
    """Means of each distance over the samples both rows turned (same samples, in order)."""
    n = min(a.samples, b.samples)
    both = [i for i in range(n) if a.per_sample["success"][i] and b.per_sample["success"][i]]
    out: dict[str, Any] = {"common": both}
    for key in ("l0", "l2", "linf", "wasserstein"):
        if key in a.per_sample and key in b.per_sample and both:
            va = [a.per_sample[key][i] for i in both]
            vb = [b.per_sample[key][i] for i in both]
            if all(v is not None for v in va + vb):
                out[key] = (float(np.mean(va)), float(np.mean(vb)))
    return out


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
    feint_rows = {r.attack: r for r in reversed(rows) if r.tool == "feint"}
    for r in rows:
        ratio = ""
        if r.tool.startswith("ART") and r.attack in feint_rows:
            ratio = f"{r.seconds_per_sample / feint_rows[r.attack].seconds_per_sample:.1f}x"
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
    table(lines)
    for r in rows:
        if r.note:
            print(f"note: {r.attack} ({r.tool}): {r.note}")


def table(lines: list[tuple[str, ...]]) -> None:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for i, line in enumerate(lines):
        print("  ".join(c.rjust(w) if j > 1 else c.ljust(w) for j, (c, w) in enumerate(zip(line, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def print_paired(pairs: list[tuple[Row, Row]]) -> list[dict[str, Any]]:
    """feint beside ART on the samples both turned: mean of each distance, and feint / ART."""
    lines = [("attack", "feint", "ART", "both turned", "L0 feint / ART", "L2 feint / ART", "Linf", "W feint / ART")]
    out = []
    for a, b in pairs:
        m = paired(a, b)

        def cell(key: str, digits: int = 3, m: dict[str, Any] = m) -> str:
            if key not in m:
                return "-"
            fa, fb = m[key]
            return f"{fa:.{digits}f} / {fb:.{digits}f} ({fa / fb:.3f})" if fb else f"{fa:.{digits}f} / {fb:.{digits}f}"

        lines.append(
            (
                a.attack,
                a.tool,
                b.tool,
                f"{len(m['common'])} of {min(a.samples, b.samples)}",
                cell("l0", 1),
                cell("l2"),
                cell("linf"),
                cell("wasserstein", 4),
            )
        )
        out.append({"attack": a.attack, "feint": a.tool, "art": b.tool, **m})
    table(lines)
    return out


def print_per_sample(rows: list[Row]) -> None:
    """Each sample's outcome in each row: turned or not, L2 and W (or ART's error)."""
    n = min(r.samples for r in rows)
    lines = [("sample", *(f"{r.tool}: L2 / W" for r in rows))]
    for i in range(n):
        cells = []
        for r in rows:
            if i in r.errors:
                cells.append("raised")
            elif not r.per_sample["success"][i]:
                cells.append("not turned")
            else:
                w = r.per_sample.get("wasserstein", [None] * n)[i]
                cells.append(f"{r.per_sample['l2'][i]:.3f} / {fmt(w, 4)}")
        lines.append((str(r.indices[i] if r.indices else i), *cells))
    table(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--attacks", default="pgd,jsma,wasserstein,hop_skip_jump", help="comma-separated native attacks")
    ap.add_argument("--samples", type=int, default=100, help="samples per attack (default 100)")
    ap.add_argument(
        "--art-wasserstein-samples",
        type=int,
        default=10,
        help="samples for ART's Wasserstein, about a minute each (default 10; 0 skips it)",
    )
    ap.add_argument(
        "--art-hop-skip-jump-samples", type=int, default=100, help="samples for ART's HopSkipJump (default 100)"
    )
    ap.add_argument(
        "--art-module",
        choices=("both", "keras", "feint"),
        default="both",
        help="the module ART's estimator runs: keras, the Keras model as a torch module (what ART "
        "users get); feint, feint's lowered torch module; both, each in its own rows (default both)",
    )
    ap.add_argument("--art-cache", metavar="DIR", help="keep ART's results in DIR and reuse them on later runs")
    ap.add_argument("--scaling", default="10,100,1000", help="sample counts for the growth table ('' skips it)")
    ap.add_argument("--quick", action="store_true", help="tiny budgets: checks that the benchmark works")
    ap.add_argument("--json", metavar="FILE", help="also write the rows and the paired means as JSON")
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
    load = os.getloadavg()
    print(
        f"feint {feint.__version__} beside ART on digits_keras; {n} samples; "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; torch threads {torch.get_num_threads()}; "
        f"allocator thresholds raised for both: {'yes' if tuned else 'no'}"
    )

    rows: list[Row] = []
    pairs: list[tuple[Row, Row]] = []
    module = target.torch_module()
    keras_module = getattr(target, "keras_module", None) or module
    modules = {"ART keras": keras_module, "ART lowered": module}
    if args.art_module != "both":
        modules = {
            k: v for k, v in modules.items() if k == {"keras": "ART keras", "feint": "ART lowered"}[args.art_module]
        }
    xt = torch.from_numpy(x)
    from feint.attacks.model import FORWARD_CHUNK  # the rows per pass of feint's forward-only queries

    probe = xt[torch.arange(FORWARD_CHUNK) % len(xt)].contiguous()
    per_row = forward_seconds(module, probe) / FORWARD_CHUNK
    print(
        f"digits_keras runs in feint as: {target.describe().get('runs_as', 'torch')}; ART gets "
        + " and ".join(
            {"ART keras": "the Keras model as a torch module", "ART lowered": "feint's lowered module"}[k]
            for k in modules
        )
    )
    if keras_module is not module:
        keras_row = forward_seconds(keras_module, probe) / FORWARD_CHUNK
        print(
            f"one forward pass of {FORWARD_CHUNK} rows: lowered {1e6 * per_row:.0f} us/row, through Keras "
            f"{1e6 * keras_row:.0f} us/row ({keras_row / per_row:.2f}x)"
        )
    print(flush=True)
    for name in names:
        p = params[name]
        row, result = run_feint(target, name, indices, p, x, labels)
        rows.append(row)
        feint_rows = [row]
        if name == "pgd":
            floor = p["max_iter"] * forward_backward_seconds(module, xt[: min(n, 100)]) / min(n, 100)
            row.extra["floor_s_per_sample"] = floor
            row.note = f"floor {floor:.4f} s/sample ({p['max_iter']} forward+backward passes); feint/floor {row.seconds_per_sample / floor:.2f}"
            early, _ = run_feint(target, name, indices, {**p, "early_stop": True}, x, labels)
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
        if art_n == 0:
            print_rows([r for r in rows if r.attack == name])
            print(flush=True)
            continue
        art_p = {k: v for k, v in p.items() if k not in FEINT_ONLY}
        y = None
        if name == "jsma":
            # ART aims each sample at a random other class and stops only there; feint's
            # default stops at any other class. Beside feint's default, feint aimed at
            # ART's classes, which should give ART's adversarials.
            y = art_targets(labels, len(target.output_classes))
            aimed = {**p, "targeted": "true", "target_labels": ",".join(map(str, y))}
            same, _ = run_feint(target, name, indices, aimed, x, labels)
            same.tool = "feint, ART's targets"
            rows.append(same)
            feint_rows.append(same)
        for tool, mod in modules.items():
            if name == "jsma":  # ART's saliency on probabilities: the module ending in softmax
                mod = torch.nn.Sequential(mod, torch.nn.Softmax(dim=1))
            art_row = run_art(
                target,
                mod,
                tool,
                name,
                x[:art_n],
                labels[:art_n],
                art_p,
                batch=min(n, 100),
                y=None if y is None else y[:art_n],
                per_sample=name == "wasserstein",
                cache=args.art_cache,
            )
            if art_n < n:
                art_row.note = "; ".join(
                    filter(None, [f"ART ran on the first {art_n} of the {n} samples (too slow for all)", art_row.note])
                )
            rows.append(art_row)
            pairs.extend((f, art_row) for f in feint_rows)
        if name == "jsma":  # on logits: feint's saliency_on=logits and ART on the module's logits
            logit_p = {**aimed, "saliency_on": "logits"}
            feint_logits, _ = run_feint(target, name, indices, logit_p, x, labels)
            feint_logits.tool = "feint logits, ART's targets"
            art_logits = run_art(
                target,
                module,
                "ART lowered logits",
                name,
                x,
                labels,
                art_p,
                batch=min(n, 100),
                y=y,
                cache=args.art_cache,
            )
            rows.extend([feint_logits, art_logits])
            pairs.append((feint_logits, art_logits))
        print_rows([r for r in rows if r.attack == name])
        print("\npaired: mean over the samples both turned (feint / ART, and the ratio)")
        print_paired([pr for pr in pairs if pr[0].attack == name])
        if name == "wasserstein":
            print("\nper sample (W: exact 1-Wasserstein distance, ground cost the p-norm of the offset)")
            print_per_sample([r for r in rows if r.attack == name])
        print(flush=True)

    print("== all ==")
    print_rows(rows)
    print("\n== paired ==")
    paired_out = print_paired(pairs)
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
                idx = list(range(size))
                xs = target.get_samples(idx).astype(np.float32)
                grow, _ = run_feint(target, name, idx, params[name], xs, target.predict(xs).argmax(1))
                secs.append(grow.seconds_per_sample * size)
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
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": [asdict(r) for r in rows], "paired": paired_out}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
