"""Models that answer one score per row (a sigmoid, or its logit) are read as two classes,
``[1 - p, p]``, whatever they are: a Keras model ending in ``Dense(1, sigmoid)``, TorchScript
modules answering ``(N, 1)`` logits or ``(N,)`` probabilities, and a scikit-learn regressor
of the second class's probability. Open-box attacks take gradients through the reading,
and the stored outcome is what the model itself says of the stored adversarial input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from tests.targets.own_models import HSJ_SMALL, cli

CLASSES = ["malignant", "benign"]


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def cancer():
    """scikit-learn's breast-cancer data scaled to [0, 1] and a logistic regression on it."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    lr = LogisticRegression(max_iter=1000).fit(x, data.target)
    return x[:40], data.target[:40], lr


def _declare(folder, name, model, x, y, **extra):
    np.savez(folder / "cancer.npz", X=x, y=y)
    doc = {"name": name, "model": model, "data_type": "tabular", "input_shape": [30], "classes": CLASSES}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**doc, "samples": "cancer.npz", **extra}, sort_keys=False))
    return path


def _stored(run):
    with np.load(f"{run.artifacts}/adversarial.npz") as f:
        return f["x_adv"]


def _check_run(capsys, path, attack, second_class_p, *options):
    """Run ``attack`` from the command line; the stored labels and confidences are those the
    model's own one score per row gives for the stored adversarial inputs."""
    from feint.store.db import Store

    rc, out, err = cli(capsys, "run", path, attack, "-i", "0:6", *options, "--json")
    assert rc == 0, err
    run = Store().get_run(json.loads(out)["run_id"])
    p = second_class_p(_stored(run))
    two = np.stack([1 - p, p], axis=1)
    assert [s.final_label for s in run.samples] == [CLASSES[k] for k in two.argmax(1)]
    np.testing.assert_allclose([s.final_conf for s in run.samples], two.max(1), atol=1e-5)
    return run


def test_a_keras_sigmoid_is_two_classes_and_attacks_take_its_gradients(tmp_path, home, capsys, cancer):
    from feint.targets import get_target
    from feint.targets.builtin.digits import import_keras

    x, y, lr = cancer
    keras = import_keras()
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(1, activation="sigmoid")])
    model.layers[0].set_weights([lr.coef_.T.astype(np.float32), lr.intercept_.astype(np.float32)])
    model.save(tmp_path / "sigmoid.keras")
    path = _declare(tmp_path, "keras_sigmoid", "sigmoid.keras", x, y)
    target = get_target(str(path))
    assert target.open_box and target.describe()["one_column"] == "probabilities"
    np.testing.assert_allclose(target.predict(x), lr.predict_proba(x), atol=1e-5)

    def p(batch):
        return np.asarray(model.predict(batch, verbose=0), np.float64).ravel()

    run = _check_run(capsys, path, "pgd", p, "--set", "eps=0.3", "--set", "max_iter=20")
    assert run.successes > 0 and run.gradient_queries > 0


def test_torchscript_modules_answering_one_logit_or_one_probability(tmp_path, home, capsys, cancer):
    import torch

    from feint.targets import get_target
    from tests.targets.own_models import save_torchscript

    x, y, lr = cancer

    class Logit(torch.nn.Module):  # (N, 1) logits
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(30, 1)
            with torch.no_grad():
                self.lin.weight.copy_(torch.as_tensor(lr.coef_, dtype=torch.float32))
                self.lin.bias.copy_(torch.as_tensor(lr.intercept_, dtype=torch.float32))

        def forward(self, v):
            return self.lin(v)

    class Probability(Logit):  # (N,) probabilities
        def forward(self, v):
            return torch.sigmoid(self.lin(v))[:, 0]

    save_torchscript(Logit().eval(), tmp_path / "logit.pt")
    save_torchscript(Probability().eval(), tmp_path / "prob.pt")
    logit = _declare(tmp_path, "logit", "logit.pt", x, y, outputs="logits")
    prob = _declare(tmp_path, "prob", "prob.pt", x, y)
    for path, how in ((logit, "logits"), (prob, "probabilities")):
        target = get_target(str(path))
        assert target.describe()["one_column"] == how
        np.testing.assert_allclose(target.predict(x), lr.predict_proba(x), atol=1e-5)

    def p(batch):
        with torch.no_grad():
            return Probability().eval()(torch.as_tensor(batch)).numpy().astype(np.float64)

    assert _check_run(capsys, logit, "pgd", p, "--set", "eps=0.3", "--set", "max_iter=20").successes > 0
    assert _check_run(capsys, prob, "pgd", p, "--set", "eps=0.3", "--set", "max_iter=20").successes > 0


def test_a_scikit_learn_regressor_of_the_probability(tmp_path, home, capsys, cancer):
    import skops.io as sio
    from sklearn.neighbors import KNeighborsRegressor

    from feint.targets import get_target

    x, y, _ = cancer
    knn = KNeighborsRegressor(n_neighbors=5).fit(x, y.astype(np.float64))  # predict: the fraction of benign neighbours
    sio.dump(knn, tmp_path / "knn.skops")
    path = _declare(tmp_path, "knn", "knn.skops", x, y, outputs="probabilities")
    target = get_target(str(path))
    assert not target.labels_only and target.describe()["one_column"] == "probabilities"
    p = knn.predict(x)
    np.testing.assert_allclose(target.predict(x), np.stack([1 - p, p], axis=1), atol=1e-6)
    _check_run(capsys, path, "hop_skip_jump", knn.predict, *HSJ_SMALL)
    # without outputs, a model with predict only is read as labels, as before
    assert get_target(str(_declare(tmp_path, "knn_labels", "knn.skops", x, y))).labels_only
