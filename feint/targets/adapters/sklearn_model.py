"""scikit-learn models; closed-box (``predict_proba``), or labels only for a model that
has only ``predict`` (its answers are then class indices, in ``classes_`` order).

- skops files (``.skops``): loaded with skops' type check. A file holding types skops does
  not trust by default is refused, naming them, unless the user trusts the model.
- pickle and joblib files (``.pkl``, ``.pickle``, ``.joblib``): unpickling runs code from
  the file, so they are refused unless the user trusts the model (``trust: true`` in the
  target's YAML, or ``--trust-model``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from feint.targets.adapters import ModelAdapter

__all__ = ["SkopsModel", "PickleModel", "TRUST_HINT"]

TRUST_HINT = "set trust: true in the target's YAML or pass --trust-model if you trust the file"


class _SklearnModel(ModelAdapter):
    open_box = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model: Any = None

    def _read(self) -> Any:
        raise NotImplementedError

    def load(self) -> None:
        model = self._read()
        if not hasattr(model, "predict_proba"):
            if not hasattr(model, "predict"):
                raise self.fail(
                    f"{self.path.name} holds a {type(model).__name__}, which has neither predict_proba nor predict"
                )
            self.outputs = "labels"  # its decision only: decision-based attacks run on it
        self.model = model

    def model_classes(self) -> list[str] | None:
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else [str(c) for c in np.asarray(classes).tolist()]

    def expected_input_shape(self):
        n = getattr(self.model, "n_features_in_", None)
        return (int(n),) if n is not None else None

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x).reshape(len(x), -1)
        if self.outputs == "labels":
            classes = getattr(self.model, "classes_", None)
            labels = np.asarray(self.model.predict(x))
            if classes is None:
                return labels
            position = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
            return np.asarray([position.get(v, -1) for v in labels.tolist()], np.int64)
        return np.asarray(self.model.predict_proba(x), np.float64)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "estimator": type(self.model).__name__ if self.model is not None else None}


class SkopsModel(_SklearnModel):
    kind = "skops"

    def _read(self) -> Any:
        import skops.io as sio

        try:
            untrusted = sio.get_untrusted_types(file=str(self.path))
        except Exception as exc:
            raise self.fail(f"{self.path.name} is not a skops file ({type(exc).__name__}: {exc})") from None
        if untrusted and not self.trust:
            raise self.fail(
                f"{self.path.name} holds types that skops does not trust by default: "
                f"{', '.join(untrusted)}; loading them can run their code; {TRUST_HINT}"
            )
        try:
            return sio.load(str(self.path), trusted=untrusted or None)
        except Exception as exc:
            raise self.fail(f"skops could not load {self.path.name} ({type(exc).__name__}: {exc})") from None


class PickleModel(_SklearnModel):
    kind = "pickle"

    def _read(self) -> Any:
        if not self.trust:
            raise self.fail(
                f"{self.path.name} is a pickle file, and unpickling runs code from the file: "
                f"refused; {TRUST_HINT} (or save the model with skops)"
            )
        import joblib

        try:
            return joblib.load(str(self.path))  # reads plain pickles too
        except Exception as exc:
            raise self.fail(f"could not unpickle {self.path.name} ({type(exc).__name__}: {exc})") from None
