"""PyTorch model files; open-box.

- TorchScript (``torch.jit.save``; ``.pt``, ``.pth``, ``.ts``), read by ``torch.jit.load``,
  which runs no pickled Python code.
- ``torch.export`` archives (``.pt2``, ``torch.export.save``), read by ``torch.export.load``
  with every ``torch.load`` inside it kept weights-only (unless the user trusts the file).
  An archive exported for one fixed batch size is called in chunks of that size.

A plain ``torch.save`` file (a pickled module or a state dict) is not a model feint can
rebuild on its own: it needs the class that defines the architecture, so declare a Python
target class instead (and load its weights with ``torch.load(..., weights_only=True)``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from feint.targets.adapters import ModelAdapter

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["TorchScriptModel", "ExportedModel"]


@contextlib.contextmanager
def _weights_only(force: bool):
    """``torch.export.load`` falls back to full unpickling when weights-only loading fails;
    unless the user trusts the file, torch's own switch keeps every ``torch.load`` inside
    it weights-only."""
    if not force:
        yield
        return
    saved = {k: os.environ.get(k) for k in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")}
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class TorchScriptModel(ModelAdapter):
    kind = "torchscript"
    open_box = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._module = None

    def load(self) -> None:
        import warnings

        import torch

        try:
            with warnings.catch_warnings():  # TorchScript is deprecated, and still what many users have
                warnings.simplefilter("ignore", DeprecationWarning)
                net = torch.jit.load(str(self.path), map_location="cpu")
        except Exception as exc:
            raise self.fail(
                f"{self.path.name} is not a TorchScript file ({_first_line(exc)}); feint reads "
                "TorchScript (torch.jit.save) and torch.export archives (.pt2); for a state dict, "
                "declare a Python target class that builds the model"
            ) from None
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self._module = net

    def module(self):
        return self._module


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Silence a library's log below errors: torch.export logs a failed read's traceback as
    a warning, which the one-line error of :meth:`ExportedModel.load` stands in for."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


class ExportedModel(ModelAdapter):
    kind = "torch.export"
    open_box = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._module: torch.nn.Module | None = None
        self._input_shape: tuple | None = None

    def load(self) -> None:
        import torch

        try:
            with _weights_only(not self.trust), _quiet("torch.export"):
                program = torch.export.load(str(self.path))
        except Exception as exc:
            hint = ""
            if not self.trust and "weights_only" in str(exc).replace("weights-only", "weights_only"):
                from feint.targets.adapters.sklearn_model import TRUST_HINT

                hint = (
                    "; it holds objects that only full unpickling reads, and unpickling runs code "
                    f"from the file: {TRUST_HINT}"
                )
            raise self.fail(
                f"{self.path.name} could not be read as a torch.export archive ({_first_line(exc)}){hint}"
            ) from None
        graph = program.module()
        shape = None
        for node in program.graph.nodes:
            if node.op == "placeholder" and node.name in program.graph_signature.user_inputs:
                val = node.meta.get("val")
                if val is not None:
                    shape = tuple(d if isinstance(d, int) else None for d in val.shape)
                break
        self._input_shape = shape[1:] if shape else None
        fixed_batch = shape[0] if shape and isinstance(shape[0], int) else None
        for p in graph.parameters():
            p.requires_grad_(False)

        class Exported(torch.nn.Module):
            """Calls the exported graph, in chunks of its batch size when that was fixed."""

            def __init__(self, net: Any) -> None:
                super().__init__()
                self.net = net

            def train(self, mode: bool = True):  # an exported graph refuses train()/eval()
                self.training = mode
                return self

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                if fixed_batch is None or len(x) == fixed_batch:
                    return self.net(x)
                outs = []
                for s in range(0, len(x), fixed_batch):
                    part = x[s : s + fixed_batch]
                    pad = fixed_batch - len(part)
                    if pad:
                        part = torch.cat([part, part[-1:].expand(pad, *part.shape[1:])])
                    outs.append(self.net(part)[: fixed_batch - pad])
                return torch.cat(outs)

        self._module = Exported(graph)

    def module(self):
        return self._module

    def expected_input_shape(self):
        return self._input_shape
