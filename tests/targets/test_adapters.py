"""Each model adapter on a tiny model of its format: predictions agree with the model it was
written from, open-box formats give gradients, and a scan through the CLI stores sensible
results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.targets.own_models import HSJ_SMALL, built, cli, digits8, reference, scan_json, write_yaml


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def models() -> Path:
    return built()


def declare(models: Path, name: str, model: str, **extra) -> Path:
    return write_yaml(models, name, model, **extra)


def _torch_probs(x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.softmax(reference("net")(torch.as_tensor(x)), 1).numpy()


def _check_pgd_scan(doc: dict, home: Path, eps: float = 0.3) -> None:
    run = doc["runs"][0]
    assert run["n"] == 10 and run["successes"] >= 5  # a tiny MLP falls to eps 0.3
    for s in run["samples"]:
        assert s["linf"] <= eps + 1e-5
        assert s["gradient_queries"] == 5
    adv = np.load(Path(run["artifacts"]) / "adversarial.npz")
    assert adv["x_adv"].min() >= 0.0 and adv["x_adv"].max() <= 1.0
    from feint.store.db import Store

    stored = Store().get_scan(doc["scan_id"])
    assert stored is not None and stored.runs[0].successes == run["successes"]
    assert stored.target_info["adapter"] and stored.target_info["source"].endswith(".yaml")


def _check_hsj_scan(doc: dict) -> None:
    run = doc["runs"][0]
    assert run["successes"] >= 1
    assert run["gradient_queries"] == 0 and run["forward_queries"] > 0
    for s in run["samples"]:
        assert 0 <= s["linf"] <= 1.0 + 1e-6


@pytest.mark.parametrize("model, kind", [("mlp.pt", "torchscript"), ("mlp.pt2", "torch.export")])
def test_pytorch_files_are_open_box(models, home, capsys, model, kind):
    import torch

    from feint.targets import get_target

    path = declare(models, kind.replace(".", "_"), model)
    target = get_target(str(path))
    assert target.open_box and target.describe()["adapter"] == kind
    x = target.X[:7]  # 7 rows: the .pt2 archive was exported for batches of 4
    np.testing.assert_allclose(target.predict(x), _torch_probs(x), atol=1e-5)
    xt = torch.as_tensor(x).requires_grad_(True)
    target.torch_module()(xt).logsumexp(1).sum().backward()
    assert xt.grad is not None and float(xt.grad.abs().sum()) > 0
    doc = scan_json(capsys, path, "-a", "pgd", "-i", "0:10", "--set", "max_iter=5")
    _check_pgd_scan(doc, home)


def test_keras_file_is_open_box_with_logits(models, home, capsys):
    import torch

    from feint.targets import get_target

    path = declare(models, "keras_mlp", "mlp.keras", channels="last")
    target = get_target(str(path))
    assert target.open_box and target.describe()["adapter"] == "keras"
    x = target.X[:5]
    np.testing.assert_allclose(target.predict(x), _torch_probs(x), atol=1e-4)
    with torch.no_grad():  # the final softmax was removed: the module gives the logits themselves
        logits = target.torch_module()(torch.as_tensor(x)).numpy()
        expected = reference("net")(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-4)
    assert target.describe()["runs_as"] == "torch, lowered from Keras"
    again = get_target(str(path))  # the checked lowering is read back, not made again
    assert again.describe()["runs_as"] == "torch, lowered from Keras"
    assert list((home / "cache" / "keras").glob("*.lowered.npz"))
    np.testing.assert_allclose(again.predict(x), target.predict(x), atol=1e-6)
    doc = scan_json(capsys, path, "-a", "pgd", "-i", "0:10", "--set", "max_iter=5")
    _check_pgd_scan(doc, home)


def test_keras_h5_and_wrong_channel_order(models, home):
    from feint.errors import FeintError
    from feint.targets import get_target
    from feint.targets.builtin.digits import import_keras

    keras = import_keras()
    model = keras.saving.load_model(models / "mlp.keras")
    model.save(models / "mlp.h5")
    target = get_target(str(declare(models, "keras_h5", "mlp.h5", channels="last")))
    np.testing.assert_allclose(target.predict(target.X[:3]), _torch_probs(target.X[:3]), atol=1e-4)
    with pytest.raises(
        FeintError, match=r"input_shape: the model expects inputs of shape \[8, 8, 1\].*set channels: last"
    ):
        get_target(str(declare(models, "keras_first", "mlp.keras")))


def test_onnx_file_is_closed_box(models, home, capsys):
    from feint.targets import get_target

    path = declare(models, "onnx_mlp", "mlp.onnx")
    target = get_target(str(path))
    assert not target.open_box and target.torch_module() is None
    assert target.describe()["adapter"] == "onnx"
    np.testing.assert_allclose(target.predict(target.X[:6]), _torch_probs(target.X[:6]), atol=1e-5)
    rc, _, err = cli(capsys, "scan", path, "-a", "pgd")
    assert rc == 2 and "closed-box" in err and len(err.strip().splitlines()) == 1
    doc = scan_json(capsys, path, "-a", "hop_skip_jump", "-i", "0:4", *HSJ_SMALL)
    _check_hsj_scan(doc)


def test_skops_file_is_closed_box(models, home, capsys):
    from feint.targets import get_target

    path = declare(models, "skops_logistic", "logistic.skops")
    target = get_target(str(path))
    assert not target.open_box and target.describe()["estimator"] == "LogisticRegression"
    x = target.X[:6]
    np.testing.assert_allclose(target.predict(x), reference("logistic").predict_proba(x.reshape(6, -1)), atol=1e-6)
    doc = scan_json(capsys, path, "-a", "hop_skip_jump", "-i", "0:3", *HSJ_SMALL)
    _check_hsj_scan(doc)


class Doubler:
    """An estimator of a type skops does not trust: refused unless the user trusts the file."""

    def __init__(self, inner=None):
        self.inner = inner

    def predict_proba(self, x):
        return self.inner.predict_proba(x)


def test_skops_untrusted_types_need_trust(models, home, tmp_path, capsys):
    import skops.io as sio

    from feint.errors import FeintError
    from feint.targets import get_target

    sio.dump(Doubler(reference("logistic")), str(models / "custom.skops"))
    path = declare(models, "custom_skops", "custom.skops")
    with pytest.raises(
        FeintError,
        match=r"custom_skops.yaml: model: custom.skops holds types that skops does not "
        r"trust by default: .*Doubler.*--trust-model",
    ):
        get_target(str(path))
    target = get_target(str(path), trust=True)
    assert target.predict(target.X[:2]).shape == (2, 10)


def test_pickle_refused_unless_trusted(models, home, capsys):
    from feint.store.db import Store
    from feint.targets import get_target

    path = declare(models, "pickled_logistic", "logistic.pkl")
    rc, out, err = cli(capsys, "scan", path, "-a", "hop_skip_jump", "-i", "0:2", *HSJ_SMALL)
    assert rc == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()]
    assert "logistic.pkl is a pickle file, and unpickling runs code from the file" in err and "--trust-model" in err
    assert Store().recent_ids() == []  # nothing stored
    rc, _, err = cli(capsys, "run", path, "hop_skip_jump", "-i", "0:2", "--trust-model", *HSJ_SMALL, "--json")
    assert rc == 0, err
    # a target trusted on the command line rebuilds, trusted, from its spec (worker processes)
    target = get_target(str(path), trust=True)
    assert target.spec.startswith("trusted:")
    assert get_target(target.spec) is target
    # a YAML cannot trust itself: trust: true is refused, and only the user's flag opts in
    trusted = declare(models, "pickled_trusted", "logistic.pkl", trust=True)
    rc, out, err = cli(capsys, "predict", trusted)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "trust: a target file cannot trust its own model files" in err and "--trust-model" in err
    doc = scan_json(capsys, trusted, "-a", "hop_skip_jump", "-i", "0:2", "--trust-model", *HSJ_SMALL)
    _check_hsj_scan(doc)


def test_state_dict_is_not_a_model(models, home, capsys):
    path = declare(models, "state_dict", "state_dict.pt")
    rc, _, err = cli(capsys, "predict", path)
    assert rc == 2
    assert "state_dict.pt is not a TorchScript file" in err and "Python target class" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_model_format(models, home, capsys):
    (models / "model.bin").write_bytes(b"\0")
    rc, _, err = cli(capsys, "predict", declare(models, "binary", "model.bin"))
    assert rc == 2 and "no adapter reads 'model.bin'" in err and ".onnx" in err and ".keras" in err


def test_predict_json_on_declared_target(models, home, capsys):
    rc, out, err = cli(capsys, "predict", declare(models, "ts_predict", "mlp.pt"), "-i", "0:3", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    _, y = digits8()
    assert [p["label"] for p in doc["predictions"]] == [str(v) for v in y[-40:][:3]]


def test_trusted_target_rebuilds_in_worker_processes(models, home, capsys):
    """A process executor rebuilds the target in each worker from its spec, trust included."""
    path = declare(models, "pickled_workers", "logistic.pkl")
    doc = scan_json(
        capsys,
        path,
        "--trust-model",
        "-a",
        "hop_skip_jump",
        "-i",
        "0:2",
        *HSJ_SMALL,
        "--executor",
        "process",
        "--workers",
        "1",
    )
    assert doc["settings"]["status"] == "done"
    _check_hsj_scan(doc)


def test_keras_lambda_layers_are_refused(models, home, capsys):
    """safe_mode: a Keras file whose Lambda layer would deserialise Python code is not loaded."""
    from feint.targets.builtin.digits import import_keras

    keras = import_keras()
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Lambda(lambda t: t * 2.0), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    model.save(models / "lambda.keras")
    rc, _, err = cli(capsys, "predict", declare(models, "lambda_model", "lambda.keras", channels="last"))
    assert rc == 2 and "model: Keras could not load lambda.keras" in err and "safe mode" in err
    assert len(err.strip().splitlines()) == 1


class _Payload:
    def __init__(self):
        self.ran = True


def test_torch_export_archives_are_read_weights_only(tmp_path):
    """torch.export.load falls back to full unpickling on its own; feint keeps it weights-only."""
    import pickle

    import torch

    from feint.targets.adapters.torch_model import _weights_only

    torch.save({"payload": _Payload()}, tmp_path / "objects.bin")
    with _weights_only(True), pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "objects.bin", weights_only=False)  # forced weights-only regardless
    assert torch.load(tmp_path / "objects.bin", weights_only=False)["payload"].ran  # restored afterwards
