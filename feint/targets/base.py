"""The Target: a model under assessment plus its samples, in Counterfit's vocabulary.

Samples are float32 arrays of shape ``(N, *input_shape)``; images are channels first
(``C, H, W``) with values inside ``bounds``. Every target answers ``predict`` with class
probabilities, or, when it answers labels only (``outputs = "labels"``: an endpoint or
a model that gives only its decision), with one row per sample that is 1 at the label
and 0 elsewhere (:func:`label_rows`), and has the capability ``labels`` instead of
``predict``: decision-based attacks run on it, and its confidences are absent. An open-box target also returns a ``torch.nn.Module`` from
:meth:`Target.torch_module` that maps a batch to logits, through which attacks take
gradients; a closed-box target returns ``None`` there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from feint.errors import FeintError
from feint.targets.spec import TargetSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "Target",
    "LoadedTarget",
    "DATA_TYPES",
    "GRADIENTS",
    "PREDICT",
    "LABELS",
    "OUTPUTS",
    "label_rows",
    "checked_scores",
    "PROB_TOLERANCE",
]

DATA_TYPES = ("image", "tabular", "text")
PREDICT = "predict"  # predict gives class probabilities
GRADIENTS = "gradients"
LABELS = "labels"  # predict gives labels only, as one-hot rows
OUTPUTS = ("probabilities", "labels")  # what a target's predict tells
PROB_TOLERANCE = 1e-2  # how far a row of probabilities may sum from 1, as an endpoint's


def _unfit(target: Target, inputs: Any) -> bool:
    """Whether ``inputs`` hold a value that is not finite or lies outside the target's bounds."""
    x = np.asarray(inputs, np.float64)
    lo, hi = target.bounds
    span = (hi - lo) * 1e-3
    return bool(x.size) and not (np.isfinite(x).all() and x.min() >= lo - span and x.max() <= hi + span)


def checked_scores(target: Target, scores: Any, rows: int, inputs: Any = None) -> np.ndarray:
    """A target's answer to ``predict`` for ``rows`` samples, checked as an endpoint's answer
    is: one row per sample, one score per class, each finite and in 0..1, each row summing to
    1 within :data:`PROB_TOLERANCE`. Anything else is one line naming the target, the row and
    what was wrong, raised before anything is stored. Given the ``inputs`` it was asked
    about, NaN scores for NaN inputs are said to be the inputs' (an attack's overflow)."""
    k = len(target.output_classes)
    accepted = f"accepted: probabilities, each in 0..1, each row of {k} summing to 1 (within {PROB_TOLERANCE:g})"
    where = f"target {target.target_name}: predict returned"
    try:
        p = np.asarray(scores, np.float64)
    except (TypeError, ValueError):
        raise FeintError(f"{where} something other than numbers; {accepted}") from None
    if p.shape != (rows, k):
        raise FeintError(f"{where} shape {list(p.shape)} for {rows} samples; expected [{rows}, {k}]")
    if not p.size:
        return p

    def row_text(r: int) -> str:
        values = ", ".join(f"{v:.4g}" for v in p[r, :6]) + (", ..." if k > 6 else "")
        return f"row {r}: [{values}]"

    finite = np.isfinite(p)
    if not finite.all() and inputs is not None and _unfit(target, inputs):
        lo, hi = target.bounds
        raise FeintError(
            f"target {target.target_name} was asked about inputs holding NaN, infinite or out-of-bounds values, "
            f"which an attack's options too large for its arithmetic give; accepted: finite inputs within "
            f"[{lo:g}, {hi:g}] (choose smaller options)"
        )
    if not finite.all():
        raise FeintError(f"{where} NaN or infinite scores ({row_text(int(np.argmin(finite.all(1))))}); {accepted}")
    outside = (p < -1e-6) | (p > 1 + 1e-6)
    if outside.any():
        r = int(np.argmax(outside.any(1)))
        what = "negative scores" if (p[r] < -1e-6).any() else "scores above 1"
        raise FeintError(f"{where} {what} ({row_text(r)}); {accepted}")
    off = np.abs(p.sum(1) - 1.0)
    if off.max() > PROB_TOLERANCE:
        r = int(off.argmax())
        raise FeintError(f"{where} scores that do not sum to 1 ({row_text(r)} sums to {p[r].sum():.4g}); {accepted}")
    return p


def label_rows(labels: Sequence[Any] | np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """One row per label, 1 at its class and 0 elsewhere: how a labels-only target answers.
    A label is a class index or a class name; anything else raises FeintError."""
    names = {str(c): i for i, c in enumerate(classes)}
    out = np.zeros((len(labels), len(classes)), np.float64)
    for row, label in enumerate(labels):
        if isinstance(label, (bool, np.bool_)):
            index = None
        elif isinstance(label, (int, np.integer)) or (
            isinstance(label, (float, np.floating)) and float(label).is_integer()
        ):
            index = int(label) if 0 <= int(label) < len(classes) else None
        else:
            index = names.get(str(label))
        if index is None:
            raise FeintError(
                f"the model answered the label {label!r}, which is not a class; accepted: "
                f"indices 0 to {len(classes) - 1} or the names {', '.join(map(str, classes))}"
            )
        out[row, index] = 1.0
    return out


class Target:
    """Base of every target. Subclasses set the metadata below (as class attributes, or
    per instance before calling ``Target.__init__`` when it is known only then) and
    implement ``load`` and either ``torch_module`` (open-box) or ``predict`` (closed-box)."""

    target_name: str = ""
    data_type: str = "image"
    input_shape: tuple[int, ...] = ()
    output_classes: Sequence[str] = ()
    bounds: tuple[float, float] = (0.0, 1.0)
    description: str = ""
    # Per-sample measures of this target besides those of its data type (every tabular
    # target has euclid_pct), by name in feint.measures.MEASURES.
    measures: tuple[str, ...] = ()
    # What predict tells: "probabilities", or "labels" for a target that answers its
    # decision only (predict then gives one-hot rows; see label_rows).
    outputs: str = "probabilities"
    # Tabular targets: the feature names, one per feature in the samples' order, where known.
    columns: tuple[str, ...] | None = None
    # Tabular targets: columns of text (categories) that the model takes beside the features
    # and that no attack changes: each sample keeps its own values (``fixed_values``, one
    # row per sample), which go with every row the model is asked about for that sample.
    fixed_columns: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.X: np.ndarray = np.zeros((0, *self.input_shape), np.float32)
        self.y: np.ndarray | None = None  # true labels of the samples, where known
        self.info: dict[str, Any] = {}  # facts worth reporting: accuracy, data source
        self.fixed_values: np.ndarray | None = None  # (samples, fixed_columns) of text
        self._held: np.ndarray | None = None  # the samples the rows asked about belong to
        self._loaded = False

    @property
    def spec(self) -> str:
        """What rebuilds this target in another process through ``get_target(spec)``: the
        built-in name, or the path of the file that declared it."""
        return self.__dict__.get("_spec") or self.target_name

    @spec.setter
    def spec(self, value: str) -> None:
        self.__dict__["_spec"] = value

    # -- lifecycle -------------------------------------------------------------
    def load(self) -> None:
        """Load (or train on first use) the model and the samples into ``self.X``."""
        raise NotImplementedError

    def ensure_loaded(self) -> Target:
        if not self._loaded:
            self.load()
            self._loaded = True
        return self

    # -- capabilities ------------------------------------------------------------
    def torch_module(self) -> torch.nn.Module | None:
        """A module mapping a float32 batch ``(N, *input_shape)`` to logits, or ``None``."""
        return None

    @property
    def capabilities(self) -> frozenset[str]:
        """``predict`` always; ``gradients`` when the class provides a torch module.

        Known without loading the model, so listing targets stays instant. A labels-only
        target has ``labels`` instead of ``predict``."""
        if self.outputs == LABELS:
            return frozenset({LABELS})
        caps = {PREDICT}
        if type(self).torch_module is not Target.torch_module:
            caps.add(GRADIENTS)
        return frozenset(caps)

    @property
    def open_box(self) -> bool:
        return GRADIENTS in self.capabilities

    @property
    def labels_only(self) -> bool:
        """Whether predict tells only the label (one-hot rows), not probabilities."""
        return PREDICT not in self.capabilities

    # -- prediction ----------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, classes)`` for a batch of samples."""
        module = self.torch_module()
        if module is None:
            raise NotImplementedError(f"{type(self).__name__} must implement predict")
        import torch

        with torch.no_grad():
            logits = module(torch.as_tensor(np.asarray(x, np.float32)))
            return torch.softmax(logits, dim=1).numpy()

    def as_sent(self, x: np.ndarray) -> np.ndarray:
        """The samples as the model receives them, in this target's layout: ``x`` itself,
        except for a model that is sent encoded images (an endpoint's ``encoding``), where
        each is what the server decodes (8 bits, and for JPEG its compression)."""
        return np.asarray(x, np.float32)

    def outputs_to_labels(self, output: np.ndarray) -> list[str]:
        """Class names for a batch of probability vectors."""
        return [self.output_classes[i] for i in np.argmax(output, axis=1)]

    # -- the samples the model is asked about ----------------------------------------
    @contextlib.contextmanager
    def holding(self, indices: Sequence[int] | np.ndarray) -> Iterator[None]:
        """Within the block, the rows ``predict`` is given belong to the samples at
        ``indices``: one row per sample, or any number of rows of one sample. A target
        with ``fixed_columns`` needs to know it, to give the model each sample's own text;
        for others it changes nothing."""
        before = self._held
        self._held = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        try:
            yield
        finally:
            self._held = before

    def held_values(self, rows: int) -> np.ndarray:
        """The ``fixed_columns`` values for ``rows`` rows asked about inside
        :meth:`holding`: each sample's own when there is one row per sample, the one
        sample's on every row otherwise."""
        if self.fixed_values is None or not self.fixed_columns:
            raise FeintError(f"target {self.target_name} has no columns held fixed")
        held = self._held
        if held is None or not (len(held) == rows or len(held) == 1):
            got = "no samples" if held is None else f"{len(held)} samples"
            raise FeintError(
                f"target {self.target_name} holds its text columns ({', '.join(self.fixed_columns)}) fixed per "
                f"sample, so each row the model is asked about must belong to a known sample; {rows} rows came "
                f"for {got} (feint's runs and predict say which)"
            )
        return self.fixed_values[held if len(held) == rows else np.repeat(held, rows)]

    # -- samples -------------------------------------------------------------------
    def get_samples(self, index: int | Sequence[int] | np.ndarray) -> np.ndarray:
        """The samples at ``index`` (an int or a sequence of ints), as float32; a text
        target's as a one-dimensional object array of ``str``."""
        idx = np.atleast_1d(np.asarray(index, dtype=np.int64))
        self.check_indices(idx)
        if self.data_type == "text":  # strings, as an object array (see feint.targets.text)
            out = np.empty(len(idx), dtype=object)
            out[:] = [str(self.X[i]) for i in idx]
            return out
        return np.asarray(self.X[idx], dtype=np.float32)

    def check_indices(self, idx: Sequence[int] | np.ndarray) -> None:
        n = len(self.X)
        bad = [int(i) for i in idx if not 0 <= int(i) < n]
        if bad:
            raise FeintError(
                f"sample index {bad[0]} is outside the {self.target_name} sample set; accepted: 0 to {n - 1}"
            )

    def describe(self) -> dict[str, Any]:
        """What a report says about this target (and, for one declared in a file, the file)."""
        out = {
            "name": self.target_name,
            "data_type": self.data_type,
            "input_shape": list(self.input_shape),
            "classes": list(self.output_classes),
            "bounds": list(self.bounds),
            "access": "open-box" if self.open_box else "closed-box",
            **({"outputs": LABELS} if self.labels_only else {}),
            "samples": int(len(self.X)),
            **self.info,
        }
        if self.spec != self.target_name:
            out.setdefault("source", TargetSpec.parse(self.spec).source)
        return out


class LoadedTarget(Target):
    """A target whose access is known only once it is built (a user's file or class):
    subclasses set ``_open_box`` in ``__init__``, ``_module`` in ``load`` when open-box,
    and implement ``_predict`` on a loaded target."""

    _open_box = False
    _module: torch.nn.Module | None = None

    @property
    def capabilities(self) -> frozenset[str]:
        if self.outputs == LABELS:
            return frozenset({LABELS})
        return frozenset({PREDICT, GRADIENTS} if self._open_box else {PREDICT})

    def torch_module(self) -> torch.nn.Module | None:
        if not self._open_box:
            return None
        self.ensure_loaded()
        return self._module

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.ensure_loaded()
        return self._predict(x)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _accuracy_batch(self, start: int, stop: int) -> np.ndarray:
        with self.holding(np.arange(start, stop)):
            return self._predict(self.X[start:stop]).argmax(1)

    def describe(self) -> dict[str, Any]:
        """As :meth:`Target.describe`, with the model's accuracy on the samples whose labels
        are known (``sample_accuracy``), computed on the first call, not on load: a worker
        that rebuilds the target to run units never asks the model for it."""
        if self._loaded and self.y is not None and "sample_accuracy" not in self.info:
            pred = np.concatenate(
                [self._accuracy_batch(s, min(s + 256, len(self.X))) for s in range(0, len(self.X), 256)]
            )
            self.info["sample_accuracy"] = float(np.mean(pred == self.y))
        return super().describe()
