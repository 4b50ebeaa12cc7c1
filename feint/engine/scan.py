"""A scan: many runs (attacks x parameter sets x samples) against one target.

The plan holds one attack instance per parameter set: each chosen attack runs once
with its parameters, or once per value of a swept parameter. Each run is cut into
units, chunks of its samples (one unit for an extraction or inference run), which an
executor (:mod:`feint.engine.executors`) runs in this process, in a process pool or on
Ray. The plan goes to the store before anything runs; every finished unit is committed
before it is reported, so a scan stopped at any moment (a kill, Ctrl-C, a budget) keeps
every unit it finished and a resume runs only the units with no stored result. A unit's
random draws depend only on the seed and its samples' positions in the run, so a resumed
scan gives exactly what an uninterrupted one gives.

Two invocations of the same plan on one store share one scan: each unit is leased in the
store before it runs, so each runs only units no one else holds, then waits for the units
others hold (taking over those of a holder that died), and every unit is stored once.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from feint.attacks.base import Attack
from feint.attacks.catalog import attacks as catalog
from feint.attacks.catalog import get_attack
from feint.attacks.params import Float, Int
from feint.attacks.shape import RunShape
from feint.engine.budget import MAX_CHUNK_SIZE
from feint.engine.run import prepare_run
from feint.errors import FeintError, ParamError
from feint.records import ScanResult
from feint.store.db import Store, StoreError, UnitTaken, new_holder, writing_artifacts
from feint.targets import as_target
from feint.targets.base import Target

__all__ = [
    "plan_scan",
    "execute_scan",
    "resume_scan",
    "plan_key",
    "find_resumable",
    "unfinished_units",
    "ScanProgress",
    "ScanPlan",
    "scan_settings",
    "ParamSet",
    "STATUSES",
    "check_chunk_size",
]

ParamSet = Mapping[str, Any]


class ScanPlan(list[Attack]):
    """A scan's attack instances, one per parameter set (a list), with the sweep that
    made them (``[ATTACK.]NAME`` -> values, as given), which the scan's settings keep."""

    def __init__(self, attacks: Sequence[Attack] = (), sweep: Mapping[str, Sequence[Any]] | None = None) -> None:
        super().__init__(attacks)
        self.sweep = {k: list(v) for k, v in (sweep or {}).items()}


def _has(cls: type[Attack], name: str) -> bool:
    """Whether an attack takes ``name``: one of its options, or a part of every run's shape."""
    return RunShape.is_shape(name) or name.strip().lstrip("-").replace("-", "_") in cls.params


def _split(key: str) -> tuple[str | None, str]:
    """``ATTACK.NAME`` or ``NAME``; an attack name may hold dots (``art.pgd.eps``), a parameter's never does."""
    return tuple(key.rsplit(".", 1)) if "." in key else (None, key)  # type: ignore[return-value]


def plan_scan(
    target: Target,
    attack_names: Sequence[str] | None,
    params: Mapping[str, ParamSet | Sequence[ParamSet]] | None = None,
    common: ParamSet | None = None,
    sweep: Mapping[str, Sequence[Any]] | None = None,
) -> ScanPlan:
    """Attack instances for a scan, one per parameter set, each checked against the
    target before anything runs.

    ``attack_names``: ``None`` or empty means every attack compatible with the target.
    ``params``: per attack name, one parameter set or a list of them (one run each).
    ``common``: values for every chosen attack that has the parameter (``sample_index``,
    ``seed``, or e.g. ``eps``); an attack's own ``params`` override them.
    ``sweep``: ``NAME`` or ``ATTACK.NAME`` -> values of a numeric parameter: every
    parameter set of the attacks it reaches runs once per value. One swept parameter
    per attack."""
    target = as_target(target)
    params = dict(params or {})
    if attack_names:
        names = list(dict.fromkeys(attack_names))  # each attack once
        classes = [get_attack(n) for n in names]
    else:
        classes = [cls for cls in catalog().values() if cls.compatible(target)]
        if not classes:
            raise FeintError(f"no attack in the catalog is compatible with target {target.target_name}")
    chosen = [cls.name for cls in classes]
    params = {_named_attack(name, chosen): values for name, values in params.items()}
    for name in params:
        if name not in chosen:
            raise ParamError(
                "unknown attack in {params} {name!r}; accepted: {accepted}", name=name, accepted=", ".join(chosen)
            )
    for name in common or {}:
        if not any(_has(cls, name) for cls in classes):
            raise ParamError("no attack of this scan has a parameter {name!r}; use ATTACK.NAME=VALUE", name=name)

    sets: dict[str, list[dict[str, Any]]] = {}
    for cls in classes:
        own = params.get(cls.name) or {}
        own_sets = [dict(own)] if isinstance(own, Mapping) else [dict(s) for s in own] or [{}]
        shared = {k: v for k, v in (common or {}).items() if _has(cls, k)}
        sets[cls.name] = [{**shared, **s} for s in own_sets]

    swept: dict[str, str] = {}
    for key, values in (sweep or {}).items():
        attack, name = _split(key)
        attack = None if attack is None else _named_attack(attack, chosen)
        if attack is not None and attack not in chosen:
            raise ParamError(
                "unknown attack in {sweep} {name!r}; accepted: {accepted}", name=attack, accepted=", ".join(chosen)
            )
        reached = [cls for cls in classes if (attack is None or cls.name == attack) and _has(cls, name)]
        if not reached:
            where = f"attack {attack}" if attack else "attack of this scan"
            raise ParamError("no {where} has a parameter {name!r} to sweep", where=where, name=name)
        for cls in reached:
            if RunShape.is_shape(name):
                raise ParamError("{sweep} takes an attack parameter; {name} shapes the run, not the attack", name=name)
            spec = cls().options.spec(name)
            if not isinstance(spec, (Float, Int)):
                raise ParamError(
                    "{sweep} needs a numeric parameter; {name} is {kind}",
                    name=f"{cls.name}.{spec.name}",
                    kind=spec.type_name,
                )
            if cls.name in swept and swept[cls.name] != spec.name:
                raise FeintError(
                    f"one swept parameter per attack; {cls.name} would sweep {swept[cls.name]} and {spec.name}"
                )
            swept[cls.name] = spec.name
            parsed = list(dict.fromkeys(spec.parse(v) if isinstance(v, str) else spec.validate(v) for v in values))
            if not parsed:
                raise ParamError("{sweep} {key} needs at least one value", key=key)
            sets[cls.name] = [{**s, spec.name: v} for s in sets[cls.name] for v in parsed]

    plan: list[Attack] = []
    for cls in classes:
        for given in sets[cls.name]:
            instance = cls(**given)  # the attack's options, and the run's shape
            prepare_run(target, instance)  # refuse now, not after an hour of other attacks
            plan.append(instance)
    return ScanPlan(plan, sweep)


def _named_attack(name: str, chosen: Sequence[str]) -> str:
    """The catalog's name of an attack a scan's parameters name by another name (a
    Counterfit name, say); the name as given when it names none of the scan's attacks."""
    if name in chosen:
        return name
    try:
        return get_attack(name).name
    except FeintError:
        return name


def scan_settings(plan: Sequence[Attack], fail_on: Sequence[str] = (), **scale: Any) -> dict[str, Any]:
    """What a scan stores of how it was asked for, which its reports read: the attacks
    planned (those that never ran included), each attack's first parameter set, the seed,
    the sweep, the gates (checked against the plan's attacks) and how it runs (executor,
    workers, chunk size, budgets: ``scale``)."""
    from feint.report.gate import parse_gate

    names = list(dict.fromkeys(a.name for a in plan))
    gates = [parse_gate(expr) for expr in fail_on]
    for gate in gates:
        gate.check_attacks(names)
    first: dict[str, dict[str, Any]] = {}
    for a in plan:
        first.setdefault(a.name, a.values())
    settings: dict[str, Any] = {"attacks": names, "params": first, "seed": plan[0].shape.seed if plan else 0}
    sweep = getattr(plan, "sweep", None)
    if sweep:
        settings["sweep"] = sweep
    if gates:
        settings["fail_on"] = [g.text for g in gates]
    settings.update({k: v for k, v in scale.items() if v is not None})
    return settings


@dataclass
class ScanProgress:
    """Where a scan stands; handed to ``on_progress`` when the plan is known, after each
    finished unit and at the end (with ``status`` and, when stopped, ``stop_reason``)."""

    scan_id: str
    units_total: int
    units_done: int
    samples_total: int
    samples_done: int
    successes: int  # over every finished unit, earlier invocations included
    queries: int
    resumed: bool = False
    executor: str = "local"
    workers: int = 1
    samples_now: int = 0  # done by this invocation
    elapsed_s: float = 0.0  # of this invocation
    stopping: bool = False  # Ctrl-C was pressed: no new unit starts
    waiting: int = 0  # units left that another invocation of the scan is running: waited for
    status: str = "running"
    stop_reason: str | None = None

    @property
    def rate(self) -> float:
        """Samples per second in this invocation."""
        return self.samples_now / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        left = self.samples_total - self.samples_done
        return left / self.rate if self.rate > 0 else None


STATUSES = ("running", "done", "interrupted", "budget")


@dataclass
class _PlannedRun:
    attack: Attack
    run_id: str
    indices: tuple[int, ...]
    chunks: list[tuple[int, int]] = field(default_factory=list)


def _chunks(attack: Attack, n: int, chunk_size: int | None) -> list[tuple[int, int]]:
    if attack.whole_run or attack.family != "evasion":  # one stolen model, one run-level measure
        return [(0, n)]
    size = chunk_size or attack.shape.batch_size
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def check_chunk_size(chunk_size: int | None) -> None:
    """Refuse a chunk size outside 1 to :data:`MAX_CHUNK_SIZE`."""
    if chunk_size is not None and not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ParamError(
            "{chunk_size} expects a number of samples from 1 to {high}; got {got}",
            high=f"{MAX_CHUNK_SIZE:,}",
            got=chunk_size,
        )


def _planned(plan: Sequence[Attack], chunk_size: int | None) -> list[_PlannedRun]:
    check_chunk_size(chunk_size)
    out = []
    for attack in plan:
        indices = attack.shape.samples
        out.append(_PlannedRun(attack, uuid.uuid4().hex[:8], indices, _chunks(attack, len(indices), chunk_size)))
    return out


def plan_key(target: Target, plan: Sequence[Attack], chunk_size: int | None = None) -> str:
    """A key of what a scan computes: the target's declaration, each run's attack and
    option values (samples and seed among them) and how the runs are cut into units.
    The same key means the same units with the same results."""
    from feint.engine.executors import target_spec

    body = [
        target_spec(target),
        [[a.name, sorted(a.values().items()), _chunks(a, len(a.shape.samples), chunk_size)] for a in plan],
    ]
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:20]


def find_resumable(store: Store, target: Target, plan: Sequence[Attack], chunk_size: int | None = None) -> str | None:
    """The unfinished scan with this plan (same target, attacks, options, samples, seed), or None."""
    return store.unfinished_scan(plan_key(target, plan, chunk_size))


def unfinished_units(store: Store, scan_id: str) -> list[dict[str, Any]]:
    """Per run with units left to run: run_id, attack, units (their numbers), samples."""
    runs = {r["run_id"]: r for r in store.plan_runs(scan_id)}
    out: dict[str, dict[str, Any]] = {}
    for u in store.plan_units(scan_id):
        if u["status"] != "done":
            entry = out.setdefault(
                u["run_id"], {"run_id": u["run_id"], "attack": runs[u["run_id"]]["attack"], "units": [], "samples": 0}
            )
            entry["units"].append(u["unit"])
            entry["samples"] += u["stop"] - u["start"]
    return list(out.values())


def _unit_file(folder: Path, unit: int) -> Path:
    return folder / f"adversarial.unit{unit}.npz"


def _merge_artifacts(folder: Path | None, units: int) -> None:
    """Join a finished run's per-unit arrays into its ``adversarial.npz`` (written whole,
    then moved into place, so a kill leaves either the old state or the new)."""
    if folder is None:
        return
    import numpy as np

    parts = [_unit_file(folder, u) for u in range(units)]
    if not all(p.exists() for p in parts):
        return  # merged before (the unit files are removed only after the run is stored)
    arrays: dict[str, list] = {"indices": [], "x": [], "x_adv": []}
    for part in parts:
        with np.load(part) as f:
            for key in arrays:
                arrays[key].append(f[key])
    tmp = folder / f"adversarial.{os.getpid()}.tmp.npz"
    merged: dict[str, Any] = {k: np.concatenate(v) for k, v in arrays.items()}
    with writing_artifacts(folder):
        try:
            np.savez_compressed(tmp, **merged)
            os.replace(tmp, folder / "adversarial.npz")
        finally:
            tmp.unlink(missing_ok=True)


def _tidy_run(folder: Path | None, units: int) -> None:
    """A stored run's arrays whole in ``adversarial.npz`` (two scans finishing its last units
    at once may each have left the merge to the other), then its per-unit files gone."""
    if folder is not None and not (folder / "adversarial.npz").exists():
        _merge_artifacts(folder, units)
    _drop_unit_files(folder, units)


def _drop_unit_files(folder: Path | None, units: int) -> None:
    if folder is not None and (folder / "adversarial.npz").exists():
        for u in range(units):
            _unit_file(folder, u).unlink(missing_ok=True)
        for part in folder.glob(".*.adversarial.unit*.npz"):  # what a killed worker was writing
            part.unlink(missing_ok=True)


def execute_scan(
    target: Target,
    plan: Sequence[Attack],
    store: Store,
    settings: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    chunk_size: int | None = None,
    resume: str | None = None,
    max_queries: int | None = None,
    max_time: float | None = None,
    fail_on: Sequence[str] = (),
    on_progress: Callable[[ScanProgress], None] | None = None,
    on_resume: Callable[[str], None] | None = None,
) -> ScanResult:
    """Run a scan's plan and return it as stored.

    ``settings``: stored with the scan, over what :func:`scan_settings` builds from the
    plan, the gates ``fail_on`` and the options below (so a scan planned in Python reports
    exactly as one from the command line).

    ``executor``: ``local`` (this process), ``process`` (a pool of ``workers`` processes),
    ``ray`` (``ray_address`` for a cluster, else a local Ray with ``workers`` CPUs) or
    ``auto`` (processes for a scan large enough to pay their start-up, else local).
    ``chunk_size``: samples per unit (default: each attack's ``batch_size``).
    ``resume``: the id of a stored scan to continue: only its units with no stored result
    run (``plan`` is then not used; the stored plan is). ``max_queries``, ``max_time``:
    this invocation's budget; when reached, no new unit starts and the scan stops with
    status ``budget``. The target's own query budget (an endpoint's ``max_queries``, kept
    across every worker and every invocation: a resume counts the rows the scan's earlier
    invocations sent, as its stored description says) stops it the same way: the unit it cut short is stored with the
    rows it sent, no sample of it, and runs again on a resume. A run with some of its
    units stored is read back as ``partial``. The target's description in the store counts
    the rows and requests sent to its endpoint by every worker and every invocation.
    Another invocation of the same plan running on the store at the same moment shares
    its scan (``on_resume`` gets its id): each unit runs in one of them, leased in the store,
    and each waits for the units the other holds (taking over those of one that died), so
    every unit is stored once. ``progress`` gets the samples of each finished unit,
    ``on_progress`` a :class:`ScanProgress`. The first Ctrl-C (in the main thread) stops
    the scan after the running units, with status ``interrupted``; a second one aborts."""
    target = as_target(target)
    from feint.engine.budget import Budget
    from feint.engine.executors import check_executor, make_executor, target_spec
    from feint.targets.meter import Meter, meter_of

    budget = Budget(max_queries, max_time)
    check_executor(executor, target, workers)
    check_chunk_size(chunk_size)
    store.prepare_write()  # a full, read-only, locked or damaged store is refused before any work
    spec = target_spec(target)
    if resume is not None:
        record = store.scan_record(resume)
        if record is None:
            raise FeintError(f"no stored scan with id {resume!r} to resume")
        if record["target_spec"] and record["target_spec"] != spec:
            raise FeintError(f"scan {resume} attacks target {record['target_spec']}, not {spec}")
        scan_id = resume
        target_info = record["target_info"]
    else:
        scale: dict[str, Any] = {"executor": executor, "workers": workers, "chunk_size": chunk_size}
        scale.update(max_queries=max_queries, max_time=max_time)
        settings = {**scan_settings(plan, fail_on, **scale), **(settings or {})}
        scan_id = uuid.uuid4().hex[:8]
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        planned = _planned(plan, chunk_size)
        folder = store.artifacts_root
        runs = [
            {
                "run_id": r.run_id,
                "target": target.target_name,
                "attack": r.attack.name,
                "framework": r.attack.framework,
                "family": r.attack.family,
                "params": r.attack.values(),
                "seed": r.attack.shape.seed,
                "started_at": started,
                "artifacts": str(folder / r.run_id),
                "n": len(r.indices),
            }
            for r in planned
        ]
        units = [(r.run_id, k, a, b) for r in planned for k, (a, b) in enumerate(r.chunks)]
        target_info = target.describe()
        joined = store.add_plan(
            scan_id,
            runs,
            units,
            scan={
                "target": target.target_name,
                "started_at": started,
                "settings": settings,
                "target_info": target_info,
                "plan_key": plan_key(target, plan, chunk_size),
                "target_spec": spec,
            },
            join=True,
        )
        if joined != scan_id:  # another invocation stored this plan a moment ago: share its scan
            record = store.scan_record(joined)
            assert record is not None
            scan_id, target_info, resume = joined, record["target_info"], joined
            if on_resume:
                on_resume(joined)

    run_rows = {r["run_id"]: r for r in store.plan_runs(scan_id)}
    unit_rows = store.plan_units(scan_id)
    units_of: dict[str, int] = {}
    for u in unit_rows:
        units_of[u["run_id"]] = units_of.get(u["run_id"], 0) + 1
    for run_id, r in run_rows.items():  # a kill between a run's commit and its tidy-up
        if r["status"] == "done" and r["artifacts"]:
            _tidy_run(Path(r["artifacts"]), units_of.get(run_id, 0))
    done = [u for u in unit_rows if u["status"] == "done"]
    todo = [u for u in unit_rows if u["status"] != "done"]
    state = ScanProgress(
        scan_id=scan_id,
        units_total=len(unit_rows),
        units_done=len(done),
        samples_total=sum(u["stop"] - u["start"] for u in unit_rows),
        samples_done=sum(u["stop"] - u["start"] for u in done),
        successes=sum(u["successes"] or 0 for u in done),
        queries=sum(u["queries"] for u in done),
        resumed=resume is not None,
        executor=executor,
    )

    from feint.attacks.params import parse_indices
    from feint.engine.executors import UnitTask, choose_executor

    indices = {run_id: parse_indices(r["params"]["sample_index"]) for run_id, r in run_rows.items()}
    queue = [
        UnitTask(
            scan_id=scan_id,
            run_id=u["run_id"],
            unit=u["unit"],
            target_spec=spec,
            attack=run_rows[u["run_id"]]["attack"],
            params=run_rows[u["run_id"]]["params"],
            indices=tuple(indices[u["run_id"]][u["start"] : u["stop"]]),
            offset=u["start"],
            run_n=len(indices[u["run_id"]]),
            artifacts_root=str(store.artifacts_root),
        )
        for u in todo
    ]
    queue.reverse()  # pop() takes units in plan order
    if executor == "auto":
        executor, workers = choose_executor(target, workers, len(queue), sum(t.samples for t in queue))
        state.executor = executor

    # The endpoint's counts in the stored description: those stored before, plus what this
    # invocation sends from now on (the meter counts every worker that shares it, the
    # outcomes those that count on their own).
    meter = meter_of(target)
    stored_counts = _endpoint_counts(target_info)
    if isinstance(meter, Meter) and stored_counts is not None:
        # The endpoint's max_queries holds over the whole scan, every invocation of it: a
        # resume counts what the scan's earlier invocations sent as spent.
        (meter.carry if resume is not None else meter.settle)(scan_id, *stored_counts)
    counted = meter.counts() if meter is not None else (0, 0)
    elsewhere = [0, 0]
    added = [0, 0]  # of what this invocation spent, what the store holds

    def store_counts() -> None:
        if meter is None or stored_counts is None:
            return
        now = meter.counts()
        spent = [now[i] - counted[i] + elsewhere[i] for i in (0, 1)]
        if spent != added:
            # added to the stored counts, not written over them: another invocation sharing
            # this scan adds its own
            store.add_endpoint_counts(scan_id, spent[0] - added[0], spent[1] - added[1])
            added[:] = spent
            if isinstance(meter, Meter):  # what this meter counted of the stored totals
                meter.settle(scan_id, *(stored_counts[i] + now[i] - counted[i] for i in (0, 1)))

    status = "interrupted"
    cut: list[Any] = []  # units a model's query budget cut short
    waiting: list[Any] = []  # units another live invocation of this scan holds
    holder = new_holder()
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():

        def on_sigint(signum, frame):
            if stop.is_set():
                raise KeyboardInterrupt
            stop.set()
            state.stopping = True  # shown at the next update; nothing is drawn from a signal handler

        previous = signal.signal(signal.SIGINT, on_sigint)
    pool = None
    aborted = True
    try:
        with store.leases(holder):
            if queue:
                pool = make_executor(executor, target, workers, ray_address)
                state.workers = pool.slots
            if on_progress:
                on_progress(state)
            t0 = time.monotonic()
            while pool is not None and (queue or pool.in_flight or waiting):
                while queue and pool.in_flight < pool.slots and not stop.is_set():
                    reason = state.stop_reason if cut else budget.exhausted()
                    if reason:
                        state.stop_reason = reason
                        break
                    task = queue.pop()
                    if store.claim_unit(task.run_id, task.unit, holder):
                        pool.submit(task)
                    else:  # stored meanwhile, or running in another invocation of this scan
                        waiting.append(task)
                if not pool.in_flight:
                    if queue or not waiting or stop.is_set() or state.stop_reason:
                        break
                    # Only units that others hold are left: wait for them, take over a dead holder's.
                    states = store.unit_states(scan_id, holder)
                    done_now = [t for t in waiting if states.get((t.run_id, t.unit)) == "done"]
                    free = [t for t in waiting if states.get((t.run_id, t.unit)) == "free"]
                    waiting = [t for t in waiting if states.get((t.run_id, t.unit)) == "held"]
                    _count_stored(state, store, done_now)
                    queue.extend(reversed(free))
                    if (done_now or state.waiting != len(waiting)) and on_progress:
                        state.waiting = len(waiting)
                        state.elapsed_s = time.monotonic() - t0
                        on_progress(state)
                    state.waiting = len(waiting)
                    if not queue and waiting:
                        stop.wait(WAIT_S)
                    continue
                for outcome in pool.wait():
                    task = outcome.task
                    if not pool.shares_meter:
                        elsewhere[0] += outcome.sent[0]
                        elsewhere[1] += outcome.sent[1]
                    if outcome.budget is not None:  # stored with the rows it spent; no new unit starts
                        store.cut_unit(task.run_id, task.unit, outcome.sent[0])
                        cut.append(task)
                        if len(cut) == 1:  # the first says why the scan stops
                            state.stop_reason = outcome.budget
                        budget.spend(outcome.sent[0])
                        state.queries += outcome.sent[0]
                        state.elapsed_s = time.monotonic() - t0
                        store_counts()
                        if on_progress:
                            on_progress(state)
                        continue
                    if outcome.store_failure is not None:  # a worker's disk filled up, say
                        kind, path = outcome.store_failure
                        raise StoreError(outcome.error or kind, kind, Path(path))
                    if outcome.error is not None:
                        raise FeintError(
                            f"{task.attack} failed on samples {task.offset} to "
                            f"{task.offset + task.samples - 1} of run {task.run_id}: {outcome.error}"
                        )
                    result = outcome.result
                    if result is None:  # an executor's outcome with neither a result nor an error
                        raise FeintError(f"{task.attack} gave no result for unit {task.unit} of run {task.run_id}")
                    kept = Path(run_rows[task.run_id]["artifacts"]) if run_rows[task.run_id]["artifacts"] else None
                    if store.units_left(task.run_id) == 1:  # the run's last unit: its arrays whole first
                        _merge_artifacts(kept, units_of[task.run_id])
                    try:
                        finished = store.add_unit(task.run_id, task.unit, result, outcome.query_log)
                    except UnitTaken:  # a holder thought dead stored it first: the same result
                        _count_stored(state, store, [task])
                        continue
                    if finished:
                        _tidy_run(kept, units_of[task.run_id])
                    budget.spend(result.queries)
                    state.units_done += 1
                    state.samples_done += task.samples
                    state.samples_now += task.samples
                    state.successes += result.successes
                    state.queries += result.queries
                    state.elapsed_s = time.monotonic() - t0
                    store_counts()
                    if progress:
                        progress(task.samples)
                    if on_progress:
                        on_progress(state)
            if not cut and all(v == "done" for v in store.unit_states(scan_id, holder).values()):
                status = "done"
            elif state.stop_reason and not stop.is_set():
                status = "budget"
            aborted = False
    except StoreError as exc:
        raise StoreError(
            f"{exc}; scan {scan_id} keeps every unit it stored, and a resume of it runs the rest", exc.kind, exc.path
        ) from exc
    finally:
        if pool is not None:
            pool.close(abort=aborted)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        try:
            store_counts()
            store.finish_scan(scan_id, status)
        except StoreError:
            if not aborted:
                raise
        state.status = status
    if on_progress:
        on_progress(state)
    scan = store.get_scan(scan_id)
    assert scan is not None
    return scan


WAIT_S = 1.0  # how often a scan waiting for units another invocation holds looks again


def _count_stored(state: ScanProgress, store: Store, tasks: Sequence[Any]) -> None:
    """Count in ``state`` the units (tasks) another invocation of the scan stored."""
    if not tasks:
        return
    stored = {(u["run_id"], u["unit"]): u for u in store.plan_units(state.scan_id)}
    for task in tasks:
        u = stored[(task.run_id, task.unit)]
        state.units_done += 1
        state.samples_done += task.samples
        state.successes += u["successes"] or 0
        state.queries += u["queries"]


def _endpoint_counts(info: Mapping[str, Any]) -> tuple[int, int] | None:
    """The rows and requests a stored target description says its endpoint was sent."""
    endpoint = info.get("endpoint")
    if not isinstance(endpoint, Mapping) or "queries" not in endpoint:
        return None
    return int(endpoint.get("queries") or 0), int(endpoint.get("requests") or 0)


def resume_scan(store: Store, scan_id: str, **kwargs: Any) -> ScanResult:
    """Continue a stored scan: rebuild its target from its declaration and run the units
    that have no stored result (``kwargs`` as for :func:`execute_scan`)."""
    from feint.targets import get_target

    record = store.scan_record(scan_id)
    if record is None:
        raise FeintError(f"no stored scan with id {scan_id!r} to resume")
    if not record["target_spec"]:
        raise FeintError(f"scan {scan_id} was stored by an older feint without its plan; it cannot be resumed")
    target = get_target(record["target_spec"])
    return execute_scan(target, [], store, record["settings"], resume=scan_id, **kwargs)
