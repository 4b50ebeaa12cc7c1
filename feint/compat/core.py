"""Counterfit's ``Counterfit`` class: build targets and attacks and run them, on feint.

A Counterfit script changes only its import line::

    from counterfit import Counterfit                 # before (Counterfit 1.1)
    from feint.compat.core import Counterfit          # in feint

    target = CreditFraud()
    target.load()
    cfattack = Counterfit.build_attack(target, "hop_skip_jump")
    cfattack.options.set_options({"sample_index": range(5), "max_iter": 5})
    Counterfit.run_attack(cfattack)
    cfattack.results, cfattack.success, cfattack.final_labels

Attack names are feint's or Counterfit's (``HopSkipJump``, ``carlini``; see
:mod:`feint.attacks.aliases`). A run goes through :func:`feint.api.run`: it is checked,
counted and stored like any run (``cfattack.run`` is feint's record of it, ``feint show
RUN_ID`` reprints it). A mistake raises :class:`feint.errors.FeintError` with one line
saying what was wrong and what is accepted.

This module sits above feint's library of commands (it calls :mod:`feint.api`); the
target and attack classes it builds live in :mod:`feint.compat.counterfit`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from feint.api import run as _api_run
from feint.attacks.catalog import attacks as _catalog
from feint.attacks.catalog import frameworks as _frameworks
from feint.attacks.catalog import get_attack
from feint.compat.counterfit import CF_OPTIONS, CFAttack, CFAttackOptions, CFTarget, Target
from feint.errors import FeintError
from feint.targets import as_target
from feint.targets.loaders.python_file import CounterfitTarget

__all__ = ["Counterfit", "CFAttack", "CFAttackOptions", "CFTarget", "Target"]

# Counterfit's logger names -> feint's (what a run logs: counts per sample, or every call).
_LOGGERS = {"default": "counts", "basic": "counts", "counts": "counts", "calls": "calls", "json": "calls"}


class Counterfit:
    """Counterfit's entry points, as class methods: ``get_frameworks``, ``build_target``,
    ``build_attack`` and ``run_attack``."""

    @classmethod
    def get_frameworks(cls) -> dict[str, dict[str, Any]]:
        """The attack frameworks: per framework its description and its attacks by name."""
        return {
            name: {"description": info["description"], "attacks": dict(_catalog(name))}
            for name, info in _frameworks().items()
        }

    @classmethod
    def build_target(
        cls,
        data_type: str,
        endpoint: str,
        output_classes: Sequence[Any],
        classifier: str,
        input_shape: Sequence[int],
        load_func: Callable[[], Any],
        predict_func: Callable[[Any], Any],
        X: Any,
    ) -> CFTarget:
        """A target from its parts, loaded (``load_func()`` runs once)."""
        target = CFTarget(
            data_type=data_type,
            endpoint=endpoint,
            output_classes=list(output_classes),
            classifier=classifier,
            input_shape=tuple(input_shape),
            load=load_func,
            predict=predict_func,
            X=X,
        )
        as_target(target)  # checks its parts and loads it
        return target

    @classmethod
    def build_attack(cls, target: Any, attack: str, scan_id: str | None = None) -> CFAttack:
        """A new attack named ``attack`` (feint's name or Counterfit's) on ``target``, with
        its default options; refused, before anything runs, when it cannot run on the
        target. The target keeps it (``target.attacks``)."""
        feint_target = as_target(target)
        attack_cls = get_attack(attack)
        attack_cls.check_target(feint_target)
        instance = attack_cls()
        defaults = dict(instance.options.current)
        options = CFAttackOptions(
            **defaults,
            **CF_OPTIONS,
            default_options_list=list(defaults),
            cfattack_options_list=list(CF_OPTIONS),
        )
        cfattack = CFAttack(
            name=attack_cls.name,
            target=target,
            framework=attack_cls.framework,
            attack=instance,
            options=options,
            scan_id=scan_id,
        )
        if callable(getattr(target, "add_attack", None)):
            target.add_attack(cfattack)
        return cfattack

    @classmethod
    def run_attack(cls, attack: CFAttack) -> bool:
        """Run a built attack with its current options, store the run and fill in the
        attack's results; True when it ran. A bad option value raises before anything runs."""
        feint_attack = attack.attack
        if feint_attack is None or not hasattr(feint_attack, "options"):
            raise FeintError("run_attack expects an attack made by Counterfit.build_attack")
        target = as_target(attack.target)
        values = attack.options.get_current_options()
        if getattr(attack.options, "targeted", False) and hasattr(attack.options, "target_labels"):
            labels = attack.options.target_labels
            if labels not in (None, 0, "", ()) and "target_labels" in feint_attack.options.specs:
                values["target_labels"] = labels
        for name, value in values.items():
            if name in feint_attack.options.specs:
                feint_attack.options.set(name, _plain(value))
        index = getattr(attack.options, "sample_index", 0)
        logger = str(getattr(attack.options, "logger", "default"))
        if logger not in _LOGGERS:
            raise FeintError(f"option 'logger' expects one of {', '.join(_LOGGERS)}; got {logger!r}")
        shape = feint_attack.shape.replace(sample_index=_indices(index), logger=_LOGGERS[logger])
        attack.set_status("running")
        started = time.time()
        try:
            run = _api_run(target, feint_attack, shape)
        except BaseException:
            attack.set_status("failed")
            raise
        attack.set_elapsed_time(started, time.time())
        attack.run = run
        attack.samples = _own_layout(target, target.get_samples(list(shape.samples)))
        attack.initial_labels = [s.initial_label for s in run.samples]
        attack.final_labels = [s.final_label for s in run.samples]
        attack.set_success([bool(s.success) for s in run.samples])
        attack.set_results(_results(target, run.artifacts))
        attack.run_summary = {
            "run_id": run.run_id,
            "num_queries": run.queries,
            "successes": run.successes,
            "success_rate": run.success_rate,
        }
        attack.set_status("complete")
        return True


def _plain(value: Any) -> Any:
    """A value as an option takes it: numpy scalars as Python numbers, ranges as lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, range):
        return list(value)
    return value


def _indices(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        raise FeintError(f"option 'sample_index' expects an int, a list or a range; got {value!r}")
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (range, np.ndarray)):
        return [int(i) for i in value]
    return value


def _own_layout(target: Any, x: np.ndarray) -> np.ndarray:
    """Samples in feint's layout (channels first) back in the Counterfit target's own."""
    if isinstance(target, CounterfitTarget):
        if target.channels_last:
            x = np.moveaxis(x, 1, -1)
        return x.reshape(len(x), *target.own_shape)
    return x


def _results(target: Any, artifacts: str | None) -> np.ndarray | None:
    """The run's adversarial samples (in the target's own layout), where the run kept them."""
    if not artifacts:
        return None
    from pathlib import Path

    path = Path(artifacts) / "adversarial.npz"
    if not path.is_file():
        return None
    with np.load(path) as data:
        return _own_layout(target, np.asarray(data["x_adv"]))
