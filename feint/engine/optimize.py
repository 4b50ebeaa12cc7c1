"""Optimise an attack's options with Optuna: Counterfit's ``optimize``, over every chosen
attack, within the ranges feint's typed parameters declare.

A study has an id; per attack it is an Optuna study named ``ID:ATTACK`` in Optuna's own
SQLite storage, ``optuna.db`` beside feint's store (feint's store keeps its own schema).
Each study's first trial is the attack's defaults (so the best is never worse than them);
then Optuna's TPE sampler, seeded, proposes values. A trial runs the attack on the samples
in four chunks and reports the objective after each, so the median pruner stops a poor
trial early. A study stopped at any moment resumes: finished trials stay, and only the
trials it still lacks run. :func:`best_params` gives a study's best options per attack,
which a later run or scan takes by the study's id.

Objectives (each a single number):

- ``success``: the share of samples turned (maximised);
- ``distance``: the mean L2 distance per sample, a sample not turned counting as the
  largest distance the bounds allow (minimised): turn every sample, as close as possible;
- ``queries``: model queries per turned sample (minimised; a trial that turns none is
  pruned);
- ``score``: the mean confidence of the adversarial label over the samples, 0 for a
  sample not turned (maximised).

Parameters searched by default: every number, choice and true/false option of the attack
except those that set its budget or aim (``eps``, ``norm``, ``targeted``,
``target_labels``, ``top_k_targets``, ``max_queries``); a number without an upper bound is
searched up to ten times its default.
"""

from __future__ import annotations

import math
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from feint.attacks.base import Attack
from feint.attacks.catalog import check_target, get_attack
from feint.attacks.params import Bool, Choice, Float, Int, Param
from feint.attacks.shape import RunShape
from feint.engine.run import execute_run
from feint.errors import FeintError, ParamError
from feint.targets import as_target
from feint.targets.base import Target

__all__ = ["OBJECTIVES", "search_space", "optimize", "best_params", "study_summary", "storage_path", "BUDGET_OPTIONS"]

OBJECTIVES = {
    "success": ("maximize", "the share of samples turned"),
    "distance": ("minimize", "mean L2 per sample, a sample not turned counting as the largest distance"),
    "queries": ("minimize", "model queries per turned sample"),
    "score": ("maximize", "mean confidence of the adversarial label, 0 for a sample not turned"),
}
BUDGET_OPTIONS = ("eps", "norm", "targeted", "target_labels", "top_k_targets", "max_queries")
CHUNKS = 4


def storage_path(store_path: Path) -> Path:
    """Optuna's SQLite file beside feint's store."""
    return Path(store_path).with_name("optuna.db")


HEARTBEAT_S = 10  # a running trial's heartbeat; one silent for GRACE_S was killed
GRACE_S = 60


def _storage(path: Path) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(f"sqlite:///{path}", heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)


def _fail_stale(study: Any) -> None:
    """Mark the trials of a killed process (no heartbeat for GRACE_S) failed, so a study
    does not show them running forever; a store that cannot be written keeps them as they are."""
    import optuna
    import sqlalchemy.exc

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    except sqlalchemy.exc.SQLAlchemyError:
        pass


def _range(p: Param) -> tuple[Any, ...] | None:
    """What Optuna searches for one parameter: ('float', lo, hi, log), ('int', lo, hi, log),
    ('choice', options), or None for a parameter that is not searched."""
    if isinstance(p, Float):
        lo = p.low if p.low is not None else -10 * abs(p.default or 1)
        hi = p.high if p.high is not None else max(10 * abs(p.default or 1), lo + 1)
        if p.low_open and lo == 0:
            lo = min(hi, abs(p.default or 1)) / 100
        log = lo > 0 and hi / lo >= 100
        return ("float", float(lo), float(hi), log)
    if isinstance(p, Int):
        lo = int(p.low) if p.low is not None else 0
        cap = max(10 * abs(int(p.default)), lo + 10)
        hi = int(min(p.high, cap)) if p.high is not None else cap
        return ("int", lo, hi, lo > 0 and hi / lo >= 100)
    if isinstance(p, Bool):
        return ("choice", (True, False))
    if isinstance(p, Choice):
        return ("choice", tuple(p.choices))
    return None


def search_space(cls: type[Attack], names: Sequence[str] | None = None) -> dict[str, tuple[Any, ...]]:
    """The parameters of ``cls`` searched (``names``, default all but the budget's) and their ranges."""
    if names:
        unknown = [n for n in names if n not in cls.params]
        if unknown:
            raise ParamError(
                "{params}: attack {attack} has no option {name!r}; its options: {accepted}",
                attack=cls.name,
                name=unknown[0],
                accepted=", ".join(cls.params),
            )
        chosen = list(names)
    else:
        chosen = [n for n in cls.params if n not in BUDGET_OPTIONS]
    space = {}
    for name in chosen:
        r = _range(cls.params[name])
        if r is None:
            if names:
                raise ParamError(
                    "{params}: option {name} of {attack} is not a number or a choice", name=name, attack=cls.name
                )
            continue
        space[name] = r
    if not space:
        raise FeintError(f"attack {cls.name} has no option to search; name some with --params")
    return space


def _objective_value(objective: str, run: Any, span_l2: float) -> float:
    n = max(run.n, 1)
    if objective == "success":
        return run.successes / n
    if objective == "distance":
        return sum(s.l2 if s.success else span_l2 for s in run.samples) / n
    if objective == "queries":
        return run.queries / run.successes if run.successes else math.inf
    return sum((s.final_conf or 0.0) if s.success else 0.0 for s in run.samples) / n


def _combine(objective: str, parts: list[tuple[int, float, int]]) -> float:
    """The objective over the chunks run so far: (samples, value, successes) per chunk."""
    if objective == "queries":
        queries = sum(v * t for _, v, t in parts if math.isfinite(v))
        turned = sum(t for *_, t in parts)
        return queries / turned if turned else math.inf
    total = sum(n for n, *_ in parts)
    return sum(n * v for n, v, _ in parts) / max(total, 1)


def optimize(
    target: Target,
    attacks: Sequence[str],
    *,
    store_path: Path,
    trials: int = 20,
    objective: str = "success",
    samples: Sequence[int] = tuple(range(20)),
    seed: int = 0,
    fixed: Mapping[str, Mapping[str, Any]] | None = None,
    params: Mapping[str, Sequence[str]] | None = None,
    resume: str | None = None,
    on_trial: Callable[[str, int, float | None, str], None] | None = None,
) -> str:
    """Run (or, with ``resume``, continue) a study; returns its id. ``fixed``: option values
    per attack kept in every trial; ``params``: per attack the options to search."""
    import optuna

    target = as_target(target)
    storage = _storage(storage_path(store_path))
    if resume is not None:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage) if s.study_name.startswith(resume + ":")]
        if not names:
            raise FeintError(f"no stored study with id {resume!r}")
        study_id = resume
    else:
        if objective not in OBJECTIVES:
            raise ParamError(
                "{objective} expects one of {accepted}; got {got}", accepted=", ".join(OBJECTIVES), got=objective
            )
        if trials < 1:
            raise ParamError("{trials} expects 1 or more; got {got}", got=trials)
        target.check_indices(samples)
        study_id = uuid.uuid4().hex[:8]
        names = []
        for name in attacks:
            cls = get_attack(name)
            check_target(cls, target)
            given = dict((fixed or {}).get(name, {}))
            checked = cls(**given).options  # the fixed values, checked and kept as data
            own = {checked.spec(k).name: checked.values()[checked.spec(k).name] for k in given}
            space = {k: v for k, v in search_space(cls, (params or {}).get(name)).items() if k not in own}
            if not space:
                raise FeintError(f"every option of {cls.name} searched is fixed by --set; leave one free")
            study = optuna.create_study(
                study_name=f"{study_id}:{cls.name}",
                storage=storage,
                direction="maximize" if OBJECTIVES[objective][0] == "maximize" else "minimize",
                sampler=optuna.samplers.TPESampler(seed=seed),
                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
            )
            attrs = {
                "target": getattr(target, "spec", target.target_name),
                "attack": cls.name,
                "objective": objective,
                "trials": trials,
                "samples": [int(i) for i in samples],
                "seed": seed,
                "fixed": own,
                "space": {k: list(v) for k, v in space.items()},
            }
            for key, value in attrs.items():
                study.set_user_attr(key, value)
            defaults = {k: cls.params[k].to_json(cls.params[k].default) for k in space if k not in own}
            study.enqueue_trial(defaults, user_attrs={"defaults": True})
            names.append(study.study_name)
    for study_name in names:
        _run_study(target, storage, study_name, on_trial)
    return study_id


def _run_study(target: Target, storage: Any, study_name: str, on_trial: Callable | None) -> None:
    import optuna

    attrs = optuna.load_study(study_name=study_name, storage=storage).user_attrs
    study = optuna.load_study(
        study_name=study_name,
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=int(attrs["seed"]) + _done(study_name, storage)),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )
    cls = get_attack(attrs["attack"])
    objective = attrs["objective"]
    space = {k: tuple(v) for k, v in attrs["space"].items()}
    idx = np.asarray(attrs["samples"], dtype=np.int64)
    chunks = [c for c in np.array_split(idx, min(CHUNKS, len(idx))) if len(c)]
    lo, hi = target.bounds
    span_l2 = float(hi - lo) * math.sqrt(float(np.prod(target.input_shape)))
    sign = 1 if OBJECTIVES[objective][0] == "maximize" else -1

    def run_trial(trial: Any) -> float:
        values = dict(attrs["fixed"])
        for name, r in space.items():
            if r[0] == "float":
                values[name] = trial.suggest_float(name, r[1], r[2], log=bool(r[3]))
            elif r[0] == "int":
                values[name] = trial.suggest_int(name, int(r[1]), int(r[2]), log=bool(r[3]))
            else:
                values[name] = trial.suggest_categorical(name, list(r[1]))
        attack = cls(**values)
        attack.check_options(attack.options.as_dict())
        parts: list[tuple[int, float, int]] = []
        offset = 0
        for step, chunk in enumerate(chunks):
            shape = RunShape(samples=tuple(int(i) for i in chunk), seed=int(attrs["seed"]))
            run = execute_run(target, attack, shape=shape, offset=offset)
            offset += len(chunk)
            parts.append((run.n, _objective_value(objective, run, span_l2), run.successes))
            value = _combine(objective, parts)
            if step < len(chunks) - 1:
                trial.report(value if math.isfinite(value) else -sign * 1e30, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        if not math.isfinite(value):
            raise optuna.TrialPruned()
        return value

    def tell(study: Any, trial: Any) -> None:
        if on_trial:
            on_trial(attrs["attack"], trial.number, trial.value, trial.state.name.lower())

    left = int(attrs["trials"]) - _done(study_name, storage)
    if left > 0:
        study.optimize(run_trial, n_trials=left, callbacks=[tell], catch=(FeintError,))


def _done(study_name: str, storage: Any) -> int:
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=study_name, storage=storage)
    # A trial cut short (Ctrl-C, a kill) is not counted: a resume runs it again.
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def study_summary(study_id: str, store_path: Path) -> dict[str, Any]:
    """A study per attack: objective, trials run and planned, the defaults' value, the best
    value and its options, and every trial (number, state, value, options)."""
    import optuna
    from optuna.trial import TrialState

    storage = _storage(storage_path(store_path))
    names = [s.study_name for s in optuna.get_all_study_summaries(storage) if s.study_name.startswith(study_id + ":")]
    if not names:
        raise FeintError(f"no stored study with id {study_id!r}")
    out: dict[str, Any] = {"study_id": study_id, "attacks": {}}
    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        _fail_stale(study)
        attrs = study.user_attrs
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        defaults = next((t.value for t in complete if t.user_attrs.get("defaults")), None)
        best = study.best_trial if complete else None
        out["target"] = attrs["target"]
        out["attacks"][attrs["attack"]] = {
            "objective": attrs["objective"],
            "direction": OBJECTIVES[attrs["objective"]][0],
            "trials_planned": attrs["trials"],
            "trials_done": _done(name, storage),
            "samples": attrs["samples"],
            "seed": attrs["seed"],
            "defaults_value": defaults,
            "best_value": best.value if best else None,
            "best_params": {**attrs["fixed"], **best.params} if best else None,
            "trials": [
                {"number": t.number, "state": t.state.name.lower(), "value": t.value, "params": t.params}
                for t in trials
            ],
        }
    return out


def best_params(study_id: str, store_path: Path) -> dict[str, dict[str, Any]]:
    """The best options found per attack of a study (the fixed ones with them)."""
    summary = study_summary(study_id, store_path)
    found = {a: s["best_params"] for a, s in summary["attacks"].items() if s["best_params"] is not None}
    if not found:
        raise FeintError(
            f"study {study_id} has no finished trial yet; resume it with feint optimize --resume {study_id}"
        )
    return found
