"""A scan: many runs (attacks x parameter sets x samples) against one target.

The plan holds one attack instance per parameter set: each chosen attack runs once
with its parameters, or once per value of a swept parameter. Each finished run is
committed to the store before the next starts, so a scan stopped midway keeps every
run it finished.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

from feint.attacks.base import Attack
from feint.attacks.catalog import attacks as catalog, get_attack
from feint.attacks.params import Float, Int
from feint.engine.results import ScanResult
from feint.engine.run import execute_run, prepare_run
from feint.errors import FeintError, UnknownName
from feint.store.db import Store
from feint.targets.base import Target

__all__ = ["plan_scan", "execute_scan", "ParamSet"]

ParamSet = Mapping[str, Any]


def _has(cls: type[Attack], name: str) -> bool:
    return name.strip().lstrip("-").replace("-", "_") in cls.params


def _split(key: str) -> tuple[str | None, str]:
    """``ATTACK.NAME`` or ``NAME``; an attack name may hold dots (``art.pgd.eps``), a parameter's never does."""
    return tuple(key.rsplit(".", 1)) if "." in key else (None, key)  # type: ignore[return-value]


def plan_scan(
    target: Target,
    attack_names: Sequence[str] | None,
    params: Mapping[str, ParamSet | Sequence[ParamSet]] | None = None,
    common: ParamSet | None = None,
    sweep: Mapping[str, Sequence[Any]] | None = None,
) -> list[Attack]:
    """Attack instances for a scan, one per parameter set, each checked against the
    target before anything runs.

    ``attack_names``: ``None`` or empty means every attack compatible with the target.
    ``params``: per attack name, one parameter set or a list of them (one run each).
    ``common``: values for every chosen attack that has the parameter (``sample_index``,
    ``seed``, or e.g. ``eps``); an attack's own ``params`` override them.
    ``sweep``: ``NAME`` or ``ATTACK.NAME`` -> values of a numeric parameter: every
    parameter set of the attacks it reaches runs once per value. One swept parameter
    per attack."""
    params = dict(params or {})
    if attack_names:
        names = list(dict.fromkeys(attack_names))  # each attack once
        classes = [get_attack(n) for n in names]
    else:
        classes = [cls for cls in catalog().values() if cls.compatible(target)]
        if not classes:
            raise FeintError(f"no attack in the catalog is compatible with target {target.target_name}")
    chosen = [cls.name for cls in classes]
    for name in params:
        if name not in chosen:
            raise UnknownName("attack in --set", name, chosen)
    for name in common or {}:
        if not any(_has(cls, name) for cls in classes):
            raise FeintError(f"no attack of this scan has a parameter {name!r}; use ATTACK.NAME=VALUE")

    sets: dict[str, list[dict[str, Any]]] = {}
    for cls in classes:
        own = params.get(cls.name) or {}
        own_sets = [dict(own)] if isinstance(own, Mapping) else [dict(s) for s in own] or [{}]
        shared = {k: v for k, v in (common or {}).items() if _has(cls, k)}
        sets[cls.name] = [{**shared, **s} for s in own_sets]

    swept: dict[str, str] = {}
    for key, values in (sweep or {}).items():
        attack, name = _split(key)
        if attack is not None and attack not in chosen:
            raise UnknownName("attack in --sweep", attack, chosen)
        reached = [cls for cls in classes if (attack is None or cls.name == attack) and _has(cls, name)]
        if not reached:
            where = f"attack {attack}" if attack else "attack of this scan"
            raise FeintError(f"no {where} has a parameter {name!r} to sweep")
        for cls in reached:
            spec = cls(**{}).options.spec(name)
            if not isinstance(spec, (Float, Int)):
                raise FeintError(f"--sweep needs a numeric parameter; {cls.name}.{spec.name} is {spec.type_name}")
            if spec.name in Attack.RUN_PARAMS:
                raise FeintError(f"--sweep takes an attack parameter; {spec.name} shapes the run, not the attack")
            if cls.name in swept and swept[cls.name] != spec.name:
                raise FeintError(f"one swept parameter per attack; {cls.name} would sweep "
                                 f"{swept[cls.name]} and {spec.name}")
            swept[cls.name] = spec.name
            parsed = list(dict.fromkeys(spec.parse(v) if isinstance(v, str) else spec.validate(v) for v in values))
            if not parsed:
                raise FeintError(f"--sweep {key} needs at least one value")
            sets[cls.name] = [{**s, spec.name: v} for s in sets[cls.name] for v in parsed]

    plan = []
    for cls in classes:
        for values in sets[cls.name]:
            attack = cls()
            attack.options.update(values)
            prepare_run(target, attack)  # refuse now, not after an hour of other attacks
            plan.append(attack)
    return plan


def execute_scan(
    target: Target,
    plan: Sequence[Attack],
    store: Store,
    settings: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScanResult:
    scan_id = uuid.uuid4().hex[:8]
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    store.add_scan(scan_id, target.target_name, started, settings or {}, target.describe())
    runs = []
    status = "interrupted"
    try:
        for attack in plan:
            log: list[dict] = []
            run = execute_run(target, attack, store.artifacts_root, scan_id=scan_id, progress=progress,
                              query_log=log)
            store.add_run(run, log)
            runs.append(run)
        status = "done"
    finally:
        store.finish_scan(scan_id, status)
    return ScanResult(scan_id=scan_id, target=target.target_name, started_at=started, runs=runs,
                      settings={**(settings or {}), "status": status}, target_info=target.describe())
