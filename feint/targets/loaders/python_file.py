"""Targets written in Python: a file holding a target class, loaded by running the file.

The class is either feint's (a :class:`feint.targets.Target` subclass) or Counterfit's
(a ``CFTarget`` subclass, or any class with Counterfit's attributes: ``target_name``,
``data_type``/``target_data_type``, ``input_shape``/``target_input_shape``,
``output_classes``/``target_output_classes``, ``X``, ``load`` and ``predict``). A file
holding several target classes names the one to use as ``FILE.py:CLASS``.

Loading a Python file runs its code, exactly as importing it would: load only files you
trust. A Counterfit file's ``from counterfit.core.targets import CFTarget`` keeps working
when Counterfit is not installed (feint's :mod:`feint.compat.counterfit` answers it).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

from feint.compat.counterfit import CFTarget, counterfit_lacks
from feint.errors import CodeFailed, FeintError
from feint.targets.base import DATA_TYPES, LoadedTarget, Target
from feint.targets.loaders.checks import Checker, guarded, shape_too_large, user_code
from feint.targets.loaders.samples import labels
from feint.targets.spec import TargetSpec

__all__ = ["load_python_target", "CounterfitTarget", "wrap_counterfit"]

_NAME_ATTRS = ("target_name", "model_name")
_TYPE_ATTRS = ("target_data_type", "data_type")
_SHAPE_ATTRS = ("target_input_shape", "input_shape")
_CLASSES_ATTRS = ("target_output_classes", "output_classes")


def _first(obj: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None and not (hasattr(value, "__len__") and len(value) == 0):
            return value
    return None


def _alias_counterfit() -> None:
    """Let ``from counterfit.core.targets import CFTarget`` resolve to feint's when Counterfit is absent."""
    if "counterfit.core.targets" in sys.modules or importlib.util.find_spec("counterfit") is not None:
        return
    from feint.compat import counterfit as compat

    root = types.ModuleType("counterfit")
    core = types.ModuleType("counterfit.core")
    root.__path__, core.__path__ = [], []  # packages, so the dotted import resolves
    root.core, core.targets, core.attacks = core, compat, compat  # type: ignore[attr-defined]
    sys.modules.setdefault("counterfit", root)
    sys.modules.setdefault("counterfit.core", core)
    sys.modules.setdefault("counterfit.core.targets", compat)
    sys.modules.setdefault("counterfit.core.attacks", compat)


def _bounds(declared: Any, where: str) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in declared)
    except (TypeError, ValueError):
        raise FeintError(f"{where}.bounds expects (lo, hi), two numbers; got {declared!r}") from None
    return lo, hi


def _is_counterfit(cls: type) -> bool:
    if issubclass(cls, CFTarget):
        return cls is not CFTarget
    return (
        callable(getattr(cls, "predict", None))
        and callable(getattr(cls, "load", None))
        and _first(cls, _NAME_ATTRS) is not None
        and _first(cls, _SHAPE_ATTRS) is not None
    )


def load_python_target(spec: str, trust: bool = False) -> Target:
    """Run the file ``spec`` names (``FILE.py`` or ``FILE.py:CLASS``) and build its target
    class (not loaded yet: ``ensure_loaded`` loads it)."""
    parsed = TargetSpec.parse(spec)
    file, wanted = parsed.name, parsed.class_name
    path = Path(file).expanduser().resolve()
    if not path.is_file():
        raise FeintError(f"target file not found: {file}")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"feint_target_{path.stem}_{digest}"
    _alias_counterfit()
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the file may import its neighbours
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise FeintError(f"{file}: cannot be loaded as Python")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except SystemExit as exc:
        raise FeintError(f"{file}: running the file exited ({exc.code})") from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - any failure of the user's file is one line
        sys.modules.pop(name, None)
        if isinstance(exc, FeintError):
            raise
        at = f"at line {exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise CodeFailed(file, "running the file", exc, at) from exc
    own = [obj for obj in vars(module).values() if isinstance(obj, type) and obj.__module__ == name]
    candidates = [c for c in own if (issubclass(c, Target) and c is not Target) or _is_counterfit(c)]
    if wanted is not None:
        chosen = [c for c in candidates if c.__name__ == wanted]
        if not chosen:
            names = ", ".join(c.__name__ for c in candidates) or "none"
            raise FeintError(f"{file}: no target class {wanted!r}; target classes in the file: {names}")
        cls = chosen[0]
    elif not candidates:
        raise FeintError(
            f"{file}: defines no target class; accepted: a subclass of feint.targets.Target, "
            "or a Counterfit target (target_name, data_type, input_shape, output_classes, X, "
            "load, predict)"
        )
    elif len(candidates) > 1:
        names = ", ".join(c.__name__ for c in candidates)
        raise FeintError(f"{file}: defines several target classes ({names}); name one as {file}:CLASS")
    else:
        cls = candidates[0]
    with user_code(file, f"creating {cls.__name__}()"):
        instance = cls()
    origin = str(path) + (f":{wanted}" if wanted else "")
    if isinstance(instance, Target):
        _guard_target(instance, file)
        if not instance.target_name:
            instance.target_name = path.stem
        if instance.data_type not in DATA_TYPES:
            raise FeintError(
                f"{file}: {cls.__name__}.data_type expects one of {', '.join(DATA_TYPES)}; got {instance.data_type!r}"
            )
        instance.spec = origin
        return instance
    return CounterfitTarget(instance, origin, file)


def _object_origin(obj: Any) -> str:
    """What rebuilds a Counterfit object in a worker: ``FILE.py:CLASS`` for a class defined
    in a file other than a script's main module; else a name no loader reads (such a
    target runs in this process only)."""
    cls = type(obj)
    module = sys.modules.get(cls.__module__)
    source = getattr(module, "__file__", None)
    if cls is CFTarget or cls.__module__ == "__main__" or not source or not str(source).endswith(".py"):
        return f"<{cls.__name__} object>"
    return f"{Path(source).resolve()}:{cls.__name__}"


def wrap_counterfit(obj: Any) -> CounterfitTarget:
    """A Counterfit target object (an instance of a ``CFTarget`` subclass, or any object
    with Counterfit's attributes) as a feint target, built once per object; one that lacks
    a part is refused in one line naming what it lacks."""
    cached = getattr(obj, "_feint_target", None)
    if isinstance(cached, CounterfitTarget) and cached.obj is obj:
        return cached
    missing = counterfit_lacks(obj)
    if missing:
        raise FeintError(
            f"a {type(obj).__name__} object is not a target: it lacks {', '.join(missing)} "
            "(accepted: a feint.targets.Target, or a Counterfit target with load, predict, "
            "input_shape, output_classes, data_type and X)"
        )
    origin = _object_origin(obj)
    target = CounterfitTarget(obj, origin, type(obj).__name__)
    try:
        obj._feint_target = target
    except (AttributeError, TypeError):  # an object that takes no new attributes: not cached
        pass
    return target


def _guard_target(target: Target, file: str) -> None:
    """Make every failure of a feint target class's code one line: its ``load``, its
    ``predict``, its ``torch_module`` and the module's forward pass (the instance's own
    attributes, so the class and its capabilities stay as written)."""
    name = type(target).__name__
    instance = vars(target)
    instance["load"] = guarded(file, f"{name}.load()", target.load)
    instance["predict"] = guarded(file, f"{name}.predict()", target.predict)
    if target.open_box:
        own = guarded(file, f"{name}.torch_module()", target.torch_module)
        wrapped: dict[int, Any] = {}

        def torch_module() -> Any:
            net = own()
            if net is None:
                return None
            if id(net) not in wrapped:
                wrapped.clear()
                wrapped[id(net)] = _guard_module(net, file, f"{name}'s torch module")
            return wrapped[id(net)]

        instance["torch_module"] = torch_module


def _guard_module(net: Any, file: str, what: str) -> Any:
    import torch

    class Guarded(torch.nn.Module):
        """The user's module, its failures one line."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with user_code(file, what):
                return self.net(x)

    return Guarded().train(net.training)


class CounterfitTarget(LoadedTarget):
    """A Counterfit target object seen through feint's Target API."""

    def __init__(self, obj: Any, origin: str, where: str) -> None:
        self.obj = obj
        self.where = where
        cls_name = type(obj).__name__
        file = Path(TargetSpec.parse(origin).name) if not origin.startswith("<") else Path(cls_name)
        name = _first(obj, _NAME_ATTRS) or file.stem
        dtype = _first(obj, _TYPE_ATTRS)
        if dtype not in DATA_TYPES:
            raise FeintError(f"{where}: {cls_name}.data_type expects one of {', '.join(DATA_TYPES)}; got {dtype!r}")
        shape = _first(obj, _SHAPE_ATTRS)
        if dtype == "text":  # samples are strings; a declared shape (Counterfit's (1,)) says nothing more
            shape = (1,)
        try:
            own_shape = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise FeintError(
                f"{where}: {cls_name}.input_shape expects a tuple of positive integers; got {shape!r}"
            ) from None
        if not own_shape or min(own_shape) <= 0:
            raise FeintError(f"{where}: {cls_name}.input_shape expects a tuple of positive integers; got {shape!r}")
        too_large = shape_too_large(own_shape)
        if too_large:
            raise FeintError(f"{where}: {cls_name}.input_shape {list(own_shape)} {too_large}")
        classes = _first(obj, _CLASSES_ATTRS)
        if classes is None or len(list(classes)) < 2:
            raise FeintError(f"{where}: {cls_name}.output_classes expects at least two classes; got {classes!r}")
        channels = getattr(obj, "channels", None)
        if channels not in (None, "first", "last"):
            raise FeintError(f"{where}: {cls_name}.channels expects 'first' or 'last'; got {channels!r}")
        self.channels_last = (
            dtype == "image"
            and len(own_shape) == 3
            and (
                channels == "last"
                or (channels is None and own_shape[-1] in (1, 3, 4) and own_shape[0] not in (1, 3, 4))
            )
        )
        self.own_shape = own_shape
        self.target_name = str(name)
        self.data_type = dtype
        self.input_shape = (
            () if dtype == "text" else (own_shape[-1], *own_shape[:-1]) if self.channels_last else own_shape
        )
        self.output_classes = tuple(str(c) for c in classes)
        declared = getattr(obj, "bounds", None) or getattr(obj, "clip_values", None)
        self.bounds = _bounds(declared, f"{where}: {cls_name}") if declared is not None else (0.0, 1.0)
        self._bounds_declared = declared is not None
        self.description = ((type(obj).__doc__ or "").strip().splitlines() or [""])[0] or (
            f"Counterfit target {cls_name} from {file.name}"
        )
        super().__init__()
        self.spec = origin
        self._open_box = callable(getattr(obj, "torch_module", None)) and dtype != "text"
        self._module = None

    def _to_feint(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        if x.shape[1:] != self.own_shape:
            if int(np.prod(x.shape[1:])) != int(np.prod(self.own_shape)):
                raise FeintError(
                    f"{self.where}: samples X of shape {list(x.shape[1:])} do not fit input_shape "
                    f"{list(self.own_shape)}"
                )
            x = x.reshape(n, *self.own_shape)
        return np.moveaxis(x, -1, 1) if self.channels_last else x

    def load(self) -> None:
        with user_code(self.where, f"{type(self.obj).__name__}.load()"):
            self.obj.load()
            if callable(getattr(self.obj, "set_loaded_status", None)):
                self.obj.set_loaded_status(True)
        if self.data_type == "text":
            return self._load_texts()
        try:
            x = np.asarray(self.obj.X, dtype=np.float32)
        except (TypeError, ValueError):
            raise FeintError(f"{self.where}: {type(self.obj).__name__}.X must hold numeric samples") from None
        if x.ndim == 0 or len(x) == 0:
            raise FeintError(f"{self.where}: {type(self.obj).__name__}.X holds no samples after load()")
        self.X = np.ascontiguousarray(self._to_feint(x), np.float32)
        y = _first(self.obj, ("y", "Y"))
        self.y = (
            None
            if y is None
            else labels(np.asarray(y), self.output_classes, Checker(self.where), f"{type(self.obj).__name__}.y")
        )
        if not self._bounds_declared:
            lo, hi = float(self.X.min()), float(self.X.max())
            self.bounds = (0.0, 1.0) if lo >= 0 and hi <= 1 else (0.0, 255.0) if lo >= 0 and hi <= 255 else (lo, hi)
        if self._open_box:
            with user_code(self.where, f"{type(self.obj).__name__}.torch_module()"):
                self._module = self._wrap(self.obj.torch_module())
        self.info = {
            "source": self.spec,
            "adapter": "python (Counterfit API)",
            "class": type(self.obj).__name__,
            **({} if self._bounds_declared else {"bounds_from": "the samples' range"}),
        }

    def _load_texts(self) -> None:
        from feint.targets.text import text_array

        texts = self.obj.X
        if isinstance(texts, str) or not all(isinstance(t, str) for t in list(texts)):
            raise FeintError(f"{self.where}: {type(self.obj).__name__}.X must hold the samples as strings")
        if not len(texts):
            raise FeintError(f"{self.where}: {type(self.obj).__name__}.X holds no samples after load()")
        self.X = text_array(texts)
        y = _first(self.obj, ("y", "Y"))
        self.y = (
            None
            if y is None
            else labels(np.asarray(y), self.output_classes, Checker(self.where), f"{type(self.obj).__name__}.y")
        )
        self.bounds = (0.0, 0.0)
        self.info = {"source": self.spec, "adapter": "python (Counterfit API)", "class": type(self.obj).__name__}

    def _wrap(self, net: Any):
        import torch

        last = self.channels_last
        where, what = self.where, f"{type(self.obj).__name__}'s torch module"

        class CounterfitModule(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                with user_code(where, what):
                    return self.net(x.movedim(1, -1) if last else x)

        module = CounterfitModule()
        for p in module.parameters():
            p.requires_grad_(False)
        return module.eval()

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if self.data_type == "text":  # a list of strings, as Counterfit's text targets take
            z: Any = [str(t) for t in x]
            with user_code(self.where, f"{type(self.obj).__name__}.predict()"):
                out = self.obj.predict(z)
            return self._probabilities(out, len(z))
        z = np.asarray(x, np.float32)
        if self.channels_last:
            z = np.moveaxis(z, 1, -1)
        with user_code(self.where, f"{type(self.obj).__name__}.predict()"):
            out = self.obj.predict(np.ascontiguousarray(z))
        return self._probabilities(out, len(z))

    def _probabilities(self, out: Any, n: int) -> np.ndarray:
        """What the object's predict returned, as probabilities ``(n, classes)``."""
        if hasattr(out, "detach"):  # a torch tensor
            out = out.detach().cpu().numpy()
        try:
            probs = np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError):
            raise FeintError(
                f"{self.where}: {type(self.obj).__name__}.predict must return class "
                "probabilities (an array or a list of lists of numbers)"
            ) from None
        k = len(self.output_classes)
        if k == 2 and (probs.ndim == 1 or (probs.ndim == 2 and probs.shape[1] == 1)) and len(probs.ravel()) == n:
            p = probs.ravel()
            probs = np.stack([1.0 - p, p], axis=1)  # one column: the probability of the second class
        if probs.ndim != 2 or probs.shape != (n, k):
            raise FeintError(
                f"{self.where}: {type(self.obj).__name__}.predict returned shape {list(probs.shape)} "
                f"for {n} samples; expected [{n}, {k}] (one probability per class)"
            )
        return probs.astype(np.float32)
