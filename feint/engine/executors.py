"""Executors: where a scan's units run.

A unit is one chunk of a run's samples: an attack, its option values, the chunk's sample
indices and its offset within the run. A worker gets the unit as plain data (the
target's declaration, the attack's name and its option values as text), never a live
model: it rebuilds the target once per declaration (and caches it), runs the chunk with
:func:`feint.engine.run.execute_run`, writes the chunk's evidence to the artifacts folder
and hands the results back to the one process that writes the store.

- ``auto`` (the command line's default): ``process`` with one worker per CPU (at most one
  per unit) when the machine has several CPUs and the scan has at least two units and
  ``AUTO_MIN_SAMPLES`` samples of work, so the workers' start-up (a second or two each)
  pays off; ``local`` otherwise, or for a target a worker could not rebuild.
- ``local``: in this process, one unit at a time, on the live target.
- ``process``: a pool of ``workers`` processes on this machine (``spawn``), one torch
  thread each. The target's meter (an endpoint's counts, ``max_queries`` and
  ``rate_limit``) stays in the scan's process and every worker uses it
  (:mod:`feint.engine.meters`), so the limits hold across the workers. A worker stops
  when the scan's process dies, even of ``kill -9``.
- ``ray``: Ray tasks, on an existing cluster (``address``) or on a local Ray started on
  demand with ``workers`` CPUs; one torch thread per task. With a cluster, every node needs
  feint, the target's declaration (a built-in name or a file at the same path) and the
  artifacts folder at the same path (a shared filesystem). Ray's workers count their
  endpoint's rows for the scan but cannot share a budget or a rate: a target whose
  endpoint has ``max_queries`` or ``rate_limit`` is refused.

A unit cut short by its model's query budget (:class:`~feint.targets.meter.QueryBudgetExceeded`)
comes back as such, with the rows it sent, and the scan stops with status ``budget``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feint.errors import FeintError, ParamError
from feint.records import RunResult
from feint.registry import Registry
from feint.store.db import StoreError
from feint.targets.base import Target
from feint.targets.meter import QueryBudgetExceeded, QueryMeter, meter_of, use_meter

__all__ = [
    "UnitTask",
    "UnitOutcome",
    "Executor",
    "LocalExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "make_executor",
    "check_executor",
    "MAX_WORKERS",
    "choose_executor",
    "run_unit",
    "target_spec",
    "attack_from_params",
    "EXECUTORS",
    "ExecutorKind",
]

AUTO_MIN_SAMPLES = 200  # samples of work (summed over units) from which auto uses processes
MAX_WORKERS = 1024  # the most workers a scan may ask for


@dataclass(frozen=True)
class UnitTask:
    """One unit of a scan, as plain data a worker can receive."""

    scan_id: str
    run_id: str
    unit: int
    target_spec: str
    attack: str
    params: dict[str, Any]  # the run's option values and shape, as JSON values
    indices: tuple[int, ...]  # the chunk's sample indices
    offset: int  # position of the chunk's first sample in the run
    run_n: int  # samples in the whole run
    artifacts_root: str | None

    @property
    def samples(self) -> int:
        return len(self.indices)


@dataclass
class UnitOutcome:
    task: UnitTask
    result: RunResult | None = None
    query_log: list[dict] = field(default_factory=list)
    error: str | None = None  # what went wrong in a worker, one line
    store_failure: tuple[str, str] | None = None  # a StoreError's kind and path, when the error was one
    budget: str | None = None  # why the model's query budget cut the unit short (no result then)
    sent: tuple[int, int] = (0, 0)  # rows and requests the unit sent through the target's meter


def target_spec(target: Target) -> str:
    """The declaration a worker rebuilds ``target`` from: a built-in name or a target file's path."""
    return getattr(target, "spec", None) or target.target_name


def attack_from_params(name: str, params: dict[str, Any]):
    """An attack instance with the option values and the run shape a run stored: JSON
    values (``Attack.values()``), or, in a store written by an older feint, their display
    text."""
    from feint.attacks.catalog import get_attack
    from feint.attacks.shape import SHAPE_PARAMS, split_shape

    shape, own = split_shape(params)
    attack = get_attack(name)(**{k: v for k, v in shape.items() if not _default_text(SHAPE_PARAMS[k], v)})
    for key, value in own.items():
        spec = attack.options.specs.get(key)
        if spec is None or _default_text(spec, value):
            continue
        attack.options.set(key, value)
    return attack


def _default_text(spec: Any, value: Any) -> bool:
    """An older store's display text of a default, which need not parse back (``-`` for no labels)."""
    return isinstance(value, str) and value == spec.show(spec.default)


def _attack_for(task: UnitTask):
    """The unit's attack, and its chunk's shape: the run's shape on the chunk's samples."""
    attack = attack_from_params(task.attack, {k: v for k, v in task.params.items() if k != "sample_index"})
    labels = attack.options.current.get("target_labels")
    if labels and len(labels) == task.run_n and task.run_n > 1:  # one goal per sample: this chunk's
        attack.options.set("target_labels", tuple(labels[task.offset : task.offset + task.samples]))
    return attack, attack.shape.with_samples(task.indices)


def _execute(target: Target, task: UnitTask) -> UnitOutcome:
    from feint.engine.run import execute_run

    log: list[dict] = []
    root = Path(task.artifacts_root) if task.artifacts_root else None
    attack, shape = _attack_for(task)
    meter = meter_of(target)
    before = meter.sent() if meter is not None else (0, 0)

    def sent() -> tuple[int, int]:
        if meter is None:
            return 0, 0
        now = meter.sent()
        return now[0] - before[0], now[1] - before[1]

    try:
        result = execute_run(
            target,
            attack,
            root,
            shape=shape,
            scan_id=task.scan_id,
            query_log=log,
            offset=task.offset,
            run_id=task.run_id,
            unit=task.unit,
        )
    except QueryBudgetExceeded as exc:
        return UnitOutcome(task, budget=str(exc), sent=sent())
    return UnitOutcome(task, result, log, sent=sent())


# -- in a worker process ----------------------------------------------------------------
_targets: dict[str, Target] = {}
_initialised = False
_meter: QueryMeter | None = None  # the scan's meter, served from the scan's process
PARENT_POLL_S = 1.0  # how often a worker checks that the scan's process is alive

# what a process worker is handed of the target's meter: the server's address and key,
# max_queries and rate_limit
MeterSpec = tuple[tuple[str, bytes], int | None, float | None]


def _init_worker(threads: int = 1, parent: int | None = None, meter: MeterSpec | None = None) -> None:
    """Set up a worker process: stop when the scan's process (``parent``) dies, ignore
    Ctrl-C (the scan's own process decides when to stop), one torch thread, Keras on
    torch, memory kept for reuse, and the scan's meter of the target's queries."""
    global _initialised, _meter
    import signal

    if parent is not None:
        _die_with(parent)
    if meter is not None:
        from feint.engine.meters import MeterClient

        _meter = MeterClient(*meter)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread of the worker
        pass
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import torch

    from feint.engine.allocator import tune_allocator

    tune_allocator()
    torch.set_num_threads(threads)
    _initialised = True


def _die_with(parent: int) -> None:
    """End this process when ``parent`` dies: at once on Linux (the kernel sends SIGKILL,
    ``PR_SET_PDEATHSIG``), and wherever within ``PARENT_POLL_S`` (a thread that watches
    for a new parent process)."""
    import signal

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # no prctl: the watching thread does it
            pass
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="feint-parent-watch", daemon=True).start()


def _cached_target(spec: str) -> Target:
    if spec not in _targets:
        from feint.targets import get_target

        _targets[spec] = get_target(spec)
    return _targets[spec]


def run_unit(task: UnitTask) -> UnitOutcome:
    """Run one unit in a worker; a failure comes back as the outcome's ``error``."""
    try:
        target = _cached_target(task.target_spec)
        if _meter is not None and meter_of(target) is not None:
            use_meter(target, _meter)
        return _execute(target, task)
    except StoreError as exc:  # a full disk, say: the scan words it as its own store failures
        return UnitOutcome(task, error=str(exc), store_failure=(exc.kind, str(exc.path)))
    except FeintError as exc:
        return UnitOutcome(task, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - reported to the scan, which stops
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return UnitOutcome(task, error=f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})")


def _ray_unit(task: UnitTask, threads: int) -> UnitOutcome:
    if not _initialised:
        _init_worker(threads)
    return run_unit(task)


# -- executors --------------------------------------------------------------------------
class Executor:
    """Runs units; at most ``slots`` at a time. ``submit`` starts one, ``wait`` blocks
    until at least one has finished and returns those that have."""

    name = ""
    slots = 1
    torch_threads: int | None = None  # per worker; None: torch's default
    # whether the workers count through the target's own meter (else the scan adds up
    # the rows each unit says it sent)
    shares_meter = True

    def __init__(self) -> None:
        self.in_flight = 0

    def submit(self, task: UnitTask) -> None:
        raise NotImplementedError

    def wait(self) -> list[UnitOutcome]:
        raise NotImplementedError

    def close(self, abort: bool = False) -> None:
        """Give back the workers. Units still running are waited for (their results are
        dropped), unless ``abort``: then they are stopped."""

    def describe(self) -> str:
        threads = (
            "torch's default threads" if self.torch_threads is None else f"{self.torch_threads} torch thread(s) each"
        )
        return f"{self.name}, {self.slots} worker(s), {threads}"


class LocalExecutor(Executor):
    """In this process, one unit at a time, on the live target."""

    name = "local"

    def __init__(self, target: Target) -> None:
        super().__init__()
        self.target = target
        self.queue: deque[UnitTask] = deque()

    def submit(self, task: UnitTask) -> None:
        self.queue.append(task)
        self.in_flight += 1

    def wait(self) -> list[UnitOutcome]:
        task = self.queue.popleft()
        try:
            return [_execute(self.target, task)]
        finally:
            self.in_flight -= 1


class ProcessExecutor(Executor):
    """A pool of ``workers`` spawned processes on this machine."""

    name = "process"

    def __init__(self, workers: int, threads: int = 1, meter: QueryMeter | None = None) -> None:
        super().__init__()
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.slots = workers
        self.torch_threads = threads
        self.server = None
        spec: MeterSpec | None = None
        if meter is not None:
            from feint.engine.meters import MeterServer

            self.server = MeterServer(meter)
            spec = (self.server.address, meter.max_queries, meter.rate_limit)
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(threads, os.getpid(), spec),
        )
        self.futures: set[Any] = set()

    def submit(self, task: UnitTask) -> None:
        # The pool spawns its workers on submit. Spawned with Ctrl-C ignored (a disposition
        # that survives exec), they cannot die of a Ctrl-C at the terminal before their
        # initializer runs: the scan's own process decides what Ctrl-C means.
        with _sigint_ignored():
            self.futures.add(self.pool.submit(run_unit, task))
        self.in_flight += 1

    def wait(self) -> list[UnitOutcome]:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, self.futures = wait(self.futures, return_when=FIRST_COMPLETED)
        self.in_flight -= len(done)
        out = []
        for f in done:
            try:
                out.append(f.result())
            except Exception as exc:  # noqa: BLE001 - a worker died (killed, out of memory)
                raise FeintError(f"a worker process of the scan failed: {type(exc).__name__}: {exc}") from None
        return out

    def close(self, abort: bool = False) -> None:
        if abort:  # stop the workers now: what they were doing is not stored anyway
            for proc in list(getattr(self.pool, "_processes", {}).values()):
                proc.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.server is not None:
            self.server.close()


UNIT_RETRIES = 2  # times Ray runs a unit again after its worker process or node died


class RayExecutor(Executor):
    """Ray tasks on a cluster (``address``) or on a local Ray started with ``workers`` CPUs."""

    name = "ray"
    shares_meter = False

    def __init__(self, workers: int | None, address: str | None = None, threads: int = 1) -> None:
        super().__init__()
        try:
            import ray
        except ImportError:
            raise FeintError("the ray executor needs Ray; install it with: pip install 'feint[ray]'") from None
        import logging

        self.ray = ray
        self.owned = False
        self.torch_threads = threads
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": logging.ERROR,
            }
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    env = {k: os.environ[k] for k in ("FEINT_HOME", "KERAS_BACKEND") if k in os.environ}
                    ray.init(
                        num_cpus=workers or os.cpu_count() or 1,
                        runtime_env={"env_vars": {**env, "OMP_NUM_THREADS": "1"}},
                        **kwargs,
                    )
            except Exception as exc:  # noqa: BLE001 - Ray's own start-up errors vary
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise FeintError(f"cannot start {where}: {type(exc).__name__}: {exc}") from None
            self.owned = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = max(1, workers or cpus)
        # A unit's result is stored only by this process and depends only on the unit, so
        # a unit whose worker or node died is simply run again elsewhere (Ray retries
        # system failures only; an error raised by the attack is not retried).
        self.remote = ray.remote(num_cpus=1, max_retries=UNIT_RETRIES)(_ray_unit)
        self.refs: list[Any] = []

    def submit(self, task: UnitTask) -> None:
        self.refs.append(self.remote.remote(task, self.torch_threads))  # type: ignore[arg-type]  # Ray's stubs: None is sent as is
        self.in_flight += 1

    def wait(self) -> list[UnitOutcome]:
        ready, self.refs = self.ray.wait(self.refs, num_returns=1)
        self.in_flight -= len(ready)
        try:
            return self.ray.get(ready)
        except Exception as exc:  # noqa: BLE001 - a worker died
            raise FeintError(f"a Ray worker of the scan failed: {type(exc).__name__}: {exc}") from None

    def close(self, abort: bool = False) -> None:
        if self.refs:
            try:
                if abort:
                    for ref in self.refs:
                        self.ray.cancel(ref, force=True)
                else:
                    self.ray.wait(self.refs, num_returns=len(self.refs))
            except Exception:  # noqa: BLE001, S110 - shutting down anyway
                pass
            self.refs = []
        if self.owned:
            self.ray.shutdown()


@contextlib.contextmanager
def _sigint_ignored():
    """Ignore SIGINT in this process for the block (main thread only; elsewhere a no-op)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass(frozen=True)
class ExecutorKind:
    """An executor as the registry holds it: what it is, the checks that refuse a scan it
    cannot run (before anything is stored), and how to build it; ``build`` is ``None``
    for ``auto``, which a scan resolves to another executor (:func:`choose_executor`)."""

    doc: str
    check: Callable[[Target, int | None], None]
    build: Callable[[Target, int | None, str | None], Executor] | None = None


def _check_auto(target: Target, workers: int | None) -> None:
    if workers not in (None, 1):  # --workers N makes auto a process pool
        check_rebuildable(target)


def _check_local(target: Target, workers: int | None) -> None:
    if workers not in (None, 1):
        raise ParamError(
            "the local executor runs one unit at a time; use {executor} process or ray for several {workers}"
        )


def _check_ray(target: Target, workers: int | None) -> None:
    import importlib.util

    meter = meter_of(target)
    if meter is not None and (meter.max_queries is not None or meter.rate_limit is not None):
        raise ParamError(
            "the ray executor cannot share an endpoint's max_queries or rate_limit between its workers; "
            "run target {name} with {executor} process or local",
            name=target.target_name,
        )
    if importlib.util.find_spec("ray") is None:
        raise FeintError("the ray executor needs Ray; install it with: pip install 'feint[ray]'")
    check_rebuildable(target)


EXECUTORS: Registry[ExecutorKind] = Registry("executor")
EXECUTORS.register(
    "auto",
    ExecutorKind(
        "processes, one per CPU, for a scan of 2+ units and 200+ samples of work on a machine with 2+ CPUs; "
        "else this process",
        _check_auto,
    ),
)
EXECUTORS.register(
    "local",
    ExecutorKind(
        "this process, one unit at a time", _check_local, lambda target, workers, address: LocalExecutor(target)
    ),
)
EXECUTORS.register(
    "process",
    ExecutorKind(
        "a pool of worker processes on this machine",
        lambda target, workers: check_rebuildable(target),
        lambda target, workers, address: ProcessExecutor(workers or os.cpu_count() or 1, meter=meter_of(target)),
    ),
)
EXECUTORS.register(
    "ray",
    ExecutorKind(
        "Ray: a local Ray, or the cluster at --ray-address",
        _check_ray,
        lambda target, workers, address: RayExecutor(workers, address),
    ),
)


def check_executor(kind: str, target: Target, workers: int | None = None) -> None:
    """Refuse, before anything is stored, an executor that cannot run this scan."""
    entry = EXECUTORS.get(kind)
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise ParamError(
            "{workers} expects a number of workers from 1 to {high}; got {got}", high=f"{MAX_WORKERS:,}", got=workers
        )
    entry.check(target, workers)


def choose_executor(target: Target, workers: int | None, units: int, samples: int) -> tuple[str, int | None]:
    """What ``auto`` means for a scan with ``units`` units and ``samples`` samples of work
    to run: ``(executor, workers)``. ``workers`` given: 1 is local, more a process pool."""
    if workers is not None:
        return ("local", None) if workers == 1 else ("process", workers)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cpus < 2 or units < 2 or samples < AUTO_MIN_SAMPLES:
        return "local", None
    try:
        check_rebuildable(target)
    except FeintError:
        return "local", None
    return "process", min(cpus, units)


def make_executor(kind: str, target: Target, workers: int | None = None, ray_address: str | None = None) -> Executor:
    """An executor by name (``local``, ``process``, ``ray``); raise FeintError on a bad choice."""
    check_executor(kind, target, workers)
    build = EXECUTORS.get(kind).build
    if build is None:
        raise FeintError(f"the {kind} executor is chosen by the scan (choose_executor), not built")
    return build(target, workers, ray_address)


def check_rebuildable(target: Target) -> None:
    """Refuse a target that a worker could not rebuild from its declaration."""
    from feint.targets import TARGETS, TargetSpec

    spec = TargetSpec.parse(target_spec(target))
    if (spec.kind == "builtin" and spec.name in TARGETS) or (
        spec.is_file and os.path.isabs(spec.name) and os.path.exists(spec.name)
    ):
        return
    raise ParamError(
        "target {name} has no declaration a worker can load (a built-in name or a "
        "target file); run it with {executor} local",
        name=target.target_name,
    )
