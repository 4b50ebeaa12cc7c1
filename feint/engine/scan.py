"""A scan: many runs (attacks x parameter sets x samples) against one target.

Each attack of the plan runs once with its parameter set; each finished run is
committed to the store before the next starts, so a scan stopped midway keeps every
run it finished.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from feint.attacks.base import Attack
from feint.attacks.catalog import attacks as catalog, get_attack
from feint.engine.results import ScanResult
from feint.engine.run import execute_run, prepare_run
from feint.errors import FeintError, UnknownName
from feint.store.db import Store
from feint.targets.base import Target

__all__ = ["plan_scan", "execute_scan"]


def plan_scan(
    target: Target,
    attack_names: Sequence[str] | None,
    params: dict[str, dict[str, Any]] | None = None,
    common: dict[str, Any] | None = None,
) -> list[Attack]:
    """Attack instances for a scan, each checked against the target before anything runs.

    ``attack_names``: ``None`` or empty means every attack compatible with the target.
    ``params``: per attack name, parameter values; ``common``: values for every attack
    (sample_index, seed)."""
    params = params or {}
    if attack_names:
        names = list(dict.fromkeys(attack_names))  # each attack once
        classes = [get_attack(n) for n in names]
    else:
        classes = [cls for cls in catalog().values() if cls.compatible(target)]
        if not classes:
            raise FeintError(f"no attack in the catalog is compatible with target {target.target_name}")
    for name in params:
        if name not in {cls.name for cls in classes}:
            raise UnknownName("attack in --set", name, [cls.name for cls in classes])
    plan = []
    for cls in classes:
        attack = cls(**(common or {}))
        attack.options.update(params.get(cls.name, {}))
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
