"""feint targets as ART estimators, with every query ART asks counted.

An open-box target becomes ART's ``PyTorchClassifier`` over the target's torch module
(Keras 3 models are torch modules on the torch backend; ART's KerasClassifier is not
used), with gradients; a closed-box target becomes ART's black-box classifier over its
``predict``. Both carry the target's input shape and bounds (as clip values).

Counting happens where ART asks: every ``predict`` row is one forward query, every
``loss_gradient`` row one forward and one gradient query, every ``class_gradient`` row
one forward query and one gradient query per class asked for. Which sample a row
belongs to follows :class:`Attribution`. A guard on the model itself counts the rows it
really evaluates; rows evaluated beyond those counted (a path of ART that bypasses the
methods above) are added to the run's totals, so totals never undercount.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from feint.attacks.model import CountedModel, SampleStopped
from feint.targets.base import checked_scores

__all__ = ["Attribution", "make_estimator", "quiet", "seeded", "LOGITS", "PROBABILITIES"]

LOGITS = "logits"
PROBABILITIES = "probabilities"


class Attribution:
    """Which sample of the batch each row of an estimator call belongs to.

    - focused on sample ``i`` (ART attacks one sample at a time): every row is sample ``i``;
    - whole batch (ART attacks the batch at once): a call with one row per sample of the
      batch is row ``i`` -> sample ``i``;
    - any other call, or an attribution turned off (an extraction querying its own
      data): the rows belong to no sample and count in the run's totals.
    """

    def __init__(self, model: CountedModel):
        self.model = model
        self.focus: int | None = None
        self.off = False
        self.forward_rows = 0  # rows counted as forward queries, for the guard

    def count(self, n_rows: int, gradients: int = 0, forward: bool = True) -> None:
        """Count a call on ``n_rows`` rows: one forward query each (unless ``forward`` is
        false) and ``gradients`` gradient queries each."""
        if n_rows <= 0:
            return
        self.forward_rows += n_rows if forward else 0
        for kind, k in (("forward", int(forward)), ("gradient", gradients)):
            if k == 0:
                continue
            if self.off or (self.focus is None and n_rows != self.model.n):
                self.model.count_unattributed(kind, n_rows, k)
            elif self.focus is not None:
                self.model.count(kind, n_rows, np.full(n_rows, self.focus), k)
            else:
                self.model.count(kind, n_rows, None, k)

    def owners(self, n_rows: int) -> np.ndarray | None:
        """The sample of each row of a call on ``n_rows`` rows (see the class doc), or None
        when the rows belong to no sample."""
        if self.off or n_rows <= 0:
            return None
        if self.focus is not None:
            return np.full(n_rows, self.focus, dtype=np.int64)
        return np.arange(n_rows) if n_rows == self.model.n else None

    def settle(self, evaluated_rows: int) -> None:
        """Count rows the model evaluated that no counted call asked for."""
        missing = evaluated_rows - self.forward_rows
        if missing > 0:
            self.model.count_unattributed("forward", missing)
            self.forward_rows += missing


class _Guard(torch.nn.Module):
    """The target's logits module as ART sees it: float32 inputs, logits or
    probabilities out, and a count of the rows it evaluates."""

    def __init__(self, module: torch.nn.Module, output: str, input_shape: tuple[int, ...]):
        super().__init__()
        self.inner = module
        self.output = output
        self.input_shape = tuple(input_shape)
        self.rows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += int(x.shape[0])
        x = x.reshape(-1, *self.input_shape)  # an attack that works on flat features
        out = self.inner(x.float() if x.dtype != torch.float32 else x)
        return torch.softmax(out, dim=1) if self.output == PROBABILITIES else out


class _ProbabilityNLL(torch.nn.NLLLoss):
    """Cross-entropy for a model that outputs probabilities: the log, then NLL (a plain
    cross-entropy would apply softmax twice)."""

    def forward(self, probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.nll_loss(torch.log(probs.clamp_min(1e-30)), target.long(), reduction=self.reduction)


def _f32(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype != np.float32:
        return x.astype(np.float32)
    return x


@functools.cache
def _estimator_classes() -> tuple[type, type]:
    """ART's estimators with every query counted (see the module doc); ART is imported
    here, on first use, so listing and describing attacks does not load it."""
    from art.estimators.classification import BlackBoxClassifierNeuralNetwork, PyTorchClassifier

    class _CountingTorch(PyTorchClassifier):
        """ART's PyTorch estimator with every query counted (see the module doc)."""

        feint: Attribution

        def predict(self, x, batch_size: int = 128, **kwargs):
            self.feint.count(len(x))
            return super().predict(_f32(x), batch_size=batch_size, **kwargs)

        def _predict_framework(self, x, y=None):
            self.feint.count(len(x))
            return super()._predict_framework(x, y)

        def loss_gradient(self, x, y, **kwargs):
            self.feint.count(len(x), gradients=1)
            return super().loss_gradient(_f32(x), y, **kwargs)

        def class_gradient(self, x, label=None, **kwargs):
            self.feint.count(len(x), gradients=self.nb_classes if label is None else 1)
            return super().class_gradient(_f32(x), label, **kwargs)

        def compute_loss(self, x, y, **kwargs):
            self.feint.count(len(x))
            return super().compute_loss(_f32(x), y, **kwargs)

        def get_activations(self, x, layer=None, batch_size: int = 128, framework: bool = False):
            self.feint.count(len(x))
            return super().get_activations(_f32(x), layer, batch_size, framework)

        def custom_loss_gradient(self, loss_fn, x, y, layer_name, training_mode: bool = False):
            # get_activations counts the forward passes; the gradient is counted here.
            self.feint.count(len(x), gradients=1, forward=False)
            return super().custom_loss_gradient(loss_fn, _f32(x), _f32(y), layer_name, training_mode)

    class _CountingBlackBox(BlackBoxClassifierNeuralNetwork):
        """ART's black-box classifier over a target's ``predict``, every row counted."""

        feint: Attribution

        def predict(self, x, batch_size: int = 128, **kwargs):
            tracker = self.feint.model.tracker
            owners = self.feint.owners(len(x)) if tracker is not None else None
            if tracker is None or owners is None:
                self.feint.count(len(x))
                return super().predict(_f32(x), batch_size=max(int(batch_size), 1024), **kwargs)
            return self._tracked(np.asarray(x), torch.as_tensor(owners), tracker, batch_size, **kwargs)

        def _tracked(self, x, owners, tracker, batch_size, **kwargs):
            """Send only the rows the stopping rules admit and show every answer to the
            tracker; a sample attacked alone that a rule stopped ends ART's work on it."""
            allowed = tracker.admit(owners).numpy()
            sent = x[allowed]
            if len(sent):
                self.feint.model.count("forward", len(sent), owners[allowed])
                self.feint.forward_rows += len(sent)
                out = np.asarray(super().predict(_f32(sent), batch_size=max(int(batch_size), 1024), **kwargs))
                flat = torch.as_tensor(_f32(sent)).reshape(len(sent), -1)
                tracker.observe(flat, torch.as_tensor(out).argmax(dim=1), owners[allowed])
            else:
                out = np.zeros((0, self.nb_classes), np.float32)
            if self.feint.focus is not None and not bool(tracker.left(owners[:1])[0] > 0):
                raise SampleStopped
            if allowed.all():
                return out
            full = torch.exp(tracker.refused_scores(owners, self.nb_classes)).numpy().astype(out.dtype)
            full[allowed] = out
            return full

    return _CountingTorch, _CountingBlackBox


class Estimator:
    """An ART estimator for one batch of a run, with its attribution and guard."""

    def __init__(self, art: Any, attribution: Attribution, evaluated: Any):
        self.art = art
        self.attribution = attribution
        self._evaluated = evaluated

    def settle(self) -> None:
        self.attribution.settle(self._evaluated())


def make_estimator(model: CountedModel, output: str = PROBABILITIES, gradients: bool = True) -> Estimator:
    """The ART estimator for the target behind ``model``: PyTorch (with gradients) for an
    open-box target, black-box otherwise. ``output``: what ART sees as the model's
    output, ``probabilities`` (ART's usual convention) or ``logits``."""
    target = model.target
    attribution = Attribution(model)
    clip = tuple(float(b) for b in target.bounds)
    if model.module is not None and (gradients or output == LOGITS):
        guard = _Guard(model.module, output, tuple(target.input_shape))
        loss = torch.nn.CrossEntropyLoss() if output == LOGITS else _ProbabilityNLL()
        counting_torch, _ = _estimator_classes()
        est = counting_torch(
            model=guard,
            loss=loss,
            input_shape=tuple(target.input_shape),
            nb_classes=len(target.output_classes),
            clip_values=clip,
            channels_first=True,
            device_type="cpu",
        )
        est.feint = attribution
        return Estimator(est, attribution, lambda: guard.rows)
    rows = [0]

    def predict(x: np.ndarray) -> np.ndarray:
        rows[0] += len(x)
        batch = np.asarray(x, np.float32)
        return checked_scores(target, target.predict(batch), len(x), inputs=batch).astype(np.float32)

    _, counting_black_box = _estimator_classes()
    est = counting_black_box(
        predict,
        input_shape=tuple(target.input_shape),
        nb_classes=len(target.output_classes),
        clip_values=clip,
        channels_first=True,
    )
    est.feint = attribution
    return Estimator(est, attribution, lambda: rows[0])


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """ART's log messages and warnings kept out of feint's output (the library never prints)."""
    logger = logging.getLogger("art")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """ART draws from NumPy's, Python's and torch's global generators, and from fresh
    ``np.random.RandomState()`` instances it makes with no seed (its HopSkipJump and
    Boundary attacks' starting points): seed them all for the call, the fresh ones from the
    seeded global generator, and put everything back afterwards."""
    np_state, py_state, torch_state = np.random.get_state(), random.getstate(), torch.get_rng_state()
    np.random.seed(seed % 2**32)
    random.seed(seed)
    torch.manual_seed(seed)
    unseeded = np.random.RandomState

    class SeededRandomState(unseeded):  # type: ignore[misc, valid-type]
        def __init__(self, seed: Any = None) -> None:
            super().__init__(np.random.randint(0, 2**32 - 1, dtype=np.uint64) if seed is None else seed)

    np.random.RandomState = SeededRandomState  # type: ignore[misc]
    try:
        yield
    finally:
        np.random.RandomState = unseeded  # type: ignore[misc]
        np.random.set_state(np_state)
        random.setstate(py_state)
        torch.set_rng_state(torch_state)
