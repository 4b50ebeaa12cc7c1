"""protocol: gradio against a real Gradio app on 127.0.0.1: the two-step call (``/call/``
then its event stream) and the one-step path, rows counted by the app. Gradio is heavy
(the ``gradio`` extra); without it these tests skip."""

from __future__ import annotations

import os
import socket
import threading

import numpy as np
import pytest

gr = pytest.importorskip("gradio")

from feint.errors import FeintError  # noqa: E402
from feint.targets.adapters.http import EndpointError, HttpModel  # noqa: E402
from tests.targets.test_http import _no_proxy  # noqa: E402, F401 - the same autouse fixture: no proxy for 127.0.0.1

CLASSES = ["malignant", "benign"]
WHERE = "t.yaml: model.endpoint"


@pytest.fixture(scope="module")
def app():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    lr = LogisticRegression(max_iter=500).fit(x, data.target)
    seen = {"rows": 0}
    lock = threading.Lock()

    def probabilities(rows):  # a batch of rows in, their probabilities out
        batch = np.asarray(rows, np.float32)
        with lock:
            seen["rows"] += len(batch)
        return lr.predict_proba(batch).tolist()

    def label(row):  # one row in, Gradio's Label (class name to confidence) out
        with lock:
            seen["rows"] += 1
        p = lr.predict_proba(np.asarray([row], np.float32))[0]
        return {c: float(v) for c, v in zip(CLASSES, p)}

    with gr.Blocks() as demo:
        inp, out = gr.JSON(), gr.JSON()
        gr.Button().click(probabilities, inp, out, api_name="probabilities")
        one, lab = gr.JSON(), gr.Label()
        gr.Button().click(label, one, lab, api_name="label")
        gr.Button().click(lambda rows: 1 / 0, inp, out, api_name="broken")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}", seen, x, lr
    demo.close()


def gradio(url: str, **cfg) -> HttpModel:
    return HttpModel.from_config(
        {"url": url, "protocol": "gradio", "retries": 0, "timeout": 20, **cfg}, WHERE, n_classes=2, classes=CLASSES
    )


@pytest.mark.parametrize("call", ["two-step", "one-step"])
def test_batches_through_gradio(app, call):
    url, seen, x, lr = app
    seen["rows"] = 0
    m = gradio(url, api_name="probabilities", call=call, batch_size=16)
    np.testing.assert_allclose(m.predict(x[:40]), lr.predict_proba(x[:40]), atol=1e-6)
    assert seen["rows"] == m.queries == 40
    assert m.requests == (6 if call == "two-step" else 3)  # the two-step call is two requests a batch


def test_a_label_output_row_by_row(app):
    url, seen, x, lr = app
    seen["rows"] = 0
    m = gradio(url, api_name="label", batch_size=1)
    np.testing.assert_allclose(m.predict(x[:5]), lr.predict_proba(x[:5]), atol=1e-4)
    assert seen["rows"] == m.queries == 5


def test_an_error_event_is_one_line(app):
    url, _, x, _ = app
    with pytest.raises(EndpointError, match=r"answered an error event") as err:
        gradio(url, api_name="broken").predict(x[:2])
    assert "\n" not in str(err.value)


def test_an_unknown_call_is_refused():
    with pytest.raises(FeintError, match=r"call expects one of two-step, one-step; got 'three'"):
        HttpModel.from_config({"url": "http://h", "protocol": "gradio", "call": "three"}, WHERE)
