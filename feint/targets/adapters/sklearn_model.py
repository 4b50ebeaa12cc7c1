"""scikit-learn models; closed-box (``predict_proba``), or labels only for a model that
has only ``predict`` (its answers are then class indices, in ``classes_`` order).

A model fitted on a pandas DataFrame (it records ``feature_names_in_``: a pipeline whose
``ColumnTransformer`` selects columns by name) is given a DataFrame with the samples'
column names, in the order the model was fitted with; samples that name no columns are
taken to be in that order. Other models get arrays.

- skops files (``.skops``): loaded with skops' type check. A file holding types skops does
  not trust by default is refused, naming them, unless the user trusts the model.
- pickle and joblib files (``.pkl``, ``.pickle``, ``.joblib``): unpickling runs code from
  the file, so they are refused unless the user trusts the model (``--trust-model`` on the
  command line; a target's YAML cannot say it for itself).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from feint.targets.adapters import ModelAdapter

__all__ = ["SkopsModel", "PickleModel", "TRUST_HINT"]

TRUST_HINT = "pass --trust-model if you trust the file"


class _SklearnModel(ModelAdapter):
    open_box = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model: Any = None
        self._fitted_names: tuple[str, ...] | None = None  # the model's feature_names_in_
        self._columns: tuple[str, ...] | None = None  # the samples' column names, once fitted to the model

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
        names = getattr(model, "feature_names_in_", None)
        self._fitted_names = None if names is None else tuple(str(n) for n in np.asarray(names).tolist())
        self._columns = None
        if self._fitted_names is not None:
            given = self.context.columns
            if given is None:
                self._columns = self._fitted_names
            else:
                missing = [n for n in self._fitted_names if n not in given]
                if missing:
                    raise self.fail(
                        f"{self.path.name} was fitted on columns the samples do not have: {', '.join(missing)}; "
                        f"the samples' columns: {', '.join(given)} (name them with columns)"
                    )
                self._columns = tuple(given)

    def model_columns(self) -> tuple[str, ...] | None:
        return self._fitted_names

    def model_classes(self) -> list[str] | None:
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else [str(c) for c in np.asarray(classes).tolist()]

    def expected_input_shape(self):
        n = getattr(self.model, "n_features_in_", None)
        return (int(n),) if n is not None else None

    def predict(self, x: np.ndarray) -> np.ndarray:
        inputs: Any
        if isinstance(x, np.ndarray) and x.dtype == object and x.ndim == 1:  # texts: a text pipeline takes a list
            inputs = [str(t) for t in x]
            x = np.asarray(inputs, dtype=object).reshape(len(inputs), 1)
        else:
            x = np.asarray(x).reshape(len(x), -1)
            inputs = x
        if self._columns is not None and self._fitted_names is not None:
            import pandas as pd

            if x.shape[1] != len(self._columns):
                raise self.fail(f"{x.shape[1]} features per sample for the {len(self._columns)} columns named")
            inputs = pd.DataFrame(x, columns=list(self._columns))[list(self._fitted_names)]
        if self.outputs == "labels":
            classes = getattr(self.model, "classes_", None)
            labels = np.asarray(self.model.predict(inputs))
            if classes is None:
                return labels
            position = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
            return np.asarray([position.get(v, -1) for v in labels.tolist()], np.int64)
        return np.asarray(self.model.predict_proba(inputs), np.float64)

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "estimator": type(self.model).__name__ if self.model is not None else None}
        if self._fitted_names is not None:
            out["input"] = "DataFrame"
        return out


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
