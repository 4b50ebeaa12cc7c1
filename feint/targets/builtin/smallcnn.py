"""A small convolutional network for the built-in colour-image targets, trained locally.

No pretrained weights can be had offline, so the colour targets train this network on
what they have, in seconds on a CPU, and keep its weights as a torch ``state_dict``
(read back with ``torch.load(weights_only=True)``: nothing is unpickled).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

__all__ = ["SmallCNN", "train_cnn", "save_cnn", "load_cnn", "accuracy"]


class SmallCNN(nn.Module):
    """``(N, 3, H, W)`` in [0, 1] -> logits. ``shrink`` first averages ``shrink x shrink``
    pixel blocks (large inputs); then three 3x3 convolution blocks, global average pooling
    and a linear layer."""

    def __init__(self, classes: int, width: int = 16, shrink: int = 1, channels: int = 3, seed: int = 0):
        super().__init__()
        self.config = {"classes": classes, "width": width, "shrink": shrink, "channels": channels}
        w = width
        with torch.random.fork_rng(devices=[]):  # seeded initial weights; the global generator is untouched
            torch.manual_seed(seed)
            self.net = self._layers(classes, w, shrink, channels)

    @staticmethod
    def _layers(classes: int, w: int, shrink: int, channels: int) -> nn.Sequential:
        return nn.Sequential(
            nn.AvgPool2d(shrink) if shrink > 1 else nn.Identity(),
            nn.Conv2d(channels, w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * w, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Centre the [0, 1] input: faster training, same function of the input.
        return self.net(x - 0.5)


_M = TypeVar("_M", bound=nn.Module)


def _frozen(module: _M) -> _M:
    for p in module.parameters():
        p.requires_grad_(False)
    module.eval()
    return module


def train_cnn(
    module: SmallCNN, x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 3e-3, batch: int = 64, seed: int = 0
) -> SmallCNN:
    """Adam on cross-entropy, seeded (the same data and seed give the same weights)."""
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for s in range(0, len(xt), batch):
            rows = order[s : s + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(module(xt[rows]), yt[rows])
            loss.backward()
            opt.step()
    return _frozen(module)


def accuracy(module: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 256) -> float:
    if len(y) == 0:
        return float("nan")
    with torch.no_grad():
        pred = torch.cat([module(torch.as_tensor(x[s : s + batch])).argmax(1) for s in range(0, len(x), batch)])
    return float((pred.numpy() == y).mean())


def save_cnn(module: SmallCNN, path: Path, meta: dict[str, Any]) -> None:
    """Weights to ``path`` (``.pt``) and ``{config, meta}`` beside it (``.json``), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("tmp-" + path.name)
    torch.save(module.state_dict(), tmp)
    tmp.replace(path)
    side = path.with_suffix(".json")
    tmp = side.with_name("tmp-" + side.name)
    tmp.write_text(json.dumps({"config": module.config, "meta": meta}))
    tmp.replace(side)


def load_cnn(path: Path) -> tuple[SmallCNN, dict[str, Any]] | None:
    """The network and its facts saved at ``path``, or ``None`` when absent or unreadable
    (the caller trains afresh)."""
    side = path.with_suffix(".json")
    if not (path.is_file() and side.is_file()):
        return None
    try:
        saved = json.loads(side.read_text())
        module = SmallCNN(**saved["config"])
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception:  # a damaged or foreign file: train again rather than trust it
        return None
    return _frozen(module), saved.get("meta", {})
