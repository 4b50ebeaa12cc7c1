"""ONNX models through onnxruntime; closed-box (the runtime gives no input gradients).

The first output that is a rank-2 float tensor is taken as the class scores (a model
converted from scikit-learn often outputs labels first and probabilities second). A
model exported for one fixed batch size is called in chunks of that size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from feint.targets.adapters import ModelAdapter

__all__ = ["OnnxModel"]

_FLOATS = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


class OnnxModel(ModelAdapter):
    kind = "onnx"
    open_box = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._session: Any = None  # an onnxruntime.InferenceSession once loaded
        self._input = ""
        self._dtype: Any = np.float32
        self._shape: tuple | None = None
        self._batch: int | None = None
        self._output = ""

    def load(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: the library never prints
        try:
            session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            text = str(exc).strip().splitlines()
            raise self.fail(
                f"onnxruntime could not load {self.path.name} ({text[0] if text else type(exc).__name__})"
            ) from None
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise self.fail(f"{self.path.name} takes {len(inputs)} inputs; feint feeds models with one input")
        first = inputs[0]
        if first.type not in _FLOATS:
            raise self.fail(f"{self.path.name} takes {first.type} input; accepted: float, double or float16 tensors")
        self._dtype = _FLOATS[first.type]
        dims = [d if isinstance(d, int) else None for d in first.shape]
        self._batch = dims[0] if dims and isinstance(dims[0], int) else None
        self._shape = tuple(dims[1:]) if dims else None
        scores = [o for o in session.get_outputs() if o.type in _FLOATS and len(o.shape) == 2]
        if not scores:
            raise self.fail(
                f"{self.path.name} has no output of class scores (a float tensor of shape (N, classes)); "
                f"its outputs: {', '.join(f'{o.name} {o.type}' for o in session.get_outputs())}"
            )
        self._session, self._input, self._output = session, first.name, scores[0].name

    def expected_input_shape(self):
        return self._shape

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=self._dtype)
        if (
            self._shape
            and all(isinstance(d, int) for d in self._shape)
            and x.shape[1:] != self._shape
            and int(np.prod(self._shape)) == int(np.prod(x.shape[1:]))
        ):
            x = x.reshape(len(x), *self._shape)
        step = self._batch or max(len(x), 1)
        outs = []
        for s in range(0, len(x), step):
            part = x[s : s + step]
            pad = step - len(part) if self._batch else 0
            if pad:
                part = np.concatenate([part, np.repeat(part[-1:], pad, axis=0)])
            out = self._session.run([self._output], {self._input: part})[0]
            outs.append(np.asarray(out, np.float64)[: len(part) - pad])
        return np.concatenate(outs) if outs else np.zeros((0, 0))
