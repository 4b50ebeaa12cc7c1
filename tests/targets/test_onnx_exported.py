"""ONNX files as converters write them: skl2onnx at its defaults (a ZipMap of probabilities
beside the labels), and torch.onnx.export with a fixed batch size, extra inputs and a
one-column sigmoid; outputs picked by name or index; the runtime's thread settings."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from feint.errors import FeintError
from tests.targets.own_models import HSJ_SMALL, cli

IRIS_NAMES = ["setosa", "versicolor", "virginica"]


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _declare(folder, name, **doc):
    base = {"name": name, "data_type": "tabular", **doc}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def _iris():
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    return x, y


def _iris_csv(folder, x, y, n=30):
    rows = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    pick = np.arange(0, 150, 150 // n)
    rows += [",".join([*(f"{v:g}" for v in x[i]), IRIS_NAMES[y[i]]]) for i in pick]
    (folder / "iris.csv").write_text("\n".join(rows) + "\n")
    return pick


def test_skl2onnx_default_zipmap_with_string_labels(tmp_path, home, capsys):
    """skl2onnx's default output is a label tensor and a sequence of maps; the maps are read
    as probabilities, their labels matched to the declared classes by name."""
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    from feint.targets import get_target

    x, y = _iris()
    model = LogisticRegression(max_iter=500).fit(x, np.asarray(IRIS_NAMES)[y])
    (tmp_path / "iris.onnx").write_bytes(to_onnx(model, x[:1].astype(np.float32)).SerializeToString())
    pick = _iris_csv(tmp_path, x, y)
    declared = ["virginica", "setosa", "versicolor"]  # not the model's order
    path = _declare(
        tmp_path,
        "iris",
        model="iris.onnx",
        input_shape=[4],
        classes=declared,
        bounds=[0, 8],
        samples={"csv": "iris.csv", "label": "species"},
    )
    target = get_target(str(path))
    expected = model.predict_proba(x[pick].astype(np.float32))[:, [2, 0, 1]]
    np.testing.assert_allclose(target.predict(target.X), expected, atol=1e-5)
    info = target.describe()
    assert info["model_classes"] == IRIS_NAMES and info["output"] == "output_probability"
    assert info["sample_accuracy"] > 0.9
    assert target.columns == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    rc, out, err = cli(capsys, "predict", path, "-i", "0", "--json")
    assert rc == 0, err
    import json

    row = json.loads(out)["predictions"][0]
    assert row["label"] == "setosa"


def test_skl2onnx_int_labels_double_input_and_binary(tmp_path, home):
    """Integer labels (the classifier's classes_ order), a double-precision input (what
    to_onnx writes for float64 data), and a two-class ZipMap."""
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from feint.targets import get_target

    x, y = _iris()
    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, y)
    (tmp_path / "forest.onnx").write_bytes(to_onnx(forest, x[:1]).SerializeToString())
    np.savez(tmp_path / "iris.npz", X=x[::5].astype(np.float32), y=y[::5])
    path = _declare(
        tmp_path, "forest", model="forest.onnx", input_shape=[4], classes=IRIS_NAMES, bounds=[0, 8], samples="iris.npz"
    )
    target = get_target(str(path))
    np.testing.assert_allclose(target.predict(target.X), forest.predict_proba(x[::5]), atol=1e-5)
    assert target.describe()["model_classes"] == ["0", "1", "2"]

    binary = LogisticRegression(max_iter=500).fit(x, y == 2)
    (tmp_path / "binary.onnx").write_bytes(to_onnx(binary, x[:1].astype(np.float32)).SerializeToString())
    np.savez(tmp_path / "two.npz", X=x[::5].astype(np.float32), y=(y[::5] == 2).astype(int))
    path = _declare(
        tmp_path, "binary", model="binary.onnx", input_shape=[4], classes=["other", "virginica"], bounds=[0, 8],
        samples="two.npz",
    )  # fmt: skip
    target = get_target(str(path))
    np.testing.assert_allclose(target.predict(target.X), binary.predict_proba(x[::5]), atol=1e-5)
    assert target.describe()["model_classes"] == ["0", "1"]  # skl2onnx writes boolean labels as 0 and 1


class _Gated:
    """A torch module with the samples, a sample rate (int64 scalar) and a state tensor,
    ending in a one-column sigmoid: p = sigmoid(sum(x) * sr / 16000 + sum(state) - 1.5)."""

    @staticmethod
    def build():
        import torch

        class Gated(torch.nn.Module):
            def forward(self, x, sr, state):
                z = x.sum(1, keepdim=True) * (sr.float() / 16000.0) + state.sum(1, keepdim=True) - 1.5
                return torch.sigmoid(z)

        return Gated().eval()

    @staticmethod
    def expected(x, sr=16000, state=0.0):
        return 1.0 / (1.0 + np.exp(-(x.sum(1) * sr / 16000.0 + state - 1.5)))


def _export_gated(path, dynamic: bool):
    import torch

    args = (torch.rand(4, 3), torch.tensor(16000, dtype=torch.int64), torch.zeros(4, 2))
    axes = {"x": {0: "batch"}, "state": {0: "batch"}, "p": {0: "batch"}} if dynamic else None
    torch.onnx.export(
        _Gated.build(), args, str(path), dynamo=False, input_names=["x", "sr", "state"], output_names=["p"],
        dynamic_axes=axes,
    )  # fmt: skip
    return path


def _samples(folder, n=10):
    x = np.random.default_rng(0).random((n, 3)).astype(np.float32)
    np.savez(folder / "s.npz", X=x, y=(x.sum(1) > 1.5).astype(int))
    return x


@pytest.mark.parametrize("dynamic", [False, True], ids=["fixed-batch", "dynamic-batch"])
def test_torch_export_extra_inputs_fixed_batch_sigmoid(tmp_path, home, capsys, dynamic):
    """A torch.onnx.export with extra inputs given as constants, a one-column sigmoid read as
    two classes ([1 - p, p]), and, exported without dynamic axes, a batch size fixed at 4
    (10 samples: chunks of 4, the last padded)."""
    from feint.targets import get_target

    _export_gated(tmp_path / "gated.onnx", dynamic)
    x = _samples(tmp_path)
    path = _declare(
        tmp_path,
        "gated",
        model="gated.onnx",
        input_shape=[3],
        classes=["quiet", "loud"],
        samples="s.npz",
        inputs={"sr": 16000, "state": "zeros"},
    )
    target = get_target(str(path))
    p = _Gated.expected(x)
    np.testing.assert_allclose(target.predict(x), np.stack([1 - p, p], 1), atol=1e-5)
    info = target.describe()
    assert info["one_column"] == "probabilities" and info["inputs"] == {"sr": 16000, "state": "zeros"}
    assert info.get("batch") == (None if dynamic else 4)
    assert info["sample_accuracy"] == 1.0
    if dynamic:  # the state's batch dimension follows the samples'
        np.testing.assert_allclose(target.predict(x[:7])[:, 1], p[:7], atol=1e-5)
    # other constants: a list for the state (its batch dimension given), a number filling it
    shown = _declare(
        tmp_path, "gated2", model="gated.onnx", input_shape=[3], classes=["quiet", "loud"], samples="s.npz",
        inputs={"sr": 8000, "state": 0.25} if dynamic else {"sr": 8000, "state": [[0.25, 0.25]] * 4},
    )  # fmt: skip
    target2 = get_target(str(shown))
    np.testing.assert_allclose(target2.predict(x)[:, 1], _Gated.expected(x, 8000, 0.5), atol=1e-5)
    rc, _, err = cli(capsys, "run", path, "hop_skip_jump", "-i", "0:3", *HSJ_SMALL)
    assert rc == 0, err


def test_one_column_logit(tmp_path, home):
    """A one-column logit: outputs: logits (or values outside [0, 1] under auto) read as
    p = sigmoid(z) for the second class."""
    import torch

    from feint.targets import get_target

    lin = torch.nn.Linear(3, 1)
    with torch.no_grad():
        lin.weight[:] = torch.tensor([[4.0, 4.0, 4.0]])
        lin.bias[:] = -6.0
    torch.onnx.export(lin, (torch.zeros(1, 3),), str(tmp_path / "logit.onnx"), dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "n"}})  # fmt: skip
    x = _samples(tmp_path)
    z = x.sum(1) * 4.0 - 6.0
    for outputs in ("auto", "logits"):
        path = _declare(tmp_path, f"logit_{outputs}", model="logit.onnx", input_shape=[3], classes=["no", "yes"],
                        samples="s.npz", outputs=outputs)  # fmt: skip
        target = get_target(str(path))
        np.testing.assert_allclose(target.predict(x)[:, 1], 1 / (1 + np.exp(-z)), atol=1e-5)
        assert target.describe()["one_column"] == "logits"


def _two_outputs(path):
    import torch

    class Two(torch.nn.Module):
        def forward(self, x):
            features = torch.cat([x, x * 2], dim=1)  # (N, 6): not the class scores
            return features, torch.softmax(x[:, :2] * 3, dim=1)

    torch.onnx.export(Two().eval(), (torch.zeros(1, 3),), str(path), dynamo=False, input_names=["x"],
                      output_names=["features", "probabilities"],
                      dynamic_axes={"x": {0: "n"}, "features": {0: "n"}, "probabilities": {0: "n"}})  # fmt: skip


def test_output_by_name_or_index(tmp_path, home):
    from feint.targets import get_target

    _two_outputs(tmp_path / "two.onnx")
    x = _samples(tmp_path)
    e = np.exp(x[:, :2] * 3)
    expected = e / e.sum(1, keepdims=True)
    doc = {"model": "two.onnx", "input_shape": [3], "classes": ["a", "b"], "samples": "s.npz"}
    with pytest.raises(FeintError, match=r"classes: the model returns scores of shape \[6\]"):
        get_target(str(_declare(tmp_path, "first", **doc)))  # the first (N, k) output is not it
    for output in ("probabilities", 1):
        target = get_target(str(_declare(tmp_path, f"by_{output}", output=output, **doc)))
        np.testing.assert_allclose(target.predict(x), expected, atol=1e-5)
        assert target.describe()["output"] == "probabilities"
    with pytest.raises(FeintError, match=r"output: two.onnx has outputs 0 to 1 \(0: features tensor\(float\)"):
        get_target(str(_declare(tmp_path, "by_7", output=7, **doc)))
    with pytest.raises(FeintError, match=r"output: two.onnx has no output 'probs'; its outputs: 0: features"):
        get_target(str(_declare(tmp_path, "by_probs", output="probs", **doc)))


def test_extra_input_errors(tmp_path, home, capsys):
    """Every mistake in inputs and output is one line naming the key and what is accepted."""
    _export_gated(tmp_path / "gated.onnx", dynamic=True)
    _samples(tmp_path)
    doc = {"model": "gated.onnx", "input_shape": [3], "classes": ["quiet", "loud"], "samples": "s.npz"}
    cases = [
        ({}, "gated.onnx takes 3 inputs (x, sr, state); feint feeds the samples to one: give the others "
             "constants in inputs (a number, a list, zeros or ones), e.g. inputs: {sr: zeros}"),
        ({"inputs": {"sr": 16000, "rate": 1}}, "inputs: gated.onnx has no input 'rate'; its inputs: x, sr, state"),
        ({"inputs": {"sr": 16000.5, "state": "zeros"}}, "inputs.sr: takes int64 values; got fractions"),
        ({"inputs": {"sr": 16000, "state": [1, 2, 3]}},
         "inputs.state: a list of shape [3] does not fit the input's shape [batch, 2]"),
        ({"inputs": {"sr": 16000, "state": "empty"}},
         "inputs.state: expects a number, a list of numbers, zeros or ones; got 'empty'"),
        ({"inputs": {"x": 0, "sr": 1, "state": "ones"}}, "inputs: gives every input of gated.onnx (x, sr, state)"),
        ({"inputs": [1, 2]}, "inputs: expects a mapping of input names to constants"),
        ({"output": -1}, "output: expects an output's name or index (0 for the first); got -1"),
    ]  # fmt: skip
    for n, (extra, message) in enumerate(cases):
        path = _declare(tmp_path, f"case{n}", **doc, **extra)
        rc, out, err = cli(capsys, "predict", path)
        assert rc == 2 and len(err.strip().splitlines()) == 1, err
        assert message in err, err
    import torch

    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), str(tmp_path / "lin.pt"))
    path = _declare(tmp_path, "torchscript", **{**doc, "model": "lin.pt"}, output=0)
    rc, _, err = cli(capsys, "predict", path)
    assert rc == 2 and "output: applies to ONNX models; lin.pt is not one" in err


def test_session_threads_leave_room_for_torch(tmp_path, home):
    """The session runs on torch's thread count, one inter-op thread, and without spinning."""
    import torch

    from feint.targets import get_target

    _export_gated(tmp_path / "gated.onnx", dynamic=True)
    _samples(tmp_path)
    path = _declare(tmp_path, "gated", model="gated.onnx", input_shape=[3], classes=["quiet", "loud"],
                    samples="s.npz", inputs={"sr": 16000, "state": "zeros"})  # fmt: skip
    target = get_target(str(path))
    options = target.adapter._session.get_session_options()
    assert options.intra_op_num_threads == torch.get_num_threads() == target.describe()["onnx_threads"]
    assert options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
