"""protocol: kserve-v2 against MLServer (Seldon's Open Inference Protocol server) serving a
scikit-learn model on 127.0.0.1, started from its command line. MLServer is heavy (the
``mlserver`` extra); without it these tests skip."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mlserver_sklearn")

from feint.targets.adapters.http import HttpModel  # noqa: E402
from tests.targets.endpoint_apps import Command, free_port  # noqa: E402
from tests.targets.test_http import _no_proxy  # noqa: E402, F401 - the same autouse fixture: no proxy for 127.0.0.1

CLASSES = ["malignant", "benign"]


@pytest.fixture(scope="module")
def mlserver(tmp_path_factory):
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("mlserver")
    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    lr = LogisticRegression(max_iter=500).fit(x, data.target)
    joblib.dump(lr, folder / "model.joblib")
    (folder / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "cancer",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib"},
            }
        )
    )
    http = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": http,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    url = f"http://127.0.0.1:{http}"
    server = Command("mlserver", ["start", str(folder)], f"{url}/v2/models/cancer/ready", wait=60)
    yield f"{url}/v2/models/cancer/infer", x, lr
    server.stop()


def test_mlserver_probabilities_in_batches(mlserver):
    url, x, lr = mlserver
    m = HttpModel.from_config(
        {"url": url, "protocol": "kserve-v2", "output_name": "predict_proba", "batch_size": 50},
        "t.yaml: model.endpoint",
        n_classes=2,
        classes=CLASSES,
    )
    np.testing.assert_allclose(m.predict(x[:120]), lr.predict_proba(x[:120]), atol=1e-6)
    assert (m.requests, m.queries) == (3, 120)


def test_mlserver_default_output_is_labels(mlserver):
    url, x, lr = mlserver
    m = HttpModel.from_config(
        {"url": url, "protocol": "kserve-v2", "outputs": "labels"},
        "t.yaml: model.endpoint",
        n_classes=2,
        classes=CLASSES,
    )
    np.testing.assert_array_equal(m.predict(x[:64]).argmax(1), lr.predict(x[:64]))
    assert (m.requests, m.queries) == (2, 64)
