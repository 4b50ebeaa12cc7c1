"""feint's commands as a library: typed functions over live objects that return results.

The command line (:mod:`feint.cli`) and the shell are thin layers over these: each parses
what a user typed, calls one function here and renders what it returns, so a run or a scan
started from Python is checked, stored and reported exactly as one started from
``feint run`` or ``feint scan``. Mistakes raise :class:`~feint.errors.FeintError`; an
argument of one of these functions is named as the parameter (``max_queries``), which the
command line shows as its flag (``--max-queries``) through
:meth:`~feint.errors.ParamError.spelled`.

    from feint import api
    target = api.load_target("digits_keras")
    run = api.run(target, api.new_attack("pgd", {"eps": 0.2}), api.RunShape.of(sample_index="0:10"))
    scan = api.scan(target, ["pgd", "jsma"], common={"sample_index": "0:20"}, fail_on=["success_rate > 0.5"])
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from feint.attacks.aliases import aliases_of
from feint.attacks.base import Attack
from feint.attacks.catalog import attacks as _catalog
from feint.attacks.catalog import check_target, get_attack
from feint.attacks.catalog import frameworks as _frameworks
from feint.attacks.shape import SHAPE_PARAMS, RunShape
from feint.engine.budgeted import execute_budgeted_run
from feint.engine.predict import Prediction, adversarial_samples, predict_arrays, predict_samples
from feint.engine.run import prepare_run
from feint.engine.scan import ScanProgress, execute_scan, find_resumable, plan_scan, resume_scan
from feint.errors import FeintError, ParamError
from feint.records import RunResult, ScanResult
from feint.store.db import Store, StoreError
from feint.store.db import check_store as _check_store
from feint.targets import as_target, get_target, target_classes
from feint.targets.base import Target

__all__ = [
    "RunShape",
    "list_targets",
    "list_attacks",
    "list_frameworks",
    "attack_info",
    "load_target",
    "new_attack",
    "run",
    "scan",
    "evaluate",
    "check",
    "optimize",
    "study",
    "best_params",
    "resume",
    "resume_run",
    "lookup",
    "predict",
    "predict_adversarial",
    "gates",
    "check_store",
    "check_output",
]


# -- what there is ------------------------------------------------------------------------------


def list_targets() -> list[dict[str, Any]]:
    """The built-in targets, one row each (``feint list targets``); nothing is loaded."""
    rows = []
    for name, cls in target_classes().items():
        t = cls()
        rows.append(
            {
                "name": name,
                "data_type": cls.data_type,
                "input_shape": list(cls.input_shape),
                "classes": list(cls.output_classes),
                "bounds": list(cls.bounds),
                "access": "open-box" if t.open_box else "closed-box",
                "description": cls.description,
            }
        )
    return rows


def list_attacks(framework: str | None = None) -> list[dict[str, Any]]:
    """Every attack of the catalog (of one framework), one row each (``feint list attacks``);
    ``aliases``: the Counterfit names that resolve to it."""
    return [
        {
            "name": n,
            "framework": c.framework,
            "family": c.family,
            "access": c.access,
            "data_types": list(c.data_types),
            "summary": c.summary(),
            "aliases": aliases_of(n),
        }
        for n, c in _catalog(framework).items()
    ]


def list_frameworks() -> list[dict[str, Any]]:
    """The attack frameworks and how many attacks each has (``feint list frameworks``)."""
    return [{"name": n, **v} for n, v in _frameworks().items()]


def attack_info(name: str) -> dict[str, Any]:
    """An attack's description and options (``feint info``): its own options, then the
    parts of a run's shape, each with type, default, range and doc."""
    cls = get_attack(name)
    specs = {**cls.params, **SHAPE_PARAMS}
    return {
        "name": cls.name,
        "framework": cls.framework,
        "family": cls.family,
        "access": cls.access,
        "data_types": list(cls.data_types),
        "summary": cls.summary(),
        "aliases": aliases_of(cls.name),
        "reference": cls.reference,
        "params": [
            {"name": n, "type": p.type_name, "default": p.show(p.default), "range": p.range_text(), "doc": p.doc}
            for n, p in specs.items()
        ],
    }


# -- targets and attacks --------------------------------------------------------------------------


def load_target(spec: str | Target | Any, trust: bool = False, attacks: Sequence[str] = ()) -> Target:
    """A target, loaded: a built-in name, a target file (``FILE.yaml``, ``FILE.py[:CLASS]``),
    a Target as given or a Counterfit target object (wrapped). ``attacks``: names refused before anything loads (or trains) when
    they cannot run on it. ``trust`` allows model files that run code when loaded."""
    unloaded = get_target(spec, load=False, trust=trust)
    for name in attacks:
        check_target(get_attack(name), unloaded)
    loaded = get_target(spec, trust=trust)
    for name in attacks:  # what is known only once loaded: the samples' text columns
        check_target(get_attack(name), loaded)
    return loaded


def new_attack(name: str, values: Mapping[str, Any] | Sequence[tuple[str, Any]] = ()) -> Attack:
    """An instance of the attack ``name`` with option values (and parts of the run's shape:
    ``sample_index``, ``seed``, ``logger``, ``batch_size``), as text or values, in order;
    a bad name or value raises before anything runs."""
    attack = get_attack(name)()
    for key, value in values.items() if isinstance(values, Mapping) else values:
        attack.set(key, value)  # an option, or a part of the run's shape
    return attack


# -- runs and scans -------------------------------------------------------------------------------


@contextlib.contextmanager
def _opened(store: Store | None) -> Iterator[Store]:
    """``store``, or the default store in ``$FEINT_HOME`` opened for the call and closed after it."""
    if store is not None:
        yield store
        return
    own = Store()
    try:
        yield own
    finally:
        own.close()


def run(
    target: Target,
    attack: Attack,
    shape: RunShape | None = None,
    *,
    store: Store | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Run ``attack`` on ``target`` laid out by ``shape`` (default: the attack's), after
    every check, and store it (in ``store``, default the one in ``$FEINT_HOME``). A run
    interrupted (KeyboardInterrupt) is not stored. A run that its target's query budget
    (an endpoint's ``max_queries``) stops is stored with ``status == "partial"``: the
    samples it finished, the queries it spent (``metrics["cut_queries"]`` for those of
    samples it did not finish) and why (``metrics["stop_reason"]``); :func:`resume_run`
    continues it. ``target`` may be a Counterfit target object (wrapped)."""
    target = as_target(target)
    shape = shape or attack.shape
    prepare_run(target, attack, shape)
    with _opened(store) as db:
        db.prepare_write()  # a full, read-only, locked or damaged store is refused before the attack runs
        log: list[dict] = []
        result: RunResult | None = None
        try:
            result = execute_budgeted_run(
                target, attack, db.artifacts_root, progress=progress, query_log=log, shape=shape
            )
            db.add_run(result, log)
        except StoreError as exc:  # a full disk, say: the files of a run that is not stored go too
            kept = Path(result.artifacts) if result is not None and result.artifacts else exc.path
            if kept.parent == db.artifacts_root:
                import shutil

                shutil.rmtree(kept, ignore_errors=True)
            raise
    return result


def resume_run(
    run_id: str,
    target: Target | Any | None = None,
    *,
    trust: bool = False,
    store: Store | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Continue the stored ``partial`` run ``run_id`` (one its target's query budget
    stopped): only its samples with no stored result run, each as the uninterrupted run
    has it, and the endpoint's ``max_queries`` counts what the run's earlier invocations
    sent, so the whole run never sends more. ``target``: the target it attacked (default:
    rebuilt from its declaration, a built-in name or a target file; ``trust`` as for
    :func:`load_target`). Returns the run as stored: ``done``, or ``partial`` again when
    the budget stops it again."""
    from feint.engine.executors import attack_from_params

    with _opened(store) as db:
        run = db.get_run(run_id)
        if run is None:
            if db.scan_record(run_id) is not None:
                raise FeintError(f"{run_id} is a scan; continue it with resume (feint scan --resume {run_id})")
            recent = db.recent_ids()
            raise FeintError(f"no stored run with id {run_id!r}; recent: {', '.join(recent) or 'none'}")
        if run.scan_id is not None:
            raise FeintError(
                f"run {run_id} belongs to scan {run.scan_id}; continue the scan (feint scan --resume {run.scan_id})"
            )
        if run.status != "partial":
            raise FeintError(f"run {run_id} is complete ({run.n} samples); nothing left to run")
        if target is None:
            spec = run.metrics.get("target_spec")
            if not spec:
                raise FeintError(f"run {run_id} does not say which target file it attacked; pass the target")
            target = get_target(spec, trust=trust)
        target = as_target(target)
        if target.target_name != run.target:
            raise FeintError(f"run {run_id} attacked target {run.target}, not {target.target_name}")
        attack = attack_from_params(run.attack, run.params)
        prepare_run(target, attack)
        db.prepare_write()
        log: list[dict] = []
        result = execute_budgeted_run(target, attack, db.artifacts_root, progress=progress, query_log=log, earlier=run)
        db.continue_run(result, run.n, log)
    return result


# The samples a suite runs on when none are named: enough for an accuracy to mean something.
SUITE_SAMPLES = 100


def scan(
    target: Target,
    attacks: Sequence[str] | None = None,
    *,
    params: Mapping[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]] | None = None,
    common: Mapping[str, Any] | None = None,
    sweep: Mapping[str, Sequence[Any]] | None = None,
    fail_on: Sequence[str] = (),
    store: Store | None = None,
    resume_unfinished: bool = True,
    on_resume: Callable[[str], None] | None = None,
    on_progress: Callable[[ScanProgress], None] | None = None,
    executor: str = "auto",
    workers: int | None = None,
    ray_address: str | None = None,
    chunk_size: int | None = None,
    max_queries: int | None = None,
    max_time: float | None = None,
    suite: str | None = None,
) -> ScanResult:
    """Plan a scan (:func:`feint.engine.scan.plan_scan`: ``attacks``, default every
    compatible one; per-attack ``params``; ``common`` values for every attack that takes
    them, the run's shape among them; a ``sweep``), check its gates ``fail_on``, run it
    and return it as stored. With ``resume_unfinished``, an unfinished scan of the same
    plan continues instead (``on_resume`` gets its id first); when another process is
    running it, the two share its units and this one waits for those the other holds. A
    store that could not take the results (full disk, read-only, locked, damaged) raises
    :class:`~feint.store.db.StoreError` before any attack runs. ``target`` may be a
    Counterfit target object (wrapped).

    ``suite`` (``corruptions``) plans a suite's runs instead of ``attacks``: each of its
    attacks at each severity (``attacks``, when given, keeps only those of the suite's
    attacks or families), on the first :data:`SUITE_SAMPLES` samples unless ``common``
    names the samples; ``params`` then add to every severity's parameters."""
    from feint.engine.budget import Budget

    target = as_target(target)
    from feint.engine.executors import check_executor

    Budget(max_queries, max_time)  # checks the values before anything is planned
    check_executor(executor, target, workers)
    extra: dict[str, Any] = {}
    if suite is not None:
        from feint.attacks.transforms.suite import suite_plan

        if sweep:
            raise ParamError("{suite} runs each attack at its severities; leave out {sweep}")
        attacks, planned, extra = suite_plan(suite, target.data_type, target.target_name, attacks)
        from feint.attacks.shape import split_shape

        if "sample_index" not in split_shape(common or {})[0]:
            common = {**(common or {}), "sample_index": f"0:{max(1, min(SUITE_SAMPLES, len(target.X)))}"}
        given: dict[str, Mapping[str, Any]] = {}
        for k, v in (params or {}).items():
            if not isinstance(v, Mapping):
                raise ParamError("{params} of a suite's attack {name!r} is one set of values", name=k)
            given[get_attack(k).name if k not in planned else k] = v
        for name in given:
            if name not in planned:
                raise ParamError(
                    "unknown attack in {params} {name!r}; the suite's: {accepted}",
                    name=name,
                    accepted=", ".join(planned),
                )
        params = {a: [{**dict(given.get(a) or {}), **s} for s in sets] for a, sets in planned.items()}
    plan = plan_scan(target, attacks, params, common, sweep)
    with _opened(store) as db:
        from feint.engine.scan import scan_settings

        scan_settings(plan, fail_on)  # the gates name only attacks the scan runs
        unfinished = find_resumable(db, target, plan, chunk_size) if resume_unfinished else None
        if unfinished and on_resume:
            on_resume(unfinished)
        return execute_scan(
            target,
            plan,
            db,
            resume=unfinished,
            on_progress=on_progress,
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            chunk_size=chunk_size,
            max_queries=max_queries,
            max_time=max_time,
            fail_on=fail_on,
            on_resume=on_resume,
            settings=extra or None,
        )


def evaluate(
    target: Target,
    *,
    norm: str = "inf",
    eps: Sequence[float] | float = (0.3,),
    version: str = "standard",
    samples: Any = None,
    seed: int = 0,
    batch_size: int = 100,
    fail_on: Sequence[str] = (),
    store: Store | None = None,
    resume_unfinished: bool = True,
    on_resume: Callable[[str], None] | None = None,
    on_stage: Callable[[str, float, int, int], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    checks: bool = True,
) -> ScanResult:
    """The AutoAttack-style worst case over the ``version`` ensemble (``standard``:
    APGD-CE, APGD-T, FAB-T, Square; ``fast``: APGD-CE, APGD-T on 3 classes) at each budget
    ``eps`` in the ``norm`` (``inf`` or ``2``), on ``samples``
    (:mod:`feint.engine.evaluate`): robust accuracy per budget, stored as a scan and
    returned as stored. Its gates ``fail_on`` read ``robust_accuracy`` and
    ``clean_accuracy`` at every budget. With ``resume_unfinished``, an unfinished
    evaluation with the same settings continues instead (``on_resume`` gets its id);
    ``on_stage(attack, eps, attacked, turned)`` follows each finished stage; ``on_start``
    gets the evaluation's id once it is stored. ``checks``: run the sanity checks
    (:func:`check`) first, on up to 10 of the samples, and keep them with the evaluation."""
    from feint.engine.evaluate import evaluation_settings, execute_evaluation, find_resumable_evaluation

    target = as_target(target).ensure_loaded()
    if samples is None:
        samples = list(range(min(100, len(target.X))))
    settings = evaluation_settings(
        target,
        norm=norm,
        eps=eps,
        version=version,
        samples=samples,
        seed=seed,
        batch_size=batch_size,
        fail_on=fail_on,
        checks=checks,
    )
    with _opened(store) as db:
        unfinished = find_resumable_evaluation(db, target, settings) if resume_unfinished else None
        if unfinished and on_resume:
            on_resume(unfinished)
        return execute_evaluation(target, db, settings, resume=unfinished, on_stage=on_stage, on_start=on_start)


def check(
    target: Target, samples: Any = None, *, norm: str = "inf", eps: float = 0.3, seed: int = 0
) -> list[dict[str, str]]:
    """Sanity checks of an evaluation (Carlini et al. 2019) on up to 10 of ``samples``
    (default: the first 100) that the target labels right, at budget ``eps`` (:mod:`feint.engine.checks`): per check its
    ``name``, ``status`` (pass, warn or fail) and ``why``. Nothing is stored."""
    from feint.engine.checks import run_checks
    from feint.errors import ParamError

    target = as_target(target).ensure_loaded()
    if target.labels_only:
        from feint.errors import Incompatible

        raise Incompatible(f"target {target.target_name} answers labels only; the checks need its scores")
    if samples is None:
        samples = list(range(min(100, len(target.X))))
    shape = RunShape.of({"sample_index": samples, "seed": seed})
    target.check_indices(shape.samples)
    if str(norm).lower() not in ("inf", "linf", "2", "l2"):
        raise ParamError("{norm} expects inf or 2; got {got}", got=norm)
    if not isinstance(eps, (int, float)) or not eps > 0:
        raise ParamError("{eps} expects a number above 0; got {got}", got=eps)
    norm = "inf" if str(norm).lower() in ("inf", "linf") else "2"
    return [c.to_dict() for c in run_checks(target, shape.samples, norm, float(eps), shape.seed)]


def optimize(
    target: Target,
    attacks: Sequence[str],
    *,
    trials: int = 20,
    objective: str = "success",
    samples: Any = "0:20",
    seed: int = 0,
    fixed: Mapping[str, Mapping[str, Any]] | None = None,
    params: Mapping[str, Sequence[str]] | None = None,
    resume: str | None = None,
    store: Store | None = None,
    on_trial: Callable[[str, int, float | None, str], None] | None = None,
) -> dict[str, Any]:
    """Search the options of each of ``attacks`` with Optuna (:mod:`feint.engine.optimize`):
    ``trials`` per attack (the first the defaults), for the ``objective`` (success,
    distance, queries, score) on ``samples``, seeded, with pruning; ``fixed`` values per
    attack, ``params`` per attack the options searched (default: all but the budget's).
    ``resume``: the id of a stopped study to finish. Returns :func:`study`'s summary."""
    from feint.engine.optimize import optimize as _optimize

    target = as_target(target).ensure_loaded()
    shape = RunShape.of({"sample_index": samples, "seed": seed})
    names = [get_attack(a).name for a in attacks]
    if not names and resume is None:
        raise FeintError("optimize needs one or more attacks")
    with _opened(store) as db:
        study_id = _optimize(
            target,
            names,
            store_path=db.path,
            trials=trials,
            objective=objective,
            samples=shape.samples,
            seed=shape.seed,
            fixed={get_attack(k).name: v for k, v in (fixed or {}).items()},
            params={get_attack(k).name: v for k, v in (params or {}).items()},
            resume=resume,
            on_trial=on_trial,
        )
        return study(study_id, store=db)


def study(study_id: str, store: Store | None = None) -> dict[str, Any]:
    """A stored study: per attack its objective, trials, the defaults' value, the best value and options."""
    from feint.engine.optimize import study_summary

    with _opened(store) as db:
        return study_summary(study_id, db.path)


def best_params(study_id: str, store: Store | None = None) -> dict[str, dict[str, Any]]:
    """The best options per attack of a stored study, for a later run or scan."""
    from feint.engine.optimize import best_params as _best

    with _opened(store) as db:
        return _best(study_id, db.path)


def resume(
    scan_id: str,
    *,
    store: Store | None = None,
    on_progress: Callable[[ScanProgress], None] | None = None,
    executor: str = "auto",
    workers: int | None = None,
    ray_address: str | None = None,
    max_queries: int | None = None,
    max_time: float | None = None,
) -> ScanResult:
    """Continue the stored scan ``scan_id``: only its units with no stored result run (a
    run outside a scan continues with :func:`resume_run`)."""
    with _opened(store) as db:
        if db.scan_record(scan_id) is None:
            if db.get_run(scan_id) is not None:
                raise FeintError(f"{scan_id} is a run, not a scan; continue it with resume_run (feint run --resume)")
            recent = db.recent_ids()
            raise FeintError(f"no stored scan with id {scan_id!r}; recent: {', '.join(recent) or 'none'}")
        record = db.scan_record(scan_id)
        if record is not None and record["settings"].get("kind") == "evaluate":
            from feint.engine.evaluate import execute_evaluation

            return execute_evaluation(get_target(record["target_spec"]), db, resume=scan_id)
        return resume_scan(
            db,
            scan_id,
            on_progress=on_progress,
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            max_queries=max_queries,
            max_time=max_time,
        )


def lookup(run_or_scan_id: str, store: Store | None = None) -> RunResult | ScanResult:
    """A stored scan or run by id (a scan first); an unknown id names the recent ones."""
    with _opened(store) as db:
        found: RunResult | ScanResult | None = db.get_scan(run_or_scan_id) or db.get_run(run_or_scan_id)
        if found is None:
            recent = db.recent_ids()
            raise FeintError(f"no stored run or scan with id {run_or_scan_id!r}; recent: {', '.join(recent) or 'none'}")
        return found


def gates(result: ScanResult, fail_on: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The gates ``fail_on`` (default: those the scan was started with), checked on a scan:
    per gate its expression, whether it failed and for which attacks."""
    from feint.report.jsonout import gate_results

    return gate_results(result, fail_on)


def check_store(path: Path | str | None = None) -> dict[str, Any]:
    """Check the store at ``path`` (default ``$FEINT_HOME/feint.db``) without writing to it
    (``feint store check``): SQLite's ``integrity_check`` and ``foreign_key_check``. Returns
    ``path``, ``ok`` and ``problems``, one line each."""
    return _check_store(path)


# -- predictions ----------------------------------------------------------------------------------


def predict(target: Target, samples: Any = "0", image_dir: Path | str | None = None) -> list[Prediction]:
    """What ``target`` predicts for its ``samples`` (indices: ``3``, ``"1,4,7"``, ``"0:100"``,
    a list); image samples are written as PNGs to ``image_dir`` when it is given."""
    return predict_samples(as_target(target), samples, image_dir=image_dir)


def predict_adversarial(
    target: Target | Any, run: RunResult | str, image_dir: Path | str | None = None, store: Store | None = None
) -> list[Prediction]:
    """What ``target`` predicts for the adversarial samples of a run (a RunResult, or a
    stored run's id), sample by sample, against the samples' true labels."""
    target = as_target(target)
    if isinstance(run, str):
        found = lookup(run, store)
        if not isinstance(found, RunResult):
            raise FeintError(f"{run} is a scan; predict takes the id of one of its runs")
        run = found
    if run.target != target.target_name:
        raise FeintError(f"run {run.run_id} attacked target {run.target}, not {target.target_name}")
    indices, x = adversarial_samples(run.artifacts, run.run_id)
    target.check_indices(indices)
    return predict_arrays(target, x, indices, image_dir=image_dir)


# -- outputs --------------------------------------------------------------------------------------


def check_output(path: str | Path, folder: bool = False) -> Path:
    """Refuse, before any work starts, an output that cannot be written, in one line naming
    the path and what is accepted; the path is returned. A report file (``folder=False``)
    may be a regular file (replaced whole: written beside itself, then moved into place), a
    new file in a folder that exists or can be made, or a pipe or a device such as
    ``/dev/stdout`` (written directly), not ``/dev/full``, which takes nothing. An images
    folder (``folder=True``) must be a folder, or one that can be made. Either way the
    folder it goes in must take new files (``/proc`` does not)."""
    import os

    given = str(path)
    p = Path(path).expanduser()
    if p.is_symlink():  # written where the link points
        p = p.resolve()
    accepted = (
        "a folder feint can write in (made if missing)"
        if folder
        else "a file in a folder feint can write in (made if missing), or a pipe"
    )
    what = f"cannot write images into {given}" if folder else f"cannot write {given}"
    if p.exists():
        kind = _kind_of(p)
        if folder and kind != "a folder":
            raise FeintError(f"{what}: it is {kind}; accepted: {accepted}")
        if not folder:
            if kind == "a folder":
                raise FeintError(f"{what}: it is a folder; accepted: {accepted}")
            if _always_full(p):
                raise FeintError(f"{what}: it is a device that takes no data; accepted: {accepted}")
            if kind not in ("a file", "a pipe", "a device"):
                raise FeintError(f"{what}: it is {kind}; accepted: {accepted}")
        if not os.access(p, os.W_OK):
            raise FeintError(f"{what}: it is not writable; accepted: {accepted}")
        if kind in ("a pipe", "a device"):
            return p  # written directly
        _probe(p if folder else p.parent, given, accepted)
        return p
    parent = p.parent  # made with its missing parents: the nearest that exists must take them
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise FeintError(f"{what}: {parent} is {_kind_of(parent)}, not a folder; accepted: {accepted}")
    _probe(parent, given, accepted)
    return p


def _always_full(path: Path) -> bool:
    """Whether ``path`` is Linux's ``/dev/full``, a device every write to fails."""
    import os
    import stat

    info = path.stat()
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(1, 7)


def _kind_of(path: Path) -> str:
    import stat

    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _probe(folder: Path, given: str, accepted: str) -> None:
    """Make and remove an empty file in ``folder``: what a read-only or virtual folder
    (``/proc``, ``/sys``) refuses is refused now, not after the work."""
    import os
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=".feint-", dir=folder)
    except OSError as exc:
        raise FeintError(
            f"cannot write {given}: {folder} does not take new files ({exc.strerror or exc}); accepted: {accepted}"
        ) from None
    os.close(fd)
    os.unlink(name)
