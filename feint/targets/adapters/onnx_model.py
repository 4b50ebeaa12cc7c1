"""ONNX models through onnxruntime; closed-box (the runtime gives no input gradients).

Models as converters write them:

- **Which output.** ``output`` names it (by name or by index); without it, the first
  rank-2 float tensor, else the first sequence of maps (the ZipMap of a scikit-learn model
  converted by skl2onnx, which also outputs its labels), else the first rank-1 float tensor.
- **ZipMap outputs** (one ``{label: probability}`` map per sample) are read as
  probabilities. Their labels are the model's class labels: when they are the declared
  class names, the columns follow the declared order; otherwise the model's own order
  (labels ascending, as the classifier's ``classes_``) is taken as the declared order.
- **One column** (or a rank-1 output: a sigmoid) is read as two classes: ``p`` is the
  probability of the second declared class and ``1 - p`` that of the first. ``outputs:
  logits`` reads the column as a logit (``p = sigmoid(z)``); with ``auto`` it is a
  probability when the first batch lies in ``[0, 1]``, a logit otherwise.
- **Extra inputs** (a sample rate, a state tensor) take the constants the declaration
  gives in ``inputs`` (:func:`constant_array`); the one input left takes the samples.
- **One input per column** (skl2onnx's conversion of a pipeline fitted on a DataFrame:
  inputs of shape ``(N, 1)`` named as the columns): when the inputs left are all named
  columns of the samples, each takes its column.
- **A fixed batch size** is met by calling the model in chunks of that size, the last
  one padded with copies of its last sample (their scores are dropped).

Sessions run on explicit threads that leave room for torch beside them
(:func:`session_options`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from feint.targets.adapters import ModelAdapter

__all__ = ["OnnxModel", "CONSTANT_WORDS", "constant_array", "session_options", "onnx_threads"]

_FLOATS: dict[str, Any] = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}
_IDS: dict[str, Any] = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}
_TYPES: dict[str, Any] = {
    **_FLOATS,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint64)": np.uint64,
    "tensor(uint32)": np.uint32,
    "tensor(uint16)": np.uint16,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}
# the words an extra input's constant may be besides numbers and lists
CONSTANT_WORDS = ("zeros", "ones")


def onnx_threads() -> int:
    """The intra-op threads of a session: torch's own count when torch is loaded (it runs
    the attack beside the model, one after the other), else ``OMP_NUM_THREADS`` or 1."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return max(1, int(torch.get_num_threads()))
    text = os.environ.get("OMP_NUM_THREADS", "")
    return int(text) if text.isdigit() and int(text) > 0 else 1


def session_options(ort: Any) -> Any:
    """onnxruntime session options that do not fight torch's threads: a fixed number of
    intra-op threads (:func:`onnx_threads`), one inter-op thread, sequential execution and
    no spinning (idle runtime threads would otherwise busy-wait on the cores torch needs)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the library never prints
    options.intra_op_num_threads = onnx_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def _shape_text(shape: Sequence[Any]) -> str:
    return "[" + ", ".join(str(d) if d is not None else "any" for d in shape) + "]"


def constant_array(value: Any, shape: Sequence[Any], dtype: Any, batch: str | None, n: int) -> np.ndarray:
    """The array an extra input takes for a batch of ``n`` samples.

    ``value`` is a number (the input's declared shape filled with it), a list (taken as
    given, its shape checked against the fixed dimensions), ``zeros`` or ``ones`` (the
    declared shape). In the declared shape, a dimension named as the samples input's batch
    dimension (``batch``) is ``n``, any other free dimension is 1. Raises ``ValueError``
    with what does not fit."""
    dims = [n if (batch is not None and d == batch) else d if isinstance(d, int) else 1 for d in shape]
    kind = np.dtype(dtype).kind
    if isinstance(value, str):
        return np.zeros(dims, dtype) if value == "zeros" else np.ones(dims, dtype)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError("expects numbers")
    if kind in "iu" and arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValueError(f"takes {np.dtype(dtype).name} values; got fractions")
    if kind == "b" and arr.dtype.kind != "b":
        raise ValueError("takes true or false values")
    if arr.ndim == 0:
        return np.full(dims, arr, dtype)
    if arr.ndim != len(shape) or any(isinstance(d, int) and d != a for d, a in zip(shape, arr.shape)):
        raise ValueError(f"a list of shape {list(arr.shape)} does not fit the input's shape {_shape_text(shape)}")
    return arr.astype(dtype)


def _dims(shape: Sequence[Any]) -> list[Any]:
    """An input's declared shape: ints, symbolic names (text), or ``None`` for unnamed free dimensions."""
    return [d if isinstance(d, (int, str)) else None for d in shape]


class OnnxModel(ModelAdapter):
    kind = "onnx"
    open_box = False
    reads = frozenset({"inputs", "output"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._session: Any = None  # an onnxruntime.InferenceSession once loaded
        self._input = ""
        self._dtype: Any = np.float32
        self._shape: tuple[int | None, ...] | None = None
        self._batch: int | None = None  # a fixed batch size
        self._batch_name: str | None = None  # the symbolic name of a free batch dimension
        self._constants: dict[str, tuple[Any, list[Any], Any]] = {}  # name -> (value, shape, dtype)
        self._by_column: list[tuple[str, int, Any]] = []  # one input per column: (name, column, dtype)
        self._output = ""
        self._zipmap = False
        self._order: list[Any] | None = None  # a ZipMap's labels in the order of the declared classes
        self.model_classes: list[str] | None = None  # the class labels the model holds (ZipMap)
        self._one_column: str | None = None  # how a one-column output is read, once decided
        self._threads = 1

    def load(self) -> None:
        import onnxruntime as ort

        options = session_options(ort)
        self._threads = int(options.intra_op_num_threads)
        try:
            session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            text = str(exc).strip().splitlines()
            raise self.fail(
                f"onnxruntime could not load {self.path.name} ({text[0] if text else type(exc).__name__})"
            ) from exc
        self._pick_inputs(session)
        self._pick_output(session)
        self._session = session

    # -- inputs -------------------------------------------------------------------------------
    def _pick_inputs(self, session: Any) -> None:
        inputs = {i.name: i for i in session.get_inputs()}
        given: Mapping[str, Any] = self.context.inputs
        names = ", ".join(inputs)
        for name in given:
            if name not in inputs:
                raise self.fail(f"inputs: {self.path.name} has no input {name!r}; its inputs: {names}")
        free = [i for n, i in inputs.items() if n not in given]
        self._by_column = self._column_inputs(free)
        if self._by_column:
            free = free[:1]
        if len(free) != 1:
            if not free:
                raise self.fail(f"inputs: gives every input of {self.path.name} ({names}); leave one for the samples")
            raise self.fail(
                f"{self.path.name} takes {len(inputs)} inputs ({names}); feint feeds the samples to one: "
                f"give the others constants in inputs (a number, a list, {' or '.join(CONSTANT_WORDS)}), "
                f"e.g. inputs: {{{free[1].name}: zeros}}; inputs of shape (N, 1) named as the samples' "
                "columns take one column each"
            )
        first = free[0]
        ids = self.context.token_ids and first.type in _IDS  # a text model's token ids
        if not self._by_column and first.type not in _FLOATS and not ids:
            raise self.fail(
                f"{self.path.name} takes its samples ({first.name}) as {first.type}; "
                "accepted: float, double or float16 tensors (or int64/int32 token ids for a text target "
                "with a tokenizer)"
            )
        self._dtype = _IDS[first.type] if ids else _FLOATS.get(first.type, np.float32)
        dims = _dims(first.shape)
        self._batch = dims[0] if dims and isinstance(dims[0], int) else None
        self._batch_name = dims[0] if dims and isinstance(dims[0], str) else None
        self._shape = tuple(d if isinstance(d, int) else None for d in dims[1:]) if dims else None
        if self._by_column:
            self._shape = None  # the samples' columns, checked by name
        self._input = first.name
        self._constants = {}
        for name, value in given.items():
            arg = inputs[name]
            if arg.type not in _TYPES:
                raise self.fail(f"inputs.{name}: takes {arg.type}; feint gives constants to number tensors only")
            shape, dtype = _dims(arg.shape), _TYPES[arg.type]
            try:
                constant_array(value, shape, dtype, self._batch_name, 1)
            except ValueError as exc:
                raise self.fail(f"inputs.{name}: {exc} ({arg.type} of shape {_shape_text(shape)})") from None
            self._constants[name] = (value, shape, dtype)

    def _column_inputs(self, free: list[Any]) -> list[tuple[str, int, Any]]:
        """The inputs as columns of the samples: every one left named as a column and taking
        ``(N, 1)`` numbers; empty when they are not."""
        columns = list(self.context.columns or ())
        if len(free) < 2 or not columns:
            return []
        for arg in free:
            shape = _dims(arg.shape)
            if arg.name not in columns or arg.type not in _TYPES or len(shape) != 2 or shape[1] not in (1, None):
                return []
        return [(arg.name, columns.index(arg.name), _TYPES[arg.type]) for arg in free]

    # -- the output ---------------------------------------------------------------------------
    def _pick_output(self, session: Any) -> None:
        outputs = session.get_outputs()
        listed = ", ".join(f"{i}: {o.name} {o.type} {_shape_text(_dims(o.shape))}" for i, o in enumerate(outputs))

        def readable(o: Any) -> bool:
            return (o.type in _FLOATS and len(o.shape) in (1, 2)) or o.type.startswith("seq(map(")

        wanted = self.context.output
        if wanted is not None:
            if isinstance(wanted, int):
                if not 0 <= wanted < len(outputs):
                    raise self.fail(f"output: {self.path.name} has outputs 0 to {len(outputs) - 1} ({listed})")
                chosen = outputs[wanted]
            else:
                found = [o for o in outputs if o.name == wanted]
                if not found:
                    raise self.fail(f"output: {self.path.name} has no output {wanted!r}; its outputs: {listed}")
                chosen = found[0]
            if not readable(chosen):
                raise self.fail(
                    f"output: {chosen.name} is {chosen.type} {_shape_text(_dims(chosen.shape))}; accepted: a float "
                    "tensor of shape (N, classes) or (N,), or a sequence of maps (ZipMap)"
                )
        else:
            ranked = (
                [o for o in outputs if o.type in _FLOATS and len(o.shape) == 2]
                + [o for o in outputs if o.type.startswith("seq(map(")]
                + [o for o in outputs if o.type in _FLOATS and len(o.shape) == 1]
            )
            if not ranked:
                raise self.fail(
                    f"{self.path.name} has no output of class scores (a float tensor of shape (N, classes) or "
                    f"(N,), or a sequence of maps); its outputs: {listed}"
                )
            chosen = ranked[0]
        self._output = chosen.name
        self._zipmap = chosen.type.startswith("seq(map(")
        if self._zipmap:
            self.outputs = "probabilities"

    def expected_input_shape(self) -> tuple[int | None, ...] | None:
        return self._shape

    # -- prediction ---------------------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=self._dtype)
        fixed = [d for d in self._shape or () if d is not None]
        if (
            self._shape
            and len(fixed) == len(self._shape)
            and x.shape[1:] != tuple(fixed)
            and int(np.prod(fixed)) == int(np.prod(x.shape[1:]))
        ):
            x = x.reshape(len(x), *fixed)
        step = self._batch or max(len(x), 1)
        outs = []
        for s in range(0, len(x), step):
            part = x[s : s + step]
            pad = step - len(part) if self._batch else 0
            if pad:
                part = np.concatenate([part, np.repeat(part[-1:], pad, axis=0)])
            feed = self._samples_feed(part)
            for name, (value, shape, dtype) in self._constants.items():
                feed[name] = constant_array(value, shape, dtype, self._batch_name, len(part))
            out = self._session.run([self._output], feed)[0]
            outs.append(self._scores(out)[: len(part) - pad])
        return np.concatenate(outs) if outs else np.zeros((0, len(self.context.classes)))

    def _samples_feed(self, part: np.ndarray) -> dict[str, np.ndarray]:
        if not self._by_column:
            return {self._input: part}
        rows = part.reshape(len(part), -1)
        feed = {}
        for name, column, dtype in self._by_column:
            values = rows[:, column : column + 1]
            if np.dtype(dtype).kind in "iub":
                values = np.round(values)
            feed[name] = np.ascontiguousarray(values.astype(dtype))
        return feed

    def _scores(self, out: Any) -> np.ndarray:
        if self._zipmap:
            return self._from_maps(out)
        scores = np.asarray(out, np.float64)
        if scores.ndim == 1:
            scores = scores[:, None]
        if scores.ndim == 2 and scores.shape[1] == 1:
            return self._two_classes(scores[:, 0])
        return scores

    def _from_maps(self, rows: Sequence[Mapping[Any, float]]) -> np.ndarray:
        if self._order is None:
            labels = list(rows[0]) if len(rows) else []
            if all(isinstance(k, (int, np.integer)) for k in labels):
                labels = sorted(labels)
            self.model_classes = [str(k) for k in labels]
            declared = list(self.context.classes)
            if sorted(self.model_classes) == sorted(declared) and self.model_classes != declared:
                by_name = dict(zip(self.model_classes, labels))
                labels = [by_name[c] for c in declared]
            self._order = labels
        order = self._order
        return np.asarray([[row[k] for k in order] for row in rows], np.float64).reshape(len(rows), len(order))

    def _two_classes(self, column: np.ndarray) -> np.ndarray:
        """One column of scores as two classes: ``[1 - p, p]`` for a probability ``p`` of the
        second class, ``[0, z]`` for a logit (their softmax is ``[1 - sigmoid(z), sigmoid(z)]``)."""
        if self._one_column is None:
            declared = self.context.outputs
            if declared == "auto":
                inside = bool(column.size) and column.min() >= 0.0 and column.max() <= 1.0
                declared = "probabilities" if inside else "logits"
            self._one_column = declared
        if self._one_column == "probabilities":
            return np.stack([1.0 - column, column], axis=1)
        return np.stack([np.zeros_like(column), column], axis=1)

    def describe(self) -> dict[str, Any]:
        if self._session is None:
            return super().describe()
        out = {**super().describe(), "output": self._output, "onnx_threads": self._threads}
        if self._by_column:
            out["inputs_by_column"] = [name for name, _, _ in self._by_column]
        if self._constants:
            out["inputs"] = {name: value for name, (value, _, _) in self._constants.items()}
        if self._batch:
            out["batch"] = self._batch
        if self.model_classes is not None:
            out["model_classes"] = self.model_classes
        if self._one_column is not None:
            out["one_column"] = self._one_column
        return out
