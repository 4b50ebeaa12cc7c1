"""protocol: mlflow against MLflow's own scoring server (``mlflow models serve``) with a
scikit-learn model saved by ``mlflow.sklearn``: its default pyfunc answers labels only,
and its signature names the columns that ``dataframe_split`` must carry. MLflow is heavy
(the ``mlflow`` extra); without it these tests skip."""

from __future__ import annotations

import numpy as np
import pytest

mlflow = pytest.importorskip("mlflow")

from feint.errors import FeintError  # noqa: E402
from feint.targets.adapters.http import EndpointError, HttpModel  # noqa: E402
from tests.targets.endpoint_apps import Command, free_port  # noqa: E402
from tests.targets.test_http import _no_proxy  # noqa: E402, F401 - the same autouse fixture: no proxy for 127.0.0.1

CLASSES = ["malignant", "benign"]
WHERE = "t.yaml: model.endpoint"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("mlflow")
    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    columns = [name.replace(" ", "_") for name in data.feature_names]
    frame = pd.DataFrame(x, columns=columns)
    lr = LogisticRegression(max_iter=500).fit(frame, data.target)
    mlflow.sklearn.save_model(lr, folder / "model", signature=infer_signature(frame, lr.predict(frame)))
    port = free_port()
    server = Command(
        "mlflow",
        ["models", "serve", "-m", str(folder / "model"), "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        f"http://127.0.0.1:{port}/ping",
        wait=120,
    )
    url = f"http://127.0.0.1:{port}"
    yield f"{url}/invocations", x, lr, columns
    server.stop()


def test_mlflow_default_sklearn_pyfunc_answers_labels(served):
    url, x, lr, columns = served
    m = HttpModel.from_config(
        {"url": url, "protocol": "mlflow", "outputs": "labels", "batch_size": 40},
        WHERE,
        n_classes=2,
        classes=CLASSES,
        columns=columns,
    )
    out = m.predict(x[:100])
    np.testing.assert_array_equal(out.argmax(1), lr.predict(x[:100]))
    assert set(np.unique(out)) == {0.0, 1.0} and (m.requests, m.queries) == (3, 100)


def test_mlflow_needs_the_signatures_columns(served):
    url, x, _, columns = served
    wrong = HttpModel.from_config(
        {"url": url, "protocol": "mlflow", "outputs": "labels", "columns": [f"f{i}" for i in range(30)], "retries": 0},
        WHERE,
        n_classes=2,
        classes=CLASSES,
    )
    with pytest.raises(EndpointError, match="answered HTTP 400"):
        wrong.predict(x[:2])
    # a signature of named columns takes no tensor: MLflow refuses inputs, in one line
    tensor = HttpModel.from_config(
        {"url": url, "protocol": "mlflow", "mlflow_format": "inputs", "outputs": "labels", "retries": 0},
        WHERE,
        n_classes=2,
    )
    with pytest.raises(EndpointError, match="answered HTTP 400: .*INVALID_PARAMETER_VALUE") as err:
        tensor.predict(x[:2])
    assert "\n" not in str(err.value)
    with pytest.raises(FeintError, match="dataframe_split needs the feature names"):
        HttpModel.from_config({"url": url, "protocol": "mlflow"}, WHERE, n_classes=2)
