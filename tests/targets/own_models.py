"""Tiny models of every supported format, built in a folder, with their YAML declarations.

All are trained (about a second) on scikit-learn's 8x8 digits scaled to [0, 1]: feint's
layout (N, 1, 8, 8); ten classes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

CLASSES = [str(i) for i in range(10)]


def digits8(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    return (x[:n], d.target[:n]) if n else (x, d.target)


def train_mlp(seed: int = 0):
    """Flatten, Linear 64-32, ReLU, Linear 32-10, trained on the raw [0, 1] digits."""
    import torch

    torch.manual_seed(seed)
    x, y = digits8()
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    for _ in range(80):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    return net.eval()


def write_samples(folder: Path, n: int = 40) -> Path:
    x, y = digits8()
    path = folder / "digits.npz"
    np.savez(path, X=x[-n:], y=y[-n:])  # the last digits: a hold-out of sorts
    return path


def write_yaml(folder: Path, name: str, model, samples="digits.npz", **extra) -> Path:
    import yaml

    doc = {
        "name": name,
        "model": model,
        "data_type": "image",
        "input_shape": [1, 8, 8],
        "classes": CLASSES,
        "bounds": [0, 1],
        "samples": samples,
        **extra,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def save_torchscript(net, path: Path) -> Path:
    import torch

    torch.jit.save(torch.jit.script(net), str(path))
    return path


def save_export(net, path: Path, batch: int = 4) -> Path:
    """A torch.export archive for a fixed batch size (feint calls it in chunks)."""
    import torch

    x, _ = digits8(batch)
    torch.export.save(torch.export.export(net, (torch.as_tensor(x),)), str(path))
    return path


def save_onnx(net, path: Path, preprocess_scale: float = 1.0) -> Path:
    import torch

    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return torch.softmax(self.net(x / preprocess_scale), dim=1)

    x, _ = digits8(2)
    torch.onnx.export(
        Scaled().eval(),
        (torch.as_tensor(x),),
        str(path),
        dynamo=False,
        input_names=["x"],
        output_names=["probs"],
        dynamic_axes={"x": {0: "n"}, "probs": {0: "n"}},
    )
    return path


def save_keras(net, path: Path) -> Path:
    """The MLP's weights in a Keras model that takes channels-last (8, 8, 1) input and ends in softmax."""
    from feint.targets.builtin.digits import import_keras

    keras = import_keras()
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    lin1, lin2 = net[1], net[3]
    model.layers[1].set_weights([lin1.weight.detach().numpy().T, lin1.bias.detach().numpy()])
    model.layers[2].set_weights([lin2.weight.detach().numpy().T, lin2.bias.detach().numpy()])
    model.save(path)
    return path


def train_logistic():
    from sklearn.linear_model import LogisticRegression

    x, y = digits8()
    return LogisticRegression(max_iter=300).fit(x.reshape(len(x), -1), y)


def save_skops(model, path: Path) -> Path:
    import skops.io as sio

    sio.dump(model, str(path))
    return path


def save_pickle(model, path: Path) -> Path:
    import pickle

    path.write_bytes(pickle.dumps(model))
    return path


_built: dict[str, Path] = {}


def built() -> Path:
    """A folder (made once per test process) holding the models of every format and the samples."""
    import tempfile

    if "dir" not in _built:
        import atexit
        import shutil

        folder = Path(tempfile.mkdtemp(prefix="feint-own-models-"))
        atexit.register(shutil.rmtree, folder, True)
        net = train_mlp()
        write_samples(folder)
        save_torchscript(net, folder / "mlp.pt")
        save_export(net, folder / "mlp.pt2")
        save_onnx(net, folder / "mlp.onnx")
        save_keras(net, folder / "mlp.keras")
        logistic = train_logistic()
        save_skops(logistic, folder / "logistic.skops")
        save_pickle(logistic, folder / "logistic.pkl")
        import torch

        torch.save(net.state_dict(), folder / "state_dict.pt")  # weights only: not a model feint can rebuild
        _built["net"], _built["logistic"] = net, logistic  # type: ignore[assignment]
        _built["dir"] = folder
    return _built["dir"]


def reference(name: str):
    """The in-memory model a file was written from: ``net`` (torch MLP) or ``logistic``."""
    built()
    return _built[name]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run feint's CLI in-process: (exit code, stdout, stderr)."""
    from feint.cli.app import main

    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def scan_json(capsys, *argv: str) -> dict:
    import json

    rc, out, err = cli(capsys, "scan", *argv, "--json")
    assert rc == 0, err
    return json.loads(out)


HSJ_SMALL = ("--set", "max_eval=50", "--set", "max_iter=2", "--set", "init_eval=10")
