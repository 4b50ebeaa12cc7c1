"""Counterfit's target and attack classes, so Counterfit's target files, scripts and tests run in feint.

A Counterfit target file changes only its import line::

    from counterfit.core.targets import CFTarget      # Counterfit 1.1, before
    from counterfit.core.targets import Target        # Counterfit 1.0, before
    from feint.compat.counterfit import CFTarget      # in feint (``Target`` is the same class)

and is then used like any target: ``feint scan my_target.py -a hop_skip_jump``. Both
generations of Counterfit's attribute names are read: ``target_name``,
``target_data_type``, ``target_input_shape``, ``target_output_classes``,
``target_endpoint`` (1.0) and ``target_name``, ``data_type``, ``input_shape``,
``output_classes``, ``endpoint`` (1.1), plus ``X`` (the samples), ``load()`` and
``predict(x)`` (class probabilities, as arrays or lists of lists). The base class has
Counterfit's helpers that target files and scripts call: ``fullpath`` (a file beside the
target's own file), ``set_loaded_status``/``loaded_status``, ``get_samples`` (an int, a
list or a ``range``), ``predict_wrapper``, ``get_sample_labels`` (outputs and labels),
``outputs_to_labels``, the attacks a target holds (``add_attack``, ``set_active_attack``,
``get_active_attack``, ``get_attacks``) and ``get_results_folder``.

feint's own additions are optional: ``y`` (true labels), ``bounds`` (the value range;
otherwise inferred from the samples), ``channels`` (``"last"`` for images whose
``input_shape`` is height, width, channels) and ``torch_module()`` (a module mapping a
batch in the target's layout to logits, which makes the target open-box).

:class:`CFAttackOptions` and :class:`CFAttack` are Counterfit's options container and
attack record (``from counterfit.core.attacks import CFAttack, CFAttackOptions``);
:class:`feint.compat.core.Counterfit` builds and runs them on feint's attacks.

Loading a target file runs its code, as importing any Python module does.
"""

from __future__ import annotations

import datetime
import inspect
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from feint.config import feint_home, path_component
from feint.errors import FeintError

__all__ = ["CFTarget", "Target", "CFAttack", "CFAttackOptions", "CF_OPTIONS", "counterfit_lacks"]

# What any Counterfit-style target object must have, by Counterfit's names (either generation).
_NEEDED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("load", ("load",)),
    ("predict", ("predict",)),
    ("input_shape", ("input_shape", "target_input_shape")),
    ("output_classes", ("output_classes", "target_output_classes")),
    ("data_type", ("data_type", "target_data_type")),
)


def _present(obj: Any, names: tuple[str, ...]) -> bool:
    for name in names:
        value = getattr(obj, name, None)
        if value is None:
            continue
        if hasattr(value, "__len__") and len(value) == 0:
            continue
        return True
    return False


def counterfit_lacks(obj: Any) -> list[str]:
    """The parts of a Counterfit target that ``obj`` lacks (empty: it has them all):
    ``load``, ``predict``, ``input_shape``, ``output_classes``, ``data_type``, under
    either generation's names."""
    missing = []
    for label, names in _NEEDED:
        if label in ("load", "predict"):
            if not callable(getattr(obj, label, None)):
                missing.append(label)
        elif not _present(obj, names):
            missing.append(label)
    return missing


def _new_id() -> str:
    return uuid.uuid4().hex[:8]


class CFTarget:
    """Counterfit's ``CFTarget`` (1.0's ``Target``): subclass it, set the attributes, write
    ``load`` and ``predict``. Keyword arguments become attributes, as in Counterfit
    (``CFTarget(data_type="image", load=fn, predict=fn, ...)``)."""

    target_name: str = ""
    data_type: str = ""
    task: str = "classification"
    endpoint: str = ""
    input_shape: Sequence[int] = ()
    output_classes: Sequence[Any] = ()
    classifier: str = "closed-box"
    X: Any = ()

    def __init__(self, **kwargs: Any) -> None:
        self.target_id = _new_id()
        self.loaded_status = False
        self.active_attack: Any = None
        self.attacks: dict[str, Any] = {}
        self.logger: Any = None
        self.attack_samples: np.ndarray | None = None
        for key, value in kwargs.items():
            setattr(self, key, value)

    # -- what a target writes ----------------------------------------------------------
    def load(self) -> None:
        """Load the model and the samples into ``self.X``."""
        raise NotImplementedError

    def predict(self, x: Any) -> Any:
        """Class probabilities for a batch, one row per sample."""
        raise NotImplementedError

    # -- Counterfit's helpers -------------------------------------------------------------
    def _shape(self) -> tuple[int, ...]:
        shape = getattr(self, "target_input_shape", None) or self.input_shape
        return tuple(int(d) for d in shape)

    def _classes(self) -> list[Any]:
        return list(getattr(self, "target_output_classes", None) or self.output_classes)

    def get_data_type(self) -> str:
        return getattr(self, "target_data_type", None) or self.data_type

    def fullpath(self, file: str) -> str:
        """The path of ``file`` in the folder of the file that defines this target's class
        (the current folder for a class defined interactively)."""
        try:
            source = inspect.getfile(type(self))
        except (TypeError, OSError):
            source = ""
        folder = Path(source).resolve().parent if source else Path.cwd()
        return os.path.join(str(folder), file)

    def set_loaded_status(self, status: bool = False) -> None:
        """Mark the target loaded (``loaded_status``), as Counterfit's ``interact`` does."""
        self.loaded_status = bool(status)

    def get_samples(self, sample_index: int | Sequence[int] | range = 0) -> np.ndarray:
        """The samples at ``sample_index`` (an int, a list or a ``range``), shaped
        ``(n, *input_shape)``; text samples as a flat array of strings."""
        if isinstance(sample_index, (bool, np.bool_)):
            raise FeintError(f"sample_index expects an int, a list or a range; got {sample_index!r}")
        if isinstance(sample_index, (int, np.integer)):
            idx = [int(sample_index)]
        elif isinstance(sample_index, Iterable):
            idx = [int(i) for i in sample_index]
        else:
            raise FeintError(f"sample_index expects an int, a list or a range; got {sample_index!r}")
        n = len(self.X)
        bad = [i for i in idx if not -n <= i < n]
        if not idx or bad:
            shown = bad[0] if bad else "none"
            raise FeintError(f"sample index {shown} is outside the samples; accepted: 0 to {n - 1}")
        rows = [self.X[i] for i in idx]
        if rows and isinstance(rows[0], str):
            return np.array(rows)
        batch = np.asarray([np.asarray(r) for r in rows])
        shape = self._shape()
        return batch.reshape(len(idx), *shape) if shape else batch

    def set_attack_samples(self, sample_index: int | Sequence[int] = 0) -> np.ndarray:
        """Choose the samples an attack works on (kept in ``self.attack_samples``) and return them."""
        self.attack_samples = self.get_samples(sample_index)
        return self.attack_samples

    def predict_wrapper(self, x: Any, **kwargs: Any) -> Any:
        """``predict``, with each query handed to ``self.logger.log`` when a logger is set."""
        output = self.predict(x)
        logger = getattr(self, "logger", None)
        if logger is not None and callable(getattr(logger, "log", None)):
            labels = self.outputs_to_labels(output)
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
            for sample, row in zip(x, output, strict=False):
                logger.log(
                    {
                        "timestamp": stamp,
                        "input": np.asarray(sample).reshape(-1).tolist(),
                        "output": np.asarray(row).tolist(),
                        "labels": labels,
                    }
                )
        return output

    def outputs_to_labels(self, output: Any, threshold: float = 0.5) -> list[Any]:
        """Class names for a batch of probability rows (a single column is P(second class))."""
        out = np.asarray(output, dtype=np.float64)
        classes = self._classes()
        if len(classes) == 2 and (out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1)):
            return [classes[int(p > threshold)] for p in out.ravel()]
        return [classes[int(i)] for i in np.argmax(np.atleast_2d(out), axis=1)]

    def get_sample_labels(self, samples: Any) -> tuple[Any, list[Any]]:
        """Counterfit's pair for a batch: the target's outputs and their labels."""
        output = self.predict_wrapper(samples)
        return output, self.outputs_to_labels(output)

    # -- the attacks a target holds ---------------------------------------------------------
    def add_attack(self, attack: Any) -> None:
        """Keep ``attack`` (a :class:`CFAttack`) under its ``attack_id``."""
        self.attacks[attack.attack_id] = attack

    def set_active_attack(self, attack_id: str) -> None:
        """Make the attack kept under ``attack_id`` the active one."""
        if attack_id not in self.attacks:
            raise FeintError(f"no attack {attack_id!r} on this target; accepted: {', '.join(self.attacks) or 'none'}")
        self.active_attack = self.attacks[attack_id]

    def get_active_attack(self) -> str | None:
        """The id of the active attack, or None."""
        return None if self.active_attack is None else self.active_attack.attack_id

    def get_attacks(self, scan_id: str | None = None) -> dict[str, Any]:
        """The attacks kept, all or those of one scan."""
        if scan_id:
            return {k: a for k, a in self.attacks.items() if getattr(a, "scan_id", None) == scan_id}
        return self.attacks

    def get_results_folder(self, folder_path: str | None = None) -> str:
        """Where results of attacks on this target are written: ``folder_path``, or
        ``$FEINT_HOME/artifacts/counterfit/<target_name>``."""
        if folder_path:
            return folder_path
        name = getattr(self, "target_name", "") or type(self).__name__
        return str(feint_home() / "artifacts" / "counterfit" / path_component(name))


Target = CFTarget  # Counterfit 1.0's name for the same base class


# Counterfit's own options of every attack (not the algorithm's), with their defaults.
CF_OPTIONS: dict[str, Any] = {"sample_index": 0, "logger": "default"}


class CFAttackOptions:
    """Counterfit's options of one attack: each option an attribute; the algorithm's names
    in ``default_options_list`` and Counterfit's own (``sample_index``, ``logger``) in
    ``cfattack_options_list``; every earlier set of values in ``previous_options``, the
    defaults first. ``targeted`` starts False (Counterfit runs attacks untargeted unless
    told otherwise) and ``target_labels`` comes with it."""

    def __init__(
        self,
        *,
        default_options_list: Sequence[str] = (),
        cfattack_options_list: Sequence[str] = (),
        **options: Any,
    ) -> None:
        self.default_options_list = list(default_options_list)
        self.cfattack_options_list = list(cfattack_options_list)
        self.previous_options: list[dict[str, Any]] = []
        for key, value in options.items():
            if key == "targeted":
                value = False
                if "target_labels" not in options:
                    self.target_labels: Any = 0
            elif key == "verbose":
                value = False
            setattr(self, key, value)
        self.save_previous_options()

    def _known(self) -> list[str]:
        return [*self.default_options_list, *self.cfattack_options_list]

    def get_default_options(self) -> dict[str, Any]:
        """The algorithm's options with the values they started with."""
        first = self.previous_options[0] if self.previous_options else {}
        return {name: first.get(name, getattr(self, name)) for name in self.default_options_list}

    def get_current_options(self) -> dict[str, Any]:
        """The algorithm's options with their current values."""
        return {name: getattr(self, name) for name in self.default_options_list}

    def get_all_options(self) -> dict[str, Any]:
        """Every option (the algorithm's, then Counterfit's) with its current value."""
        return {name: getattr(self, name) for name in self._known()}

    def save_previous_options(self) -> None:
        """Keep the current values in ``previous_options``."""
        self.previous_options.append(self.get_all_options())

    def set_options(self, options_to_update: dict[str, Any]) -> None:
        """Set options by name, keeping the values before in ``previous_options``; an
        unknown name is refused before any is set."""
        known = set(self._known()) | {"target_labels"}
        unknown = [k for k in options_to_update if k not in known]
        if unknown:
            raise FeintError(f"unknown option {unknown[0]!r}; accepted: {', '.join(self._known())}")
        self.save_previous_options()
        for key, value in options_to_update.items():
            setattr(self, key, value)

    update = set_options  # Counterfit 1.1's name

    def get_all(self) -> dict[str, Any]:
        """Counterfit 1.1's name for :meth:`get_all_options`."""
        return self.get_all_options()

    def save_options(self, filename: str) -> str:
        """Write every option's current value to ``filename`` as JSON; returns the path."""
        import json

        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        Path(filename).write_text(json.dumps(self.get_all_options(), indent=2, default=_jsonable) + "\n")
        return filename


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, range):
        return list(value)
    return str(value)


class CFAttack:
    """Counterfit's record of one attack on one target: what it is (``name``, ``attack``,
    the framework), its ``options`` (:class:`CFAttackOptions`), its status (``pending``,
    ``running``, ``complete``) and, once run, the samples, the labels before and after,
    the ``results`` (the adversarial samples in the target's layout), per-sample
    ``success`` and ``elapsed_time``."""

    def __init__(
        self,
        name: str,
        target: Any,
        framework: Any = None,
        attack: Any = None,
        options: CFAttackOptions | None = None,
        scan_id: str | None = None,
    ) -> None:
        self.name = self.attack_name = name
        self.attack_id = _new_id()
        self.scan_id = scan_id
        self.target = target
        self.framework = framework
        self.framework_name = getattr(framework, "name", framework if isinstance(framework, str) else "")
        self.attack = attack
        self.options = options if options is not None else CFAttackOptions()
        self.created_on = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
        self.attack_status = "pending"
        self.samples: Any = None
        self.initial_labels: list[Any] | None = None
        self.initial_outputs: Any = None
        self.final_outputs: Any = None
        self.final_labels: list[Any] | None = None
        self.results: Any = None
        self.success: list[bool] | None = None
        self.elapsed_time: float | None = None
        self.run_summary: dict[str, Any] | None = None
        self.run: Any = None  # feint's record of the run (a RunResult), once run
        self.logger: Any = None

    def set_results(self, results: Any) -> None:
        self.results = results

    def set_status(self, status: str) -> None:
        self.attack_status = status

    def set_success(self, success: Any = False) -> None:
        self.success = success

    def set_elapsed_time(self, start_time: float, end_time: float) -> None:
        self.elapsed_time = end_time - start_time

    def get_results_folder(self) -> str:
        """This attack's folder under its target's results folder (made if missing)."""
        base = self.target.get_results_folder() if hasattr(self.target, "get_results_folder") else ""
        folder = Path(base or feint_home() / "artifacts" / "counterfit") / self.attack_id
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)

    def save_run_summary(self, filename: str | None = None, verbose: bool = False) -> str:
        """Write the run's summary (sample index, labels before and after, time, success,
        results) as JSON; returns the path."""
        import json

        summary: dict[str, Any] = {
            "sample_index": getattr(self.options, "sample_index", None),
            "initial_labels": self.initial_labels,
            "final_labels": self.final_labels,
            "elapsed_time": self.elapsed_time,
            "num_queries": (self.run_summary or {}).get("num_queries"),
            "success": self.success,
            "results": self.results,
        }
        if verbose:
            summary["input_samples"] = self.samples
        path = filename or os.path.join(self.get_results_folder(), "run_summary.json")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(summary, default=_jsonable) + "\n")
        return path
