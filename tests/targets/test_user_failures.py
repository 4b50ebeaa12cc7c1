"""A failure inside a user's target (a Python target file's ``__init__``, ``load``,
``predict`` or torch module; a YAML target's model file) is one line naming the file, what
failed and the exception's own line, exit code 2, from ``feint predict``, ``feint run`` and
the shell; ``feint --debug`` adds the traceback."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import yaml

from tests.targets.own_models import HSJ_SMALL, cli

TARGET = '''
import numpy as np
from feint.targets import Target


class Halt(BaseException):
    """Not an Exception: a user's own BaseException subclass."""


class Flaky(Target):
    target_name = "flaky"
    data_type = "tabular"
    input_shape = (3,)
    output_classes = ("a", "b")
    FAIL = "{fail}"

    def __init__(self):
        if self.FAIL == "init":
            raise ValueError("no settings file")
        super().__init__()

    def load(self):
        self.X = np.linspace(0, 1, 15, dtype=np.float32).reshape(5, 3)
        if self.FAIL == "load":
            raise ValueError("weights missing\\nsee the docs")
        if self.FAIL == "load-halt":
            raise Halt("stopped loading")

    def predict(self, x):
        if self.FAIL == "predict":
            raise Halt("the service is down")
        if self.FAIL == "predict-value":
            raise ValueError("bad batch")
        return np.tile([0.3, 0.7], (len(x), 1))
'''

OPEN_BOX = """
import torch
from feint.targets import Target


class Broken(torch.nn.Module):
    def forward(self, x):
        raise RuntimeError("forward is broken")


class OpenFlaky(Target):
    target_name = "open_flaky"
    data_type = "tabular"
    input_shape = (3,)
    output_classes = ("a", "b")

    def load(self):
        self.X = torch.rand(4, 3).numpy()

    def torch_module(self):
        return Broken()
"""

CASES = [
    ("init", "creating Flaky() failed (ValueError: no settings file)"),
    ("load", "Flaky.load() failed (ValueError: weights missing see the docs)"),
    ("load-halt", "Flaky.load() failed (Halt: stopped loading)"),
    ("predict", "Flaky.predict() failed (Halt: the service is down)"),
    ("predict-value", "Flaky.predict() failed (ValueError: bad batch)"),
]


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _file(folder, fail):
    path = folder / f"flaky_{fail.replace('-', '_')}.py"
    path.write_text(textwrap.dedent(TARGET).replace("{fail}", fail))
    return path


def _one_line(rc, err, message):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err, err


@pytest.mark.parametrize("fail, message", CASES, ids=[c[0] for c in CASES])
def test_python_target_failures_are_one_line(tmp_path, home, capsys, fail, message):
    path = _file(tmp_path, fail)
    rc, _, err = cli(capsys, "predict", path, "-i", "0:2")
    _one_line(rc, err, f"feint: error: {path}: {message}")
    rc, _, err = cli(capsys, "run", path, "hop_skip_jump", "-i", "0", *HSJ_SMALL)
    _one_line(rc, err, f"{path}: {message}")
    rc, out, err = cli(capsys, "shell", "-c", f"interact {path}; predict -i 0")
    assert rc == 2 and f"error: {path}: {message}" in err and "Traceback" not in err + out, err


def test_debug_shows_the_traceback(tmp_path, home, capsys):
    path = _file(tmp_path, "load")
    rc, _, err = cli(capsys, "--debug", "predict", path)
    assert rc == 2
    assert "Traceback (most recent call last)" in err and f'File "{path}", line' in err
    assert "ValueError: weights missing" in err and "raise ValueError" in err
    assert (
        err.strip().splitlines()[-1]
        == f"feint: error: {path}: Flaky.load() failed (ValueError: weights missing see the docs)"
    )
    rc, _, err = cli(capsys, "--debug", "shell", "-c", f"interact {path}")
    assert rc == 2 and f'File "{path}", line' in err and "Flaky.load() failed" in err


def test_open_box_module_failure_is_one_line(tmp_path, home, capsys):
    path = tmp_path / "open_flaky.py"
    path.write_text(textwrap.dedent(OPEN_BOX))
    rc, _, err = cli(capsys, "run", path, "pgd", "-i", "0", "--set", "max_iter=2")
    _one_line(rc, err, f"{path}: OpenFlaky's torch module failed (RuntimeError: forward is broken)")


def _corrupt_yaml(folder, ext):
    (folder / f"model.{ext}").write_bytes(b"\x00not a model\x01" * 16)
    np.savez(folder / "s.npz", X=np.zeros((4, 3), np.float32), y=np.array([0, 1, 0, 1]))
    doc = {"name": "corrupt", "model": f"model.{ext}", "data_type": "tabular", "input_shape": [3],
           "classes": ["a", "b"], "samples": "s.npz"}  # fmt: skip
    path = folder / f"corrupt_{ext}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("ext", ["onnx", "pt", "pt2", "skops", "keras"])
def test_corrupt_model_file_is_one_line(tmp_path, home, capsys, ext):
    path = _corrupt_yaml(tmp_path, ext)
    rc, _, err = cli(capsys, "predict", path)
    _one_line(rc, err, f"{path}: model: ")
    assert f"model.{ext}" in err
    rc, _, err = cli(capsys, "run", path, "hop_skip_jump", "-i", "0", *HSJ_SMALL)
    _one_line(rc, err, f"{path}: model: ")
    rc, out, err = cli(capsys, "shell", "-c", f"interact {path}")
    assert rc == 2 and f"error: {path}: model: " in err and "Traceback" not in err + out, err


def test_yaml_model_failing_after_load_is_one_line(tmp_path, home, capsys):
    """An ONNX model that answers the first samples and fails on a later batch (a shape it
    refuses) names the YAML file and the model."""
    import torch

    from feint.targets import get_target

    torch.onnx.export(torch.nn.Linear(3, 2), (torch.zeros(1, 3),), str(tmp_path / "lin.onnx"), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "n"}})  # fmt: skip
    np.savez(tmp_path / "s.npz", X=np.zeros((4, 3), np.float32))
    doc = {"name": "lin", "model": "lin.onnx", "data_type": "tabular", "input_shape": [3], "classes": ["a", "b"],
           "samples": "s.npz"}  # fmt: skip
    (tmp_path / "lin.yaml").write_text(yaml.safe_dump(doc))
    target = get_target(str(tmp_path / "lin.yaml"))
    from feint.errors import CodeFailed

    with pytest.raises(CodeFailed, match=r"lin.yaml: model: the model failed \(.*INVALID_ARGUMENT"):
        target.predict(np.zeros((2, 5), np.float32))
