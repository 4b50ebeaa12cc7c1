"""The target as an attack sees it, with every query counted.

Every forward pass and every gradient evaluation of every sample counts: a PGD step
on a batch of 100 is 100 forward and 100 gradient queries; a Jacobian-vector product
for two class directions is two gradient queries per sample. Counts are kept per
sample of the run, so a sample that stopped early shows fewer queries than one that
did not. Queries that belong to no sample of the run (an extraction attack querying
its own thief data) are counted too, in :attr:`CountedModel.unattributed`.

A closed-box attack's model has a :class:`~feint.attacks.trajectory.Tracker`: it sees
every answer (the sample's best distance after each query) and holds the stopping rules.
A row of a sample whose ``max_queries`` is spent, or that is already adversarial within
``target_distance``, is not sent: it is answered with the sample's first scores (not
adversarial). An attack that knows the rules asks :meth:`CountedModel.left` first and
sends no such row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np
import torch

from feint.attacks.layout import query_module
from feint.attacks.trajectory import Tracker
from feint.errors import FeintError, Incompatible
from feint.targets.base import Target, checked_scores

__all__ = ["CountedModel", "FORWARD_CHUNK", "SampleStopped"]

# Rows per forward pass of a large query (closed-box probing). Passes of about a hundred
# rows keep each activation below the allocator's 32 MiB mmap threshold, so its memory is
# reused instead of mapped and faulted in afresh on every pass: on the digits CNN,
# 128-row passes cost about 40 percent less per row than 256-row ones, and far less
# than 4,096-row ones.
FORWARD_CHUNK = 128

Rows: TypeAlias = "torch.Tensor | np.ndarray | Sequence[int] | None"

UNCAPPED = 2**62  # rows left to a sample that has no cap


class SampleStopped(Exception):
    """Raised inside a library's one-sample attack loop when a stopping rule ends the
    sample: its result is the closest adversarial its queries found."""


class CountedModel:
    """Wraps a target for one batch of a run.

    ``rows`` arguments name, for each row of ``x``, which sample of the batch it belongs
    to (positions ``0 .. n-1``); ``None`` means row ``i`` is sample ``i``. Several rows
    may belong to one sample (a closed-box attack probing around it).
    """

    def __init__(
        self,
        target: Target,
        forward_counts: np.ndarray,
        gradient_counts: np.ndarray,
        sample_ids: np.ndarray | None = None,
        log: list[dict] | None = None,
        max_rows: int | None = None,
        tracker: Tracker | None = None,
    ):
        self.target = target
        self.lower, self.upper = (float(b) for b in target.bounds)
        module = target.torch_module() if target.open_box else None
        # Queries go to a checked channels-last copy where that is faster (feint.attacks.layout).
        self.module = None if module is None else query_module(module, target.input_shape, (self.lower, self.upper))
        self.forward_counts = forward_counts
        self.gradient_counts = gradient_counts
        self.sample_ids = sample_ids
        self.log = log
        self.max_rows = max_rows or FORWARD_CHUNK
        self.num_classes = len(target.output_classes)
        self.unattributed = {"forward": 0, "gradient": 0}
        self.tracker = tracker

    @property
    def n(self) -> int:
        return len(self.forward_counts)

    # -- counting ------------------------------------------------------------------
    def _count(self, counts: np.ndarray, kind: str, rows: Rows, rows_n: int, k: int = 1) -> None:
        if rows is None:
            counts[:rows_n] += k
            touched = np.arange(rows_n)
        else:
            touched = _as_index(rows)
            np.add.at(counts, touched, k)
        if self.log is not None:
            ids = self.sample_ids[np.unique(touched)] if self.sample_ids is not None else np.unique(touched)
            self.log.append({"kind": kind, "rows": int(rows_n) * k, "samples": ids.tolist()})

    def count(self, kind: str, n_rows: int, rows: Rows = None, k: int = 1) -> None:
        """Count ``k`` queries of ``kind`` (``forward`` or ``gradient``) for each of ``n_rows``
        rows evaluated elsewhere (by an adapter that runs the model itself); ``rows`` names
        each row's sample as in :meth:`logits`."""
        counts = self.forward_counts if kind == "forward" else self.gradient_counts
        self._count(counts, kind, rows, n_rows, k)

    def count_unattributed(self, kind: str, n_rows: int, k: int = 1) -> None:
        """Count queries that belong to no sample of the batch; they go to the run's totals."""
        self.unattributed[kind] += int(n_rows) * k
        if self.log is not None:
            self.log.append({"kind": kind, "rows": int(n_rows) * k, "samples": []})

    # -- stopping rules ------------------------------------------------------------
    def left(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Rows each sample of ``idx`` (default: all) may still be queried on: what its
        ``max_queries`` leaves, 0 once a rule stopped it, a large number without rules."""
        if self.tracker is not None:
            return self.tracker.left(idx)
        return torch.full((self.n if idx is None else len(idx),), UNCAPPED, dtype=torch.long)

    # -- queries -------------------------------------------------------------------
    def logits(self, x: torch.Tensor, rows: Rows = None) -> torch.Tensor:
        """Scores whose argmax is the predicted label (logits, or log-probabilities for a
        closed-box target). No gradient. Counts one forward query per row sent; a row the
        stopping rules refuse is not sent (see the module doc)."""
        if self.tracker is None:
            return self._forward(x, rows)
        owners = torch.arange(len(x)) if rows is None else torch.as_tensor(_as_index(rows))
        allowed = self.tracker.admit(owners)
        if bool(allowed.all()):
            out = self._forward(x, owners)
            self.tracker.observe(x.flatten(1), out.argmax(dim=1), owners)
            return out
        sent = self._forward(x[allowed], owners[allowed])
        self.tracker.observe(x[allowed].flatten(1), sent.argmax(dim=1), owners[allowed])
        out = self.tracker.refused_scores(owners, self.num_classes).to(sent.dtype)
        out[allowed] = sent
        return out

    def _forward(self, x: torch.Tensor, rows: Rows) -> torch.Tensor:
        self._count(self.forward_counts, "forward", rows, len(x))
        out = []
        for start in range(0, len(x), self.max_rows):
            chunk = x[start : start + self.max_rows]
            if self.module is not None:
                with torch.no_grad():
                    out.append(self.module(chunk))
            else:
                batch = chunk.detach().cpu().numpy()
                probs = checked_scores(self.target, self.target.predict(batch), len(chunk), inputs=batch)
                out.append(torch.log(torch.as_tensor(probs, dtype=torch.float32).clamp_min(1e-30)))
        return torch.cat(out) if out else torch.zeros((0, self.num_classes))

    def text_probs(self, texts: Sequence[str], rows: Rows = None) -> np.ndarray:
        """A text target's class probabilities for ``texts``, all in one call to its
        ``predict``. Counts one forward query per text."""
        self._count(self.forward_counts, "forward", rows, len(texts))
        if not len(texts):
            return np.zeros((0, self.num_classes))
        batch = np.empty(len(texts), dtype=object)
        batch[:] = list(texts)
        probs = np.asarray(self.target.predict(batch), dtype=np.float64)
        if probs.shape != (len(texts), self.num_classes):
            raise FeintError(
                f"target {self.target.target_name} answered predict with shape {probs.shape}; "
                f"expected ({len(texts)}, {self.num_classes}): one probability per class"
            )
        return probs

    def labels(self, x: torch.Tensor, rows: Rows = None) -> torch.Tensor:
        return self.logits(x, rows).argmax(dim=1)

    def _require_gradients(self) -> torch.nn.Module:
        if self.module is None:
            raise Incompatible(f"target {self.target.target_name} is closed-box: no gradients")
        return self.module

    def loss_grad(
        self, x: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor], rows: Rows = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, d loss / d x)`` for a per-row loss ``loss_fn(logits) -> (N,)``.
        Counts one forward and one gradient query per row."""
        module = self._require_gradients()
        self._count(self.forward_counts, "forward", rows, len(x))
        self._count(self.gradient_counts, "gradient", rows, len(x))
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            logits = module(x)
            (grad,) = torch.autograd.grad(loss_fn(logits).sum(), x)
        return logits.detach(), grad

    def vjps(
        self, x: torch.Tensor, directions: Sequence[torch.Tensor], rows: Rows = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(logits, [J^T d for d in directions])`` where each ``d`` is ``(N, classes)``:
        gradients of weighted sums of the logits. Counts one forward query and one
        gradient query per direction, per row."""
        module = self._require_gradients()
        self._count(self.forward_counts, "forward", rows, len(x))
        self._count(self.gradient_counts, "gradient", rows, len(x), k=len(directions))
        x = x.detach().requires_grad_(True)
        grads = []
        with torch.enable_grad():
            logits = module(x)
            for i, d in enumerate(directions):
                (g,) = torch.autograd.grad(logits, x, grad_outputs=d, retain_graph=i < len(directions) - 1)
                grads.append(g)
        return logits.detach(), grads


def _as_index(rows) -> np.ndarray:
    if isinstance(rows, torch.Tensor):
        return rows.detach().cpu().numpy().astype(np.int64)
    return np.asarray(rows, dtype=np.int64)
