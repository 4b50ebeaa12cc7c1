"""A run under a query budget: a run whose target's model keeps a budget of queries (an
endpoint's ``max_queries``) runs batch by batch, so that a budget reached part-way keeps
every batch finished before it; the run is then ``partial`` and continues later from its
first sample with no result, within the same budget.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from feint.attacks.base import Attack
from feint.attacks.shape import RunShape
from feint.engine.executors import attack_from_params, target_spec
from feint.engine.run import Progress, execute_run, prepare_run
from feint.errors import FeintError
from feint.records import RunResult
from feint.targets import as_target
from feint.targets.base import Target
from feint.targets.meter import Meter, QueryBudgetExceeded, meter_of

__all__ = ["execute_budgeted_run", "budgeted"]


def budgeted(target: Target) -> bool:
    """Whether ``target``'s model keeps a budget of queries (an endpoint's ``max_queries``)."""
    meter = meter_of(target)
    return meter is not None and meter.max_queries is not None


def _chunk_attack(attack: Attack, start: int, stop: int, n: int) -> Attack:
    """``attack`` for the samples at positions ``start:stop`` of its run: the same instance,
    or a copy with its per-sample goals cut to the chunk's."""
    labels = attack.options.current.get("target_labels")
    if not (labels and len(labels) == n and n > 1):
        return attack
    chunk = attack_from_params(attack.name, attack.options.values())
    chunk.options.set("target_labels", tuple(labels[start:stop]))
    return chunk


def execute_budgeted_run(
    target: Target,
    attack: Attack,
    artifacts_root: Path | None = None,
    *,
    shape: RunShape | None = None,
    progress: Progress | None = None,
    query_log: list[dict] | None = None,
    earlier: RunResult | None = None,
) -> RunResult:
    """:func:`execute_run` for a target whose model keeps a query budget (an endpoint's
    ``max_queries``), or continuing ``earlier``, a run that budget stopped: the samples run
    batch by batch (``batch_size``; an extraction or inference run in one piece), each
    batch exactly as one uninterrupted run has it, so that a budget reached in a batch
    stops the run with every batch before it kept. The result is then ``partial``: its
    samples are those finished, ``metrics`` holds ``samples_planned``, ``cut_queries``
    (queries spent on the batch the budget cut short, never in the samples' own counts)
    and ``stop_reason``; continuing it runs the samples left, and the total the endpoint is
    sent over every invocation (``endpoint_queries``, ``endpoint_requests``) stays within
    its budget. A target without a budget and no ``earlier`` runs as :func:`execute_run` does."""
    target = as_target(target)
    shape = shape or attack.shape
    if earlier is None and not budgeted(target):
        return execute_run(target, attack, artifacts_root, progress=progress, query_log=query_log, shape=shape)
    indices, _ = prepare_run(target, attack, shape)
    n = len(indices)
    run_id = earlier.run_id if earlier is not None else uuid.uuid4().hex[:8]
    first = earlier.n if earlier is not None else 0  # the samples before it are stored
    whole = attack.whole_run or attack.family != "evasion"
    if whole and first:
        raise FeintError(f"run {run_id} of {attack.name} runs in one piece; it has no samples to continue from")
    step = n if whole else shape.batch_size
    chunks = [(s, min(s + step, n)) for s in range(first, n, step)]
    before = dict(earlier.metrics) if earlier is not None else {}
    meter = meter_of(target)
    if isinstance(meter, Meter) and earlier is not None:  # the budget holds over every invocation
        meter.carry(run_id, int(before.get("endpoint_queries", 0)), int(before.get("endpoint_requests", 0)))
    sent0 = meter.sent() if meter is not None else (0, 0)
    parts: list[RunResult] = []
    reason: str | None = None
    cut_from = 0
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for unit, (a, b) in enumerate(chunks):
        spent = meter.sent() if meter is not None else (0, 0)
        logged = len(query_log) if query_log is not None else 0
        try:
            parts.append(
                execute_run(
                    target,
                    _chunk_attack(attack, a, b, n),
                    artifacts_root,
                    progress=progress,
                    query_log=query_log,
                    offset=a,
                    run_id=run_id,
                    unit=None if whole else unit,
                    shape=shape.with_samples(indices[a:b]),
                )
            )
        except QueryBudgetExceeded as exc:
            reason = str(exc)
            cut_from = spent[0]
            if query_log is not None:  # the calls of samples not kept (their rows: cut_queries)
                del query_log[logged:]
            break
    sent = meter.sent() if meter is not None else (0, 0)
    cut = sent[0] - cut_from if reason is not None else 0
    metrics: dict[str, Any] = {}
    if whole and parts:
        metrics.update(parts[0].metrics)
    for key, value in before.items():
        if key.startswith("unattributed_"):
            metrics[key] = value
    if not whole:
        for part in parts:
            for key, value in part.metrics.items():
                if key.startswith("unattributed_"):
                    metrics[key] = metrics.get(key, 0) + value
    cut_total = int(before.get("cut_queries", 0)) + cut
    if cut_total:
        metrics["cut_queries"] = cut_total
    if meter is not None:
        metrics["endpoint_queries"] = int(before.get("endpoint_queries", 0)) + sent[0] - sent0[0]
        metrics["endpoint_requests"] = int(before.get("endpoint_requests", 0)) + sent[1] - sent0[1]
        if isinstance(meter, Meter):
            meter.settle(run_id, metrics["endpoint_queries"], metrics["endpoint_requests"])
    if reason is not None:
        metrics.update(samples_planned=n, stop_reason=reason, target_spec=target_spec(target))
    folder = artifacts_root / run_id if artifacts_root is not None else None
    if folder is not None and not whole:
        _join_arrays(folder, [u for u, _ in enumerate(parts)])
    samples = (earlier.samples if earlier is not None else []) + [s for part in parts for s in part.samples]
    return RunResult(
        run_id=run_id,
        attack=attack.name,
        framework=attack.framework,
        target=target.target_name,
        params={**attack.options.values(), **shape.values()},
        seed=shape.seed,
        started_at=earlier.started_at if earlier is not None else started,
        elapsed_s=(earlier.elapsed_s if earlier is not None else 0.0) + sum(p.elapsed_s for p in parts),
        samples=samples,
        status="partial" if reason is not None else "done",
        artifacts=str(folder) if folder is not None and (folder / "adversarial.npz").exists() else None,
        family=attack.family,
        metrics=metrics,
    )


def _join_arrays(folder: Path, units: list[int]) -> None:
    """Join the arrays a budgeted run kept before (``adversarial.npz``) and those of the
    batches it just ran (``adversarial.unit<k>.npz``) into ``adversarial.npz``, written
    whole and then moved into place; the batches' files are then removed."""
    parts = ([folder / "adversarial.npz"] if (folder / "adversarial.npz").exists() else []) + [
        folder / f"adversarial.unit{u}.npz" for u in units
    ]
    if not parts:
        return
    arrays: dict[str, list[np.ndarray]] = {"indices": [], "x": [], "x_adv": []}
    for part in parts:
        with np.load(part) as f:
            for key in arrays:
                arrays[key].append(f[key])
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "adversarial.tmp.npz"
    joined: dict[str, Any] = {k: np.concatenate(v) for k, v in arrays.items()}
    np.savez_compressed(tmp, **joined)
    os.replace(tmp, folder / "adversarial.npz")
    for u in units:
        (folder / f"adversarial.unit{u}.npz").unlink(missing_ok=True)
