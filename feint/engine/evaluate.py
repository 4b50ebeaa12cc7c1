"""An evaluation: the AutoAttack-style worst case over an ensemble, as robust accuracy per budget.

The samples the target labels right (by their true labels; by its own clean labels when
the samples have none) are attacked by the ensemble's attacks in turn, each only on the
samples that every attack before it left standing; a sample counts as robust at a budget
when no attack turned it. Budgets run smallest first, and a sample turned within a smaller
budget is not attacked again at a larger one: that adversarial lies inside the larger ball
too, so it counts there, attributed to the attack that found it.

It is stored like a scan: a scan whose settings say ``kind: evaluate`` and hold the
ensemble, the budgets and the clean pass (which samples the target labels right), and one
run per attack and budget, committed as it finishes. A stopped evaluation resumes from the
first stage with no stored run; a stage's samples follow from the stored runs before it,
and every attack's draws from the seed, so a resumed evaluation gives what an uninterrupted
one gives.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from feint.attacks.catalog import get_attack
from feint.attacks.params import format_indices, parse_indices
from feint.attacks.shape import RunShape
from feint.engine.run import execute_run
from feint.errors import FeintError, ParamError
from feint.records import RunResult, ScanResult
from feint.store.db import Store
from feint.targets import as_target
from feint.targets.base import Target

__all__ = [
    "ENSEMBLES",
    "Stage",
    "ensemble",
    "evaluation_settings",
    "execute_evaluation",
    "find_resumable_evaluation",
    "KIND",
]

KIND = "evaluate"


@dataclass(frozen=True)
class Stage:
    """One attack of an ensemble: its name in reports, the catalog attack and its options
    (the budget's ``norm`` and ``eps`` are added per budget)."""

    name: str
    attack: str
    options: Mapping[str, Any]
    doc: str


# AutoAttack's standard version (Croce and Hein 2020) and a fast one.
ENSEMBLES: dict[str, tuple[Stage, ...]] = {
    "standard": (
        Stage("apgd-ce", "apgd", {"loss": "ce", "max_iter": 100, "n_restarts": 1}, "APGD, cross-entropy, 100 steps"),
        Stage(
            "apgd-t",
            "apgd",
            {"loss": "dlr", "max_iter": 100, "top_k_targets": 9},
            "APGD, targeted DLR loss, 100 steps at each of the 9 classes scored highest",
        ),
        Stage(
            "fab-t",
            "fab",
            {"max_iter": 100, "top_k_targets": 9},
            "FAB, targeted, 100 steps at each of the 9 classes scored highest",
        ),
        Stage("square", "square", {"max_queries": 5000}, "Square, 5,000 queries (closed-box)"),
    ),
    "fast": (
        Stage("apgd-ce", "apgd", {"loss": "ce", "max_iter": 100, "n_restarts": 1}, "APGD, cross-entropy, 100 steps"),
        Stage(
            "apgd-t",
            "apgd",
            {"loss": "dlr", "max_iter": 100, "top_k_targets": 3},
            "APGD, targeted DLR loss, 100 steps at each of the 3 classes scored highest",
        ),
    ),
}
CLOSED_BOX_STAGE = Stage("square", "square", {"max_queries": 5000}, "Square, 5,000 queries (closed-box)")


def ensemble(version: str, target: Target) -> tuple[list[Stage], list[str]]:
    """The stages of ``version`` that run on ``target``, and the names of those that cannot
    (open-box attacks on a closed-box target). A closed-box target's ensemble is Square."""
    if version not in ENSEMBLES:
        raise ParamError("{version} expects one of {accepted}; got {got}", accepted=", ".join(ENSEMBLES), got=version)
    stages = list(ENSEMBLES[version])
    kept = [s for s in stages if get_attack(s.attack).compatible(target)]
    skipped = [s.name for s in stages if s not in kept]
    if not kept and get_attack(CLOSED_BOX_STAGE.attack).compatible(target):
        kept = [CLOSED_BOX_STAGE]
    if not kept:
        raise FeintError(f"no attack of the {version} ensemble runs on target {target.target_name}")
    return kept, skipped


def _eps_list(eps: Sequence[float] | float) -> list[float]:
    values = [eps] if isinstance(eps, (int, float)) else list(eps)
    if not values:
        raise ParamError("{eps} expects one or more budgets above 0; got none")
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ParamError("{eps} expects numbers above 0; got {got}", got=v) from None
        if not np.isfinite(f) or f <= 0:
            raise ParamError("{eps} expects numbers above 0; got {got}", got=v)
        out.append(f)
    return sorted(set(out))


def evaluation_settings(
    target: Target,
    *,
    norm: str = "inf",
    eps: Sequence[float] | float = (0.3,),
    version: str = "standard",
    samples: Any = "0:100",
    seed: int = 0,
    batch_size: int = 100,
    fail_on: Sequence[str] = (),
    checks: bool = True,
) -> dict[str, Any]:
    """The settings of an evaluation, every value checked before anything runs (a bad one
    raises FeintError naming it)."""
    target = as_target(target).ensure_loaded()
    if str(norm).lower() not in ("inf", "linf", "2", "l2"):
        raise ParamError("{norm} expects inf or 2; got {got}", got=norm)
    norm = "inf" if str(norm).lower() in ("inf", "linf") else "2"
    budgets = _eps_list(eps)
    stages, skipped = ensemble(version, target)
    shape = RunShape.of({"sample_index": samples, "seed": seed, "batch_size": batch_size})
    indices = np.asarray(shape.samples, dtype=np.int64)
    target.check_indices(indices)
    for stage in stages:  # each stage's options, checked now
        get_attack(stage.attack)(**{**stage.options, "norm": norm, "eps": budgets[0]})
    from feint.report.robustness import check_evaluation_gates

    check_evaluation_gates(fail_on)
    return {
        "kind": KIND,
        "norm": norm,
        "eps": budgets,
        "version": version,
        "ensemble": [{"name": s.name, "attack": s.attack, "options": dict(s.options), "doc": s.doc} for s in stages],
        "skipped": skipped,
        "sample_index": format_indices(shape.samples),
        "seed": shape.seed,
        "batch_size": shape.batch_size,
        "fail_on": list(fail_on),
        "checks": checks,
    }


def _plan_key(spec: str, settings: Mapping[str, Any]) -> str:
    body = {
        k: settings[k] for k in ("kind", "norm", "eps", "version", "ensemble", "sample_index", "seed", "batch_size")
    }
    return hashlib.sha256(json.dumps([spec, body], sort_keys=True).encode()).hexdigest()[:20]


def find_resumable_evaluation(store: Store, target: Target, settings: Mapping[str, Any]) -> str | None:
    """The unfinished evaluation with these settings on this target, or None."""
    from feint.engine.executors import target_spec

    return store.unfinished_scan(_plan_key(target_spec(as_target(target)), settings))


def _clean_pass(target: Target, indices: np.ndarray, batch_size: int) -> dict[str, Any]:
    """Which samples the target labels right: by their true labels, or (none known) all of
    them, against the target's own clean labels."""
    true = target.y
    labels = []
    for s in range(0, len(indices), batch_size):
        chunk = indices[s : s + batch_size]
        labels.append(np.asarray(target.predict(target.get_samples(chunk))).argmax(1))
    pred = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    classes = list(target.output_classes)
    if true is None:
        correct = indices
        reference = "the target's clean labels (the samples have no true labels)"
    else:
        correct = indices[pred == np.asarray(true)[indices]]
        reference = "the samples' true labels"
    return {
        "samples": int(len(indices)),
        "indices": [int(i) for i in indices],
        "correct": [int(i) for i in correct],
        "clean_labels": [classes[int(k)] for k in pred],
        "reference": reference,
    }


Progress = Callable[[str, float, int, int], None]


def execute_evaluation(
    target: Target,
    store: Store,
    settings: Mapping[str, Any] | None = None,
    *,
    resume: str | None = None,
    on_stage: Progress | None = None,
    on_start: Callable[[str], None] | None = None,
) -> ScanResult:
    """Run an evaluation with ``settings`` (from :func:`evaluation_settings`), or continue
    the stored one ``resume``; return it as stored. ``on_stage(stage, eps, attacked,
    turned)`` is called after each stage, ``on_start(scan_id)`` once the evaluation is
    stored. A KeyboardInterrupt leaves the finished stages
    stored and the evaluation ``interrupted``."""
    from feint.engine.executors import target_spec

    target = as_target(target)
    spec = target_spec(target)
    if resume is not None:
        record = store.scan_record(resume)
        if record is None or record["settings"].get("kind") != KIND:
            raise FeintError(f"no stored evaluation with id {resume!r} to resume")
        if record["target_spec"] and record["target_spec"] != spec:
            raise FeintError(f"evaluation {resume} attacks target {record['target_spec']}, not {spec}")
        scan_id = resume
        config: dict[str, Any] = dict(record["settings"])
        config.pop("status", None)
    else:
        if settings is None:
            raise FeintError("an evaluation needs its settings (evaluation_settings) or the id of one to resume")
        config = dict(settings)
        indices = np.asarray(parse_indices(config["sample_index"]), dtype=np.int64)
        config["clean"] = _clean_pass(target, indices, int(config["batch_size"]))
        if config.get("checks"):
            from feint.engine.checks import run_checks

            found = run_checks(target, indices.tolist(), config["norm"], max(config["eps"]), int(config["seed"]))
            config["checks"] = [c.to_dict() for c in found]
        scan_id = uuid.uuid4().hex[:8]
        store.add_scan(
            scan_id,
            target.target_name,
            datetime.now(timezone.utc).isoformat(timespec="seconds"),
            config,
            target.describe(),
            plan_key=_plan_key(spec, config),
            target_spec=spec,
        )
    if on_start:
        on_start(scan_id)
    status = "interrupted"
    try:
        _run_stages(target, store, scan_id, config, on_stage)
        status = "done"
    finally:
        store.finish_scan(scan_id, status)
    scan = store.get_scan(scan_id)
    assert scan is not None
    return scan


def stage_runs(scan: ScanResult | Sequence[RunResult]) -> dict[tuple[str, float], RunResult]:
    """The stored runs of an evaluation by (stage name, eps)."""
    runs = scan.runs if isinstance(scan, ScanResult) else scan
    return {(r.metrics["stage"], float(r.metrics["eps"])): r for r in runs if "stage" in r.metrics}


def _run_stages(
    target: Target, store: Store, scan_id: str, config: Mapping[str, Any], on_stage: Progress | None
) -> None:
    stored = store.get_scan(scan_id)
    done = stage_runs(stored.runs if stored else [])
    standing = [int(i) for i in config["clean"]["correct"]]
    for eps in config["eps"]:
        for stage in config["ensemble"]:
            key = (stage["name"], float(eps))
            if key in done:
                run = done[key]
            elif not standing:
                continue
            else:
                attack = get_attack(stage["attack"])(**{**stage["options"], "norm": config["norm"], "eps": eps})
                shape = RunShape(
                    samples=tuple(standing), seed=int(config["seed"]), batch_size=int(config["batch_size"])
                )
                log: list[dict] = []
                run = execute_run(target, attack, store.artifacts_root, scan_id=scan_id, query_log=log, shape=shape)
                run.metrics.update({"stage": stage["name"], "eps": float(eps)})
                store.add_run(run, log)
            turned = {s.index for s in run.samples if s.success}
            if on_stage:
                on_stage(stage["name"], float(eps), run.n, len(turned))
            standing = [i for i in standing if i not in turned]
