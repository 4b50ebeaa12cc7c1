"""scikit-learn models; closed-box (``predict_proba``), or labels only for a model that
has only ``predict`` (its answers are then class indices, in ``classes_`` order), unless
the declaration says its ``predict`` answers scores (``outputs: probabilities`` or
``logits``: a regressor of the second class's probability answers one per row).

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
    takes_fixed = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model: Any = None
        self._fitted_names: tuple[str, ...] | None = None  # the model's feature_names_in_
        self._columns: tuple[str, ...] | None = None  # the samples' column names, once fitted to the model
        self._scores = False  # predict answers scores (a model without predict_proba declared so)

    def _read(self) -> Any:
        raise NotImplementedError

    def load(self) -> None:
        model = self._read()
        self._scores = False
        if not hasattr(model, "predict_proba"):
            if not hasattr(model, "predict"):
                raise self.fail(
                    f"{self.path.name} holds a {type(model).__name__}, which has neither predict_proba nor predict"
                )
            if self.context.outputs in ("probabilities", "logits"):
                self._scores = True  # declared: predict answers scores (one per row: the second class's)
            else:
                self.outputs = "labels"  # its decision only: decision-based attacks run on it
        self.model = model
        names = getattr(model, "feature_names_in_", None)
        self._fitted_names = None if names is None else tuple(str(n) for n in np.asarray(names).tolist())
        self._columns = None
        fixed = tuple(self.context.fixed_columns)
        if fixed and self._fitted_names is None:
            raise self.fail(
                f"the samples' columns {', '.join(fixed)} hold text, and {self.path.name} was fitted on arrays, "
                "which take numbers only; fit it on a DataFrame (a ColumnTransformer that encodes them)"
            )
        if self._fitted_names is not None:
            given = self.context.columns
            if given is None:
                self._columns = self._fitted_names
            else:
                missing = [n for n in self._fitted_names if n not in (*given, *fixed)]
                if missing:
                    raise self.fail(
                        f"{self.path.name} was fitted on columns the samples do not have: {', '.join(missing)}; "
                        f"the samples' columns: {', '.join((*given, *fixed))} (name them with columns)"
                    )
                self._columns = tuple(given)

    def model_columns(self) -> tuple[str, ...] | None:
        return self._fitted_names

    def model_classes(self) -> list[str] | None:
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else [str(c) for c in np.asarray(classes).tolist()]

    def expected_input_shape(self):
        n = getattr(self.model, "n_features_in_", None)
        if n is None:
            return None
        fixed = set(self.context.fixed_columns) & set(self._fitted_names or ())
        return (int(n) - len(fixed),)  # the text columns held fixed are not features

    def predict(self, x: np.ndarray) -> np.ndarray:
        if isinstance(x, np.ndarray) and x.dtype == object and x.ndim == 1:  # texts: a text pipeline takes a list
            texts = [str(t) for t in x]
            if self._columns is None or self._fitted_names is None:
                return self._answer(texts)
            x = np.asarray(texts, dtype=object).reshape(len(texts), 1)
        return self._answer(self._inputs(x))

    def predict_fixed(self, x: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        """``predict`` for a model that also takes the text columns held fixed
        (``context.fixed_columns``): ``fixed`` holds their values, one row per row of ``x``."""
        names = list(self.context.fixed_columns)
        fixed = np.asarray(fixed, dtype=object).reshape(len(x), len(names))
        return self._answer(self._inputs(x, {name: fixed[:, j] for j, name in enumerate(names)}))

    def _inputs(self, x: np.ndarray, fixed: dict[str, np.ndarray] | None = None) -> Any:
        """What the model takes: ``x`` as it is, or a DataFrame in the fitted columns' order
        with the text columns ``fixed`` beside the features."""
        x = np.asarray(x).reshape(len(x), -1)
        if self._columns is None or self._fitted_names is None:
            return x
        import pandas as pd

        if x.shape[1] != len(self._columns):
            raise self.fail(f"{x.shape[1]} features per sample for the {len(self._columns)} columns named")
        frame = pd.DataFrame(x, columns=list(self._columns))
        for name, values in (fixed or {}).items():
            frame[name] = values
        return frame[list(self._fitted_names)]

    def _answer(self, inputs: Any) -> np.ndarray:
        if self._scores:
            return np.asarray(self.model.predict(inputs), np.float64)
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
